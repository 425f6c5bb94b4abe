#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run-tests.sh - the project's test run, as "make test" calls it.
#
# usage: run-tests.sh [all|unit|vm|variants]
#   unit      host unit tests (tests/unit/*.sh)
#   vm        the VM suite: upstream iommufd selftests and ours, in one boot
#   variants  each kernel variant in $VIOMMU_VARIANTS (default: nokvm and
#             perf, and debug when its build is in the cache: "make
#             test-debug" builds it), built and booted for the checks only
#             it can make (perf: iommufd as a module; debug: the whole VM
#             suite under KASAN and kmemleak)
#   all       unit, the kernel build (cached), checkpatch and drift, the
#             arm64 KUnit run, the VM suite, the variants, the kernel log
#             check, the performance gate, and check-fresh beside them;
#             after the kernel build in two lanes, one core each: the VM
#             suite's part 1, checkpatch, KUnit and the kernel log check |
#             its part 2, the variants and the performance gate
#
# Every suite leaves a TAP file in results/; the run ends with the tally's
# "N passed, N failed, N skipped" line and fails if anything failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
results=$repo/results
what=${1:-all}
# The debug kernel (KASAN, kmemleak) is a full build of its own and runs the
# whole suite: a run includes it once it has been built (make test-debug)
# perf (iommufd as a module) is the build make bench measures, in
# build-perf/: the same tree, built once for both
variants=${VIOMMU_VARIANTS-nokvm perf}
debug_skipped=''
if [ -z "${VIOMMU_VARIANTS+set}" ]; then
	if [ -e "${VIOMMU_CACHE:-/var/cache/viommu}/build-debug/arch/x86/boot/bzImage" ]; then
		variants="$variants debug"
	else
		debug_skipped=1
	fi
fi

step_tap() { # name status message: a one-case TAP file for a build step
	if [ "$2" = 0 ]; then
		printf '1..1\nok 1 - %s\n' "$3" > "$results/$1.tap"
	else
		printf '1..1\nnot ok 1 - %s\n' "$3" > "$results/$1.tap"
	fi
}

