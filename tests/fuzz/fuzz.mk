# Hostile-input checks, included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=N]   libFuzzer targets (clang, ASan + UBSan), each run N seconds (default 60)
#   make fuzz-NAME               one target (NAME: tflite ecw image npy text), e.g. FUZZ_SECONDS=600
#   make sanitize                the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (g++)
#
# Fuzzing needs clang with its sanitizer runtimes and libomp: `make deps fuzz` installs them.
# Seeds are generated at fuzz time (tests/fuzz/make_seeds.cpp, plus small files from $(SHARED)) into
# $(FUZZ_BUILD)/seeds; what the fuzzers learn goes to $(FUZZ_BUILD)/corpus, crashes to $(FUZZ_BUILD)/artifacts.

FUZZ_BUILD ?= $(BUILD)/fuzz
FUZZ_SECONDS   ?= 60
FUZZ_CXX       ?= clang++-14
FUZZ_TARGETS   := tflite ecw image npy text
FUZZ_SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CXXFLAGS  := -std=c++17 -O1 -g -fno-omit-frame-pointer -fopenmp $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link \
                  -Wall -Wextra -Wno-unknown-pragmas -Wno-pass-failed -I. -isystem /usr/include/eigen3 -isystem /usr/include/stb -MMD -MP
# Library and CLI sources (not cli/main.cpp: libFuzzer has the main).
FUZZ_LIB_OBJS  := $(patsubst %.cpp,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRCS) $(filter-out cli/main.cpp,$(CLI_SRCS)))
# One run: fail on the first finding; 30 s per input at most; 4 GiB (the image limits allow ~200 MB images).
FUZZ_RUN_FLAGS := -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
FUZZ_DEB_PACKAGES := clang-14 libclang-rt-14-dev libomp-14-dev
ifneq ($(filter fuzz fuzz-%,$(MAKECMDGOALS)),)
DEB_PACKAGES += $(FUZZ_DEB_PACKAGES)
endif

.PHONY: fuzz fuzz-build fuzz-seeds sanitize sanitize-simd clean-fuzz $(addprefix fuzz-,$(FUZZ_TARGETS))

fuzz-build: $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
.SECONDARY: $(patsubst %,$(FUZZ_BUILD)/obj/tests/fuzz/%.o,$(addprefix fuzz_,$(FUZZ_TARGETS)) make_seeds)

$(FUZZ_BUILD)/obj/%.o: %.cpp
	@command -v $(FUZZ_CXX) >/dev/null || { echo "entropycam: $(FUZZ_CXX) not found; run 'make deps fuzz'" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

# stb_image 2.27 calls memcpy(NULL, src, 0) for a zero-length first IDAT chunk of a PNG (legal PNG; no byte is
# touched, and the library's -O3 build decodes such files correctly, see test_hostile_fuzz.cpp). UBSan's
# nonnull-attribute check stops on it, so that one check is off for the stb translation unit only.
$(FUZZ_BUILD)/obj/io/stb_image_impl.o: FUZZ_CXXFLAGS += -fno-sanitize=nonnull-attribute

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CXX) -fopenmp $(FUZZ_SANITIZE) -fsanitize=fuzzer -o $@ $^ -lpthread

$(FUZZ_BUILD)/make_seeds: $(FUZZ_BUILD)/obj/tests/fuzz/make_seeds.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CXX) -fopenmp $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link -o $@ $^ -lpthread

fuzz-seeds: $(FUZZ_BUILD)/seeds/.done
$(FUZZ_BUILD)/seeds/.done: $(FUZZ_BUILD)/make_seeds
	rm -rf $(FUZZ_BUILD)/seeds && $(FUZZ_BUILD)/make_seeds "$(ENTROPYCAM_SHARED)" $(FUZZ_BUILD)/seeds && touch $@

# Each target runs single-threaded (OpenMP off) so that two can share the machine.
$(addprefix fuzz-,$(FUZZ_TARGETS)): fuzz-%: $(FUZZ_BUILD)/fuzz_% $(FUZZ_BUILD)/seeds/.done
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts
	OMP_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_BUILD)/fuzz_$* $(FUZZ_RUN_FLAGS) -artifact_prefix=$(FUZZ_BUILD)/artifacts/$*- \
	    $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/seeds/$*

fuzz: fuzz-build fuzz-seeds
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-$$t || exit 1; done

# The suite under ASan + UBSan, in its own build dir (CXXFLAGS/LDFLAGS from the environment keep the Makefile's
# own additions). SANITIZE_TEST_ARGS passes doctest options, e.g. SANITIZE_TEST_ARGS='-tce="evaluate CLI*"' to skip the slowest end-to-end cases.
SANITIZE_BUILD ?= $(BUILD)/sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The deep-gradient comparison with the reference is left to the optimised build: this one compiles without
# -march=native, so the portable kernels (SSE2 Eigen) sum in another order, and on the greyscale pencil sharpener,
# whose flat regions put many ReLU6 inputs on one kink together, far more units flip than the test's stated
# bounds allow (measured up to 48 % of the input gradient). Kernels and gradients are still checked here by the
# oracles, the fast-vs-naive sweeps and the finite-difference tests.
#
# Also left to the optimised build, for CI's time (each is a long end-to-end numeric run and reads no file the
# hostile-input, parser and CLI-error cases do not already cover; they are the slowest cases of the suite): the
# training run, the sanity and evaluate CLI shard/merge runs, the trained-tiny-CNN sanity test, Score-CAM through
# the pipeline, the evaluate CSV-row comparison, the install/pkg-config build and the faked Slurm array; and the
# six slowest under the sanitizers (measured: 10-33 s each, 103 s of the 4.5-minute run): the reference maps of
# the five methods, `bench --json`, two whole-pipeline method runs, `evaluate --metrics road` and the batched-
# vs-batch-1 curves on MobileNetV2.
# -O1 -g1 (line tables only, enough for the sanitizers' stack traces): the build is most of this target's time,
# and both compile faster than -O2 -g.
# SANITIZE_ARCH: empty for CI's run (the portable kernels); `make sanitize-simd` sets -march=native, so that the
# SIMD kernels (GEMM micro-kernel, depthwise 3x3, band-fused blocks, gated backward) run under the sanitizers too:
# a third full build, not in CI; run it after changing a SIMD kernel.
SANITIZE_ARCH ?=
SANITIZE_TEST_ARGS ?= -tce='deep gradients*,training: a short run*,sanity CLI: CSV columns*,evaluate CLI: shards*,sanity: on a trained tiny CNN*,pipeline methods: Score-CAM scores*,CLI content: an evaluate CSV row*,install: the examples*,deploy: the Slurm scripts*,explain: gradients*at all three layers,bench: --json has every key*,pipeline methods: Eigen-CAM and Feature Entropy-CAM*,evaluate CLI: --metrics road writes*,pipeline methods: every method gives*,evaluate: on a real MobileNet*'
sanitize:
	CXXFLAGS="-O1 -g1 $(SANITIZE_ARCH) -fno-omit-frame-pointer $(SANITIZE_FLAGS)" LDFLAGS="$(SANITIZE_FLAGS)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) --no-print-directory BUILD=$(SANITIZE_BUILD) TEST_ARGS="$(SANITIZE_TEST_ARGS)" test

sanitize-simd:
	$(MAKE) --no-print-directory sanitize SANITIZE_ARCH=-march=native SANITIZE_BUILD=$(BUILD)/sanitize-simd

clean-fuzz:
	rm -rf $(FUZZ_BUILD) $(SANITIZE_BUILD) $(BUILD)/sanitize-simd

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_BUILD)/obj/tests/fuzz/*.d
