// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "puma",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "puma", targets: ["puma"]),
        // For the fuzzing package in Fuzz/ (coverage-guided tests of the checkpoint parsers).
        .library(name: "PumaIO", targets: ["PumaIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The deployment's network (PumaNet only): TCP with mutual TLS, and the deployment's own CA.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        // C facade over Debian's libsentencepiece (C++); the only C++ in the project.
        .target(
            name: "CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece")]
        ),
        // AES-128-CTR (VAES / AES-NI), ring and float GEMMs (AVX-512), dtype conversions; portable fallbacks.
        .target(name: "CPumaKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // Ring and fixed-point arithmetic, PRG, ring matrix products.
        .target(name: "PumaCore", dependencies: ["CPumaKernels"]),
        // Three-party replicated secret sharing: parties, transport, ledger, protocols.
        .target(name: "PumaMPC", dependencies: ["PumaCore"]),
        // Fixed-point non-linear functions over the backend interface (secure or cleartext).
        .target(name: "PumaNN", dependencies: ["PumaCore", "PumaMPC"]),
        // Checkpoint, configuration and tokenizer I/O. No MPC imports.
        .target(name: "PumaIO", dependencies: ["CSentencePiece", "CPumaKernels"]),
        // Plaintext and secure transformers, sampling and the generation loop.
        .target(name: "PumaLLaMA", dependencies: ["PumaCore", "PumaMPC", "PumaNN", "PumaIO"]),
        // Three real parties: the socket transport over TCP with mutual TLS, the deployment's CA and
        // certificates, key set-up over the network and the party, owner and client roles. The only
        // target that imports NIO, so everything below it builds without.
        .target(
            name: "PumaNet",
            dependencies: [
                "PumaCore", "PumaMPC", "PumaIO", "PumaLLaMA",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "puma",
            dependencies: [
                "CPumaKernels", "PumaCore", "PumaMPC", "PumaIO", "PumaLLaMA", "PumaNet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // One test target: its dependency on the executable makes `swift test` build `puma` for the CLI tests.
        // Vectors/: test vectors read from the source tree (made by the scripts in scripts/).
        .testTarget(name: "PumaTests", dependencies: [
            "PumaCore", "PumaMPC", "PumaNN", "PumaIO", "PumaLLaMA", "PumaNet", "puma",
            // A raw TLS peer for the deployment's fault tests (frames puma itself never sends).
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["Vectors"]),
    ],
    cxxLanguageStandard: .cxx17
)
