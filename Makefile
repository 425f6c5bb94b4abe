# SPDX-License-Identifier: GPL-2.0-only
#
# viommu: tracepoints, tools and a test bench for the iommufd vIOMMU.
#
#   make demo     build what is missing, boot the test VM, and show the
#                 viommu tools on four VMs driven by viommu-load
#   make test     everything: unit tests, kernel build, VM suite; ends with
#                 "N passed, N failed"
#   make kernel   fetch, patch and build the test kernel (cached)
#   make vm-shell-cmd CMD='...'   run one command in the test VM
#
# The kernel tree and build live in $(VIOMMU_CACHE), outside the clone.

VIOMMU_CACHE ?= /var/cache/viommu
export VIOMMU_CACHE

KTREE  := $(VIOMMU_CACHE)/linux
KBUILD := $(VIOMMU_CACHE)/build
OUT    := build
RESULTS := results
# The ASan + UBSan build of the tool (make tools SANITIZE=1; test-bins
# builds it too): the VM suite runs the tool tests with it again (the
# *_asan suites of tests/vm/run.sh); any report aborts the tool and is
# written to a file the suite looks for. clang: its UBSan shares ASan's
# runtime and writes to ASAN_OPTIONS' log_path (GCC's prints to stderr).
SAN_CC     ?= clang
SAN_OUT    := $(OUT)/asan
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CC      ?= gcc
CFLAGS  ?= -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
KHDR    := -isystem $(KBUILD)/usr/include -I$(KTREE)/drivers/iommu/iommufd

.PHONY: all deps kernel demo test test-variants test-debug unit vm-test test-bins check-patches clean vm-shell-cmd bench \
	perf-gate perf-baseline check-fresh detector-cost

all: test-bins

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh build

# Programs that run inside the test VM; they need the kernel's uAPI headers.
VM_PROGS := $(OUT)/tests/trace_viommu $(OUT)/tests/trace_events \
	    $(OUT)/tests/mock_viommus $(OUT)/tests/inval_rate $(OUT)/tests/fdinfo_stall \
	    $(OUT)/tests/kvm_viommu $(OUT)/tests/fault_virt_id \
	    $(OUT)/tests/kvm_absent $(OUT)/tests/object_events \
	    $(OUT)/tests/vmm_attribution \
	    $(OUT)/tests/viommu_churn $(OUT)/tests/attrib_vm $(OUT)/tests/trace_edges \
	    $(OUT)/tests/event_durations $(OUT)/tests/scripted_vm $(OUT)/tests/stress_races \
	    $(OUT)/tests/fuzz_uapi $(OUT)/tests/s2_paths
MOCK_LIB := tools/lib/iommufd_mock.c
TRACEFS_LIB := tests/vm/lib/tracefs.c
BENCH_PROGS := $(OUT)/bench/empty_attach $(OUT)/bench/empty_attach.bpf.o

test-bins: $(VM_PROGS) $(OUT)/viommu-load tools $(SAN_OUT)/viommu $(SAN_OUT)/viommu-top $(BENCH_PROGS)

# The viommu tool: CO-RE BPF programs, so it builds without the patched
# kernel at hand (its BTF is needed only at run time).
BPF_CLANG  ?= clang
BPF_CFLAGS = -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
	      -I/usr/include/$(shell $(CC) -dumpmachine)
