#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_hist.sh - what the viommu tool keeps, drops and forgets: a vIOMMU
# id the kernel reuses starts a histogram of its own, and counts of its own
# in top's per-vIOMMU lines (no wrap-around); every update a full
# map refused is counted by reason (map sizes shrunk with
# VIOMMU_MAX_ENTRIES), in top, lat and record; fault start times the
# kernel answered itself and VMs that went away are forgotten, so a host
# where VMs come and go does not fill the maps.
#
# No fixed sleeps: a tool is ready when the fdinfo of its fds shows its BPF
# links; every wait is bounded and a timeout fails the check.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
churn=${TEST_BIN:?}/viommu_churn
load=${VIOMMU_LOAD:?path of viommu-load}
tool_scratch
declare -A st

# links NAME: how many BPF links the tool holds (18 once attached)
_links() {
	local links
	count_links "${pid[$1]}"
	[ "$links" -ge 18 ] || ! kill -0 "${pid[$1]}" 2>/dev/null
}
attached() { wait_until 120 _links "$1" && kill -0 "${pid[$1]}" 2>/dev/null; }
# stop NAME: SIGINT, its exit status in st[NAME]
stop() {
	stop_tracers "${pid[$1]}"
	st[$1]=${tracer_rc[${pid[$1]}]}
	unset "pid[$1]"
}

# entries NAME: entries in all the maps called NAME (of the tools running)
entries() {
	local id n=0
	for id in $(bpftool -j map show | jq -r --arg n "$1" '.[] | select(.name == $n) | .id'); do
		n=$((n + $(bpftool -j map dump id "$id" | jq length)))
	done
	echo "$n"
}
empty() { [ "$(entries "$1")" = 0 ]; }

tap_plan 10

# --- a vIOMMU id reused by the kernel's xarray starts afresh ---
launch reuse lat --per-viommu --json
attached reuse
att=$?
"$churn" reuse 7 13 > "$tmp/churn"
rc=$?
stop reuse
first=$(sed -n 's/.* first=\([0-9]*\) .*/\1/p' "$tmp/churn")
is "churn: the second vIOMMU got the first one's id" "$att $rc $(sed -n 's/.* second=\([0-9]*\) .*/\1/p' "$tmp/churn")" "0 0 $first"
is "lat --per-viommu: the reused id is two vIOMMUs, in alloc order, with 7 and 13 invalidations" \
	"${st[reuse]} $(jq -r '.viommus[] | "\(.viommu) \(.gone) \(.guest_inval.count)"' "$tmp/reuse.out" | tr '\n' ,)" \
	"0 $first true 7,$first true 13,"

# --- top -x: the reused id's second vIOMMU counts from its own start ---
# 13 invalidations, destroyed, then 1 s later (intervals later) the id's
# next vIOMMU does 7, fewer than the first: a previous reading kept by id
# alone mixes the two up (top before the delta layer summed 13 here)
launch reusetop top -b --json -x 0.3
attached reusetop
att=$?
"$churn" reuse 13 7 1000 > "$tmp/churn2"
rc=$?
# two more intervals: the last invalidations are read
lines() { [ "$(wc -l < "$tmp/reusetop.out")" -ge "$1" ]; }
read -r now < <(wc -l < "$tmp/reusetop.out")
wait_until 30 lines $((now + 2))
stop reusetop
id=$(sed -n 's/.* second=\([0-9]*\) .*/\1/p' "$tmp/churn2")
vmpid=$(sed -n 's/^reuse pid=\([0-9]*\) .*/\1/p' "$tmp/churn2")
is "top -x: the reused id $id's two vIOMMUs, 13 and 7 invalidations, sum to 20 over the intervals (no wrap-around)" \
	"$att $rc ${st[reusetop]} $(jq -s --argjson p "${vmpid:-0}" --argjson id "${id:-0}" \
		'[.[].vms[] | select(.vmm_pid == $p) | .viommu_detail[] | select(.viommu == $id) | .guest_invals] | add' "$tmp/reusetop.out")" \
	"0 0 0 20"

# --- drops: vm_stats full (room for 1 VM, 2 VMs): top's JSON and header ---
VIOMMU_MAX_ENTRIES=vm_stats=1 launch topj top -b --json 0.5
VIOMMU_MAX_ENTRIES=vm_stats=1 launch topt top -b 0.5
attached topj && attached topt
att=$?
hold_load "$tmp/load" 2 -V 2 -n 5 -u 0
held=$?
# the VM without room: its vIOMMU alloc and 5 invalidations, 6 updates
top_dropped() { [ "$(tail -1 "$tmp/topj.out" | jq .drops.vm_stats)" = 6 ] && grep -q 'drops: 6 (vm_stats 6)$' "$tmp/topt.out"; }
wait_until 60 top_dropped
stop topj
stop topt
release_load
is "top, vm_stats full: each JSON line has the drops; the VM without room is its 6 updates, the other is counted" \
	"$att $held ${st[topj]} $(tail -1 "$tmp/topj.out" | jq -c '[.drops, [.vms[].guest_invals_total]]')" \
	"0 0 0 [{\"vm_stats\":6,\"viommu_stats\":0,\"viommu_lat\":0,\"fault_starts\":0,\"task_storage\":0,\"ringbuf\":0,\"vm_idents\":0},[5]]"
