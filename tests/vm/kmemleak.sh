#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# kmemleak.sh - after the VM suite (or each part of it, in its own VM) on
# the debug kernel: scan for leaked objects (twice: an object freed late
# is reported only if it is still unreferenced on the second scan) and
# fail on any report, listing the first ones with their allocation
# backtraces.
. "$(dirname "$0")/../lib/tap.sh"
km=/sys/kernel/debug/kmemleak
tap_plan 2
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
[ -w "$km" ]
tap_result $? "kmemleak is on ($km)" "CONFIG_DEBUG_KMEMLEAK and debugfs are needed"
echo scan > "$km" 2>/dev/null
sleep 6
echo scan > "$km" 2>/dev/null
report=$(cat "$km" 2>/dev/null)
n=$(grep -c '^unreferenced object' <<< "$report")
is "no leaked object after the suites this VM ran" "$n" 0
[ "$n" = 0 ] || head -60 <<< "$report" | sed 's/^/# /'
tap_done
