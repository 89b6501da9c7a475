"""The line protocol vidar-bench speaks with its long-lived peers (torch_video_resnet.py, openvino_onnxruntime.py).

serve(engines, batch_of, warmup, ready) prints `ready` as the first JSON line, then answers each stdin line
`run BATCH RUNS` with one JSON line of per-call seconds by engine name, each engine warmed up once per batch size.
"""
import json
import sys
import time


def serve(engines, batch_of, warmup, ready):
    print(json.dumps(dict(ready, ready=True)), flush=True)
    warmed = set()
    for line in sys.stdin:
        words = line.split()
        if len(words) != 3 or words[0] != "run":
            print(json.dumps({"error": f"expected 'run BATCH RUNS', got {line.strip()!r}"}), flush=True)
            continue
        batch, runs = int(words[1]), int(words[2])
        clips = batch_of(batch)
        out = {}
        for name, fn in engines.items():
            if (name, batch) not in warmed:
                for _ in range(warmup):
                    fn(clips)
                warmed.add((name, batch))
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn(clips)
                times.append(time.perf_counter() - t0)
            out[name] = times
        print(json.dumps(out), flush=True)
