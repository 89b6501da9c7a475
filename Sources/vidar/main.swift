// The `vidar` executable: everything lives in VidarCLI, so tests can reach the grammar without a process.
import Foundation
import VidarCLI

exit(VidarCLI.main(Array(CommandLine.arguments.dropFirst())))
