# vidar — the two commands: `make demo` (install, build, run on the bundled demo) and `make test`
# (install, build, generate the torchvision fixtures, run every test). Both work on a fresh Debian 12 machine.

SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
# Debian's interpreter: python3-torch and python3-torchvision live there, not in a pyenv/venv python.
PYTHON ?= /usr/bin/python3
FIXTURES ?= $(CURDIR)/.fixtures
BENCH_ARGS ?=
# Warnings fail the build (Swift 6 language mode, strict concurrency): CI cannot land a new one.
SWIFT_FLAGS ?= -Xswiftc -warnings-as-errors

.PHONY: all deps build fixtures test bench demo model eval clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

fixtures: deps
	$(PYTHON) Tests/Fixtures/make_fixtures.py $(FIXTURES)
	$(PYTHON) Tests/Fixtures/make_videos.py $(FIXTURES)

test: deps fixtures
	$(SWIFT) build -c release --build-tests $(SWIFT_FLAGS)
	VIDAR_FIXTURES=$(FIXTURES) $(SWIFT) test -c release --skip-build $(SWIFT_FLAGS)
	# The decode → inference ring is shared between threads: its tests also run under ThreadSanitizer.
	VIDAR_FIXTURES=$(FIXTURES) $(SWIFT) test --sanitize=thread --filter FrameRingTests $(SWIFT_FLAGS)

bench: build fixtures
	.build/release/vidar-bench --fixtures $(FIXTURES) $(BENCH_ARGS)

demo: build
	bash scripts/demo.sh

# Retrains the bundled action model (about 20 min on 2 cores) and regenerates the demo clips.
model: deps
	$(PYTHON) tools/actions/train.py Sources/Vidar/Resources/vidar-actions.safetensors
	bash clips/make_clips.sh

# Frame accuracy and segment F1 of vidar's timelines on fresh generated videos, raw vs smoothed.
eval: build
	$(PYTHON) Benchmarks/eval/evaluate_actions.py --vidar .build/release/vidar

clean:
	rm -rf .build $(FIXTURES) demo-output
