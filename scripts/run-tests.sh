#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run-tests.sh - the project's test run, as "make test" calls it.
#
# usage: run-tests.sh [all|unit|vm]
#   unit  host unit tests (tests/unit/*.sh)
#   vm    the VM suite: upstream iommufd selftests and ours, in one boot
#   all   unit, then the kernel build (cached), then the VM suite
#
# Every suite leaves a TAP file in results/; the run ends with the tally's
# "N passed, N failed, N skipped" line and fails if anything failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
results=$repo/results
what=${1:-all}

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
		bash "$t" > "$results/$name.tap" 2>&1
		cat "$results/$name.tap"
	done
}

run_vm() {
	local rc
	if ! make -s test-bins > "$results/test-bins.log" 2>&1; then
		cat "$results/test-bins.log"
		step_tap test-bins 1 "build the VM test programs"
		return
	fi
	step_tap test-bins 0 "build the VM test programs"
	echo "== VM suite (console log: results/vm/console.log)"
	TEST_BIN=$repo/build/tests \
	TEST_SELFTESTS=$("$repo/scripts/kernel.sh" path | sed -n 's/^selftests=//p') \
		scripts/vm-run.sh -t "${VIOMMU_VM_TIMEOUT:-1500}" -r "$results/vm" -- \
		"$repo/tests/vm/run.sh"
	rc=$?
	step_tap vm-boot "$((rc == 125))" "test VM ran to completion with a clean kernel log"
}

rm -rf "$results"
mkdir -p "$results"
start=$(date +%s)
case $what in
unit) run_unit ;;
vm) run_vm ;;
all)
	run_unit
	echo "== kernel build"
	if scripts/deps.sh && scripts/kernel.sh build > "$results/kernel-build.log" 2>&1; then
		step_tap kernel-build 0 "kernel and selftests build"
		run_vm
	else
		tail -30 "$results/kernel-build.log"
		step_tap kernel-build 1 "kernel and selftests build"
	fi
	;;
*) sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
echo "== results ($(( $(date +%s) - start ))s)"
shopt -s nullglob
exec scripts/tally.sh "$results"/*.tap "$results"/vm/*.tap
