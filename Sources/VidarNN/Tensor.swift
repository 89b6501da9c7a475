// A dense float32 tensor in row-major order, plus the channels-last activation the convolutions run on.

/// A row-major float32 tensor. Used at the boundaries (checkpoints, `.npy` files, logits).
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) values")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }

    /// Entry `i` of the first (batch) dimension as a batch of one: a clip of N clips, a row of N×classes logits.
    public func batchItem(_ i: Int) -> Tensor {
        let size = count / shape[0]
        return Tensor(shape: [1] + shape.dropFirst(), data: Array(data[(i * size)..<((i + 1) * size)]))
    }
}

/// A batch of feature volumes in channels-last order (N, T, H, W, C), so that one spatio-temporal
/// position's channels are contiguous: the vol2col gather then copies whole channel runs.
public struct Activation: Sendable {
    public var n: Int, t: Int, h: Int, w: Int, c: Int
    public var data: [Float]

    public init(n: Int, t: Int, h: Int, w: Int, c: Int, data: [Float]) {
        precondition(n * t * h * w * c == data.count)
        (self.n, self.t, self.h, self.w, self.c) = (n, t, h, w, c)
        self.data = data
    }

    public init(n: Int, t: Int, h: Int, w: Int, c: Int) {
        self.init(n: n, t: t, h: h, w: w, c: c, data: [Float](repeating: 0, count: n * t * h * w * c))
    }

    /// From an (N, C, T, H, W) tensor, the layout PyTorch feeds video models.
    public init(ncthw x: Tensor) {
        precondition(x.shape.count == 5)
        let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        var out = [Float](repeating: 0, count: x.count)
        let plane = t * h * w
        x.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        let s = (b * c + ch) * plane
                        let d = b * plane * c + ch
                        for i in 0..<plane { dst[d + i * c] = src[s + i] }
                    }
                }
            }
        }
        self.init(n: n, t: t, h: h, w: w, c: c, data: out)
    }

    /// Back to (N, C, T, H, W).
    public var ncthw: Tensor {
        let plane = t * h * w
        var out = [Float](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        let d = (b * c + ch) * plane
                        let s = b * plane * c + ch
                        for i in 0..<plane { dst[d + i] = src[s + i * c] }
                    }
                }
            }
        }
        return Tensor(shape: [n, c, t, h, w], data: out)
    }
}
