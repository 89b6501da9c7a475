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

    struct Key: Hashable {
        let layer: Int, n: Int, t: Int, h: Int, w: Int
        let residual: Bool, relu: Bool
    }

    /// One ready primitive with its own weights and bias; src/dst memories get the caller's pointers per call.
    final class Compiled {
        let primitive: dnnl_primitive_t
        let weights: dnnl_memory_t, bias: dnnl_memory_t, src: dnnl_memory_t, dst: dnnl_memory_t

        init(primitive: dnnl_primitive_t, weights: dnnl_memory_t, bias: dnnl_memory_t, src: dnnl_memory_t, dst: dnnl_memory_t) {
            (self.primitive, self.weights, self.bias, self.src, self.dst) = (primitive, weights, bias, src, dst)
        }

        deinit {
            dnnl_primitive_destroy(primitive)
            [weights, bias, src, dst].forEach { dnnl_memory_destroy($0) }
        }
    }

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
                    dnnl_memory_set_data_handle(c.src, UnsafeMutableRawPointer(mutating: xb.baseAddress!))
                    dnnl_memory_set_data_handle(c.dst, yb.baseAddress!)
                    let args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_SRC, memory: c.src),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_WEIGHTS, memory: c.weights),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_BIAS, memory: c.bias),
                                dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_DST, memory: c.dst)]
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

        // Weights: back to PyTorch's (out, in, kt, kh, kw), then reordered into the layout oneDNN chose.
        let taps = g.taps
        var torchLayout = [Float](repeating: 0, count: conv.weights.count)
        for out in 0..<g.outChannels { for i in 0..<g.inChannels { for tap in 0..<taps {
            torchLayout[(out * g.inChannels + i) * taps + tap] = conv.weights[g.weightIndex(tap: tap, input: i, output: out)]
        }}}
        let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!
        var weights: dnnl_memory_t?, user: dnnl_memory_t?, bias: dnnl_memory_t?, src: dnnl_memory_t?, dst: dnnl_memory_t?
        try check(dnnl_memory_create(&weights, chosen, engine, vidar_dnnl_memory_allocate()), "weights memory")
        try torchLayout.withUnsafeMutableBytes { raw in
            try check(dnnl_memory_create(&user, &userWeights, engine, raw.baseAddress), "user weights memory")
            defer { dnnl_memory_destroy(user) }
            var rpd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&rpd, &userWeights, engine, chosen, engine, nil), "reorder")
            defer { dnnl_primitive_desc_destroy(rpd) }
            var reorder: dnnl_primitive_t?
            try check(dnnl_primitive_create(&reorder, rpd), "reorder primitive")
            defer { dnnl_primitive_destroy(reorder) }
            let args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_FROM, memory: user), dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_TO, memory: weights)]
            try check(dnnl_primitive_execute(reorder, stream, 2, args), "reordering weights")
            try check(dnnl_stream_wait(stream), "reordering weights")
        }
        try check(dnnl_memory_create(&bias, &biasMD, engine, vidar_dnnl_memory_allocate()), "bias memory")
        var handle: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(bias, &handle)
        conv.bias.withUnsafeBytes { handle!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        try check(dnnl_memory_create(&src, &srcMD, engine, nil), "src memory")
        try check(dnnl_memory_create(&dst, &dstMD, engine, nil), "dst memory")
        let c = Compiled(primitive: primitive!, weights: weights!, bias: bias!, src: src!, dst: dst!)
        compiled[key] = c
        return c
    }
}

private func check(_ status: dnnl_status_t, _ what: String) throws {
    guard status == dnnl_success else { throw OneDNNError(description: "\(what) failed (dnnl status \(status.rawValue))") }
}
