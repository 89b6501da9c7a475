// The whole network as one oneDNN plan: every convolution lets oneDNN choose its activation layout (blocked,
// e.g. nCdhw16c, or channels-last for AMX) and number format (fp32 or bf16), so activations stay in that
// layout from the first convolution to the last. Reorders appear only at the input (N,C,T,H,W fp32 in), where
// two layers disagree on a layout, and before the pool (N,T,H,W,C fp32 out). The residual is summed in place
// into the shortcut's buffer by the block's last convolution. At int8 every activation carries its scale
// (value ≈ stored / scale, from the calibration); each convolution's output scales, bias and sum scale turn
// one activation's scale into the next one's, and the final reorder divides the last one out. A plan is compiled once per (network, input
// shape, precision, threads) and shared by every stream; each stream runs it with its own buffers and
// scratchpad (PlanState), allocated once — per clip only the small pooled-stage output is a new array.
import CDNNL
import Foundation

extension OneDNNConvolution {
    struct PlanKey: Hashable {
        let network: Int, n: Int, t: Int, h: Int, w: Int
        let precision: Precision
        let threads: Int32
        /// int8's ranges (nil at the other precisions): a recalibrated network gets its own plan.
        let calibration: Calibration?
    }

    /// Plans kept at most; past it the cache starts over (clip shapes a stream keeps changing).
    static let maxPlans = 16

    /// A oneDNN primitive owned by Swift.
    final class Primitive: @unchecked Sendable {
        let handle: dnnl_primitive_t
        init(_ handle: dnnl_primitive_t) { self.handle = handle }
        deinit { dnnl_primitive_destroy(handle) }
    }

    /// What a step's argument is bound to: one of the plan's buffers seen through a layout, or memory the plan
    /// shares with every stream (packed weights, bias).
    enum Argument: @unchecked Sendable {
        case buffer(Int, dnnl_memory_desc_t)
        case shared(Memory)
    }

    struct Step: @unchecked Sendable {
        let primitive: Primitive
        let arguments: [(kind: Int32, argument: Argument)]
        let scratchpad: dnnl_memory_desc_t
    }

    /// Immutable once compiled; run concurrently by many streams, each with its own PlanState.
    final class NetworkPlan: @unchecked Sendable {
        let steps: [Step]
        let bufferBytes: [Int]
        let scratchpadBytes: Int
        let inputBuffer: Int, outputBuffer: Int
        /// The last convolution's output extent (T, H, W, C), read back as N,T,H,W,C fp32.
        let output: (t: Int, h: Int, w: Int, c: Int)

        init(steps: [Step], bufferBytes: [Int], inputBuffer: Int, outputBuffer: Int, output: (t: Int, h: Int, w: Int, c: Int)) {
            (self.steps, self.bufferBytes, self.inputBuffer, self.outputBuffer, self.output) =
                (steps, bufferBytes, inputBuffer, outputBuffer, output)
            scratchpadBytes = steps.map { var md = $0.scratchpad; return dnnl_memory_desc_get_size(&md) }.max() ?? 0
        }
    }

    /// One stream's buffers for one plan, with a oneDNN memory object bound to each step's arguments.
    final class PlanState {
        let plan: NetworkPlan
        let stream: StreamState
        private let buffers: [UnsafeMutableRawPointer]
        private let scratchpad: UnsafeMutableRawPointer
        private var memories: [dnnl_memory_t?] = []
        private var arguments: [[dnnl_exec_arg_t]] = []

        init(plan: NetworkPlan, stream: StreamState) throws {
            self.plan = plan
            self.stream = stream
            buffers = plan.bufferBytes.map { .allocate(byteCount: max($0, 64), alignment: 64) }
            scratchpad = .allocate(byteCount: max(plan.scratchpadBytes, 64), alignment: 64)
            for step in plan.steps {
                var args: [dnnl_exec_arg_t] = []
                for (kind, argument) in step.arguments {
                    switch argument {
                    case .shared(let memory): args.append(dnnl_exec_arg_t(arg: kind, memory: memory.handle))
                    case .buffer(let index, var md): args.append(dnnl_exec_arg_t(arg: kind, memory: try bind(&md, buffers[index])))
                    }
                }
                var md = step.scratchpad
                if dnnl_memory_desc_get_size(&md) > 0 {
                    args.append(dnnl_exec_arg_t(arg: VIDAR_DNNL_ARG_SCRATCHPAD, memory: try bind(&md, scratchpad)))
                }
                arguments.append(args)
            }
        }

