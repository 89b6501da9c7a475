#!/usr/bin/env python3
"""OpenVINO (f32 and bf16) and ONNX Runtime peers for vidar-bench engine, on the ONNX model exported from
torchvision by torch_video_resnet.py --export-onnx. Runs in the venv Benchmarks/peers/setup.sh makes.

    .peers/venv/bin/python Benchmarks/peers/openvino_onnxruntime.py --onnx M.onnx --input X.npy --reference L.npy --threads 2
        then, one per line on stdin:  run BATCH RUNS   →   one JSON line: {"openvino-f32": [s, …], "openvino-bf16": […], "onnxruntime": […]}

The first line it prints reports versions and each engine's max |Δ| / max |logit| against torchvision's logits.
"""
import argparse

import numpy as np
import onnxruntime as ort
import openvino as ov

import peer_rounds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onnx", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    x = np.load(a.input).astype(np.float32)
    reference = np.load(a.reference)
    core = ov.Core()
    model = core.read_model(a.onnx)
    engines = {}
    for name, precision in (("openvino-f32", "f32"), ("openvino-bf16", "bf16")):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": a.threads, "INFERENCE_PRECISION_HINT": precision,
                                                    "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        request = compiled.create_infer_request()
        engines[name] = (lambda r: (lambda c: r.infer({0: c})[0]))(request)
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(a.onnx, options, providers=["CPUExecutionProvider"])
    engines["onnxruntime"] = lambda c: session.run(None, {"clips": c})[0]
    scale = float(np.abs(reference).max())
    errors = {name: float(np.abs(fn(x) - reference).max()) / scale for name, fn in engines.items()}
    peer_rounds.serve(engines, lambda batch: np.ascontiguousarray(np.repeat(x, batch, axis=0)), a.warmup,
                      {"openvino": ov.__version__, "onnxruntime": ort.__version__, "relative_error": errors})

if __name__ == "__main__":
    main()
