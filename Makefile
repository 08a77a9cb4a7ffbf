# Thin wrapper over CMake + Ninja. `make` builds build/ollamamax; `make test`
# runs the whole suite (release build with -Werror, then ASan+UBSan build).
JOBS ?= $(shell nproc)

.PHONY: all build test test-release test-asan fuzz setup serve clean bench bench-cluster

all: build

build:
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOM_WERROR=ON >/dev/null
	cmake --build build -j $(JOBS)

test-release: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOM_WERROR=ON -DOM_SANITIZE=ON \
	  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 OM_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS) -L unit

test: test-release test-asan

fuzz:
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DOM_FUZZ=ON -DOM_SANITIZE=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)

setup:
	bash scripts/setup.sh

bench: build
	bash bench/run.sh

# cluster benchmarks (bench/cluster.mjs; ARGS=--quick for the short run)
bench-cluster: build
	bash bench/make_models.sh
	node bench/cluster.mjs $(ARGS)

clean:
	rm -rf build build-asan build-fuzz
