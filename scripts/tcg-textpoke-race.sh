#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# tcg-textpoke-race.sh - reproduce the int3 Oops of QEMU 7.2's
# multi-threaded TCG (see the accel= line of scripts/vm-run.sh): iommufd
# tracepoints are switched on and off, from tracefs and by the viommu
# tool, while viommu-load makes the ioctls that run through them.
#
# usage: scripts/tcg-textpoke-race.sh [single|multi] [SECONDS]
#   Boots the test VM with that TCG threading (default multi) for SECONDS
#   of churn (default 120) and prints the number of Oopses: 0, or 1 when
#   the guest died of one.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --guest ]; then
	secs=$2
	T=/sys/kernel/tracing
	[ -d $T/events ] || mount -t tracefs nodev $T
	end=$(($(date +%s) + secs))
	churn() { while [ "$(date +%s)" -lt $end ]; do "$@" >/dev/null 2>&1; done; }
	churn "$repo/build/viommu-load" -V 2 -i 2 -n 20 -u 5 -E 2 -F 1 &
	churn "$repo/build/viommu-load" -n 200 -u 2 &
	churn timeout 1 "$repo/build/viommu" trace &
	churn timeout 2 "$repo/build/viommu" top -b 0.3 &
	n=0
	while [ "$(date +%s)" -lt $end ]; do
		echo 1 > $T/events/iommufd/enable
		echo 0 > $T/events/iommufd/enable
		n=$((n + 1))
	done
	wait
	echo "tracefs on/off cycles: $n"
	exit 0
fi
mode=${1:-multi} secs=${2:-120}
out=$(mktemp -d)
VIOMMU_TCG_THREAD=$mode "$repo/scripts/vm-run.sh" -t $((secs * 3 + 120)) \
	-r "$out" -- "$0" --guest "$secs" | grep cycles
echo "$mode: $(grep -c 'Oops: int3' "$out/console.log") int3 Oops in ${secs}s (console: $out/console.log)"
