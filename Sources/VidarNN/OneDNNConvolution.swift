// A convolution backend on oneDNN (Debian's libdnnl, the library PyTorch's own CPU convolutions use), in the
// same channels-last layout as GemmConvolution. Each (layer, input shape) is compiled once: oneDNN picks its
// kernel and weight layout, the folded weights are reordered into it, and bias, residual (a "sum" post-op)
// and ReLU run inside the primitive.
import CDNNL
import Foundation

public struct OneDNNError: Error, CustomStringConvertible {
    public let description: String
}

public final class OneDNNConvolution: ConvolutionBackend, @unchecked Sendable {
    private let engine: dnnl_engine_t
    private let stream: dnnl_stream_t
    private let lock = NSLock()
    private var compiled: [Key: Compiled] = [:]

    /// How many primitives are compiled now (for tests of the bound).
    public var compiledCount: Int { lock.withLock { compiled.count } }

    struct Key: Hashable {
        let layer: Int, n: Int, t: Int, h: Int, w: Int
        let residual: Bool, relu: Bool
    }

    /// Compiled primitives kept at most: enough for every layer at a few input shapes. Past it the cache starts
    /// over, so a stream of ever-changing clip sizes cannot grow memory without bound.
    public static let maxCompiled = 256

    /// A oneDNN memory object owned by Swift.
    final class Memory {
        let handle: dnnl_memory_t
        init(_ handle: dnnl_memory_t) { self.handle = handle }
        deinit { dnnl_memory_destroy(handle) }
    }

    /// A layer's weights reordered into one oneDNN layout, shared by every input shape that chose that layout.
    struct PackedWeights {
        let layout: dnnl_memory_desc_t
        let weights: Memory
        let bias: Memory
    }

    /// One ready primitive; src/dst memories get the caller's pointers per call.
    final class Compiled {
        let primitive: dnnl_primitive_t
        let packed: PackedWeights
        let src: Memory, dst: Memory

        init(primitive: dnnl_primitive_t, packed: PackedWeights, src: Memory, dst: Memory) {
            (self.primitive, self.packed, self.src, self.dst) = (primitive, packed, src, dst)
        }

        deinit { dnnl_primitive_destroy(primitive) }
    }

    private var packedWeights: [Int: [PackedWeights]] = [:]

