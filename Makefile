# Quick start: `make demo` runs a scoring round on generated example data;
# `make test` builds everything and runs the test suite. Both install what they
# need first (Debian packages, idempotent).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

TSAN_BUILD ?= build-tsan

.PHONY: deps configure build test test-tsan demo bench format clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-tsan

# The validator core's tests (threads included) under ThreadSanitizer; any
# report fails the run.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCRUCIBLE_SANITIZER=thread -DCRUCIBLE_ENABLE_CUDA=OFF -DCRUCIBLE_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target validator_tests
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir $(TSAN_BUILD) -L validator_core \
	  --output-on-failure -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

bench: build
	@bash benchmarks/run_benchmarks.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu')

clean:
	@rm -rf $(BUILD) $(TSAN_BUILD)
