#!/usr/bin/env python3
"""Rewrites the sampling recorded in a vidar safetensors file's metadata (the tensors are untouched)."""
import json
import struct
import sys

path, stride = sys.argv[1], int(sys.argv[2])
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
pre = json.loads(header["__metadata__"]["vidar.preprocessing"])
pre["sampling"]["stride"] = stride
header["__metadata__"]["vidar.preprocessing"] = json.dumps(pre)
# Offsets are relative to the data section, so a header of another length needs no other change.
js = json.dumps(header).encode()
js += b" " * (-(8 + len(js)) % 8)
open(path, "wb").write(struct.pack("<Q", len(js)) + js + raw[8 + n:])
