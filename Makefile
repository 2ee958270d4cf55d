# Quick start: `make demo` runs a scoring round on generated example data;
# `make test` builds everything and runs the test suite. Both install what they
# need first (Debian packages, idempotent).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build test demo bench format clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

bench: build
	@bash benchmarks/run_benchmarks.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu')

clean:
	@rm -rf $(BUILD)
