# fiberlb — the two commands of the README, plus helpers.
#   make run    build (Release) and start fiberlb on examples/demo.toml in the foreground
#   make test   build and run the whole test suite (ctest); non-zero exit on any failure
# Both install missing Debian packages first (scripts/install-deps.sh), only when missing.

JOBS ?= $(shell nproc)
CONFIG ?= examples/demo.toml
CTEST_ARGS ?=

.PHONY: all deps build run test test-asan bench format tidy clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake --preset release >/dev/null
	@cmake --build build/release -j$(JOBS) --target fiberlb

run: build
	./build/release/src/fiberlb --config $(CONFIG)

test:
	@scripts/install-deps.sh test
	@cmake --preset release >/dev/null
	@cmake --build build/release -j$(JOBS)
	cd build/release && ctest --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (.ci/run runs it).
test-asan:
	@scripts/install-deps.sh test
	@cmake --preset asan >/dev/null
	@cmake --build build/asan -j$(JOBS)
	cd build/asan && ctest --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

bench:
	@scripts/install-deps.sh bench
	bench/run.sh

# Reload time of a 1,000-backend config and its effect on p99 under load (bench/README.md).
.PHONY: bench-reload
bench-reload: build
	@scripts/install-deps.sh bench
	bench/reload_time.py

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

tidy:
	@cmake --preset release >/dev/null
	@git ls-files 'src/*.cc' 'lb/*.cc' 'config/*.cc' 'health/*.cc' | xargs clang-tidy -p build/release --quiet

clean:
	rm -rf build
