#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench_tracepoints.sh - runs in the test VM: guest-invalidation throughput
# with the iommufd tracepoints compiled in but off, versus on with a trivial
# BPF consumer (a bpftrace counter) attached. Rounds alternate between the
# two so machine noise hits both alike; prints the medians and their ratio.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"	# for stop_tracer
bin=${TEST_BIN:?}
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}

rate() { "$bin/inval_rate" "$secs" 1 | sed -n 's/^calls_per_sec=//p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

off=() on=()
for r in $(seq "$rounds"); do
	off+=("$(rate)")
	bpftrace -e 'BEGIN { printf("ready\n"); }
		tracepoint:iommufd:iommufd_cache_invalidate_start { @start = count(); }
		tracepoint:iommufd:iommufd_cache_invalidate_end { @end = count(); }' \
		> /tmp/bt.out 2>&1 &
	bt=$!
	until grep -q '^ready' /tmp/bt.out; do sleep 0.2; done
	on+=("$(rate)")
	stop_tracer $bt || true
	echo "round $r: off ${off[-1]} calls/s, on ${on[-1]} calls/s"
done
moff=$(printf '%s\n' "${off[@]}" | median)
mon=$(printf '%s\n' "${on[@]}" | median)
echo "tracepoints off (median): $moff calls/s"
echo "tracepoints on, BPF consumer attached (median): $mon calls/s"
awk -v a="$mon" -v b="$moff" 'BEGIN { printf "ratio on/off: %.3f\n", a / b }'
