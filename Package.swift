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
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale libavdevice",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libavdevice-dev"])]),
        .target(name: "VidarVideo", dependencies: ["CFFmpeg", "VidarNN"]),
        .target(name: "VidarStream"),
        .target(name: "Vidar", dependencies: ["VidarNN", "VidarVideo", "VidarStream"],
                exclude: ["Resources/vidar-actions.report.json"],
                resources: [.copy("Resources/vidar-actions.safetensors")]),
        .executableTarget(name: "vidar", dependencies: ["Vidar", "VidarVideo", "VidarStream"]),
        .executableTarget(name: "vidar-bench", dependencies: ["Vidar", "VidarVideo"], path: "Benchmarks/VidarBench"),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "VidarNNTests", dependencies: ["VidarNN", "TestSupport"]),
        .testTarget(name: "VidarVideoTests", dependencies: ["VidarVideo", "TestSupport"]),
        .testTarget(name: "VidarStreamTests", dependencies: ["VidarStream"]),
        .testTarget(name: "VidarTests", dependencies: ["Vidar", "VidarVideo", "TestSupport"]),
        .testTarget(name: "VidarCLITests", dependencies: ["Vidar", "VidarVideo", "VidarStream", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
