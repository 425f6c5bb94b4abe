#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bpftrace_tools.sh - each scripts/bpftrace tool, run against viommu-load
# with a known plan, reports exactly what the load did: counts per VM and
# vIOMMU, VMIDs and vRIDs, not only a zero exit status.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=$repo/scripts/bpftrace
load=${VIOMMU_LOAD:?path of viommu-load}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_tool TOOL LOAD-ARGS...: start the tool, wait for its banner, run the
# load, stop the tool with SIGINT; leaves $tmp/out and $tmp/load
run_tool() {
	local tool=$1 bt
	shift
	bpftrace "$tools/$tool" > "$tmp/out" 2>&1 &
	bt=$!
	for _ in $(seq 600); do
		grep -q '^Tracing' "$tmp/out" && break
		sleep 0.1
	done
	"$load" "$@" > "$tmp/load"
	stop_tracer $bt
}

# load_field KIND KEY [MATCH]: values of KEY on the load's KIND lines
load_field() { grep "^$1 " "$tmp/load" | grep -- "${3:-}" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

tap_plan 16

run_tool viommu_invlat.bt -V 2 -i 2 -n 10 -e 3 -u 0
tap_result $? "viommu_invlat.bt exits cleanly" "$(cat "$tmp/out")"
grep '^viommu ' "$tmp/load" | sed 's/.* pid=\([0-9]*\) viommu=\([0-9]*\).*/\1 \2/' > "$tmp/pairs"
matched=0
while read -r pid viommu; do
	grep -qx "@requests\[$pid, $viommu\]: 10" "$tmp/out" &&
		grep -qx "@entries\[$pid, $viommu\]: 30" "$tmp/out" &&
		matched=$((matched + 1))
done < "$tmp/pairs"
is "viommu_invlat.bt: 10 requests, 30 entries for each of the 4 (VM, vIOMMU)" "$matched" 4
is "viommu_invlat.bt: one histogram per VM and vIOMMU" "$(grep -c '^@usecs\[' "$tmp/out")" 4

run_tool viommu_s2fanout.bt -V 1 -i 3 -n 0 -u 5
tap_result $? "viommu_s2fanout.bt exits cleanly" "$(cat "$tmp/out")"
pid=$(load_field vm pid)
is "viommu_s2fanout.bt: unmap count" "$(grep "^@unmaps\[$pid\]:" "$tmp/out")" "@unmaps[$pid]: 5"
# fan-out 3 falls in the log2 bucket [2, 4)
grep -A3 "^@fanout\[$pid\]:" "$tmp/out" | grep -Eq '^\[2, 4\) +5 '
tap_result $? "viommu_s2fanout.bt: every unmap touched 3 VMIDs" "$(cat "$tmp/out")"

run_tool viommu_vmid.bt -V 2 -i 2 -n 0 -u 0
tap_result $? "viommu_vmid.bt exits cleanly" "$(cat "$tmp/out")"
is "viommu_vmid.bt: 4 assigns" "$(grep -c ' assign ' "$tmp/out")" 4
is "viommu_vmid.bt: 4 releases" "$(grep -c ' release ' "$tmp/out")" 4
want=$(load_field viommu vmid | sort -n | tr '\n' ' ')
got=$(awk '$2 == "assign" { print $6 }' "$tmp/out" | sort -n | tr '\n' ' ')
is "viommu_vmid.bt: the VMIDs the load's vIOMMUs have" "$got" "$want"

run_tool viommu_faults.bt -V 1 -i 2 -n 0 -u 0 -E 70 -F 3
tap_result $? "viommu_faults.bt exits cleanly" "$(cat "$tmp/out")"
pid=$(load_field vm pid)
is "viommu_faults.bt: queued vEVENTs (depth 64, 2 vIOMMUs)" \
	"$(grep "^@vevents\[$pid, queued\]:" "$tmp/out")" "@vevents[$pid, queued]: 128"
is "viommu_faults.bt: lost vEVENTs" \
	"$(grep "^@vevents\[$pid, lost_full\]:" "$tmp/out")" "@vevents[$pid, lost_full]: 12"
is "viommu_faults.bt: IOPFs per vRID" \
	"$(grep "^@iopfs\[$pid, " "$tmp/out" | sort | tr '\n' ' ')" \
	"@iopfs[$pid, 256]: 3 @iopfs[$pid, 257]: 3 "

run_tool viommu_objects.bt -V 1 -i 2 -n 0 -u 0
pid=$(load_field vm pid)
is "viommu_objects.bt: vDEVICEs with the load's vRIDs" \
	"$(grep -c " vdevice_alloc .*virt_id=0x10[01]$" "$tmp/out")" 2
is "viommu_objects.bt: every object created is destroyed" \
	"$(grep -c "^[0-9]* *$pid .*_alloc " "$tmp/out") $(grep -c "^[0-9]* *$pid .*_destroy " "$tmp/out")" "8 8"
tap_done
