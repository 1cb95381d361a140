// SwiftPM links an executable's entry point as `<Module>_main` (`--defsym main=PumaFuzz_main`), which
// a `-parse-as-library` fuzz target never defines; this C entry point hands control to libFuzzer's
// driver with the Swift `LLVMFuzzerTestOneInput`.
#ifndef PUMA_FUZZ_DRIVER_H
#define PUMA_FUZZ_DRIVER_H
int PumaFuzz_main(int argc, char **argv);
#endif