run_unit() {
	for t in tests/unit/*.sh; do
		name=unit-$(basename "$t" .sh)
		echo "== $name"
		bash "$t" > "$results/$name.tap" 2>&1 ||
			echo "Bail out! $t exited with status $?" >> "$results/$name.tap"
		cat "$results/$name.tap"
	done
}

# COMMAND...: a kernel build beside a test VM. One build at a time (two on
# two cores take twice as long each), niced so that the VM beside it keeps
# its core and its timeouts mean what they say.
build_step() {
	flock "$results/.build.lock" nice -n 10 "$@"
}

# NAME...: run NAME and say how long it took
timed() {
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	echo "== $1: $((SECONDS - t0)) s"
	return $rc
}

# The VM steps need the test programs; without them their TAP files stay
# missing and the manifest names each one
test_bins_built() { grep -q '^ok' "$results/test-bins.tap" 2>/dev/null; }

build_test_bins() {
	if ! make -s test-bins > "$results/test-bins.log" 2>&1; then
		cat "$results/test-bins.log"
		step_tap test-bins 1 "build the VM test programs"
		return 1
	fi
	step_tap test-bins 0 "build the VM test programs"
}

# [PART]: the main kernel's VM suite, or its part 1 or 2 (tests/vm/run.sh)
# in a VM of its own beside the other part's; both leave their TAP files in
# results/vm
run_vm() {
	local rc t0=$SECONDS part=${1:-} tap=vm-boot name=
	# part 2's VM is the second on results/vm: vm-run.sh --name
	[ "$part" = 2 ] && tap=vm-boot-2 name=p2
	if ! test_bins_built; then
		echo "== VM suite${part:+, part $part}: not run, the VM test programs did not build"
		return
	fi
	echo "== VM suite${part:+, part $part} (console log: results/vm/console${name:+-$name}.log)"
	VIOMMU_VM_PART=$part TEST_BIN=$repo/build/tests \
	TEST_SELFTESTS=$("$repo/scripts/kernel.sh" path | sed -n 's/^selftests=//p') \
	TEST_KBUILD=$("$repo/scripts/kernel.sh" path | sed -n 's/^build=//p') \
		scripts/vm-run.sh -t "${VIOMMU_VM_TIMEOUT:-1500}" -r "$results/vm" \
		${name:+-n "$name"} -- "$repo/tests/vm/run.sh"
	rc=$?
	step_tap "$tap" "$((rc != 0))" \
		"test VM ran the suite${part:+ (part $part)} to completion with a clean kernel log"
	echo "== VM suite${part:+, part $part}: $((SECONDS - t0)) s"
}

# A kernel variant (kernel/variants/NAME.config): build it, boot it, and
# run the VM suite's part for it (tests/vm/run.sh reads VIOMMU_VARIANT).
run_variants() {
	# not built: the tally says so, and how to get it (an expected skip)
	[ -n "$debug_skipped" ] && printf '%s\n' 1..1 "ok 1 - the debug kernel (KASAN, kmemleak) is not built: make test-debug builds it and runs the whole VM suite on it # SKIP about 30 min to build and an hour to run; make test includes it after" \
		> "$results/debug-kernel.tap"
	local v secs
	for v in $variants; do
		# debug runs the whole suite, several times slower; perf's one
		# suite has a budget of 300 s
		case $v in
		debug) secs=5400 ;;
		perf) secs=600 ;;
		*) secs=300 ;;
		esac
		echo "== kernel variant $v"
		if ! VIOMMU_VARIANT=$v build_step scripts/kernel.sh build > "$results/kernel-build-$v.log" 2>&1; then
			tail -30 "$results/kernel-build-$v.log"
			step_tap "kernel-build-$v" 1 "kernel variant $v builds"
			continue
		fi
		step_tap "kernel-build-$v" 0 "kernel variant $v builds"
		if ! test_bins_built; then
			echo "== kernel variant $v: not booted, the VM test programs did not build"
			continue
		fi
		if [ "$v" = debug ]; then
			# the whole suite: its two parts in two VMs side by side,
			# each taking a core when one is free (vm-run.sh's slots)
			boot_variant "$v" "$secs" 1 &
			boot_variant "$v" "$secs" 2
			wait $!
		else
			boot_variant "$v" "$secs"
		fi
	done
}

# VARIANT SECONDS [PART]: boot the variant's kernel and run its suite, or
# that part of it (tests/vm/run.sh); part 2's console log and boot result
# are named -2
boot_variant() {
	local v=$1 secs=$2 part=${3:-} rc name='' tap=vm-boot-$1
	[ "$part" = 2 ] && name=p2 tap=vm-boot-$v-2
	VIOMMU_VM_PART=$part VIOMMU_VARIANT=$v TEST_BIN=$repo/build/tests \
	TEST_SELFTESTS=$("$repo/scripts/kernel.sh" path | sed -n 's/^selftests=//p') \
	TEST_KBUILD=$(VIOMMU_VARIANT=$v "$repo/scripts/kernel.sh" path | sed -n 's/^build=//p') \
		scripts/vm-run.sh -t "$secs" -r "$results/vm-$v" \
		${name:+-n "$name"} -- "$repo/tests/vm/run.sh"
	rc=$?
	step_tap "$tap" "$((rc != 0))" \
		"variant $v VM ran its suite${part:+ (part $part)} to completion with a clean kernel log"
}

rm -rf "$results"
mkdir -p "$results"
start=$(date +%s)
# The series as it would go to the list: checkpatch --strict on every patch,
# and the cached tree equal to kernel/patches (the per-prefix build of
# "kernel.sh check --bisect" is left to a command: about 10 min).
run_kernel_checks() {
	local rc
	echo "== kernel series: checkpatch --strict, drift"
	scripts/kernel.sh check > "$results/checkpatch.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || cat "$results/checkpatch.log"
	step_tap checkpatch "$rc" "checkpatch --strict passes on every patch of kernel/patches"
	scripts/kernel.sh drift > "$results/drift.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || cat "$results/drift.log"
	step_tap drift "$rc" "the kernel built and tested is kernel/patches, with nothing else"
}

# The SMMUv3 driver's KUnit suite, built for arm64 and run under QEMU:
# each case is a result of its own
run_kunit_arm64() {
	echo "== arm64 KUnit (build-arm64-kunit; log: results/kunit-arm64.log)"
	if ! build_step scripts/kernel.sh kunit-arm64 > "$results/kunit-arm64.tap" 2> "$results/kunit-arm64.log"; then
		tail -20 "$results/kunit-arm64.log"
		echo "Bail out! the arm64 KUnit build or run failed" >> "$results/kunit-arm64.tap"
	fi
	cat "$results/kunit-arm64.tap"
}

# The kernel log check can see what it names (throwaway boots with LKDTM)
run_boot_checks() {
	echo "== kernel log check: one report of each kind"
	tests/boot/kernel_log_check.sh "$results/boot" > "$results/kernel-log-check.tap" 2>&1
	cat "$results/kernel-log-check.tap"
}

# The performance gate: guest instructions per event against the baseline
run_perf() {
	echo "== performance gate (instruction counts)"
	scripts/perf-gate.sh "$results"
}

# Everything a run uses is installed before anything uses it.
deps_ok() {
	if scripts/deps.sh > "$results/deps.log" 2>&1; then
		step_tap deps 0 "install the Debian packages the project needs"
		return 0
	fi
	cat "$results/deps.log"
	step_tap deps 1 "install the Debian packages the project needs"
	return 1
}
case $what in
unit) deps_ok && run_unit ;;
vm) deps_ok && { build_test_bins; run_vm; } ;;
variants) deps_ok && { build_test_bins; run_variants; } ;;
all)
	# The kernel, selftests and tree stay as built until the last VM is
	# done: a concurrent build cannot swap them under the run.
	cache=${VIOMMU_CACHE:-/var/cache/viommu}
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	export VIOMMU_CACHE_LOCKED=1
	if deps_ok; then
		# A pristine Debian 12 root must get through with what the project
		# installs itself (apt and dpkg work, mostly I/O): beside the rest.
		# Niced: it compiles, beside the test VMs later on.
		nice -n 10 scripts/check-fresh.sh > "$results/check-fresh.tap" \
			2> "$results/check-fresh.log" &
		fresh=$!
		# Ctrl-C or a kill: the background steps and lanes go too (a
		# non-interactive shell's background jobs ignore SIGINT)
		trap 'trap - INT TERM; kill -TERM 0' INT TERM
		timed run_unit
		echo "== kernel build"
		if scripts/kernel.sh build > "$results/kernel-build.log" 2>&1; then
			step_tap kernel-build 0 "kernel and selftests build"
			# Two lanes, one core each (a test VM's vCPUs share one
			# host thread): each starts with one part of the VM suite,
			# then takes its share of the other steps. Lane 1's output
			# shows as it comes, lane 2's when both are done (each is
			# in results/lane-N.log too).
			echo "== two lanes: VM part 1, checks, arm64 KUnit, kernel log check | VM part 2, variants, perf gate"
			build_test_bins
			{
				run_vm 1
				timed run_kernel_checks
				timed run_kunit_arm64
				timed run_boot_checks
			} 2>&1 | tee "$results/lane-1.log" &
			lane1=$!
			{
				run_vm 2
				timed run_variants
				timed run_perf
			} > "$results/lane-2.log" 2>&1 &
			lane2=$!
			wait "$lane1" "$lane2"
			echo "== lane 2"
			cat "$results/lane-2.log"
		else
			tail -30 "$results/kernel-build.log"
			step_tap kernel-build 1 "kernel and selftests build"
		fi
		wait "$fresh"
		echo "== check-fresh"
		cat "$results/check-fresh.tap"
	fi
	;;
*) sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
echo "== results ($(( $(date +%s) - start ))s)"

# The manifest: every TAP file this run must leave, so that a suite that
# never ran is named. The VM suites come from tests/vm/run.sh --list, the
# list the VM walks itself.
vm_suites() { # DIR [VARIANT]: the TAP files of the VM suite of a kernel
	local kbuild list
	kbuild=$(VIOMMU_VARIANT=${2:-} scripts/kernel.sh path | sed -n 's/^build=//p')
	if list=$(VIOMMU_VM_PART= VIOMMU_VARIANT=${2:-} TEST_KBUILD=$kbuild tests/vm/run.sh --list); then
		sed "s|.*|$1/&.tap|" <<< "$list"
	else
		step_tap "suites${2:+-$2}" 1 "tests/vm/run.sh --list names the VM suites${2:+ of $2}"
	fi
}
manifest() {
	local t v
	case $what in
	unit | all)
		for t in tests/unit/*.sh; do
			echo "$results/unit-$(basename "$t" .sh).tap"
		done ;;
	esac
	if [ "$what" = all ]; then
		for t in deps kernel-build checkpatch drift kunit-arm64 kernel-log-check \
			 perf-gate perf-gate-proof check-fresh; do
			echo "$results/$t.tap"
		done
	fi
	case $what in
	vm | all)
		echo "$results/test-bins.tap"
		echo "$results/vm-boot.tap"
		vm_suites "$results/vm" ;;
	esac
	[ "$what" = all ] && echo "$results/vm-boot-2.tap"
	case $what in
	variants | all)
		[ -n "$debug_skipped" ] && echo "$results/debug-kernel.tap"
		for v in $variants; do
			echo "$results/kernel-build-$v.tap"
			echo "$results/vm-boot-$v.tap"
			[ "$v" = debug ] && echo "$results/vm-boot-$v-2.tap"
			vm_suites "$results/vm-$v" "$v"
		done ;;
	esac
}
# The manifest's files, then any other the run left (deps.tap when the
# packages failed), each once
mapfile -t files < <(manifest)
shopt -s nullglob
declare -A listed=()
tap_files=()
for f in "${files[@]}" "$results"/*.tap "$results"/vm/*.tap "$results"/vm-*/*.tap; do
	[ -n "${listed[$f]:-}" ] && continue
	listed[$f]=1
	tap_files+=("$f")
done
exec scripts/tally.sh "${tap_files[@]}"
