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

PREFIX ?= /usr/local
DESTDIR ?=
# `make install` links the Swift runtime into the binary, so the installed vidar needs no toolchain; it is built
# in its own scratch directory so that the everyday builds keep their cache.
INSTALL_BUILD ?= .build/install

.PHONY: all deps build version fixtures test bench demo model eval tune install uninstall clean fuzz fuzz-build

all: build

# DEPS_ARGS=--build installs only what building needs (the container's builder stage).
DEPS_ARGS ?=
deps:
	@bash scripts/install-deps.sh $(DEPS_ARGS)

build: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)
	@$(MAKE) --no-print-directory version DIR=.build/release

# The build stamp `vidar --version`, timelines and events report: the git commit (and whether the tree was dirty).
version:
	@stamp=$$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown); \
	if [ "$$(cat $(DIR)/vidar.version 2>/dev/null)" != "$$stamp" ]; then echo "$$stamp" > $(DIR)/vidar.version; fi

fixtures: deps
	$(PYTHON) Tests/Fixtures/make_fixtures.py $(FIXTURES)
	$(PYTHON) Tests/Fixtures/make_videos.py $(FIXTURES)

test: deps fixtures
	$(SWIFT) build -c release --build-tests $(SWIFT_FLAGS)
	@$(MAKE) --no-print-directory version DIR=.build/release
	# The install tests run the installed binary away from the build tree.
	@$(MAKE) --no-print-directory install PREFIX=$(FIXTURES)/prefix > /dev/null
	VIDAR_FIXTURES=$(FIXTURES) $(SWIFT) test -c release --skip-build $(SWIFT_FLAGS)
	# The decode → inference ring is shared between threads: its tests also run under ThreadSanitizer.
	VIDAR_FIXTURES=$(FIXTURES) $(SWIFT) test --sanitize=thread --filter FrameRingTests $(SWIFT_FLAGS)
	# Every parser of untrusted bytes, fuzzed briefly under AddressSanitizer (`make fuzz FUZZ_SECONDS=1800` for long runs).
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# libFuzzer harnesses (Fuzz/VidarFuzz): each runs FUZZ_SECONDS from its seed corpus (Fuzz/corpus/NAME, new inputs
# in .fuzz/corpus/NAME); a crashing input lands in Fuzz/regressions/NAME/, which the tests replay: commit it with the fix.
FUZZ_HARNESSES := zip pickle safetensors npy metadata serve-config api-stream timeline event-record
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 10
FUZZ_BUILD ?= .build/fuzz

fuzz-build: deps
	$(SWIFT) build -c release --product vidar-fuzz --scratch-path $(FUZZ_BUILD) -Xswiftc -sanitize=fuzzer,address \
		-Xswiftc -DFUZZING $(SWIFT_FLAGS)

fuzz: fuzz-build
	@set -eo pipefail; for h in $(FUZZ_HARNESSES); do \
	  mkdir -p .fuzz/corpus/$$h Fuzz/regressions/$$h; \
	  VIDAR_FUZZ_HARNESS=$$h $(FUZZ_BUILD)/release/vidar-fuzz .fuzz/corpus/$$h Fuzz/corpus/$$h -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 -artifact_prefix=Fuzz/regressions/$$h/ > .fuzz/$$h.log 2>&1 \
	    || { tail -n 40 .fuzz/$$h.log; echo "fuzz: harness $$h crashed; the input is in Fuzz/regressions/$$h/"; exit 1; }; \
	  printf 'fuzz %-13s %s\n' $$h "$$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added):' .fuzz/$$h.log | tr '\n' ' ')"; \
	done

# The whole comparison in one run: the engine beside OpenVINO, ONNX Runtime and PyTorch (peers set up in .peers/),
# decode beside the ffmpeg CLI, `label` beside a Python pipeline. BENCH_ARGS go to the engine benchmark.
bench: build fixtures
	bash Benchmarks/peers/setup.sh $(FIXTURES) r3d_18
	.build/release/vidar-bench engine --fixtures $(FIXTURES) --peers .peers $(BENCH_ARGS)
	.build/release/vidar-bench decode
	.build/release/vidar-bench label --fixtures $(FIXTURES)

demo: build
	bash scripts/demo.sh

# Retrains the bundled action model (under an hour on 2 cores: rendering and round-tripping the clips, then
# training; rendered clips are cached in .cache/actions-data) and regenerates the demo clips.
model: deps
	$(PYTHON) tools/actions/train.py Sources/Vidar/Resources/vidar-actions.safetensors
	bash clips/make_clips.sh

# The bundled model as a new user meets it: 40 unseen long videos (half re-encoded) and 10.5 min of content with
# nobody in it; segment F1, frame accuracy, the no-actor time labelled no_action, and the true action segments the
# model's view could not show (about 10 min).
eval: build
	$(PYTHON) Benchmarks/eval/evaluate_actions.py --vidar .build/release/vidar

# The bundled model's aggregator settings, chosen on a tuning set of their own (not make eval's): about 25 minutes.
tune: build
	$(PYTHON) Benchmarks/eval/tune_aggregator.py --vidar .build/release/vidar

install: deps
	$(SWIFT) build -c release --product vidar --static-swift-stdlib --scratch-path $(INSTALL_BUILD) $(SWIFT_FLAGS)
	@$(MAKE) --no-print-directory version DIR=$(INSTALL_BUILD)/release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/vidar $(DESTDIR)$(PREFIX)/share/doc/vidar
	install -m 755 $(INSTALL_BUILD)/release/vidar $(DESTDIR)$(PREFIX)/bin/vidar
	install -m 644 Sources/Vidar/Resources/vidar-actions.safetensors $(INSTALL_BUILD)/release/vidar.version \
		$(DESTDIR)$(PREFIX)/share/vidar/
	install -m 644 README.md LICENSE docs/*.json $(DESTDIR)$(PREFIX)/share/doc/vidar/
	@echo "installed $(DESTDIR)$(PREFIX)/bin/vidar ($$($(DESTDIR)$(PREFIX)/bin/vidar --version))"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vidar
	rm -rf $(DESTDIR)$(PREFIX)/share/vidar $(DESTDIR)$(PREFIX)/share/doc/vidar

clean:
	rm -rf .build $(FIXTURES) demo-output .fuzz
