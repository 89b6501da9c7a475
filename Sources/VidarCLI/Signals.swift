// Stopping signals for long commands. SIGINT, SIGTERM (what schedulers and `docker stop` send) and SIGHUP all
// ask for a clean stop: the command finishes what it holds and exits 128 + the signal. A second signal leaves
// at once.
import Foundation
import Synchronization
import Vidar

final class StopSignals: Sendable {
    /// The first signal received (0: none), shared with the handlers.
    private final class Received: Sendable { let value = Atomic<Int32>(0) }
    private let received = Received()
    private let sources: Mutex<[DispatchSourceSignal]>

    /// Installs handlers for `signals`; `stop` runs once, on the first of them.
    init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP], stop: @escaping @Sendable () -> Void) {
        let received = self.received
        var installed: [DispatchSourceSignal] = []
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let (exchanged, _) = received.value.compareExchange(expected: 0, desired: sig, ordering: .acquiringAndReleasing)
                if !exchanged { exit(128 + sig) }
                stop()
            }
            source.resume()
            installed.append(source)
        }
        sources = Mutex(installed)
    }

    /// The signal that asked to stop, if one did.
    var receivedSignal: Int32? {
        let s = received.value.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// The exit code for a command stopped by a signal: 128 + its number (130 for SIGINT).
    var exitCode: ExitCode? { receivedSignal.map { ExitCode(rawValue: 128 + $0) ?? .interrupted } }

    func cancel() { sources.withLock { $0.forEach { $0.cancel() } } }
}
