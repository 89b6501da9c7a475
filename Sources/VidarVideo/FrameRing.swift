// A bounded, preallocated ring between one producer (the decode thread) and one consumer (inference).
// `block` (files): the producer waits, nothing is lost. `dropOldest` (live): the producer never waits; when
// the ring is full the oldest item is overwritten and the drop counted.
import Foundation

public final class FrameRing<Element>: @unchecked Sendable {
    public enum Policy: String, Sendable { case block, dropOldest = "drop-oldest" }

    public let capacity: Int
    public let policy: Policy
    private var slots: [Element?]
    private var head = 0      // next to read
    private var count = 0
    private var closed = false
    private var dropCount = 0
    private let condition = NSCondition()

    public init(capacity: Int, policy: Policy) {
        precondition(capacity >= 1)
        self.capacity = capacity
        self.policy = policy
        slots = Array(repeating: nil, count: capacity)
    }

    /// Adds an item. Returns false when the ring was closed (the item is discarded).
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if policy == .block {
            while count == capacity && !closed { condition.wait() }
        }
        guard !closed else { return false }
        if count == capacity {
            slots[head] = nil
            head = (head + 1) % capacity
            count -= 1
            dropCount += 1
        }
        slots[(head + count) % capacity] = item
        count += 1
        condition.broadcast()
        return true
    }

    /// The oldest item, waiting while the ring is empty; nil once it is closed and drained.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        guard count > 0 else { return nil }
        let item = slots[head]
        slots[head] = nil
        head = (head + 1) % capacity
        count -= 1
        condition.broadcast()
        return item
    }

    /// No more pushes; a waiting consumer drains what is left, then gets nil.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Items overwritten before they were read (drop-oldest only).
    public var dropped: Int { condition.lock(); defer { condition.unlock() }; return dropCount }
    public var buffered: Int { condition.lock(); defer { condition.unlock() }; return count }
}
