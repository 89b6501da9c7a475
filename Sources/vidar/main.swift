// The `vidar` executable: everything lives in VidarCLI, so tests can reach the grammar without a process.
import Foundation
import VidarCLI

// oneDNN runs on GNU OpenMP, whose idle threads spin between parallel regions by default. vidar always has other
// work on the same cores (decode threads, other streams), which the spinning starves: `label` on 720p25 at int8
// took 10.3–11.8 s with it and 8.0–8.4 s without, while the network alone is as fast either way. libgomp reads
// its wait policy once, when it is loaded, so the process starts itself over with the policy set. A user's own
// OMP_WAIT_POLICY (or GOMP_SPINCOUNT) is left as it is, and commands that never run the network skip the restart
// (it costs one more load of the libraries, about 0.1 s).
let arguments = Array(CommandLine.arguments.dropFirst())
let runsNetwork = ["label", "watch", "serve", "infer"].contains(arguments.first) || arguments.prefix(2) == ["models", "calibrate"]
if runsNetwork && getenv("OMP_WAIT_POLICY") == nil && getenv("GOMP_SPINCOUNT") == nil {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)   // returns only if it failed: run on with the default policy
}

exit(VidarCLI.main(arguments))
