# Quick start: `make demo` runs a scoring round on generated example data;
# `make test` builds everything and runs the test suite (then the sanitizer
# suites and bounded fuzzing). Both install what they
# need first (Debian packages, idempotent).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

TSAN_BUILD ?= build-tsan
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
WHEEL_BUILD ?= build-wheel
FUZZ_SECONDS ?= 60
# make test's bounded fuzzing: seconds per target (make fuzz runs FUZZ_SECONDS).
TEST_FUZZ_SECONDS ?= 10

.PHONY: deps configure build test test-wheel test-tsan test-asan test-long fuzz demo bench bench-status format clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-wheel
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# The GPU route (the Docker image's build stage, the GPU machine): crucible
# with CUDA on (sm_90) against LibTorch 2.11 from the PyTorch wheel
# (scripts/fetch-torch-wheel.sh, cached outside the tree), then the tests whose
# results come from LibTorch (label engine: engine_tests, the kernel-family
# runs, the Python oracle and end-to-end tests); the torch-free suites are
# the same code and ran above.
test-wheel: deps
	@torch_root=$$(bash scripts/fetch-torch-wheel.sh) && \
	  cmake -S . -B $(WHEEL_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$$torch_root" \
	  -DCMAKE_CUDA_ARCHITECTURES=90 -DCRUCIBLE_REQUIRE_CUDA=ON -DCRUCIBLE_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(WHEEL_BUILD) -j $(JOBS) --target crucible engine_tests
	@ctest --test-dir $(WHEEL_BUILD) -L engine --output-on-failure -j $(JOBS)

# The validator core's tests (threads included) under ThreadSanitizer; any
# report fails the run.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCRUCIBLE_SANITIZER=thread -DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target validator_tests
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir $(TSAN_BUILD) -L validator_core \
	  --output-on-failure -j $(JOBS)

# The torch-free suites (core_tests: .npy, safetensors, native config and
# folder checks, scoring math, data, worker pool; validator_tests: the
# validator core; the fuzz corpus replays) under AddressSanitizer +
# UndefinedBehaviorSanitizer, leaks detected, the first report fatal. The
# LibTorch suites (engine_tests) and the CLI tests are left out: Debian's
# LibTorch is not built with ASan, and loading it under ASan reports its own
# allocations rather than ours.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCRUCIBLE_SANITIZER="address,undefined" -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" \
	  -DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target core_tests validator_tests fuzz_replays
	@ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	  ctest --test-dir $(ASAN_BUILD) -L "^(core|validator_core)$$" --output-on-failure -j $(JOBS)

# libFuzzer (clang, ASan + UBSan) on every torch-free parser of outside input
# (the TorchScript target is built by hand: it crashes inside LibTorch)
# (tests/fuzz/README.md): builds the fuzz targets in $(FUZZ_BUILD), runs each
# for FUZZ_SECONDS over a scratch copy of its seed corpus and fails on any
# crash; the figures go to $(FUZZ_BUILD)/fuzz-summary.txt.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF -DCRUCIBLE_BUILD_FUZZERS=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@bash scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# SIGKILL at 100 random points of a running validator, each followed by a
# restart and the state and log checks of tests/python/fault_kill_test.py
# (ctest runs 10). Prints the seed (replay: the script's --seed), the kills per
# phase, the steps completed and the wall time (a few minutes).
test-long: configure
	@cmake --build $(BUILD) -j $(JOBS) --target crucible
	@/usr/bin/python3 tests/python/fault_kill_test.py $(BUILD)/apps/crucible --iterations 100

demo: build
	@bash examples/demo.sh $(BUILD)

bench: build
	@bash benchmarks/run_benchmarks.sh $(BUILD)

# The status endpoint under a bounded wrk load on loopback while steps run.
bench-status: build
	@/usr/bin/python3 benchmarks/status_load_benchmark.py $(BUILD)/apps/crucible

format:
	@clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu')

clean:
	@rm -rf $(BUILD) $(WHEEL_BUILD) $(TSAN_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
