// swift-tools-version:6.0
// vidar: video action recognition (FFmpeg decode → R3D-18 on OpenBLAS → smoothed timelines).
import PackageDescription

let package = Package(
    name: "vidar",
    products: [
        .executable(name: "vidar", targets: ["vidar"]),
        .library(name: "Vidar", targets: ["Vidar"]),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "VidarNN", dependencies: ["COpenBLAS", "CDNNL"]),
        .target(name: "Vidar", dependencies: ["VidarNN"]),
        .executableTarget(name: "vidar", dependencies: ["Vidar"]),
        .executableTarget(name: "vidar-bench", dependencies: ["Vidar", "COpenBLAS"], path: "Benchmarks/VidarBench"),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "VidarNNTests", dependencies: ["VidarNN", "TestSupport"]),
        .testTarget(name: "VidarTests", dependencies: ["Vidar", "TestSupport"]),
        .testTarget(name: "VidarCLITests", dependencies: ["Vidar", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