    public init() throws {
        var e: dnnl_engine_t?
        try check(dnnl_engine_create(&e, dnnl_cpu, 0), "creating the CPU engine")
        var s: dnnl_stream_t?
        try check(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue), "creating a stream")
        engine = e!
        stream = s!
    }

    deinit {
        compiled.removeAll()
        packedWeights.removeAll()
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// oneDNN's threads come from OpenMP, not OpenBLAS.
    public static func setThreads(_ n: Int) { omp_set_num_threads(Int32(max(1, n))) }

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) -> Activation {
        let g = conv.geometry
        guard let o = g.outputSize(t: x.t, h: x.h, w: x.w) else { preconditionFailure("input smaller than kernel") }
        let key = Key(layer: conv.id, n: x.n, t: x.t, h: x.h, w: x.w, residual: residual != nil, relu: relu)
        let c: Compiled
        do { c = try lock.withLock { try compiled[key] ?? compile(conv, x, key) } } catch {
            preconditionFailure("oneDNN: \(error)")
        }
        // The "sum" post-op adds what dst holds, so dst starts as the residual.
        var out = residual?.data ?? [Float](unsafeUninitializedCapacity: x.n * o.t * o.h * o.w * g.outChannels) { $1 = $0.count }
        precondition(out.count == x.n * o.t * o.h * o.w * g.outChannels)
        x.data.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { yb in
                lock.withLock {
                    dnnl_memory_set_data_handle(c.src.handle, UnsafeMutableRawPointer(mutating: xb.baseAddress!))
                    dnnl_memory_set_data_handle(c.dst.handle, yb.baseAddress!)
                    let args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_SRC, memory: c.src.handle),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_WEIGHTS, memory: c.packed.weights.handle),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_BIAS, memory: c.packed.bias.handle),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_DST, memory: c.dst.handle)]
                    let status = dnnl_primitive_execute(c.primitive, stream, Int32(args.count), args)
                    precondition(status == dnnl_success && dnnl_stream_wait(stream) == dnnl_success, "oneDNN execution failed")
                }
            }
        }
        return Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: g.outChannels, data: out)
    }

    private func compile(_ conv: FoldedConv3d, _ x: Activation, _ key: Key) throws -> Compiled {
        let g = conv.geometry
        let o = g.outputSize(t: x.t, h: x.h, w: x.w)!
        var srcMD = dnnl_memory_desc_t(), dstMD = dnnl_memory_desc_t(), anyWeights = dnnl_memory_desc_t()
        var biasMD = dnnl_memory_desc_t(), userWeights = dnnl_memory_desc_t()
        let weightDims: [Int64] = g.torchWeightShape.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&srcMD, 5, [x.n, g.inChannels, x.t, x.h, x.w].map(Int64.init), dnnl_f32, dnnl_ndhwc), "src")
        try check(dnnl_memory_desc_init_by_tag(&dstMD, 5, [x.n, g.outChannels, o.t, o.h, o.w].map(Int64.init), dnnl_f32, dnnl_ndhwc), "dst")
        try check(dnnl_memory_desc_init_by_tag(&anyWeights, 5, weightDims, dnnl_f32, dnnl_format_tag_any), "weights")
        try check(dnnl_memory_desc_init_by_tag(&userWeights, 5, weightDims, dnnl_f32, dnnl_oidhw), "user weights")
        try check(dnnl_memory_desc_init_by_tag(&biasMD, 1, [Int64(g.outChannels)], dnnl_f32, dnnl_x), "bias")
        var desc = dnnl_convolution_desc_t()
        let strides = [g.stride.t, g.stride.h, g.stride.w].map(Int64.init)
        let padding = [g.padding.t, g.padding.h, g.padding.w].map(Int64.init)
        // Right padding is implied by the output size (PyTorch floors the last window).
        func rightPadding(_ input: Int, _ output: Int, _ kernel: Int, _ stride: Int, _ left: Int) -> Int64 {
            Int64((output - 1) * stride + kernel - input - left)
        }
        let paddingR = [rightPadding(x.t, o.t, g.kernel.t, g.stride.t, g.padding.t),
                        rightPadding(x.h, o.h, g.kernel.h, g.stride.h, g.padding.h),
                        rightPadding(x.w, o.w, g.kernel.w, g.stride.w, g.padding.w)]
        try check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &srcMD, &anyWeights,
                                                     &biasMD, &dstMD, strides, padding, paddingR), "convolution descriptor")
        var postOps: dnnl_post_ops_t?
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_post_ops_create(&postOps), "post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        if key.residual { try check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op") }
        if key.relu { try check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "relu post-op") }
        try check(dnnl_primitive_attr_create(&attr), "attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set post-ops")
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil), "primitive descriptor")
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "primitive")

        let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!
        let packed = try packedWeights[conv.id]?.first { var l = $0.layout; return dnnl_memory_desc_equal(&l, chosen) != 0 }
            ?? pack(conv, into: chosen, userLayout: &userWeights, biasLayout: &biasMD)
        var src: dnnl_memory_t?, dst: dnnl_memory_t?
        try check(dnnl_memory_create(&src, &srcMD, engine, nil), "src memory")
        try check(dnnl_memory_create(&dst, &dstMD, engine, nil), "dst memory")
        let c = Compiled(primitive: primitive!, packed: packed, src: Memory(src!), dst: Memory(dst!))
        if compiled.count >= Self.maxCompiled {
            compiled.removeAll()
            packedWeights.removeAll()
            packedWeights[conv.id] = [packed]
        }
        compiled[key] = c
        return c
    }

    /// The folded weights back in PyTorch's (out, in, kt, kh, kw) order, reordered into `layout`; and the bias.
    private func pack(_ conv: FoldedConv3d, into layout: UnsafePointer<dnnl_memory_desc_t>,
                      userLayout: inout dnnl_memory_desc_t, biasLayout: inout dnnl_memory_desc_t) throws -> PackedWeights {
        let g = conv.geometry, taps = g.taps
        var torchLayout = [Float](repeating: 0, count: conv.weights.count)
        for out in 0..<g.outChannels { for i in 0..<g.inChannels { for tap in 0..<taps {
            torchLayout[(out * g.inChannels + i) * taps + tap] = conv.weights[g.weightIndex(tap: tap, input: i, output: out)]
        }}}
        var weights: dnnl_memory_t?, user: dnnl_memory_t?, bias: dnnl_memory_t?
        try check(dnnl_memory_create(&weights, layout, engine, vidar_dnnl_memory_allocate()), "weights memory")
        let owned = Memory(weights!)
        try torchLayout.withUnsafeMutableBytes { raw in
            try check(dnnl_memory_create(&user, &userLayout, engine, raw.baseAddress), "user weights memory")
            defer { dnnl_memory_destroy(user) }
            var rpd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&rpd, &userLayout, engine, layout, engine, nil), "reorder")
            defer { dnnl_primitive_desc_destroy(rpd) }
            var reorder: dnnl_primitive_t?
            try check(dnnl_primitive_create(&reorder, rpd), "reorder primitive")
            defer { dnnl_primitive_destroy(reorder) }
            let args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_FROM, memory: user), dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_TO, memory: weights)]
            try check(dnnl_primitive_execute(reorder, stream, 2, args), "reordering weights")
            try check(dnnl_stream_wait(stream), "reordering weights")
        }
        try check(dnnl_memory_create(&bias, &biasLayout, engine, vidar_dnnl_memory_allocate()), "bias memory")
        let ownedBias = Memory(bias!)
        var handle: UnsafeMutableRawPointer?
        try check(dnnl_memory_get_data_handle(bias, &handle), "bias handle")
        conv.bias.withUnsafeBytes { handle!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let packed = PackedWeights(layout: layout.pointee, weights: owned, bias: ownedBias)
        packedWeights[conv.id, default: []].append(packed)
        return packed
    }
}

private func check(_ status: dnnl_status_t, _ what: String) throws {
    guard status == dnnl_success else { throw OneDNNError(description: "\(what) failed (dnnl status \(status.rawValue))") }
}
