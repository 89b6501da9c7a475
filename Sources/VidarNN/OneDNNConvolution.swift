// A convolution backend on oneDNN (Debian's libdnnl, the library PyTorch's own CPU convolutions use), in the
// same channels-last layout as GemmConvolution. Each (layer, input shape) is compiled once and shared by every
// stream: oneDNN picks its kernel and weight layout, the folded weights are reordered into it once, and bias,
// residual (a "sum" post-op) and ReLU run inside the primitive. Primitives use a user-managed scratchpad, which
// oneDNN documents as safe to execute concurrently, so each stream runs them on its own oneDNN stream with its
// own scratchpad (kept in the stream's Workspace) and no lock is held while a convolution runs.
import CDNNL
import Foundation
import Synchronization

public final class OneDNNConvolution: ConvolutionBackend {
    let engine: Engine
    let cache = Mutex(Cache())

    /// How many primitives are compiled now (for tests of the bound).
    public var compiledCount: Int { cache.withLock { $0.compiled.count } }

    /// Compiled primitives kept at most: enough for every layer at a few input shapes. Past it the cache starts
    /// over, so a stream of ever-changing clip sizes cannot grow memory without bound.
    public static let maxCompiled = 256

    /// A primitive is compiled for one input shape and one thread count: oneDNN splits the work for the thread
    /// count it sees when it creates the primitive and runs that many threads, whatever the caller's setting.
    struct Key: Hashable {
        let layer: Int, n: Int, t: Int, h: Int, w: Int
        let residual: Bool, relu: Bool
        let threads: Int32
    }

    struct Cache {
        var compiled: [Key: Compiled] = [:]
        /// A layer's weights in each oneDNN layout some input shape chose for it.
        var packed: [Int: [PackedWeights]] = [:]
        /// Whole-network plans (OneDNNNetworkPlan.swift), by network, input shape, precision and threads.
        var plans: [PlanKey: NetworkPlan] = [:]
    }

    /// The CPU engine: oneDNN engines are thread-safe, the wrapper only owns its lifetime.
    final class Engine: @unchecked Sendable {
        let handle: dnnl_engine_t
        init() throws {
            var e: dnnl_engine_t?
            try check(dnnl_engine_create(&e, dnnl_cpu, 0), "creating the CPU engine")
            handle = e!
        }
        deinit { dnnl_engine_destroy(handle) }
    }

    /// A oneDNN memory object owned by Swift. Shared ones (packed weights, bias) are written once, before they
    /// are published in the cache, and only read afterwards.
    final class Memory: @unchecked Sendable {
        let handle: dnnl_memory_t
        init(_ handle: dnnl_memory_t) { self.handle = handle }
        deinit { dnnl_memory_destroy(handle) }
    }

    /// A layer's weights reordered into one oneDNN layout, shared by every input shape that chose that layout.
    struct PackedWeights: Sendable {
        let layout: dnnl_memory_desc_t
        let weights: Memory
        let bias: Memory
        /// What `bias` holds: the layer's bias, or int8's rescaled one (which depends on the input's scale).
        let biasValues: [Float]
    }

    /// One ready primitive with the layouts its arguments take. Immutable once made; executed concurrently by
    /// several streams, each with its own scratchpad (oneDNN: user scratchpad mode is thread-safe).
    final class Compiled: @unchecked Sendable {
        let primitive: dnnl_primitive_t
        let packed: PackedWeights
        let src: dnnl_memory_desc_t, dst: dnnl_memory_desc_t, scratchpad: dnnl_memory_desc_t
        let scratchpadBytes: Int

        init(primitive: dnnl_primitive_t, packed: PackedWeights, src: dnnl_memory_desc_t, dst: dnnl_memory_desc_t,
             scratchpad: dnnl_memory_desc_t) {
            (self.primitive, self.packed, self.src, self.dst, self.scratchpad) = (primitive, packed, src, dst, scratchpad)
            var md = scratchpad
            scratchpadBytes = dnnl_memory_desc_get_size(&md)
        }

        deinit { dnnl_primitive_destroy(primitive) }
    }

    /// One stream's oneDNN state: its oneDNN stream and scratchpad, grown once to the largest layer's need.
    final class StreamState {
        let engine: Engine
        let stream: dnnl_stream_t
        private var scratchpad: UnsafeMutableRawPointer?
        private var capacity = 0

        init(engine: Engine) throws {
            var s: dnnl_stream_t?
            try check(dnnl_stream_create(&s, engine.handle, dnnl_stream_default_flags.rawValue), "creating a stream")
            self.engine = engine
            stream = s!
        }

