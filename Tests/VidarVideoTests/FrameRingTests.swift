// The bounded ring between decode and inference: wrap-around, both policies, drop counting, threads.
// Run under ThreadSanitizer by `make test` (swift test --sanitize=thread --filter FrameRingTests).
import Foundation
import Testing
import VidarVideo

struct FrameRingTests {
    @Test func wrapsAroundInOrder() {
        let ring = FrameRing<Int>(capacity: 3, policy: .block)
        var out: [Int] = []
        for i in 0..<10 {
            ring.push(i)
            if i % 2 == 1 { out.append(ring.pop()!); out.append(ring.pop()!) }
        }
        #expect(out == Array(0..<10))
        #expect(ring.dropped == 0)
    }

    @Test func dropOldestOverwritesAndCounts() {
        let ring = FrameRing<Int>(capacity: 4, policy: .dropOldest)
        for i in 0..<10 { #expect(ring.push(i)) }
        #expect(ring.dropped == 6)
        #expect(ring.buffered == 4)
        ring.close()
        var out: [Int] = []
        while let v = ring.pop() { out.append(v) }
        #expect(out == [6, 7, 8, 9])
    }

    @Test func markersAreNeverDroppedOnlyClips() {
        let ring = FrameRing<Int>(capacity: 3, policy: .dropOldest, droppable: { $0 >= 0 })  // negatives are markers
        for v in [1, -1, 2, 3, 4, -2, 5] { ring.push(v) }
        ring.close()
        var out: [Int] = []
        while let v = ring.pop() { out.append(v) }
        #expect(out == [-1, -2, 5])
        #expect(ring.dropped == 4)
    }

    @Test func closeWakesTheConsumerAndRefusesPushes() {
        let ring = FrameRing<Int>(capacity: 2, policy: .block)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var got: Int? = 42
        Thread.detachNewThread { got = ring.pop(); done.signal() }
        usleep(20_000)
        ring.close()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(got == nil)
        #expect(!ring.push(1))
    }

    @Test func blockPolicyLosesNothingAcrossThreads() {
        let ring = FrameRing<Int>(capacity: 8, policy: .block)
        let n = 20_000
        Thread.detachNewThread {
            for i in 0..<n { ring.push(i) }
            ring.close()
        }
        var expected = 0, ok = true
        while let v = ring.pop() { ok = ok && v == expected; expected += 1 }
        #expect(ok && expected == n)
        #expect(ring.dropped == 0)
    }

    @Test func dropOldestNeverBlocksTheProducerAndKeepsOrder() {
        let ring = FrameRing<Int>(capacity: 4, policy: .dropOldest)
        let n = 20_000
        let produced = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for i in 0..<n { ring.push(i) }
            ring.close()
            produced.signal()
        }
        var last = -1, received = 0, ordered = true
        while let v = ring.pop() {
            ordered = ordered && v > last
            last = v
            received += 1
            if received % 100 == 0 { usleep(100) }  // a slow consumer
        }
        #expect(produced.wait(timeout: .now() + 10) == .success)
        #expect(ordered)
        #expect(received + ring.dropped == n)
        #expect(last == n - 1, "the newest item always survives")
    }
}
