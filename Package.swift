// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "puma",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "puma", targets: ["puma"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C facade over Debian's libsentencepiece (C++); the only C++ in the project.
        .target(
            name: "CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece")]
        ),
        // Checkpoint, configuration and tokenizer I/O. No MPC imports.
        .target(name: "PumaIO", dependencies: ["CSentencePiece"]),
        // Plaintext reference transformer, sampling and the generation loop.
        .target(name: "PumaLLaMA", dependencies: ["PumaIO"]),
        .executableTarget(
            name: "puma",
            dependencies: [
                "PumaIO", "PumaLLaMA",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // One test target: its dependency on the executable makes `swift test` build `puma` for the CLI tests.
        .testTarget(name: "PumaTests", dependencies: ["PumaIO", "PumaLLaMA", "puma"]),
    ],
    cxxLanguageStandard: .cxx17
)