VIOMMU_SRCS := $(wildcard tools/viommu/*.c)
VIOMMU_LIBS = $(shell pkg-config --libs libbpf json-c ncursesw libevent 2>/dev/null || \
		 echo -lbpf -lelf -lz -ljson-c -lncursesw -ltinfo -levent) -lcap -lm

# make tools SANITIZE=1: the tool built with ASan and UBSan into
# $(SAN_OUT)/ (above; the normal build is left alone).
.PHONY: tools
ifeq ($(SANITIZE),1)
tools: $(SAN_OUT)/viommu $(SAN_OUT)/viommu-top
else
tools: $(OUT)/viommu $(OUT)/viommu-top
endif

$(OUT)/bpf/viommu.bpf.o: bpf/viommu.bpf.c bpf/viommu.h | deps
	@mkdir -p $(@D)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bpf/viommu.skel.h: $(OUT)/bpf/viommu.bpf.o
	bpftool gen skeleton $< name viommu_skel > $@.tmp && mv $@.tmp $@

$(OUT)/viommu: $(VIOMMU_SRCS) tools/viommu/viommu.h tools/viommu/export.h bpf/viommu.h \
		$(OUT)/bpf/viommu.skel.h | deps
	$(CC) $(CFLAGS) -I$(OUT)/bpf -o $@ $(VIOMMU_SRCS) $(VIOMMU_LIBS)

$(SAN_OUT)/viommu: $(VIOMMU_SRCS) tools/viommu/viommu.h bpf/viommu.h $(OUT)/bpf/viommu.skel.h | deps
	@mkdir -p $(@D)
	$(SAN_CC) $(CFLAGS) $(SAN_CFLAGS) -I$(OUT)/bpf -o $@ $(VIOMMU_SRCS) $(VIOMMU_LIBS)

$(SAN_OUT)/viommu-top: $(SAN_OUT)/viommu
	ln -sf viommu $@

# Host unit tests of the tool's pure logic
VIOMMU_PURE := tools/viommu/hist.c tools/viommu/snapshot.c tools/viommu/compare.c \
	       tools/viommu/events.c tools/viommu/delta.c tools/viommu/cli.c
$(OUT)/unit/viommu_logic: tests/unit/viommu_logic.c $(VIOMMU_PURE) tools/viommu/viommu.h \
		bpf/viommu.h tests/lib/tap.h | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(VIOMMU_PURE) -ljson-c -lm -lpthread

# viommu export's exposition of synthetic values (tests/unit/prometheus.sh)
EXPORT_PURE := tools/viommu/metrics.c tools/viommu/hist.c
$(OUT)/unit/export_render: tests/unit/export_render.c $(EXPORT_PURE) tools/viommu/export.h \
		tools/viommu/viommu.h bpf/viommu.h | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(EXPORT_PURE) -ljson-c -lm

# ... and of top's, with the sanitizers on
$(OUT)/unit/viommu_top: tests/unit/viommu_top.c tools/viommu/cli.c tools/viommu/viommu.h \
		bpf/viommu.h tests/lib/tap.h | deps
	@mkdir -p $(@D)
	$(SAN_CC) $(CFLAGS) $(SAN_CFLAGS) -o $@ $< tools/viommu/cli.c -ljson-c -lm

$(OUT)/viommu-top: $(OUT)/viommu
	ln -sf viommu $@

# Bench helper: an empty tp_btf program, for what an attachment alone costs
$(OUT)/bench/empty_attach.bpf.o: tests/bench/empty_attach.bpf.c | deps
	@mkdir -p $(@D)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench/empty_attach: tests/bench/empty_attach.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(VIOMMU_LIBS)

# The load generator: a user tool, built against the patched uAPI headers
$(OUT)/viommu-load: tools/viommu-load.c $(MOCK_LIB) tools/lib/iommufd_mock.h \
		$(KBUILD)/usr/include/linux/iommufd.h | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(KHDR) -Itools/lib -o $@ $< $(MOCK_LIB) -lpthread

vpath %.c tests/vm tests/bench

# An uninitialised local in a test reads as a fixed non-zero pattern, so
# a test that depends on one fails on every run, not on some machines'
VM_CFLAGS := $(CFLAGS) -ftrivial-auto-var-init=pattern

$(VM_PROGS): $(OUT)/tests/%: %.c $(MOCK_LIB) $(TRACEFS_LIB) \
		tests/lib/tap.h tests/vm/lib/tracefs.h tools/lib/iommufd_mock.h \
		$(KBUILD)/usr/include/linux/iommufd.h | deps
	@mkdir -p $(@D)
	$(CC) $(VM_CFLAGS) $(KHDR) -Itools/lib -Itests/vm/lib -o $@ $< $(MOCK_LIB) $(TRACEFS_LIB)

# libFuzzer targets of the tool's parsers (tests/fuzz/): the tool built
# with coverage, ASan and UBSan, main() renamed so each target drives it
# in-process. "make fuzz" runs each for FUZZ_TIME seconds from
# FUZZ_SEED, new inputs in build/fuzz/work/, crashes in
# build/fuzz/artifacts/; tests/unit/fuzz.sh runs them in "make unit".
FUZZ_CC      ?= clang
FUZZ_OUT     := $(OUT)/fuzz
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all -Wall -Wno-unused-parameter -Wno-missing-field-initializers
FUZZ_TARGETS := fdinfo record cli
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_OBJS    := $(patsubst tools/viommu/%.c,$(FUZZ_OUT)/obj/%.o,$(VIOMMU_SRCS))
FUZZ_TIME    ?= 60
FUZZ_SEED    ?= 1

.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)

$(FUZZ_OUT)/obj/%.o: tools/viommu/%.c tools/viommu/viommu.h tools/viommu/export.h bpf/viommu.h \
		$(OUT)/bpf/viommu.skel.h | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -I$(OUT)/bpf \
		$(if $(filter main.c,$(notdir $<)),-Dmain=viommu_main) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itools/viommu -I$(OUT)/bpf -o $@ $< \
		$(FUZZ_OBJS) $(VIOMMU_LIBS)

fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/work/$$t $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/tmp; \
		echo "== fuzz_$$t: $(FUZZ_TIME) s, -seed=$(FUZZ_SEED)"; \
		TMPDIR=$(CURDIR)/$(FUZZ_OUT)/tmp $(FUZZ_OUT)/fuzz_$$t -seed=$(FUZZ_SEED) -max_total_time=$(FUZZ_TIME) \
			-close_fd_mask=2 -timeout=10 -dict=tests/fuzz/$$t.dict -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- \
			$(FUZZ_OUT)/work/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

unit:
	@scripts/run-tests.sh unit

vm-test: test-bins
	@scripts/run-tests.sh vm

test:
	@scripts/run-tests.sh all

# Kernel variants (kernel/variants/*.config), e.g. KVM absent
test-variants: test-bins
	@scripts/run-tests.sh variants

# The debug kernel (kernel/variants/debug.config: KASAN, kmemleak, debug
# objects) built and booted for the whole VM suite, its two parts in two
# VMs side by side; once built, "make test" runs it too
test-debug: test-bins
	@VIOMMU_VARIANTS=debug scripts/run-tests.sh variants

# Benchmarks count guest instructions (QEMU -icount): the figures are stable
# to well under 1 %, so they can be compared. One boot of the test kernel
# (4 GiB: tool_cost.sh holds 1,024 VMs), then one of the perf variant (no
# debugging options; built if missing).
PERF_KBUILD = $(VIOMMU_CACHE)/build-perf
bench: kernel test-bins
	@TEST_BIN=$(CURDIR)/$(OUT)/tests scripts/vm-run.sh --icount -c 1 -m 4G -t 5400 -r $(RESULTS)/bench -- \
		tests/bench/bench.sh
	@VIOMMU_VARIANT=perf scripts/kernel.sh build > /dev/null
	@echo "== the perf kernel (no debugging options)"
	@TEST_BIN=$(CURDIR)/$(OUT)/tests TEST_KBUILD=$(PERF_KBUILD) scripts/vm-run.sh --icount -c 1 \
		-k $(PERF_KBUILD)/arch/x86/boot/bzImage -t 3600 -r $(RESULTS)/bench-perf -- \
		tests/perf/measure.sh --rounds 3 --out /run/results/figures.json
	@jq . $(RESULTS)/bench-perf/figures.json

# The performance gate of "make test", alone; perf-baseline rewrites
# tests/perf/baseline.json from a new measurement.
perf-gate: kernel test-bins
	@scripts/perf-gate.sh
perf-baseline: kernel test-bins
	@scripts/perf-gate.sh --update
# What each detector of the test kernel costs in run time (builds the
# noubsan and nolist variants when they are not in the cache)
detector-cost: kernel
	@scripts/detector-cost.sh --build

# A pristine Debian 12 root gets through "make unit" and "make tools" with
# only what the project installs itself.
check-fresh:
	@scripts/check-fresh.sh

demo: kernel test-bins
	@TEST_KBUILD=$(KBUILD) scripts/vm-run.sh -t 600 -r $(RESULTS)/demo -- scripts/demo.sh

check-patches:
	@scripts/kernel.sh check

vm-shell-cmd: test-bins
	scripts/vm-run.sh -- $(CMD)

clean:
	rm -rf $(OUT) $(RESULTS)
