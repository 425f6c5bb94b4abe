#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_cost.sh - what viommu top costs on a host with 1, 64 and 1,024 VMs,
# in the test VM (scripts/vm-run.sh -- tests/bench/tool_cost.sh [VIOMMU]):
# the tool's resident memory (VmRSS), the memory of its BPF maps as the
# kernel accounts it (memlock in the fdinfo of each map fd), and its CPU
# time per 1 s interval (utime + stime over 10 intervals). The VMs are
# viommu-load's, started once the tool is attached, each with a vIOMMU,
# invalidations, an S2 unmap and a fault, then held idle: every VM is in
# the maps, and the cost is that of the number of VMs, not of an event rate.
#
# Prints one line per VM count: "vms N shown S rss_kib R maps_kib M
# cpu_ms_per_interval C", S the VMs top showed with their invalidations;
# then the same as the README's table ("What the tool costs by number of
# VMs"), which make bench (tests/bench/bench.sh, step 6) prints for it.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"	# wait_until, stop_tracer
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${1:-$repo/build/viommu}
load=$repo/build/viommu-load
counts=${TOOL_COST_VMS:-1 64 1024}
intervals=10
tmp=$(mktemp -d)
loadpid= top=
trap '[ -z "$top" ] || kill -KILL $top; [ -z "$loadpid" ] || { pkill -KILL -P $loadpid; kill -KILL $loadpid; } 2>/dev/null; rm -rf "$tmp"' EXIT

vm_lines() { [ "$(grep -c '^vm ' "$1" 2>/dev/null)" -ge "$2" ]; }
# tables N: the tool has printed N JSON lines
tables() { [ "$(wc -l < "$tmp/top.out")" -ge "$1" ]; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
maps_kib() {
	local f sum=0 v
	for f in /proc/"$1"/fdinfo/*; do
		v=$(awk '/^map_type:/ { m = 1 } /^memlock:/ { if (m) print $2 }' "$f" 2>/dev/null)
		[ -n "$v" ] && sum=$((sum + v))
	done
	echo $((sum / 1024))
}

for n in $counts; do
	"$viommu" top -b --json 1 > "$tmp/top.out" 2> "$tmp/top.err" &
	top=$!
	# attached once it has printed a table
	wait_until 300 tables 1 || { echo "# top did not report: $(cat "$tmp/top.err")"; exit 1; }
	"$load" -V "$n" -n 10 -u 1 -F 1 -H 3600 > "$tmp/load" 2>&1 &
	loadpid=$!
	# 1,024 VMs under TCG take a while to set up
	wait_until 1200 vm_lines "$tmp/load" "$n" || { echo "# load of $n VMs not ready"; exit 1; }
	# from the next table on, every VM is in the maps and idle
	read -r now < <(wc -l < "$tmp/top.out")
	wait_until 60 tables $((now + 1))
	t0=$(cpu_ticks $top)
	wait_until 300 tables $((now + 1 + intervals))
	t1=$(cpu_ticks $top)
	rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$top/status)
	maps=$(maps_kib $top)
	shown=$(tail -1 "$tmp/top.out" | jq '[.vms[] | select(.guest_invals_total > 0)] | length')
	kill -INT $top; wait $top; top=
	pkill -P $loadpid; wait $loadpid 2>/dev/null; loadpid=
	echo "vms $n shown $shown rss_kib $rss maps_kib $maps cpu_ms_per_interval" \
		"$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v k=$intervals 'BEGIN { printf "%.1f", d * 1000 / hz / k }')" |
		tee -a "$tmp/lines"
done

# The README's table, from the lines above (tests/unit/bench_docs.sh
# checks that the README's has this header and a row per VM count)
echo
echo "| VMs | BPF maps | tool RSS | CPU per 1 s interval |"
echo "| --- | --- | --- | --- |"
awk 'function commas(n,  s, r) {
		s = sprintf("%d", n)
		for (r = ""; length(s) > 3; s = substr(s, 1, length(s) - 3))
			r = "," substr(s, length(s) - 2) r
		return s r
	}
	{ printf "| %s | %s KiB | %.1f MiB | %s ms |\n", commas($2), commas($8), $6 / 1024, $10 }' "$tmp/lines"
