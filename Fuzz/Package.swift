// swift-tools-version: 6.0
// Coverage-guided fuzzing of puma's checkpoint parsers with libFuzzer (see README, "Fuzzing").
// Build: swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import PackageDescription

let package = Package(
    name: "PumaFuzz",
    dependencies: [.package(name: "puma", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "PumaFuzz", dependencies: ["CFuzzDriver", .product(name: "PumaIO", package: "puma")]),
    ]
)
