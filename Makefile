# entropycam build. Out of tree into $(BUILD); `make help` lists the targets.
SHARED ?= ../shared
BUILD  ?= build
export ENTROPYCAM_SHARED := $(abspath $(SHARED))
# OpenMP threads sleep instead of spinning while they wait: on a shared or loaded machine spinning threads
# make 2-thread runs many times slower (measured: forward 1.8 s instead of 50 ms). Override to measure both.
export OMP_WAIT_POLICY ?= passive

CXX      ?= g++
CXXFLAGS ?= -O3 -march=native -DNDEBUG
CXXFLAGS += -std=c++17 -fopenmp -Wall -Wextra -I. -isystem /usr/include/eigen3 -isystem /usr/include/stb -MMD -MP
LDFLAGS  += -fopenmp
LDLIBS   += -lpthread

LIB_SRCS   := $(filter-out api/example.cpp,$(wildcard nn/*.cpp io/*.cpp weights/*.cpp cam/*.cpp cam/eval/*.cpp cam/render/*.cpp api/*.cpp))
CLI_SRCS   := $(wildcard cli/*.cpp)
TEST_SRCS  := $(wildcard tests/*.cpp)
BENCH_SRCS := $(wildcard bench/*.cpp)

LIB_OBJS   := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
CLI_OBJS   := $(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJS  := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.cpp=$(BUILD)/obj/%.o)

LIB   := $(BUILD)/libentropycam.a
CLI   := $(BUILD)/entropycam
TESTS := $(BUILD)/entropycam_tests
BENCH := $(BUILD)/entropycam_bench
# The README's embedding example (api/example.cpp), built and run by the tests.
EXAMPLE := $(BUILD)/embed_example

# The Debian packages the build needs; `make deps` installs them.
DEB_PACKAGES := g++ make libeigen3-dev libstb-dev doctest-dev libbenchmark-dev
HEADERS_OK := $(shell test -f /usr/include/eigen3/Eigen/Core -a -f /usr/include/stb/stb_image.h \
                        -a -f /usr/include/stb/stb_image_write.h -a -f /usr/include/doctest/doctest.h && echo yes)

.PHONY: all test test-slurm bench deps clean help check-deps weights demo synth-demo
all: $(LIB) $(CLI)

help:
	@echo "make            library and $(CLI)"
	@echo "make test       build and run the doctest suite (needs SHARED=$(SHARED))"
	@echo "make test-slurm the Slurm job-array audit on a real one-node Slurm cluster (installs Slurm; root)"
	@echo "make bench      Google Benchmark kernels and model passes"
	@echo "make deps       install the Debian packages: $(DEB_PACKAGES)"
	@echo "make synth-demo synthetic shapes benchmark, train the vgg CNN on it, explanations with mask outlines"
	@echo "make weights    convert the TFLite models into $(BUILD)/weights/*.ecw (downloads them if SHARED has none)"
	@echo "make sanitize   the test suite under ASan + UBSan (build-sanitize)"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS each (clang; make deps fuzz)"
	@echo "make clean      remove $(BUILD)"

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "all build dependencies are installed"; fi

check-deps:
ifneq ($(HEADERS_OK),yes)
	@echo "entropycam: build dependencies are missing (Eigen 3, stb, doctest headers); run 'make deps'" >&2; exit 1
endif

$(BUILD)/obj/%.o: %.cpp | check-deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

$(TESTS): $(TEST_OBJS) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJS) $(LIB) $(LDLIBS)

$(EXAMPLE): $(BUILD)/obj/api/example.o $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

test: $(TESTS) $(CLI) $(EXAMPLE)
	@test -d "$(ENTROPYCAM_SHARED)" || { echo "entropycam: shared data not found at $(ENTROPYCAM_SHARED); set SHARED=DIR (ENTROPYCAM_SHARED for the test binary)" >&2; exit 1; }
	ENTROPYCAM_CLI=$(abspath $(CLI)) ENTROPYCAM_EXAMPLE=$(abspath $(EXAMPLE)) $(TESTS) $(TEST_ARGS)

# deploy/slurm on a real single-node Slurm cluster started in a temporary folder (tests/slurm/test_slurm.sh).
test-slurm: $(CLI)
	@test -d "$(ENTROPYCAM_SHARED)" || { echo "entropycam: shared data not found at $(ENTROPYCAM_SHARED); set SHARED=DIR" >&2; exit 1; }
	ENTROPYCAM_CLI=$(abspath $(CLI)) tests/slurm/test_slurm.sh

$(BENCH): $(BENCH_OBJS) $(LIB)
	@test -f /usr/include/benchmark/benchmark.h || { echo "entropycam: Google Benchmark headers missing; run 'make deps'" >&2; exit 1; }
	$(CXX) $(LDFLAGS) -o $@ $(BENCH_OBJS) $(LIB) -lbenchmark $(LDLIBS)

bench: $(BENCH)
	$(BENCH) $(BENCH_ARGS)

# $(BUILD)/weights/NAME.ecw for every $(SHARED)/models/NAME.tflite; without that folder, the models are
# downloaded (sha256-checked) into $(BUILD)/models first.
weights: $(CLI)
	@models="$(SHARED)/models"; \
	if [ ! -d "$$models" ]; then models="$(BUILD)/models"; weights/fetch_models.sh "$$models" || exit 1; fi; \
	mkdir -p "$(BUILD)/weights" && for m in "$$models"/*.tflite; do \
	  $(CLI) convert "$$m" "$(BUILD)/weights/$$(basename "$$m" .tflite).ecw" --labels "$$models/imagenet_labels.txt" || exit 1; \
	done

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d)

# The README's main job: the seed poster's seven ImageNet classes explained by the default model.
DEMO_IMAGES := n01443537_goldfish n02085782_Japanese_spaniel n02085936_Maltese_dog n02086240_Shih-Tzu \
               n02099712_Labrador_retriever n07745940_strawberry n07753592_banana
demo: deps
	@$(MAKE) --no-print-directory -j2 all
	@$(MAKE) --no-print-directory weights
	@test -d "$(SHARED)/images/imagenet-dev" || { echo "entropycam: the demo images are not at $(SHARED)/images/imagenet-dev; set SHARED=DIR" >&2; exit 1; }
	$(CLI) explain --out out/demo $(DEMO_IMAGES:%=$(SHARED)/images/imagenet-dev/%.JPEG)
	@echo "demo figure: $(abspath out/demo/grid.png)"
	$(CLI) report --out out/demo/report $(DEMO_IMAGES:%=$(SHARED)/images/imagenet-dev/%.JPEG)
	$(CLI) report --walkthrough $(SHARED)/images/imagenet-dev/n01443537_goldfish.JPEG --out out/demo/report

# `make fuzz` and `make sanitize`.
include tests/fuzz/fuzz.mk

# The report pages in headless Chromium (tests/test_report_browser.cpp): installs the Debian package
# `chromium` when it is missing; where it cannot be installed, says so in one line and skips.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)
.PHONY: test-browser
test-browser: $(TESTS) $(CLI)
	@chromium="$(CHROMIUM)"; \
	if [ -z "$$chromium" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } >/dev/null 2>&1; \
	  chromium=$$(command -v chromium || command -v chromium-browser); \
	fi; \
	if [ -z "$$chromium" ]; then echo "test-browser: skipped: chromium is not installed and could not be installed (apt-get install chromium)"; exit 0; fi; \
	ENTROPYCAM_CHROMIUM=$$chromium ENTROPYCAM_CLI=$(abspath $(CLI)) $(TESTS) -tc="browser*" --no-skip

# Ground truth (README, "Ground truth"): the synthetic shapes benchmark, a VGG-style CNN trained on it by
# entropycam itself, and a grid of its explanations with the evidence masks outlined. OMP_NUM_THREADS=1: on
# a loaded 2-core machine two OpenMP threads per small batch wait on each other more than they compute.
SYNTH_DIR ?= out/synth
synth-demo: $(CLI)
	$(CLI) synth --out $(SYNTH_DIR) --seed 1
	OMP_NUM_THREADS=1 $(CLI) train --data $(SYNTH_DIR) --arch vgg --seed 1 --out $(SYNTH_DIR)/vgg.ecw
	$(CLI) synth-grid --model $(SYNTH_DIR)/vgg.ecw --data $(SYNTH_DIR) --rows 6 --out $(SYNTH_DIR)/grid.png
	@echo "synth demo figure: $(abspath $(SYNTH_DIR)/grid.png), training curves: $(abspath $(SYNTH_DIR)/vgg.png)"
