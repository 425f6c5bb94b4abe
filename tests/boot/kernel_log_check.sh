#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel_log_check.sh - the check of the check: boots the test kernel twice
# with LKDTM provoking one report of each kind (tests/boot/provoke.sh), and
# asserts that vm-run.sh fails each boot and names every kind. The expected
# console line of each kind is written here, apart from the patterns
# vm-run.sh uses (scripts/kernel-log-patterns), so a pattern that stops
# matching its report fails this test.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
results=${1:-$repo/results/boot}
export TEST_KBUILD=${TEST_KBUILD:-$("$repo/scripts/kernel.sh" path | sed -n 's/^build=//p')}

# kind, what the kernel prints for it
survivable=(
	"warning|WARNING: .*lkdtm_WARNING"
	"ubsan|UBSAN: array-index-out-of-bounds in .*lkdtm"
	"list|list_add corruption"
	"kfence|BUG: KFENCE: use-after-free read in"
	"hung_task|INFO: task sh:[0-9]+ blocked for more than [0-9]+ seconds"
	"lockdep|WARNING: lock held when returning to user space"
	"softlockup|watchdog: BUG: soft lockup - CPU#[0-9]+ stuck"
	"rcu_stall|rcu: INFO: rcu_(sched|preempt) (self-)?detected stall"
)
fatal=(
	"bug|kernel BUG at .*drivers/misc/lkdtm/bugs.c"
	"oops|Oops: invalid opcode"
)

tap_plan $(( 2 + 2 * (${#survivable[@]} + ${#fatal[@]}) ))
boot() { # mode, expected...
	local mode=$1 out=$results/$1 rc entry kind line
	shift
	mkdir -p "$out"
	"$repo/scripts/vm-run.sh" -t 120 -r "$out" -- "$repo/tests/boot/provoke.sh" "$mode" \
		> "$out/vm-run.out" 2>&1
	rc=$?
	is "$mode reports: vm-run.sh fails the boot (125)" "$rc" 125
	for entry in "$@"; do
		kind=${entry%%|*} line=${entry#*|}
		grep -Eq "$line" "$out/console.log"
		tap_result $? "$mode: the kernel printed its $kind report" \
			"no line matching '$line' in $out/console.log"
		grep -q "kernel reported a problem:.* $kind\( \|$\)" "$out/vm-run.out"
		tap_result $? "$mode: vm-run.sh names $kind" "$(grep 'vm-run.sh:' "$out/vm-run.out")"
	done
}
boot survivable "${survivable[@]}"
boot fatal "${fatal[@]}"
tap_done