is "top -b, vm_stats full: the header of each table says so" \
	"${st[topt]} $(grep -c '^[0-9:]\{8\}  drops: ' "$tmp/topt.out" | sed 's/^[1-9][0-9]*$/some/') $(grep '^[0-9:]\{8\}  drops: ' "$tmp/topt.out" | tail -1 | cut -d' ' -f3-)" \
	"0 some drops: 6 (vm_stats 6)"

# --- drops: viommu_stats full (room for 1 of 2 vIOMMUs): record ---
VIOMMU_MAX_ENTRIES=viommu_stats=1 "$viommu" record -o "$tmp/vs.json" -- "$load" -V 1 -i 2 -n 3 -u 0 \
	> /dev/null 2> "$tmp/err"
# the second vIOMMU's VMID assign, alloc, destroy and VMID release
is "record, viommu_stats full: the second vIOMMU's 4 updates dropped, in the record and its summary" \
	"$? $(jq -c '[.drops.viommu_stats, .total.viommus_allocated, .total.guest_invals]' "$tmp/vs.json") $(grep -c 'drops 4 (viommu_stats 4) ->' "$tmp/err")" \
	"0 [4,2,6] 1"

# --- drops: viommu_lat full (room for 1 of 2 vIOMMUs): lat --per-viommu ---
VIOMMU_MAX_ENTRIES=viommu_lat=1 launch vl lat --per-viommu --json
attached vl
att=$?
"$load" -V 1 -i 2 -n 5 -u 0 > "$tmp/load"
stop vl
is "lat --per-viommu, viommu_lat full: one vIOMMU's 5 samples, the other's 5 dropped" \
	"$att ${st[vl]} $(jq -c '[.drops.viommu_lat, [.viommus[].guest_inval.count]]' "$tmp/vl.out")" "0 0 [5,[5]]"

# --- fault start times the kernel answered itself are forgotten with the VM ---
VIOMMU_MAX_ENTRIES=starts=4 launch flt lat --json 0.5
attached flt
att=$?
"$churn" faults 4 > /dev/null
# the VM exited with 4 faults unanswered: lat forgets it, and their starts
wait_until 30 empty starts
gone=$?
"$churn" answer 5 > "$tmp/churn"
answered=$(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' "$tmp/churn")
flt_seen() { [ "$(jq -s --argjson p "$answered" '[.[].vms[] | select(.vmm_pid == $p) | .lat.fault.count] | add' "$tmp/flt.out")" = 5 ]; }
wait_until 30 flt_seen
stop flt
is "lat, 4 fault starts the kernel answered: forgotten with their VM; the next VM's 5 faults all measured, no drops" \
	"$att $gone ${st[flt]} $(jq -s --argjson p "$answered" '[.[].vms[] | select(.vmm_pid == $p) | .lat.fault.count] | add' "$tmp/flt.out") $(tail -1 "$tmp/flt.out" | jq .drops.fault_starts)" \
	"0 0 0 5 0"

# --- VMs that come and go: record and lat forget them (room for 2, 6 VMs) ---
VIOMMU_MAX_ENTRIES=vm_stats=2 launch rec record -o "$tmp/churn.json"
VIOMMU_MAX_ENTRIES=vm_stats=2 launch lat lat --json
attached rec && attached lat
att=$?
pids=
for i in 1 2 3 4 5 6; do
	"$load" -V 1 -n 3 -u 0 > "$tmp/load"
	pids="$pids $(sed -n 's/^vm .* pid=\([0-9]*\) .*/\1/p' "$tmp/load")"
	# both have read the VM's last figures and forgotten it
	wait_until 30 empty vm_stats || echo "# vm_stats still has $(entries vm_stats) entries"
done
stop rec
stop lat
want=$(for p in $pids; do echo "$p 3"; done | sort -n)
is "record, 6 VMs one after another, room for 2: each VM with its 3 invalidations, no drops" \
	"$att ${st[rec]} $(jq -r '.vms[] | "\(.vmm_pid) \(.guest_invals)"' "$tmp/churn.json" | sort -n | tr '\n' ,) $(jq '[.drops[]] | add' "$tmp/churn.json")" \
	"0 0 $(tr '\n' , <<< "$want") 0"
is "lat (one report at the end), the same 6 VMs: each with its 3 invalidations, no drops" \
	"${st[lat]} $(jq -r '.vms[] | "\(.vmm_pid) \(.lat.guest_inval.count)"' "$tmp/lat.out" | sort -n | tr '\n' ,) $(jq '[.drops[]] | add' "$tmp/lat.out")" \
	"0 $(tr '\n' , <<< "$want") 0"

tap_done
