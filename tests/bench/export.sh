#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# export.sh - viommu export's cost, in the test VM (part of bench.sh; run
# alone with scripts/vm-run.sh [--icount -c 1] -- tests/bench/export.sh).
#
# For 1, 64 and 1,024 VMs held by viommu-load (one vIOMMU each, 10 guest
# invalidations and one S2 unmap each): the series a scrape returns, its
# size, the scrape latency a client sees (median of SCRAPES scrapes by
# curl, one after the other) and the exporter's CPU time per scrape
# (utime + stime over the scrapes) and per interval without scrapes. Then
# the same at 64 VMs while they invalidate at full speed: a scrape reads
# the maps, not the events, so its CPU must not follow the event rate.
# Under --icount a guest second is 10^9 guest instructions.
#
# usage: export.sh [VMS...]    (default: 1 64 1024)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:-$repo/build/viommu-load}
tmp=$(mktemp -d)
exp= loadpid=
cleanup() {
	[ -z "$loadpid" ] || { pkill -KILL -P "$loadpid"; kill -KILL "$loadpid"; } 2>/dev/null || :
	[ -z "$exp" ] || kill -KILL "$exp" 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of PID, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start_exporter() {
	"$viommu" export -l 127.0.0.1:0 --grace 1 5 > "$tmp/exp.out" 2> "$tmp/exp.err" &
	exp=$!
	for _ in $(seq 600); do
		grep -q '^Serving' "$tmp/exp.out" && break
		sleep 0.1
	done
	url=$(sed -n 's|^Serving \(http://[^ ]*\) .*|\1|p' "$tmp/exp.out")
	[ -n "$url" ] || { cat "$tmp/exp.err" >&2; exit 1; }
}

# hold N ARGS...: viommu-load with N VMs holding their objects, reported
hold() {
	local n=$1
	shift
	"$load" -V "$n" "$@" -H 3600 > "$tmp/load" 2>&1 &
	loadpid=$!
	until [ "$(grep -c '^vm ' "$tmp/load")" -ge "$n" ]; do
		kill -0 "$loadpid" 2>/dev/null || { cat "$tmp/load" >&2; exit 1; }
		sleep 0.5
	done
}
# exported N: the exporter exports N VMs
exported() { curl -sf "$url" | grep -qx "viommu_exporter_vms $1"; }
# release: end the load, and wait until the exporter has dropped its VMs
release() {
	pkill -P "$loadpid" || :
	wait "$loadpid" 2>/dev/null || :
	loadpid=
	until exported 0; do sleep 1; done
}

# measure LABEL N SCRAPES: one row of the table
measure() {
	local label=$1 n=$2 scrapes=$3 t0 t1 lat series bytes idle
	curl -sf "$url" > "$tmp/scrape"
	series=$(grep -vc '^#' "$tmp/scrape")
	bytes=$(wc -c < "$tmp/scrape")
	t0=$(cpu_ticks "$exp")
	for _ in $(seq "$scrapes"); do
		curl -sf -o /dev/null -w '%{time_total}\n' "$url"
	done | sort -n > "$tmp/lat"
	t1=$(cpu_ticks "$exp")
	lat=$(awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] * 1000 }' "$tmp/lat")
	# no scrapes for 4 intervals of 5 s: the look for gone VMs alone
	local i0 i1
	i0=$(cpu_ticks "$exp")
	sleep 20
	i1=$(cpu_ticks "$exp")
	idle=$(awk -v a="$i0" -v b="$i1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz * 1000 / 4 }')
	printf '%s|%d|%d|%d|%s|%s|%s\n' "$label" "$n" "$series" "$bytes" "$lat" \
		"$(awk -v a="$t0" -v b="$t1" -v s="$scrapes" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz * 1000 / s }')" \
		"$idle" >> "$tmp/table"
}

echo "== viommu export: scrape cost by VMs${VIOMMU_ICOUNT:+ (guest time under icount: 1 ms = 1 M guest instructions)}"
start_exporter
echo "load|VMs|series|bytes|scrape latency, median (ms)|exporter CPU per scrape (ms)|exporter CPU per 5 s interval, no scrape (ms)" > "$tmp/table"
for n in "${@:-1 64 1024}"; do
	for n1 in $n; do
		hold "$n1" -i 1 -n 10 -e 1 -u 1
		if [ "$n1" -ge 1024 ]; then s=10; elif [ "$n1" -ge 64 ]; then s=30; else s=100; fi
		measure held "$n1" "$s"
		release
	done
done
# 64 VMs invalidating flat out while scraped (they report only at the
# end: wait until all are exported)
"$load" -V 64 -i 1 -d 3600 -u 0 > "$tmp/load" 2>&1 &
loadpid=$!
until exported 64; do sleep 1; done
measure invalidating 64 30
release
kill -INT "$exp"
wait "$exp" || :
exp=
column -t -s'|' "$tmp/table"
cp "$tmp/table" "${VM_RESULTS:-$tmp}/export-bench.txt" 2>/dev/null || :
