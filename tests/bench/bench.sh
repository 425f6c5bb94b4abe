#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench.sh - "make bench", in a test VM booted with vm-run.sh --icount:
#   1. guest instructions per event of each kind (tests/perf/measure.sh):
#      events off, an empty BPF program on viommu top's events (the floor),
#      viommu top, and an equivalent bpftrace program; medians of 5 rounds
#   2. BPF run time per event as the kernel counts it (bpf_stats; an
#      instruction count here) of viommu's programs and of an equivalent
#      bpftrace program attached at the same time, on the same events
#   3. viommu top's own instructions per 1 s interval with 64 VMs (from 1)
#   4. an fdinfo reader against the VM's ioctls (tests/bench/fdinfo_stall.c)
#   5. viommu export: scrape latency and the exporter's CPU at 1, 64 and
#      1,024 VMs, and at 64 VMs invalidating (tests/bench/export.sh)
#   6. viommu top's memory (RSS, BPF maps) and CPU per interval at 1, 64
#      and 1,024 VMs (tests/bench/tool_cost.sh): the README's table
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"	# stop_tracer
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=$repo/build/viommu
load=$repo/build/viommu-load
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== 1. guest instructions per event"
"$repo/tests/perf/measure.sh" --rounds "${BENCH_ROUNDS:-5}" --bpftrace --tool-interval --out "$tmp/f.json"
cp "$tmp/f.json" "${VM_RESULTS:-$tmp}/figures.json"
jq -r '.figures as $f |
	def row($k): ($f[$k + ".off"]) as $off |
		"\($k)|\($off)|\($f[$k + ".empty"] - $off)|\($f[$k + ".top"] - $off)|\($f[$k + ".top"] - $f[$k + ".empty"])|\(if $f[$k + ".bpftrace"] then ($f[$k + ".bpftrace"] - $off) else "-" end)|\(($off / $f[$k + ".top"]) * 1000 | round / 1000)";
	"event|off|+floor|+viommu top|of which program|+bpftrace|rate ratio top/off",
	row("guest_inval"), row("s2_unmap"), row("fault"),
	"top.insns_per_interval_64vms|\($f["top.insns_per_interval_64vms"])|||||"' "$tmp/f.json" |
	column -t -s'|'

echo "== 2. BPF run time per event: viommu against bpftrace, attached together"
sysctl -qw kernel.bpf_stats_enabled=1
"$viommu" top -b 3600 > /dev/null 2>&1 &
top=$!
bpftrace -e 'BEGIN { printf("ready\n"); }
	tracepoint:iommufd:iommufd_cache_invalidate_end {
		@lat_us[args->ictx_id] = hist(args->duration_ns / 1000);
		@invals[args->ictx_id] = count();
		@entries[args->ictx_id] = sum(args->done_num); }' > "$tmp/bt" 2>&1 &
bt=$!
until grep -q '^ready' "$tmp/bt" &&
      [ "$(bpftool prog show 2>/dev/null | grep -c 'name btf_iommufd')" -ge 18 ]; do
	sleep 0.2
done
"$load" -V 4 -i 2 -e 4 -d 0.5 -u 0 > /dev/null
bpftool prog show --json > "$tmp/progs"
stop_tracer $bt > /dev/null || true
stop_tracer $top > /dev/null || true
sysctl -qw kernel.bpf_stats_enabled=0
# viommu's invalidation-end program against bpftrace's (a perf
# tracepoint program): run time over runs of each
cost() {
	jq -r --arg n "$1" '[.[] | select((.name | startswith($n)) and .run_cnt > 0)] |
		"\(map(.run_time_ns) | add) \(map(.run_cnt) | add)"' "$tmp/progs"
}
read -r vns vcnt < <(cost btf_iommufd_cac)
read -r bns bcnt < <(jq -r '[.[] | select(.type == "tracepoint" and .run_cnt > 0)] |
	"\(map(.run_time_ns) | add) \(map(.run_cnt) | add)"' "$tmp/progs")
awk -v vn="$vns" -v vc="$vcnt" -v bn="$bns" -v bc="$bcnt" 'BEGIN {
	printf "viommu (invalidation end): %d runs, %.0f insns per run\n", vc, vn / vc
	printf "bpftrace:                  %d runs, %.0f insns per run\n", bc, bn / bc
	printf "ratio viommu/bpftrace per event: %.3f\n", (vn / vc) / (bn / bc) }'

echo "== 4. an fdinfo reader against the VM's ioctls (10,000 objects)"
# One vCPU under instruction counting: a reader holding the context's
# object lock delays the invalidation for as long as it holds it. p99 and
# max of 2,000 guest invalidations, without and with a reader looping.
for reader in "" -r; do
	"$repo/build/tests/fdinfo_stall" -n 10000 -c 2000 $reader
done | jq -r '"reader \(.reader): p50 \(.p50_ns) p99 \(.p99_ns) max \(.max_ns) ns (\(.fdinfo_reads) fdinfo reads)"'

echo "== 5. viommu export: scrape cost at 1, 64 and 1,024 VMs"
"$repo/tests/bench/export.sh"

echo "== 6. viommu top's memory and CPU at 1, 64 and 1,024 VMs (README: What the tool costs by number of VMs)"
"$repo/tests/bench/tool_cost.sh"
