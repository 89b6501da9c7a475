// vidar-bench: benchmarks that compare vidar with its peers in the same run and print ratios.
//   vidar-bench [engine] …   per-clip network latency beside PyTorch (see EngineBench.swift)
//   vidar-bench decode …     decode + preprocess frames/s beside the ffmpeg CLI (see DecodeBench.swift)
//   vidar-bench label …      end-to-end real-time factor and memory beside a Python pipeline (LabelBench.swift)
//   vidar-bench soak …       `watch` for 30 min of stream: memory, fds, threads flat; real-time latency (SoakBench.swift)
//   vidar-bench streams …    two streams sharing one model, one thread each, beside one stream (StreamsBench.swift)
//   vidar-bench archive …    files/hour and real-time factor of one label worker; what --resume costs (ArchiveBench.swift)
//   vidar-bench events …     events/s to MQTT and a webhook beside Python peers; frame → subscriber latency (EventsBench.swift)
//   vidar-bench precision …  bf16's per-clip agreement with fp32 on real footage and demo videos (PrecisionBench.swift)
//   vidar-bench layers …     per-layer time, GFLOP/s and share of the measured peak of one clip (LayersBench.swift)
//   vidar-bench serve …      how many live 720p cameras one serve handles, beside separate watch processes (ServeBench.swift)
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "decode":
    runDecodeBench(Array(arguments.dropFirst()))
case "label":
    runLabelBench(Array(arguments.dropFirst()))
case "soak":
    runSoakBench(Array(arguments.dropFirst()))
case "serve":
    runServeBench(Array(arguments.dropFirst()))
case "archive":
    runArchiveBench(Array(arguments.dropFirst()))
case "events":
    runEventsBench(Array(arguments.dropFirst()))
case "streams":
    runStreamsBench(Array(arguments.dropFirst()))
case "layers":
    runLayersBench(Array(arguments.dropFirst()))
case "precision":
    runPrecisionBench(Array(arguments.dropFirst()))
case "engine":
    runEngineBench(Array(arguments.dropFirst()))
default:
    runEngineBench(arguments)
}
