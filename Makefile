# snnfit: CMake behind a small Makefile.
#   make demo   install what is missing, build, run the pipeline on a small built-in example
#   make test   unit, end-to-end and interoperability tests, then again under ASan+UBSan
#   make bench  the performance workloads (bench/run.sh: Dp scale, stage 3, engine, stage 4, teacher forcing, MPI)
#   make bench-brian2  snnfit against Brian2's C++ standalone mode (installs python3-brian if missing)
#   make recovery  the recovery study of the fitting methods (bench/recovery.sh)
#   make demo-large  100,000 neurons, 10 million synapses: stages 1, 3 and 4 with time and peak memory
#   make fuzz   libFuzzer targets of the file readers (clang), FUZZ_SECONDS each (not part of make test)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all build build-asan deps demo demo-large test test-release test-asan test-f64 bench bench-brian2 recovery fuzz clean

all: build

deps:
	@bash tools/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSNNFIT_SANITIZE=ON

build-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The sanitizer build runs the same tests with SNNFIT_SANITIZED=1 (tests shrink their sizes), then
# the demo pipeline.
test-asan: build-asan
	cd $(ASAN_BUILD) && SNNFIT_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)
	SNNFIT=$(ASAN_BUILD)/snnfit SNNFIT_SANITIZED=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan_plot.supp \
	  bash tools/demo.sh $(ASAN_BUILD)/demo-output

# The float64 build checks the reverse pass and the teacher-forced loss and gradients against the
# float64 PyTorch fixtures to 1e-6.
F64_BUILD ?= build-f64
test-f64:
	cmake -S . -B $(F64_BUILD) -DCMAKE_BUILD_TYPE=Release -DSNNFIT_DOUBLE=ON > /dev/null
	cmake --build $(F64_BUILD) -j $(JOBS) --target test_backward test_lif test_forced
	cd $(F64_BUILD) && ctest --output-on-failure -R 'unit_(backward|lif|forced)$$'

test: test-release test-asan test-f64

demo: deps build
	@SNNFIT=$(BUILD)/snnfit bash tools/demo.sh demo-output

demo-large: deps build
	@SNNFIT=$(BUILD)/snnfit bash tools/demo-large.sh demo-large-output

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target bench_forced_eval
	@SNNFIT=$(BUILD)/snnfit bash bench/run.sh

# Fuzzing (ASan + UBSan + libFuzzer, clang-14): the TOML reader and schemas, npy/npz, zarr metadata
# and chunk decoding, checkpoint loading; seeds in tests/fuzz/corpus/. FUZZ_SECONDS per target.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz:
	@bash tools/install-deps.sh fuzz
	CC=clang-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSNNFIT_FUZZ=ON > /dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_toml fuzz_npz fuzz_zarr fuzz_checkpoint
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(JOBS) bash tests/fuzz/run.sh

# The recovery study of the fitting methods (hidden scaling factors, 5 seeds x 3 variances x 2 methods
# on the demo network): about half an hour on two cores.
recovery: build
	@SNNFIT=$(BUILD)/snnfit bash bench/recovery.sh recovery-output

# Brian2 is an optional dependency: installed here when missing, never needed by make test.
bench-brian2: build
	@/usr/bin/python3 -c 'import brian2' 2>/dev/null || apt-get install -y python3-brian
	@SNNFIT=$(BUILD)/snnfit bash bench/brian2.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(F64_BUILD) $(FUZZ_BUILD) demo-output demo-large-output bench-output recovery-output
