// A bounded, preallocated ring between one producer (the decode thread) and one consumer (inference).
// `block` (files): the producer waits, nothing is lost. `dropOldest` (live): the producer never waits; when
// the ring is full the oldest item is overwritten and the drop counted.
import Foundation

/// `@unchecked Sendable`: every stored property is read and written only while `condition` is locked.
public final class FrameRing<Element: Sendable>: @unchecked Sendable {
    public enum Policy: String, Sendable { case block, dropOldest = "drop-oldest" }

    public let capacity: Int
    public let policy: Policy
    private var slots: [Element?]
    private var head = 0      // next to read
    private var count = 0
    private var closed = false
    private var dropCount = 0
    private let condition = NSCondition()

    /// With drop-oldest, only items this accepts are ever overwritten (e.g. clips, not control markers); when
    /// none is droppable the producer waits like `block`.
    private let droppable: @Sendable (Element) -> Bool

    /// Called after each push (outside the lock): how a scheduler serving many rings learns one has work.
    private let notify: (@Sendable () -> Void)?

    public init(capacity: Int, policy: Policy, droppable: @escaping @Sendable (Element) -> Bool = { _ in true },
                notify: (@Sendable () -> Void)? = nil) {
        precondition(capacity >= 1)
        self.capacity = capacity
        self.policy = policy
        self.droppable = droppable
        self.notify = notify
        slots = Array(repeating: nil, count: capacity)
    }

    /// Adds an item. Returns false when the ring was closed (the item is discarded).
    @discardableResult
    public func push(_ item: Element) -> Bool {
        let pushed = locked { pushLocked(item) }
        if pushed { notify?() }
        return pushed
    }

    private func locked<R>(_ body: () -> R) -> R {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    private func pushLocked(_ item: Element) -> Bool {
        while count == capacity && !closed && (policy == .block || firstDroppable() == nil) { condition.wait() }
        guard !closed else { return false }
        if count == capacity, let victim = firstDroppable() {
            // Close the gap left by the victim, keeping the order of everything else.
            var i = victim
            while i != (head + count - 1) % capacity {
                let next = (i + 1) % capacity
                slots[i] = slots[next]
                i = next
            }
            slots[i] = nil
            count -= 1
            dropCount += 1
        }
        slots[(head + count) % capacity] = item
        count += 1
        condition.broadcast()
        return true
    }

    /// Slot index of the oldest droppable item, if any.
    private func firstDroppable() -> Int? {
        for k in 0..<count where droppable(slots[(head + k) % capacity]!) { return (head + k) % capacity }
        return nil
    }

    /// The oldest item, waiting while the ring is empty (unless `wait` is false); nil once it is closed and
    /// drained, or when it is empty and `wait` is false.
    public func pop(wait: Bool = true) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while wait && count == 0 && !closed { condition.wait() }
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
        notify?()
    }

    /// Items overwritten before they were read (drop-oldest only).
    public var dropped: Int { condition.lock(); defer { condition.unlock() }; return dropCount }
    public var isClosed: Bool { condition.lock(); defer { condition.unlock() }; return closed }
    public var buffered: Int { condition.lock(); defer { condition.unlock() }; return count }
}