        private func bind(_ md: inout dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) throws -> dnnl_memory_t? {
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &md, stream.engine.handle, pointer), "binding a plan buffer")
            memories.append(memory)
            return memory
        }

        deinit {
            memories.forEach { dnnl_memory_destroy($0) }
            buffers.forEach { $0.deallocate() }
            scratchpad.deallocate()
        }

        /// N,C,T,H,W fp32 in → the last convolution's output as N,T,H,W,C fp32.
        func run(_ input: Tensor) throws -> Activation {
            input.data.withUnsafeBytes { buffers[plan.inputBuffer].copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            for (step, args) in zip(plan.steps, arguments) {
                try check(dnnl_primitive_execute(step.primitive.handle, stream.stream, Int32(args.count), args), "executing the network")
            }
            try check(dnnl_stream_wait(stream.stream), "waiting for the network")
            let (n, o) = (input.shape[0], plan.output)
            let count = n * o.t * o.h * o.w * o.c
            let source = buffers[plan.outputBuffer].assumingMemoryBound(to: Float.self)
            let data = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                out.baseAddress!.update(from: source, count: count)
                initialized = count
            }
            return Activation(n: n, t: o.t, h: o.h, w: o.w, c: o.c, data: data)
        }
    }

    /// The network's convolutions on `input` (N,C,T,H,W fp32) → the last stage's output, N,T,H,W,C fp32.
    func runNetwork(_ network: VideoResNet, _ input: Tensor, precision: Precision, workspace: Workspace) throws -> Activation {
        let s = input.shape
        if let reason = precision.unsupportedReason(for: network) { throw InferenceError(description: reason) }
        let key = PlanKey(network: network.stem[0].id, n: s[0], t: s[2], h: s[3], w: s[4], precision: precision,
                          threads: omp_get_max_threads(), calibration: precision == .int8 ? network.calibration : nil)
        let plan = try cache.withLock { cache in
            if let plan = cache.plans[key] { return plan }
            if cache.plans.count >= Self.maxPlans { cache.plans.removeAll() }
            var builder = PlanBuilder(backend: self, precision: precision, calibration: key.calibration)
            let plan = try builder.build(network, shape: s, cache: &cache)
            cache.plans[key] = plan
            return plan
        }
        let stream = try streamState(workspace)
        if workspace.plan?.plan !== plan || workspace.plan?.stream !== stream {
            workspace.plan = nil  // one plan's buffers at a time
            workspace.plan = try PlanState(plan: plan, stream: stream)
        }
        return try workspace.plan!.run(input)
    }

    /// Lays the network out step by step, giving each activation a buffer that is reused once it is dead.
    struct PlanBuilder {
        /// An activation during planning: its buffer, layout and extent.
        struct Value {
            let buffer: Int
            var md: dnnl_memory_desc_t
            let t: Int, h: Int, w: Int, c: Int
            /// int8: the value is stored / scale; 1 for fp32 and bf16.
            var scale: Float = 1
        }

        let backend: OneDNNConvolution
        let precision: Precision
        let calibration: Calibration?
        var steps: [Step] = []
        var bytes: [Int] = []
        var free: [Int] = []
        var n = 1

        init(backend: OneDNNConvolution, precision: Precision, calibration: Calibration?) {
            (self.backend, self.precision, self.calibration) = (backend, precision, calibration)
        }

        mutating func build(_ network: VideoResNet, shape s: [Int], cache: inout Cache) throws -> NetworkPlan {
            n = s[0]
            var userMD = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_tag(&userMD, 5, s.map(Int64.init), dnnl_f32, dnnl_ncdhw), "input")
            let input = Value(buffer: allocate(userMD), md: userMD, t: s[2], h: s[3], w: s[4], c: s[1])
            var x = try chain(network.stem, input, residual: nil, cache: &cache)
            release(input.buffer)
            for stage in network.stages {
                for block in stage {
                    let shortcut = try block.downsample.map { try convolve($0, x, residual: nil, relu: false, cache: &cache) } ?? x
                    let y = try chain(block.conv1, x, residual: nil, cache: &cache)
                    if shortcut.buffer != x.buffer { release(x.buffer) }
                    let out = try chain(block.conv2, y, residual: shortcut, cache: &cache)
                    release(y.buffer)
                    if out.buffer != shortcut.buffer { release(shortcut.buffer) }
                    x = out
                }
            }
            var outMD = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_tag(&outMD, 5, [n, x.c, x.t, x.h, x.w].map(Int64.init), dnnl_f32, dnnl_ndhwc), "output")
            let output = try convert(x, to: outMD)
            return NetworkPlan(steps: steps, bufferBytes: bytes, inputBuffer: input.buffer, outputBuffer: output.buffer,
                               output: (x.t, x.h, x.w, x.c))
        }

        /// Convolutions in sequence with ReLU after each, the residual summed by the last; frees the
        /// intermediate activations but not `x`.
        mutating func chain(_ convs: [FoldedConv3d], _ x: Value, residual: Value?, cache: inout Cache) throws -> Value {
            var y = x
            for (i, conv) in convs.enumerated() {
                let z = try convolve(conv, y, residual: i == convs.count - 1 ? residual : nil, relu: true, cache: &cache)
                if y.buffer != x.buffer { release(y.buffer) }
                y = z
            }
            return y
        }

        /// One convolution step. With a residual, the output is written over the residual's buffer (oneDNN's
        /// sum post-op adds what dst holds), reordered first if the convolution wants another layout.
        mutating func convolve(_ conv: FoldedConv3d, _ x: Value, residual: Value?, relu: Bool, cache: inout Cache) throws -> Value {
            let g = conv.geometry
            guard x.c == g.inChannels, let o = g.outputSize(t: x.t, h: x.h, w: x.w) else {
                throw InferenceError(description: "input \(x.t)×\(x.h)×\(x.w)×\(x.c) does not fit a \(g.kernel) convolution of \(g.inChannels) channels")
            }
            // A convolution of a few input channels (the 3-channel stem) gains nothing from bf16 and loses to fp32
            // (measured 35 vs 14 ms for r3d_18's stem: AMX tiles need many channels), so it stays fp32 and its output
            // is converted for the next layer. The same holds for int8, whose u8 inputs need a ReLU before them.
            let reduced = precision != .fp32 && g.inChannels >= 16
            let outScale = precision == .int8 ? calibration!.scale(of: conv, relu: relu) : 1
            var types = ConvolutionTypes.uniform(reduced ? precision.dnnl() : dnnl_f32)
            var quantization: Quantization?, int8Weights: Int8Weights?
            if reduced && precision == .int8 {
                types = ConvolutionTypes(src: x.md.data_type, weights: dnnl_s8, dst: precision.dnnl(relu: relu))
                let weightScales = conv.weightAbsMax.map { $0 > 0 ? 127 / $0 : 1 }
                quantization = Quantization(outputScales: weightScales.map { outScale / (x.scale * $0) },
                                            sumScale: residual.map { outScale / $0.scale } ?? 1,
                                            sumType: residual?.md.data_type ?? types.dst)
                int8Weights = Int8Weights(scales: weightScales, bias: zip(conv.bias, weightScales).map { $0 * x.scale * $1 })
            }
            let pd = try backend.primitiveDescriptor(conv, n: n, input: Dims3(x.t, x.h, x.w), output: o, layout: dnnl_format_tag_any,
                                                     types: types, residual: residual != nil, relu: relu, quantization: quantization)
            defer { dnnl_primitive_desc_destroy(pd) }
            let srcMD = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)!.pointee
            let dstMD = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)!.pointee
            let packed = try backend.packedWeights(conv, layout: dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!,
                                                   int8: int8Weights, cache: &cache)
            let scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)?.pointee ?? dnnl_memory_desc_t()
            var primitive: dnnl_primitive_t?
            try check(dnnl_primitive_create(&primitive, pd), "convolution primitive")
            let owned = Primitive(primitive!)

            let src = same(x.md, srcMD) ? x : try convert(x, to: srcMD)
            let dst: Value
            if let r = residual {
                // An int8 convolution's residual keeps its own number format in dst's layout (an s8 shortcut under a
                // u8 output, which the sum post-op reads as s8); a float one takes dst's.
                var layout = dstMD
                if quantization != nil { layout.data_type = r.md.data_type }
                dst = same(r.md, layout) ? r : try convert(r, to: layout)
            } else {
                dst = Value(buffer: allocate(dstMD), md: dstMD, t: o.t, h: o.h, w: o.w, c: g.outChannels)
            }
            steps.append(Step(primitive: owned, arguments: [(VIDAR_DNNL_ARG_SRC, .buffer(src.buffer, srcMD)),
                                                            (VIDAR_DNNL_ARG_WEIGHTS, .shared(packed.weights)),
                                                            (VIDAR_DNNL_ARG_BIAS, .shared(packed.bias)),
                                                            (VIDAR_DNNL_ARG_DST, .buffer(dst.buffer, dstMD))],
                              scratchpad: scratchpad))
            if src.buffer != x.buffer { release(src.buffer) }
            let y = Value(buffer: dst.buffer, md: dstMD, t: o.t, h: o.h, w: o.w, c: g.outChannels, scale: reduced ? outScale : 1)
            guard !reduced && precision != .fp32 else { return y }
            // Once into the plan's number format, in the same layout, however many layers read it.
            var converted = dstMD
            converted.data_type = precision.dnnl(relu: relu)
            let out = try reorder(y, to: converted, scaledBy: outScale)
            release(y.buffer)
            return out
        }

        /// `x` in another layout or number format, the same values: int8 into a float format divides its scale out.
        mutating func convert(_ x: Value, to md: dnnl_memory_desc_t) throws -> Value {
            let float = md.data_type == dnnl_f32 || md.data_type == dnnl_bf16
            return try reorder(x, to: md, scaledBy: float ? 1 / x.scale : 1)
        }

        /// A reorder of `x` into a fresh buffer in layout (and number format) `md`, multiplied by `factor` on the
        /// way (int8's quantization and dequantization).
        mutating func reorder(_ x: Value, to md: dnnl_memory_desc_t, scaledBy factor: Float = 1) throws -> Value {
            var from = x.md, to = md
            var attr: dnnl_primitive_attr_t?
            try check(dnnl_primitive_attr_create(&attr), "reorder attributes")
            defer { dnnl_primitive_attr_destroy(attr) }
            try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "user scratchpad")
            if factor != 1 { try check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, [factor]), "reorder scale") }
            var pd: dnnl_primitive_desc_t?
            let engine = backend.engine.handle
            try check(dnnl_reorder_primitive_desc_create(&pd, &from, engine, &to, engine, attr), "reorder")
            defer { dnnl_primitive_desc_destroy(pd) }
            var primitive: dnnl_primitive_t?
            try check(dnnl_primitive_create(&primitive, pd), "reorder primitive")
            let scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)?.pointee ?? dnnl_memory_desc_t()
            let out = Value(buffer: allocate(md), md: md, t: x.t, h: x.h, w: x.w, c: x.c, scale: x.scale * factor)
            steps.append(Step(primitive: Primitive(primitive!), arguments: [(VIDAR_DNNL_ARG_FROM, .buffer(x.buffer, x.md)),
                                                                          (VIDAR_DNNL_ARG_TO, .buffer(out.buffer, md))],
                              scratchpad: scratchpad))
            return out
        }

        func same(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
            var (a, b) = (a, b)
            return dnnl_memory_desc_equal(&a, &b) != 0
        }

        /// A dead buffer if there is one (grown to fit), else a new one.
        mutating func allocate(_ md: dnnl_memory_desc_t) -> Int {
            var md = md
            let size = dnnl_memory_desc_get_size(&md)
            if let i = free.popLast() {
                bytes[i] = max(bytes[i], size)
                return i
            }
            bytes.append(size)
            return bytes.count - 1
        }

        mutating func release(_ buffer: Int) {
            precondition(!free.contains(buffer), "plan buffer \(buffer) released twice")
            free.append(buffer)
        }
    }
}
