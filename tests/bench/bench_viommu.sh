#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench_viommu.sh - runs in the test VM (make bench): what the viommu tool
# costs, measured side by side in one boot so machine noise hits both:
#   1. viommu-load's guest-invalidation throughput with viommu top attached,
#      against none (rounds alternate; medians and their ratio)
#   2. BPF run time per event (kernel bpf_stats, as bpftop reads it) of
#      viommu's programs against an equivalent bpftrace one-liner attached
#      at the same time, so both see the very same events
#   3. viommu top's own CPU time with 64 VMs invalidating flat out
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"	# for stop_tracer
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=$repo/build/viommu
load=$repo/build/viommu-load
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
tmp=$(mktemp -d)

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
attached() { [ "$(bpftool prog show 2>/dev/null | grep -cE 'name (btf|raw)_iommufd')" -ge 18 ]; }
wait_attached() { until attached; do sleep 0.1; done; sleep 0.5; }
rate() {
	"$load" -V 1 -i 1 -d "$secs" -u 0 |
		awk -v s="$secs" '/^viommu / { for (i = 1; i <= NF; i++)
			if ($i ~ /^invalidations=/) { split($i, a, "="); print a[2] / s } }'
}

echo "== 1. throughput with viommu top attached"
off=() on=()
for r in $(seq "$rounds"); do
	off+=("$(rate)")
	"$viommu" top -b 1 > /dev/null 2>&1 &
	top=$!
	wait_attached
	on+=("$(rate)")
	stop_tracer $top || true
	echo "round $r: without ${off[-1]}/s, with viommu top ${on[-1]}/s"
done
moff=$(printf '%s\n' "${off[@]}" | median)
mon=$(printf '%s\n' "${on[@]}" | median)
awk -v a="$mon" -v b="$moff" 'BEGIN {
	printf "guest invalidations/s: without %.0f, with viommu top %.0f (medians)\n", b, a
	printf "ratio with/without viommu top: %.3f (target >= 0.95)\n", a / b }'

# BENCH_PARTS=1: the throughput rounds only (to take many of them)
[ "${BENCH_PARTS:-123}" = 1 ] && exit 0

echo "== 2. BPF cost per event: viommu against bpftrace, attached together"
sysctl -qw kernel.bpf_stats_enabled=1
"$viommu" top -b 1 > /dev/null 2>&1 &
top=$!
# per VM: latency histogram, invalidations, entries (viommu does more)
bpftrace -e 'BEGIN { printf("ready\n"); }
	tracepoint:iommufd:iommufd_cache_invalidate_end {
		@lat_us[args->ictx_id] = hist(args->duration_ns / 1000);
		@invals[args->ictx_id] = count();
		@entries[args->ictx_id] = sum(args->done_num); }' > "$tmp/bt" 2>&1 &
bt=$!
wait_attached
until grep -q '^ready' "$tmp/bt"; do sleep 0.2; done
"$load" -V 4 -i 2 -e 4 -d "$secs" -u 0 > /dev/null
bpftool prog show --json > "$tmp/progs"
stop_tracer $bt > /dev/null || true
stop_tracer $top || true
sysctl -qw kernel.bpf_stats_enabled=0
# per tool: summed run time and runs of its programs that ran. viommu's
# are tp_btf (or raw_tp) programs named btf_/raw_iommufd_*; bpftrace's
# are perf tracepoint programs. (bpftool here cannot list owner pids.)
cost() {
	jq -r --arg re "$1" '[.[] | select(.type | test($re)) |
		select(.name | test("^(btf|raw)_iommufd") or ($re == "^tracepoint$")) |
		select(.run_cnt > 0)] |
		"\(map(.run_time_ns) | add) \(map(.run_cnt) | add)"' "$tmp/progs"
}
read -r vns vcnt < <(cost '^(tracing|raw_tracepoint)$')
read -r bns bcnt < <(cost '^tracepoint$')
awk -v vn="$vns" -v vc="$vcnt" -v bn="$bns" -v bc="$bcnt" 'BEGIN {
	printf "viommu:   %d runs, %.0f ns per run\n", vc, vn / vc
	printf "bpftrace: %d runs, %.0f ns per run\n", bc, bn / bc
	printf "ratio viommu/bpftrace per event: %.3f (target <= 0.5)\n", (vn / vc) / (bn / bc) }'

echo "== 3. viommu top's CPU with 64 VMs at full rate, 1 s interval"
"$viommu" top -b 1 > /dev/null 2>&1 &
top=$!
wait_attached
read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$top/stat")
t0=$(date +%s.%N)
"$load" -V 64 -i 1 -d 10 -u 0 > /dev/null
read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$top/stat")
t1=$(date +%s.%N)
stop_tracer $top || true
hz=$(getconf CLK_TCK)
awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
	w = t1 - t0
	printf "viommu top over %.1f s: user %.2f%%, system %.2f%% of one CPU (target user < 2%%)\n",
		w, 100 * u / hz / w, 100 * s / hz / w }'
rm -rf "$tmp"
