// swift-tools-version:6.0
// vidar: video action recognition (FFmpeg decode → clip ring → VideoResNet on oneDNN/OpenBLAS → segments).
import PackageDescription

let package = Package(
    name: "vidar",
    products: [
        .executable(name: "vidar", targets: ["vidar"]),
        .library(name: "Vidar", targets: ["Vidar"]),
    ],
    targets: [
        // C libraries, one system-library module each.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale libavdevice",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libavdevice-dev"])]),
        .target(name: "CFFmpegLog", dependencies: ["CFFmpeg"]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Tensors, convolution backends, the VideoResNet family, checkpoint readers.
        .target(name: "VidarNN", dependencies: ["COpenBLAS", "CDNNL"]),
        // FFmpeg sources, decode to RGB, clip sampling, the frame ring: knows nothing of the network.
        .target(name: "VidarVideo", dependencies: ["CFFmpeg", "CFFmpegLog"]),
        // Aggregator, timeline and event documents, writers: knows nothing of FFmpeg or the network.
        .target(name: "VidarStream"),
        // The pipeline (ClipStream), the model's preprocessing, labelling, watching, model registry and fetch.
        .target(name: "Vidar", dependencies: ["VidarNN", "VidarVideo", "VidarStream", "VidarCurl"],
                exclude: ["Resources/vidar-actions.report.json"],
                resources: [.copy("Resources/vidar-actions.safetensors")]),
        // One Swift door per C library of the service: YAML configuration, the HTTP API, MQTT, HTTP clients.
        .target(name: "VidarYAML", dependencies: ["CYAML"]),
        .target(name: "VidarHTTP", dependencies: ["CMicroHTTPD"]),
        .target(name: "VidarMQTT", dependencies: ["CMosquitto"]),
        .target(name: "VidarCurl", dependencies: ["CCurl"]),
        // `vidar serve`: many streams on one model, the inference scheduler, HTTP API, metrics, event hub.
        .target(name: "VidarService", dependencies: ["Vidar", "VidarVideo", "VidarStream", "VidarYAML", "VidarHTTP", "VidarMQTT",
                                                     "VidarCurl", "CSystemd"]),
        // The command line: one declaration per option drives parsing and help; errors → exit codes in one place.
        .target(name: "VidarCLI", dependencies: ["Vidar", "VidarVideo", "VidarStream", "VidarService"]),
        .executableTarget(name: "vidar", dependencies: ["VidarCLI"]),
        .executableTarget(name: "vidar-bench", dependencies: ["Vidar", "VidarVideo", "VidarStream", "VidarService", "TestSupport", "CPeak"],
                          path: "Benchmarks/VidarBench"),
        // The arithmetic peak the layers benchmark reads each convolution's GFLOP/s against, measured by a loop.
        .target(name: "CPeak", path: "Benchmarks/CPeak"),
        .target(name: "TestSupport", path: "Tests/Support"),
        // Every parser of untrusted bytes as a fuzz harness: a corpus replayer here, libFuzzer's target in `make fuzz`.
        .executableTarget(name: "vidar-fuzz", dependencies: ["Vidar", "VidarNN", "VidarService", "VidarStream", "TestSupport"],
                          path: "Fuzz/VidarFuzz"),
        .testTarget(name: "VidarNNTests", dependencies: ["VidarNN", "TestSupport"]),
        .testTarget(name: "VidarVideoTests", dependencies: ["VidarVideo", "VidarNN", "TestSupport"]),
        .testTarget(name: "VidarStreamTests", dependencies: ["VidarStream"]),
        .testTarget(name: "VidarTests", dependencies: ["Vidar", "VidarVideo", "VidarStream", "TestSupport"]),
        .testTarget(name: "VidarCLITests", dependencies: ["VidarCLI", "Vidar", "VidarVideo", "VidarStream", "TestSupport"]),
        .testTarget(name: "VidarServiceTests", dependencies: ["VidarService", "VidarYAML", "VidarHTTP", "Vidar", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