        deinit {
            dnnl_stream_destroy(stream)
            scratchpad?.deallocate()
        }

        /// Runs `c` from `src` into `dst` (which holds the residual when the primitive sums one).
        func execute(_ c: Compiled, src: UnsafeRawPointer, dst: UnsafeMutableRawPointer) throws {
            var srcMD = c.src, dstMD = c.dst, scratchMD = c.scratchpad
            var srcMemory: dnnl_memory_t?, dstMemory: dnnl_memory_t?, scratchMemory: dnnl_memory_t?
            defer { [srcMemory, dstMemory, scratchMemory].forEach { dnnl_memory_destroy($0) } }
            try check(dnnl_memory_create(&srcMemory, &srcMD, engine.handle, UnsafeMutableRawPointer(mutating: src)), "src memory")
            try check(dnnl_memory_create(&dstMemory, &dstMD, engine.handle, dst), "dst memory")
            var args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_SRC, memory: srcMemory),
                        dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_WEIGHTS, memory: c.packed.weights.handle),
                        dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_BIAS, memory: c.packed.bias.handle),
                        dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_DST, memory: dstMemory)]
            if c.scratchpadBytes > 0 {
                if c.scratchpadBytes > capacity {
                    scratchpad?.deallocate()
                    scratchpad = .allocate(byteCount: c.scratchpadBytes, alignment: 64)
                    capacity = c.scratchpadBytes
                }
                try check(dnnl_memory_create(&scratchMemory, &scratchMD, engine.handle, scratchpad), "scratchpad memory")
                args.append(dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_SCRATCHPAD, memory: scratchMemory))
            }
            try check(dnnl_primitive_execute(c.primitive, stream, Int32(args.count), args), "executing a convolution")
            try check(dnnl_stream_wait(stream), "waiting for a convolution")
        }
    }

    public init() throws {
        engine = try Engine()
    }

    /// The workspace's oneDNN stream and scratchpad, made on its first use with this backend's engine.
    func streamState(_ workspace: Workspace) throws -> StreamState {
        if let state = workspace.onednn, state.engine === engine { return state }
        let state = try StreamState(engine: engine)
        workspace.onednn = state
        return state
    }

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) throws -> Activation {
        let g = conv.geometry
        let o = try g.checkedOutputSize(x)
        let key = Key(layer: conv.id, n: x.n, t: x.t, h: x.h, w: x.w, residual: residual != nil, relu: relu,
                      threads: omp_get_max_threads())
        let c = try cache.withLock { cache in try cache.compiled[key] ?? compile(conv, x, key, into: &cache) }
        let state = try streamState(workspace)
        let count = x.n * o.t * o.h * o.w * g.outChannels
        // The "sum" post-op adds what dst holds, so dst starts as the residual.
        var out = residual?.data ?? [Float](unsafeUninitializedCapacity: count) { $1 = $0.count }
        guard out.count == count else {
            throw InferenceError(description: "residual of \(out.count) values for an output of \(count)")
        }
        try x.data.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer { yb in
                try state.execute(c, src: UnsafeRawPointer(xb.baseAddress!), dst: UnsafeMutableRawPointer(yb.baseAddress!))
            }
        }
        return Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: g.outChannels, data: out)
    }

    private func compile(_ conv: FoldedConv3d, _ x: Activation, _ key: Key, into cache: inout Cache) throws -> Compiled {
        let g = conv.geometry
        let o = try g.checkedOutputSize(x)
        let pd = try primitiveDescriptor(conv, n: x.n, input: Dims3(x.t, x.h, x.w), output: o, layout: dnnl_ndhwc,
                                         types: .uniform(dnnl_f32), residual: key.residual, relu: key.relu)
        defer { dnnl_primitive_desc_destroy(pd) }
        let srcMD = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)!.pointee
        let dstMD = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)!.pointee
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "primitive")

        let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!
        // Packed weights stay: a few layouts per layer at most, and the only copy once the folded ones are released.
        if cache.compiled.count >= Self.maxCompiled { cache.compiled.removeAll() }
        let packed = try packedWeights(conv, layout: chosen, cache: &cache)
        let scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)?.pointee ?? dnnl_memory_desc_t()
        let c = Compiled(primitive: primitive!, packed: packed, src: srcMD, dst: dstMD, scratchpad: scratchpad)
        cache.compiled[key] = c
        return c
    }

    /// The number formats of a convolution's arguments (the bias is always fp32).
    struct ConvolutionTypes {
        var src: dnnl_data_type_t, weights: dnnl_data_type_t, dst: dnnl_data_type_t
        static func uniform(_ t: dnnl_data_type_t) -> ConvolutionTypes { ConvolutionTypes(src: t, weights: t, dst: t) }
    }

    /// An int8 convolution's scales. oneDNN 2.x computes dst = outputScales[oc] · (Σ u8·s8 + bias), then adds
    /// sumScale · (the residual dst holds, read as sumType), then the ReLU: the bias is in the accumulator's units.
    struct Quantization {
        let outputScales: [Float]
        let sumScale: Float
        let sumType: dnnl_data_type_t
    }

    /// A convolution's primitive descriptor (caller destroys it): `layout` for src and dst (`any` lets oneDNN
    /// choose), weights in the layout oneDNN prefers, an fp32 bias, then the residual sum and ReLU as post-ops.
    func primitiveDescriptor(_ conv: FoldedConv3d, n: Int, input: Dims3, output o: Dims3, layout: dnnl_format_tag_t,
                             types: ConvolutionTypes, residual: Bool, relu: Bool,
                             quantization: Quantization? = nil) throws -> dnnl_primitive_desc_t {
        let g = conv.geometry
        var srcMD = dnnl_memory_desc_t(), dstMD = dnnl_memory_desc_t(), anyWeights = dnnl_memory_desc_t()
        var biasMD = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_tag(&srcMD, 5, [n, g.inChannels, input.t, input.h, input.w].map(Int64.init), types.src, layout), "src")
        try check(dnnl_memory_desc_init_by_tag(&dstMD, 5, [n, g.outChannels, o.t, o.h, o.w].map(Int64.init), types.dst, layout), "dst")
        try check(dnnl_memory_desc_init_by_tag(&anyWeights, 5, g.torchWeightShape.map(Int64.init), types.weights, dnnl_format_tag_any), "weights")
        try check(dnnl_memory_desc_init_by_tag(&biasMD, 1, [Int64(g.outChannels)], dnnl_f32, dnnl_x), "bias")
        var desc = dnnl_convolution_desc_t()
        let strides = [g.stride.t, g.stride.h, g.stride.w].map(Int64.init)
        let padding = [g.padding.t, g.padding.h, g.padding.w].map(Int64.init)
        // Right padding is implied by the output size (PyTorch floors the last window).
        func rightPadding(_ input: Int, _ output: Int, _ kernel: Int, _ stride: Int, _ left: Int) -> Int64 {
            Int64((output - 1) * stride + kernel - input - left)
        }
        let paddingR = [rightPadding(input.t, o.t, g.kernel.t, g.stride.t, g.padding.t),
                        rightPadding(input.h, o.h, g.kernel.h, g.stride.h, g.padding.h),
                        rightPadding(input.w, o.w, g.kernel.w, g.stride.w, g.padding.w)]
        try check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &srcMD, &anyWeights,
                                                     &biasMD, &dstMD, strides, padding, paddingR), "convolution descriptor")
        var postOps: dnnl_post_ops_t?
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_post_ops_create(&postOps), "post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        if residual {
            if let q = quantization, q.sumType != types.dst {
                try check(dnnl_post_ops_append_sum_v2(postOps, q.sumScale, q.sumType), "sum post-op")
            } else {
                try check(dnnl_post_ops_append_sum(postOps, quantization?.sumScale ?? 1), "sum post-op")
            }
        }
        if relu { try check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "relu post-op") }
        try check(dnnl_primitive_attr_create(&attr), "attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set post-ops")
        try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "user scratchpad")
        if let q = quantization {
            try check(dnnl_primitive_attr_set_output_scales(attr, Int64(q.outputScales.count), 1 << 1, q.outputScales), "output scales")
        }
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, &desc, attr, engine.handle, nil), "primitive descriptor")
        return pd!
    }

    /// An int8 layer's weights: s8 = round(w · scales[oc]), and the bias in the accumulator's units.
    struct Int8Weights {
        let scales: [Float]
        let bias: [Float]
    }

    /// The layer's weights in `layout`, packed once and shared by every primitive (and plan) that chose it: from
    /// the folded weights while the model has them, else from a packed copy that converts exactly (fp32 into
    /// anything; bf16 into bf16). An s8 layout takes `int8`'s scales and bias.
    func packedWeights(_ conv: FoldedConv3d, layout: UnsafePointer<dnnl_memory_desc_t>, int8: Int8Weights? = nil,
                       cache: inout Cache) throws -> PackedWeights {
        let copies = cache.packed[conv.id] ?? []
        let biasValues = int8?.bias ?? conv.bias
        if let found = copies.first(where: { var l = $0.layout; return dnnl_memory_desc_equal(&l, layout) != 0 && $0.biasValues == biasValues }) {
            if conv.store.releaseWhenPacked.load(ordering: .relaxed) { conv.store.release() }
            return found
        }
        let g = conv.geometry
        var biasMD = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_tag(&biasMD, 1, [Int64(g.outChannels)], dnnl_f32, dnnl_x), "bias")
        let packed: PackedWeights
        let type = layout.pointee.data_type
        if let folded = conv.store.weights {
            var torchOrder = [Float](repeating: 0, count: folded.count)
            for out in 0..<g.outChannels { for i in 0..<g.inChannels { for tap in 0..<g.taps {
                torchOrder[(out * g.inChannels + i) * g.taps + tap] = folded[g.weightIndex(tap: tap, input: i, output: out)]
            }}}
            var userMD = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_tag(&userMD, 5, g.torchWeightShape.map(Int64.init), dnnl_f32, dnnl_oidhw), "user weights")
            packed = try torchOrder.withUnsafeMutableBytes { raw in
                try reorderWeights(from: &userMD, raw.baseAddress!, into: layout, scales: int8?.scales, bias: biasValues, biasLayout: &biasMD)
            }
        } else if let source = copies.first(where: { $0.layout.data_type == dnnl_f32 })
                    ?? copies.first(where: { $0.layout.data_type == type && type != dnnl_s8 }) {
            var from = source.layout, handle: UnsafeMutableRawPointer?
            try check(dnnl_memory_get_data_handle(source.weights.handle, &handle), "weights handle")
            packed = try reorderWeights(from: &from, handle!, into: layout, scales: int8?.scales, bias: biasValues, biasLayout: &biasMD)
        } else {
            throw InferenceError(description: "layer \(conv.id): the folded weights were released and no packed copy converts "
                                 + "exactly into the layout asked for (an fp32 or int8 plan after a bf16-only one?)")
        }
        cache.packed[conv.id, default: []].append(packed)
        if conv.store.releaseWhenPacked.load(ordering: .relaxed) { conv.store.release() }
        return packed
    }

    /// Weights at `source` (layout `from`) reordered — and converted, e.g. to bf16 — into a new `layout`; and the bias.
    /// With `scales`, each output channel is multiplied by its scale on the way (fp32 into s8).
    private func reorderWeights(from: inout dnnl_memory_desc_t, _ source: UnsafeMutableRawPointer,
                                into layout: UnsafePointer<dnnl_memory_desc_t>, scales: [Float]?, bias values: [Float],
                                biasLayout: inout dnnl_memory_desc_t) throws -> PackedWeights {
        var weights: dnnl_memory_t?, user: dnnl_memory_t?, bias: dnnl_memory_t?
        try check(dnnl_memory_create(&weights, layout, engine.handle, vidar_dnnl_memory_allocate()), "weights memory")
        let owned = Memory(weights!)
        let stream = try StreamState(engine: engine)
        try check(dnnl_memory_create(&user, &from, engine.handle, source), "source weights memory")
        defer { dnnl_memory_destroy(user) }
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "reorder attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        if let scales {  // the output channel is the weights' dimension 0
            try check(dnnl_primitive_attr_set_output_scales(attr, Int64(scales.count), 1 << 0, scales), "weight scales")
        }
        var rpd: dnnl_primitive_desc_t?
        try check(dnnl_reorder_primitive_desc_create(&rpd, &from, engine.handle, layout, engine.handle, attr), "reorder")
        defer { dnnl_primitive_desc_destroy(rpd) }
        var reorder: dnnl_primitive_t?
        try check(dnnl_primitive_create(&reorder, rpd), "reorder primitive")
        defer { dnnl_primitive_destroy(reorder) }
        let args = [dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_FROM, memory: user), dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_TO, memory: weights)]
        try check(dnnl_primitive_execute(reorder, stream.stream, 2, args), "reordering weights")
        try check(dnnl_stream_wait(stream.stream), "reordering weights")
        try check(dnnl_memory_create(&bias, &biasLayout, engine.handle, vidar_dnnl_memory_allocate()), "bias memory")
        let ownedBias = Memory(bias!)
        var handle: UnsafeMutableRawPointer?
        try check(dnnl_memory_get_data_handle(bias, &handle), "bias handle")
        values.withUnsafeBytes { handle!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return PackedWeights(layout: layout.pointee, weights: owned, bias: ownedBias, biasValues: values)
    }
}

func check(_ status: dnnl_status_t, _ what: String) throws {
    guard status == dnnl_success else {
        throw InferenceError(description: "oneDNN: \(what) failed (dnnl status \(status.rawValue))")
    }
}
