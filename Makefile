# Quick start: `make demo` runs a scoring round on generated example data;
# `make test` builds everything and runs the test suite. Both install what they
# need first (Debian packages, idempotent).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

TSAN_BUILD ?= build-tsan
ASAN_BUILD ?= build-asan

.PHONY: deps configure build test test-tsan test-asan demo bench format clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-asan

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
# validator core) under AddressSanitizer + UndefinedBehaviorSanitizer, leaks
# detected, the first report fatal. The LibTorch suites (engine_tests) and the
# CLI tests are left out: Debian's LibTorch is not built with ASan, and loading
# it under ASan reports its own allocations rather than ours.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCRUCIBLE_SANITIZER="address,undefined" -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" \
	  -DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target core_tests validator_tests
	@ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	  ctest --test-dir $(ASAN_BUILD) -L "^(core|validator_core)$$" --output-on-failure -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

bench: build
	@bash benchmarks/run_benchmarks.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu')

clean:
	@rm -rf $(BUILD) $(TSAN_BUILD) $(ASAN_BUILD)
