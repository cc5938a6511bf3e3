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

# The library's version: libentropycam.so.$(SOVERSION) -> libentropycam.so.$(VERSION); pkg-config reports it.
VERSION   := 0.2.0
SOVERSION := 0

LIB_SRCS   := $(wildcard nn/*.cpp io/*.cpp weights/*.cpp cam/*.cpp cam/eval/*.cpp cam/render/*.cpp api/*.cpp)
CLI_SRCS   := $(wildcard cli/*.cpp)
TEST_SRCS  := $(wildcard tests/*.cpp)
BENCH_SRCS := $(wildcard bench/*.cpp)

CLI_OBJS   := $(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJS  := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.cpp=$(BUILD)/obj/%.o)

LIB   := $(BUILD)/libentropycam.a
# The shared library: its own -fPIC objects, only the public API exported (-fvisibility=hidden, the API marked
# ECAM_API / ECAM_C_API, and api/exports.map for what inline code of the dependencies would still export).
PIC_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/pic/%.o)
# The static library is made of the same objects (hidden visibility does not limit static linking): the library
# is compiled once, which halves the build of `make test`, `make sanitize` and CI.
LIB_OBJS := $(PIC_OBJS)
SOLIB    := $(BUILD)/libentropycam.so.$(VERSION)
CLI   := $(BUILD)/entropycam
TESTS := $(BUILD)/entropycam_tests
BENCH := $(BUILD)/entropycam_bench

# The Debian packages the build needs; `make deps` installs them.
DEB_PACKAGES := g++ make libeigen3-dev libstb-dev doctest-dev libbenchmark-dev
HEADERS_OK := $(shell test -f /usr/include/eigen3/Eigen/Core -a -f /usr/include/stb/stb_image.h \
                        -a -f /usr/include/stb/stb_image_write.h -a -f /usr/include/doctest/doctest.h && echo yes)

.PHONY: all test test-slurm bench deps clean help check-deps weights demo synth-demo install uninstall
all: $(LIB) $(SOLIB) $(CLI)

help:
	@echo "make            library and $(CLI)"
	@echo "make test       build and run the doctest suite (tests that need SHARED=$(SHARED) are skipped, and counted, without it)"
	@echo "make test-slurm the Slurm job-array audit on a real one-node Slurm cluster (installs Slurm; root)"
	@echo "make bench      Google Benchmark kernels and model passes"
	@echo "make deps       install the Debian packages: $(DEB_PACKAGES)"
	@echo "make synth-demo synthetic shapes benchmark, train the vgg CNN on it, explanations with mask outlines"
	@echo "make weights    convert the TFLite models into $(BUILD)/weights/*.ecw (downloads them if SHARED has none)"
	@echo "make sanitize   the test suite under ASan + UBSan (build-sanitize)"
	@echo "make sanitize-simd   the same with -march=native: the SIMD kernels under ASan + UBSan"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS each (clang; make deps fuzz)"
	@echo "make install    PREFIX=$(PREFIX) [DESTDIR=...]: CLI, libentropycam.a/.so, headers, entropycam.pc, default model"
	@echo "make uninstall  removes what make install put there"
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

$(BUILD)/pic/api/entropycam.o: CXXFLAGS += -DENTROPYCAM_VERSION='"$(VERSION)"'

$(BUILD)/pic/%.o: %.cpp | check-deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -fPIC -fvisibility=hidden -fvisibility-inlines-hidden -c $< -o $@

$(SOLIB): $(PIC_OBJS) api/exports.map
	$(CXX) $(LDFLAGS) -shared -Wl,-soname,libentropycam.so.$(SOVERSION) -Wl,--version-script=api/exports.map \
	  -Wl,--no-undefined -o $@ $(PIC_OBJS) $(LDLIBS)
	ln -sf libentropycam.so.$(VERSION) $(BUILD)/libentropycam.so.$(SOVERSION)
	ln -sf libentropycam.so.$(SOVERSION) $(BUILD)/libentropycam.so

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

$(TESTS): $(TEST_OBJS) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJS) $(LIB) $(LDLIBS)

test: $(TESTS) $(CLI) $(SOLIB)
	ENTROPYCAM_CLI=$(abspath $(CLI)) ENTROPYCAM_SOLIB=$(abspath $(SOLIB)) \
	  ENTROPYCAM_BUILD=$(abspath $(BUILD)) ENTROPYCAM_LDFLAGS="$(LDFLAGS)" $(TESTS) $(TEST_ARGS)

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

# `make install PREFIX=... DESTDIR=...`: the CLI, both libraries, the C and C++ headers under
# include/entropycam/, entropycam.pc and the converted default model (made by `make weights` when missing;
# MODEL_ECW=FILE installs another file under the default name, INSTALL_MODEL=no none). The installed CLI and
# library find PREFIX/share/entropycam/weights from where they are (weights/model.h installed_weights_dir).
PREFIX        ?= /usr/local
DEFAULT_MODEL := mobilenet_v2_1.0_224_quant
MODEL_ECW     ?= $(BUILD)/weights/$(DEFAULT_MODEL).ecw
INSTALL_MODEL ?= yes
INSTALL_DIRS  := bin lib lib/pkgconfig include/entropycam share/entropycam/weights
INSTALLED     := bin/entropycam lib/libentropycam.a lib/libentropycam.so lib/libentropycam.so.$(SOVERSION) \
                 lib/libentropycam.so.$(VERSION) lib/pkgconfig/entropycam.pc include/entropycam/entropycam.h \
                 include/entropycam/entropycam.hpp share/entropycam/weights/$(DEFAULT_MODEL).ecw
install: $(LIB) $(SOLIB) $(CLI)
ifeq ($(INSTALL_MODEL),yes)
	@test -f "$(MODEL_ECW)" || $(MAKE) --no-print-directory weights
	@test -f "$(MODEL_ECW)" || { echo "entropycam: $(MODEL_ECW) is missing; run 'make weights' (or INSTALL_MODEL=no)" >&2; exit 1; }
endif
	@d="$(DESTDIR)$(PREFIX)"; for sub in $(INSTALL_DIRS); do install -d "$$d/$$sub" || exit 1; done
	install -m 755 $(CLI) "$(DESTDIR)$(PREFIX)/bin/entropycam"
	install -m 644 $(LIB) "$(DESTDIR)$(PREFIX)/lib/libentropycam.a"
	install -m 755 $(SOLIB) "$(DESTDIR)$(PREFIX)/lib/libentropycam.so.$(VERSION)"
	ln -sf libentropycam.so.$(VERSION) "$(DESTDIR)$(PREFIX)/lib/libentropycam.so.$(SOVERSION)"
	ln -sf libentropycam.so.$(SOVERSION) "$(DESTDIR)$(PREFIX)/lib/libentropycam.so"
	install -m 644 api/entropycam_c.h "$(DESTDIR)$(PREFIX)/include/entropycam/entropycam.h"
	install -m 644 api/entropycam.h "$(DESTDIR)$(PREFIX)/include/entropycam/entropycam.hpp"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' api/entropycam.pc.in > "$(DESTDIR)$(PREFIX)/lib/pkgconfig/entropycam.pc"
ifeq ($(INSTALL_MODEL),yes)
	install -m 644 "$(MODEL_ECW)" "$(DESTDIR)$(PREFIX)/share/entropycam/weights/$(DEFAULT_MODEL).ecw"
endif

uninstall:
	@d="$(DESTDIR)$(PREFIX)"; for f in $(INSTALLED); do rm -f "$$d/$$f"; done; \
	for sub in include/entropycam share/entropycam/weights share/entropycam; do rmdir "$$d/$$sub" 2>/dev/null; done; true

-include $(PIC_OBJS:.o=.d) $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d)

# The README's main job: the seed poster's seven ImageNet classes explained by the default model. Without
# $(SHARED), the model and the images are downloaded (pinned upstream commits, sha256-checked).
DEMO_IMAGES := n01443537_goldfish n02085782_Japanese_spaniel n02085936_Maltese_dog n02086240_Shih-Tzu \
               n02099712_Labrador_retriever n07745940_strawberry n07753592_banana
demo: deps
	@$(MAKE) --no-print-directory -j2 all
	@$(MAKE) --no-print-directory weights
	@images="$(SHARED)/images/imagenet-dev"; \
	if [ ! -d "$$images" ]; then images="$(BUILD)/images"; io/fetch_demo_images.sh "$$images" || exit 1; fi; \
	echo "$(CLI) explain --out out/demo $(DEMO_IMAGES:%=$$images/%.JPEG)"; \
	$(CLI) explain --out out/demo $(DEMO_IMAGES:%="$$images/%.JPEG")
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
# entropycam itself, and a grid of its explanations with the evidence masks outlined. `train` runs one OpenMP
# thread unless told otherwise: on a loaded 2-core machine two threads per small batch wait on each other more
# than they compute.
SYNTH_DIR ?= out/synth
synth-demo: $(CLI)
	$(CLI) synth --out $(SYNTH_DIR) --seed 1
	$(CLI) train --data $(SYNTH_DIR) --arch vgg --seed 1 --out $(SYNTH_DIR)/vgg.ecw
	$(CLI) synth-grid --model $(SYNTH_DIR)/vgg.ecw --data $(SYNTH_DIR) --rows 6 --out $(SYNTH_DIR)/grid.png
	@echo "synth demo figure: $(abspath $(SYNTH_DIR)/grid.png), training curves: $(abspath $(SYNTH_DIR)/vgg.png)"
