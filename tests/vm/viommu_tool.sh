#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_tool.sh - the viommu CLI against viommu-load with a known plan:
# each command must report exactly what the load did (counts per VM and
# vIOMMU, VMIDs, vRIDs, the KVM pid, the object tree), see an injected
# slowdown on the right VM, and behave on bad input and signals.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The tool's programs are attached: 18 events (20 for trace), tp_btf or raw_tp
attached() { [ "$(bpftool prog show 2>/dev/null | grep -cE 'name (btf|raw)_iommufd')" -ge 18 ]; }
wait_attached() {
	for _ in $(seq 300); do attached && { sleep 0.5; return 0; }; sleep 0.1; done
	return 1
}
wait_detached() {
	for _ in $(seq 100); do attached || return 0; sleep 0.1; done
	return 1
}
# start TOOL-ARGS...: run viommu in the background into $tmp/out
start() {
	"$viommu" "$@" > "$tmp/out" 2> "$tmp/err" &
	tool=$!
	wait_attached || echo "# viommu $* did not attach: $(cat "$tmp/err")"
}
stop() { stop_tracer "$tool"; }
load_field() { grep "^$1 " "$tmp/load" | grep -- "${3:-}" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

tap_plan 42

# --- top: per-VM totals, VMIDs, KVM pid ---
start top -b --json 1
"$load" -k -V 3 -i 2 -n 50 -e 3 -u 4 -E 70 -F 5 -H 2.5 > "$tmp/load"
sleep 1.5
stop
tap_result $? "top: stops on SIGINT with status 0" "$(cat "$tmp/err")"
tap_result "$(wait_detached; echo $?)" "top: detached its programs on exit"
is "top: one JSON object per line, schema 1" \
	"$(jq -r '"\(.schema_version) \(.type)"' "$tmp/out" | sort -u)" "1 viommu-top"
ok=0
for pid in $(load_field vm pid); do
	# the largest totals seen for this VMM over all intervals
	got=$(jq -s -r --argjson p "$pid" '[.[].vms[] | select(.pid == $p)] |
		"\(map(.guest_invals_total) | max) \(map(.guest_inval_entries_total) | max)" +
		" \(map(.s2_invals_total) | max) \(map(.vmid_invals_total) | max)" +
		" \(map(.vevents_queued_total) | max) \(map(.vevents_lost_total) | max)" +
		" \(map(.faults_total) | max) \(map(.fault_responses_total) | max)" +
		" \(map(.viommus) | max) \(map(.kvm_pid) | max)"' "$tmp/out")
	[ "$got" = "100 300 4 8 128 12 10 10 2 $pid" ] && ok=$((ok + 1)) || echo "# vm $pid: $got"
done
is "top: each of 3 VMs: 100 invalidations, 300 entries, 4 S2, 8 VMID invals, 128+12 vEVENTs, 10 faults, 2 vIOMMUs, KVM pid" "$ok" 3
want=$(load_field viommu vmid | sort -n | tr '\n' ' ')
got=$(jq -r '.vms[].vmids[]' "$tmp/out" | sort -un | tr '\n' ' ')
is "top: the VMIDs are the load's" "$got" "$want"
is "top: S2 fan-out is 2 VMIDs per unmap" \
	"$(jq -r '.vms[] | select(.s2_fanout != null) | .s2_fanout' "$tmp/out" | sort -u)" "2"

# SIGTERM, as a service manager stops it: clean exit, programs detached
start top -b 1
kill -TERM $tool
wait $tool
is "top: SIGTERM ends it with status 0" "$?" 0
tap_result "$(wait_detached; echo $?)" "top: detached its programs after SIGTERM"

# --- top text mode and viommu-top ---
"$repo/build/viommu-top" -b -n 1 0.5 > "$tmp/text" 2>&1
tap_result $? "viommu-top -b -n 1 runs top once" "$(cat "$tmp/text")"
grep -q '^    VM     PID COMM' "$tmp/text"
tap_result $? "top: batch table header" "$(cat "$tmp/text")"

# On a terminal: the curses screen, refreshed, then gone at the count
"$load" -V 2 -n 0 -u 0 -H 30 > /dev/null 2>&1 &
loadpid=$!
sleep 1
TERM=xterm script -qec "$viommu top -n 2 0.5" /dev/null > "$tmp/screen" 2>&1
rc=$?
pkill -P $loadpid; kill $loadpid 2>/dev/null
wait $loadpid
grep -q 'viommu top - .*VMs: 2 ' "$tmp/screen" && grep -q 'VMIDS' "$tmp/screen"
is "top on a terminal: a screen with both VMs, exit 0" "$rc $?" "0 0"

# --- lat: per-VM histograms; an injected delay shows on the slow VM only ---
start lat --json
"$load" -V 3 -i 1 -n 40 -u 3 -D 5000 -s 1 > "$tmp/load"
stop
tap_result $? "lat: stops on SIGINT with status 0" "$(cat "$tmp/err")"
slow=$(load_field vm pid "delay_us=5000")
is "lat: 40 guest invalidations per VM" \
	"$(jq -r '.vms[].lat.guest_inval.count' "$tmp/out" | sort -u)" "40"
is "lat: 3 S2 invalidations per VM" "$(jq -r '.vms[].lat.s2_inval.count' "$tmp/out" | sort -u)" "3"
is "lat: the slow VM's p50 is at least the 5 ms delay" \
	"$(jq -r --argjson p "$slow" '.vms[] | select(.pid == $p) | .lat.guest_inval.p50_us >= 5000' "$tmp/out")" "true"
is "lat: the other VMs' p50 is below it" \
	"$(jq -r --argjson p "$slow" '[.vms[] | select(.pid != $p) | .lat.guest_inval.p50_us < 5000] | unique | tostring' "$tmp/out")" '[true]'

start lat -V --json
"$load" -V 1 -i 3 -n 7 -u 0 > "$tmp/load"
stop
is "lat -V: 7 invalidations on each of the 3 vIOMMUs" \
	"$(jq -r '.viommus[].guest_inval.count' "$tmp/out" | tr '\n' ' ')" "7 7 7 "
is "lat -V: their VMIDs" "$(jq -r '.viommus[].vmid' "$tmp/out" | sort -n | tr '\n' ' ')" \
	"$(load_field viommu vmid | sort -n | tr '\n' ' ')"

start lat 2 2
"$load" -V 1 -n 20 -u 0 > "$tmp/load"
wait "$tool"
tap_result $? "lat 2 2: two intervals, then exits by itself"
grep -q '^     usecs               : count    distribution$' "$tmp/out"
tap_result $? "lat: BCC histogram header" "$(cat "$tmp/out")"

# --- topo: the tree from fdinfo, objects made before the tool ---
"$load" -k -V 2 -i 2 -n 0 -u 0 -H 4 > "$tmp/load" &
loadpid=$!
sleep 2
"$viommu" topo --json > "$tmp/topo" 2> "$tmp/err"
tap_result $? "topo --json" "$(cat "$tmp/err")"
"$viommu" topo > "$tmp/tree" 2>&1
wait $loadpid
ok=0
for pid in $(load_field vm pid); do
	got=$(jq -r --argjson p "$pid" '.vms[] | select(.pid == $p) | .objects as $o |
		"\([$o[] | select(.type == "viommu")] | length)" +
		" \([$o[] | select(.type == "viommu") | .kvm_pid == $p] | all)" +
		" \([$o[] | select(.type == "vdevice") | .virt_id] | sort | map(tostring) | join(","))" +
		" \([$o[] | select(.type == "hwpt_paging" and .nest_parent)] | length)" +
		" \([$o[] | select(.type == "hwpt_nested")] | length)" +
		" \([$o[] | select(.type == "veventq" and .depth == 64)] | length)"' "$tmp/topo")
	[ "$got" = "2 true 256,257 1 2 2" ] && ok=$((ok + 1)) || echo "# vm $pid: $got"
done
is "topo: each VM: 2 vIOMMUs on its KVM, vRIDs 0x100 0x101, 1 nest parent, 2 nested, 2 vEVENTQs" "$ok" 2
is "topo: the VMIDs are the load's" \
	"$(jq -r '.vms[].objects[] | select(.type == "viommu") | .vmid' "$tmp/topo" | sort -n | tr '\n' ' ')" \
	"$(load_field viommu vmid | sort -n | tr '\n' ' ')"
# ioas > hwpt_paging > viommu > vdevice: three levels of indent first
is "topo: vDEVICEs sit under their vIOMMU in the tree" \
	"$(awk 'index($0, "- vdevice ") == 11' "$tmp/tree" | grep -c 'virt_id 0x10[01]$')" 4

start topo --watch --json
"$load" -V 1 -i 1 -n 0 -u 0 > "$tmp/load"
sleep 1
stop
is "topo --watch: + and - of the vIOMMU, vDEVICE, nested HWPT, vEVENTQ and VMID" \
	"$(jq -r 'select(.change) | "\(.change) \(.type)"' "$tmp/out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')" \
	" 1 add hwpt_nested, 1 add vdevice, 1 add veventq, 1 add viommu, 1 add vmid, 1 remove hwpt_nested, 1 remove vdevice, 1 remove veventq, 1 remove viommu, 1 remove vmid,"

# --- trace: every event, counted exactly ---
start trace --json
"$load" -V 1 -i 1 -n 10 -e 2 -u 2 -F 2 > "$tmp/load"
sleep 1
stop
ev() { jq -r "select(.event == \"$1\") | .event" "$tmp/out" | wc -l; }
is "trace: 10 guest_inval, 2 s2_inval, 2 vmid_inval, 2 fault, 2 fault_response" \
	"$(ev guest_inval) $(ev s2_inval) $(ev vmid_inval) $(ev fault) $(ev fault_response)" "10 2 2 2 2"
is "trace: every guest_inval has done=2 and a latency" \
	"$(jq -r 'select(.event == "guest_inval") | "\(.done) \(.lat_ns > 0)"' "$tmp/out" | sort -u)" "2 true"
is "trace: faults carry the vRID" \
	"$(jq -r 'select(.event == "fault") | .virt_id' "$tmp/out" | sort -u)" "256"
is "trace: totals on exit, every event shown, nothing lost" \
	"$(tail -1 "$tmp/err")" "viommu trace: $(wc -l < "$tmp/out") events, 0 lost"

# --- the raw_tp fallback sees the same events ---
VIOMMU_ATTACH=raw_tp start trace --json
is "raw_tp fallback: 20 raw_tp programs, no tp_btf ones" \
	"$(bpftool prog show | grep -c 'name raw_iommufd') $(bpftool prog show | grep -c 'name btf_iommufd')" "20 0"
"$load" -V 1 -i 1 -n 10 -e 2 -u 2 -F 2 > "$tmp/load"
sleep 1
stop
is "raw_tp fallback: the same 10 guest_inval (with latency), 2 s2_inval, 2 fault_response" \
	"$(jq -r 'select(.event == "guest_inval" and .lat_ns > 0) | .event' "$tmp/out" | wc -l) $(ev s2_inval) $(ev fault_response)" "10 2 2"

# --- trace: ring buffer overflow is counted, never silent ---
start trace --ringbuf-pages 1
# a reader that stalls while 2040 events arrive in a 4 KiB buffer
kill -STOP $tool
"$load" -V 1 -i 4 -n 500 -u 0 > "$tmp/load"
kill -CONT $tool
sleep 1
stop
seen=$(sed -n 's/^viommu trace: \([0-9]*\) events, \([0-9]*\) lost$/\1/p' "$tmp/err")
lost=$(sed -n 's/^viommu trace: \([0-9]*\) events, \([0-9]*\) lost$/\2/p' "$tmp/err")
# 2000 invalidations plus 4 x (viommu, vdevice, nested, veventq) alloc and
# destroy, VMID assign and release: 2040 events in all
is "trace: with a 4 KiB buffer, events shown + lost = all 2040" "$((seen + lost))" 2040
tap_result "$([ "${lost:-0}" -gt 0 ] && grep -q '^LOST [0-9]* events' "$tmp/out"; echo $?)" \
	"trace: the loss is reported inline as LOST lines" "$(tail -3 "$tmp/out")"

# --- record / compare: an injected regression fails, a clean run passes ---
"$viommu" record -o "$tmp/base.json" -s inval -- "$load" -V 2 -n 300 -u 0 > /dev/null 2> "$tmp/err"
tap_result $? "record -- COMMAND: the command's status" "$(cat "$tmp/err")"
is "record: counts of the run" "$(jq -r '"\(.total.vms) \(.total.guest_invals) \(.command_status)"' "$tmp/base.json")" "2 600 0"
"$viommu" record -o "$tmp/same.json" -s inval -- "$load" -V 2 -n 300 -u 0 > /dev/null 2>&1
"$viommu" record -o "$tmp/slow.json" -s inval -- "$load" -V 2 -n 300 -u 0 -D 2000 > /dev/null 2>&1
"$viommu" compare -D 1000 "$tmp/base.json" "$tmp/same.json" > "$tmp/cmp" 2>&1
is "compare: a run like the baseline passes (exit 0)" "$?" 0
"$viommu" compare -D 1000 "$tmp/base.json" "$tmp/slow.json" > "$tmp/cmp" 2>&1
is "compare: a 2 ms slower IOMMU fails (exit 1)" "$?" 1
grep -q '^guest_inval p50_us .* REGRESSION$' "$tmp/cmp"
tap_result $? "compare: names the regressed percentile" "$(cat "$tmp/cmp")"
"$viommu" record -o "$tmp/fail.json" -- sh -c 'exit 3' > /dev/null 2>&1
is "record: a failing command's status comes back, the record is written" \
	"$? $(jq -r .command_status "$tmp/fail.json")" "3 3"

# --- bad input and privileges ---
"$viommu" top --bogus > /dev/null 2>&1
is "a bad option: exit 2" "$?" 2
"$viommu" lat 0 > /dev/null 2>&1
is "a bad interval: exit 2" "$?" 2
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$viommu" top -b -n 1 > /dev/null 2> "$tmp/err"
rc=$?
grep -q 'CAP_BPF and CAP_PERFMON' "$tmp/err"
is "not root: exit 1, saying which capabilities" "$rc $?" "1 0"
tap_done
