#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_attrib.sh - VMs opened by one process and run by another, as
# libvirt does for QEMU (issue 13 item 6, issue 11 item 6): every command
# must name such a VM after its VMM, keep the opener as a second pid, and
# select it with -p given either pid, and only it.
#
# tests/vm/attrib_vm makes each VM: its opener (attrib-opener) opens
# /dev/iommu and passes the file over a Unix socket to its VMM
# (attrib-vmm), which allocates the vIOMMU and makes N guest
# invalidations and M S2 unmaps per round; both pids are known before
# the first round, so tools can be started with -p before the vIOMMU
# exists. Two VMs, A and B: "-p A's opener" and "-p B's VMM" must each
# show exactly one of them.
#
# Phase 1: top, lat, trace, topo --watch, record and export started before
# the VMs' first round, each unfiltered (both pids exact), with -p A's
# opener and with -p B's VMM (the VMM known to the programs from
# IOMMU_VIOMMU_ALLOC); viommu-load --opener-fork runs under them too.
# Phase 2: the same commands started after it, with
# -p A's VMM, which they learn from fdinfo; top and lat in text. Then topo
# (fdinfo). Each check compares every VM's figures with the rounds made.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
vmbin=${TEST_BIN:?}/attrib_vm
load=${VIOMMU_LOAD:?path of viommu-load}
tool_scratch
declare -A st vmpid ctl
N=12 M=2	# guest invalidations and S2 unmaps per round

# start_vm NAME: an attrib_vm taking its rounds from a fifo (ctl[NAME])
start_vm() {
	local fd
	mkfifo "$tmp/$1.ctl"
	"$vmbin" "$N" "$M" < "$tmp/$1.ctl" > "$tmp/$1.out" 2> "$tmp/$1.err" &
	vmpid[$1]=$!
	exec {fd}> "$tmp/$1.ctl"
	ctl[$1]=$fd
}
# round NAME R: its round R, done (the events are in every tool's maps:
# the programs run in the ioctls)
_round_done() { grep -q "^round $2 " "$tmp/$1.out"; }
round() { echo go >&"${ctl[$1]}"; wait_until 60 _round_done "$1" "$2"; }
# field NAME KEY: KEY= of the VM's last line (pids or round)
field() { tail -1 "$tmp/$1.out" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ready NAME...: each holds its BPF links: 20 for trace and topo --watch
# (their start events too), 18 for the others
_ready() {
	local n want links
	for n; do
		want=18
		case $n in trace* | watch*) want=20 ;; esac
		count_links "${pid[$n]}"
		[ "$links" = "$want" ] || return 1
	done
}
# stop NAME...: SIGINT to each, its exit status in st[NAME]
stop() {
	local n p=()
	for n; do p+=("${pid[$n]}"); done
	stop_tracers "${p[@]}"
	for n; do st[$n]=${tracer_rc[${pid[$n]}]}; unset "pid[$n]"; done
}
statuses() { local n; for n; do printf '%s' "${st[$n]}"; done; }
# lines NAME: how many lines NAME has printed
lines() { wc -l < "$tmp/$1.out"; }
# caught_up FILE WANT... "NAME N": each top/lat NAME printed N lines by now
_printed() { while [ $# -gt 0 ]; do [ "$(lines "$1")" -ge "$2" ] || return 1; shift 2; done; }
# export_seen DIR CTX: its textfile has CTX's guest invalidations, N of them
_exported() { grep -q "^viommu_guest_invalidations_total{vm=\"$2\",.*} $N\$" "$1/viommu.prom" 2>/dev/null; }

# --- per command, "VM:guest invalidations" for each VM it showed ---
top_vms() { jq -s -r '[.[].vms[]] | group_by(.vm)[] | last | "\(.vm):\(.guest_invals_total)"' "$tmp/$1.out" | tr '\n' ' '; }
lat_vms() { jq -s -r '[.[].vms[]] | group_by(.vm)[] | "\(.[0].vm):\(map(.lat.guest_inval.count) | add)"' "$tmp/$1.out" | tr '\n' ' '; }
trace_vms() { jq -s -r 'group_by(.vm)[] | "\(.[0].vm):\(map(select(.event == "guest_inval")) | length)"' "$tmp/$1.out" | tr '\n' ' '; }
watch_vms() { jq -r 'select(.change == "add" and .object == "viommu") | "\(.vm):1"' "$tmp/$1.out" | sort -n | tr '\n' ' '; }
record_vms() { jq -r '.vms[] | "\(.vm):\(.guest_invals)"' "$tmp/$1.json" | sort -n | tr '\n' ' '; }
export_vms() { sed -n 's/^viommu_guest_invalidations_total{vm="\([0-9]*\)",.*} \([0-9]*\)$/\1:\2/p' "$tmp/$1/viommu.prom" | sort -n | tr '\n' ' '; }

# --- identity per VM of A and B: "VM OPENER VMM COMM COUNT" lines ---
top_ids() { jq -s -r --argjson a "$CA" --argjson b "$CB" '[.[].vms[] | select(.vm == $a or .vm == $b)] | group_by(.vm)[] | last |
	"\(.vm) \(.opener_pid) \(.vmm_pid) \(.comm) \(.guest_invals_total) \(.s2_invals_total)"' "$tmp/$1.out"; }
top_ids_vmids() { jq -s -r --argjson a "$CA" --argjson b "$CB" '[.[].vms[] | select(.vm == $a or .vm == $b)] | group_by(.vm)[] | last |
	"\(.vm) \(.vmids)"' "$tmp/$1.out"; }
lat_ids() { jq -s -r --argjson a "$CA" --argjson b "$CB" '[.[].vms[] | select(.vm == $a or .vm == $b)] | group_by(.vm)[] |
	"\(.[0].vm) \(map("\(.opener_pid) \(.vmm_pid) \(.comm)") | unique | join(",")) \(map(.lat.guest_inval.count) | add)"' "$tmp/$1.out"; }
# every event of the VM carries the same pids; its guest invalidations fired
# in the VMM; its vIOMMU's alloc is there
trace_ids() { jq -s -r --argjson a "$CA" --argjson b "$CB" '[.[] | select(.vm == $a or .vm == $b)] | group_by(.vm)[] |
	"\(.[0].vm) \(map("\(.opener_pid) \(.vmm_pid)") | unique | join(",")) \(map(select(.event == "guest_inval" and .tgid == .vmm_pid)) | length) \(map(select(.event == "viommu_alloc")) | length)"' "$tmp/$1.out"; }
record_ids() { jq -r --argjson a "$CA" --argjson b "$CB" '.schema_version as $s | .vms[] | select(.vm == $a or .vm == $b) |
	"\(.vm) \(.opener_pid) \(.vmm_pid) \(.comm) \(.guest_invals) \($s)"' "$tmp/$1.json" | sort -n; }
# two LINE-A LINE-B: what is wanted of A and of B, in VM order
two() { printf '%s\n' "$1" "$2" | sort -n; }

tap_plan 27

# --- phase 1: tools first, then the vIOMMUs ---
start_vm A
start_vm B
_pids() { grep -q '^pids ' "$tmp/A.out" && grep -q '^pids ' "$tmp/B.out"; }
wait_until 30 _pids
OA=$(field A opener) VA=$(field A vmm) OB=$(field B opener) VB=$(field B vmm)
mkdir "$tmp/exp" "$tmp/expA" "$tmp/expB"
launch top top --json 0.5
launch topA top --json -p "$OA" 0.5
launch topB top --json -p "$VB" 0.5
launch lat lat --json 0.5
launch latA lat --json -p "$OA" 0.5
launch latB lat --json -p "$VB" 0.5
launch trace trace --json
launch traceA trace --json -p "$OA"
launch traceB trace --json -p "$VB"
launch watch topo --watch --json
launch watchA topo --watch --json -p "$OA"
launch watchB topo --watch --json -p "$VB"
launch rec record -o "$tmp/rec.json"
launch recA record -o "$tmp/recA.json" -p "$OA"
launch recB record -o "$tmp/recB.json" -p "$VB"
launch exp export -t "$tmp/exp" 0.2
launch expA export -t "$tmp/expA" -p "$OA" 0.2
launch expB export -t "$tmp/expB" -p "$VB" 0.2
tools=(top topA topB lat latA latB trace traceA traceB watch watchA watchB rec recA recB exp expA expB)
wait_until 240 _ready "${tools[@]}"
tap_result $? "18 tools attached (6 commands, unfiltered, -p A's opener, -p B's VMM)" \
	"$(for n in "${tools[@]}"; do count_links "${pid[$n]}"; echo "$n $links $(head -c 300 "$tmp/$n.err")"; done)"
round A 1 && round B 1
tap_result $? "the VMs made their first round: vIOMMU, $N invalidations, $M unmaps each" "$(cat "$tmp"/[AB].err)"
CA=$(field A vm) CB=$(field B vm) IA=$(field A vmid) IB=$(field B vmid)
# viommu-load's VMs opened by a viommu-opener child each, under the same tools
"$load" -O -V 2 -n 20 -u 1 > "$tmp/load" 2>&1
lrc=$?
# each top and lat has read the maps twice since; each export wrote its file
want=()
for n in top topA topB lat latA latB; do want+=("$n" $(($(lines "$n") + 2))); done
_caught_up() {
	_printed "${want[@]}" && _exported "$tmp/exp" "$CA" && _exported "$tmp/exp" "$CB" &&
		_exported "$tmp/expA" "$CA" && _exported "$tmp/expB" "$CB"
}
wait_until 60 _caught_up
tap_result $? "every top, lat and export caught up with the round"
stop "${tools[@]}"
is "the 18 tools stopped with status 0" "$(statuses "${tools[@]}")" "000000000000000000"

is "top --json: each VM's opener_pid, vmm_pid, the VMM's comm, its invalidations and unmaps" \
	"$(top_ids top)" "$(two "$CA $OA $VA attrib-vmm $N $M" "$CB $OB $VB attrib-vmm $N $M")"
is "lat --json: the same pids and comm on every line of each VM, all $N latencies" \
	"$(lat_ids lat)" "$(two "$CA $OA $VA attrib-vmm $N" "$CB $OB $VB attrib-vmm $N")"
is "trace --json: every event of a VM has its two pids; $N guest_inval fired in the VMM; one viommu_alloc" \
	"$(trace_ids trace)" "$(two "$CA $OA $VA $N 1" "$CB $OB $VB $N 1")"
is "topo --watch --json: the vIOMMU's add names the opener and the VMM" \
	"$(jq -r --argjson a "$CA" --argjson b "$CB" 'select(.change == "add" and .object == "viommu" and (.vm == $a or .vm == $b)) |
		"\(.vm) \(.opener_pid) \(.vmm_pid)"' "$tmp/watch.out" | sort -n)" "$(two "$CA $OA $VA" "$CB $OB $VB")"
is "record: each VM's opener_pid, vmm_pid, comm and invalidations; schema_version 3" \
	"$(record_ids rec)" "$(two "$CA $OA $VA attrib-vmm $N 3" "$CB $OB $VB attrib-vmm $N 3")"
is "export: vm, opener_pid, comm of the VMM and vmm_pid labels, $N invalidations" \
	"$(grep -E "^viommu_guest_invalidations_total\{vm=\"($CA|$CB)\"" "$tmp/exp/viommu.prom" | sort -t'"' -k2,2n)" \
	"$(printf 'viommu_guest_invalidations_total{vm="%s",opener_pid="%s",comm="attrib-vmm",vmm_pid="%s"} %s\n' \
		"$CA" "$OA" "$VA" "$N" "$CB" "$OB" "$VB" "$N" | sort -t'"' -k2,2n)"
# the VMID is assigned before the alloc event tells the programs the VMM
is "top -p B's VMM shows B's VMID (assigned before its vIOMMU's alloc event); unfiltered, both" \
	"$(jq -s -r '[.[].vms[]] | group_by(.vm)[] | last | "\(.vm) \(.vmids)"' "$tmp/topB.out") $(top_ids_vmids top | tr '\n' ' ')" \
	"$CB [$IB] $(two "$CA [$IA]" "$CB [$IB]" | tr '\n' ' ')"
# the load's VMs: "VMM opener comm invalidations" from its report and from top, record
load_want=$(awk '$1 == "viommu" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } inv[f["pid"]] += f["invalidations"] }
	$1 == "vm" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } op[f["pid"]] = f["opener"] }
	END { for (p in op) print p, op[p], "viommu-load", inv[p] }' "$tmp/load" | sort -n)
is "viommu-load -O (2 VMs): top and record name each VM after its VMM (viommu-load), with its opener (viommu-opener) and invalidations" \
	"$lrc $(awk '{ print ($1 != $2) }' <<< "$load_want" | tr -d '\n') $(jq -s -r '[.[].vms[]] | group_by(.vm)[] | last | select(.comm != "attrib-vmm") |
		"\(.vmm_pid) \(.opener_pid) \(.comm) \(.guest_invals_total)"' "$tmp/top.out" | sort -n | tr '\n' ,) $(jq -r '.vms[] | select(.comm != "attrib-vmm") |
		"\(.vmm_pid) \(.opener_pid) \(.comm) \(.guest_invals)"' "$tmp/rec.json" | sort -n | tr '\n' ,)" \
	"0 11 $(tr '\n' , <<< "$load_want") $(tr '\n' , <<< "$load_want")"
for c in top lat trace watch record export; do
	case $c in
	watch) a=$(watch_vms watchA) b=$(watch_vms watchB) w="$CA:1 | $CB:1 " ;;
	record) a=$(record_vms recA) b=$(record_vms recB) w="$CA:$N | $CB:$N " ;;
	export) a=$(export_vms expA) b=$(export_vms expB) w="$CA:$N | $CB:$N " ;;
	*) a=$("${c}_vms" "${c}A") b=$("${c}_vms" "${c}B") w="$CA:$N | $CB:$N " ;;
	esac
	is "$c -p A's opener shows A alone, -p B's VMM B alone, each with its $N invalidations" "$a| $b" "$w"
done

# --- phase 2: VMs older than the tools, -p A's VMM (from fdinfo) ---
mkdir "$tmp/exp2"
launch top2 top --json -p "$VA" 0.5
launch lat2 lat --json -p "$VA" 0.5
launch trace2 trace --json -p "$VA"
launch rec2 record -o "$tmp/rec2.json" -p "$VA"
launch exp2 export -t "$tmp/exp2" -p "$VA" 0.2
launch toptext top -b 0.5
launch lattext lat 0.5
tools=(top2 lat2 trace2 rec2 exp2 toptext lattext)
wait_until 240 _ready "${tools[@]}"
tap_result $? "7 tools attached to the VMs made before them"
round A 2 && round B 2
want=()
for n in top2 lat2 toptext; do want+=("$n" $(($(lines "$n") + 2))); done
# lat in text prints nothing for an interval without latencies
_headed() { grep -q "^vm $CA " "$tmp/lattext.out" && grep -q "^vm $CB " "$tmp/lattext.out"; }
_caught_up() { _printed "${want[@]}" && _exported "$tmp/exp2" "$CA" && _headed; }
wait_until 60 _caught_up
tap_result $? "the second round made, every tool caught up"
stop "${tools[@]}"
is "the 7 tools stopped with status 0" "$(statuses "${tools[@]}")" "0000000"
is "-p A's VMM, older than the tools: top, lat, trace, record and export show A alone, with the round's $N" \
	"$(top_vms top2)| $(lat_vms lat2)| $(trace_vms trace2)| $(record_vms rec2)| $(export_vms exp2)" \
	"$CA:$N | $CA:$N | $CA:$N | $CA:$N | $CA:$N "
is "... top and record name its two pids and the VMM (from fdinfo), trace too on every event" \
	"$(top_ids top2 | cut -d' ' -f1-4) $(record_ids rec2 | cut -d' ' -f1-4) $(trace_ids trace2 | cut -d' ' -f1-3)" \
	"$CA $OA $VA attrib-vmm $CA $OA $VA attrib-vmm $CA $OA $VA"
# text: PID is the VMM, OPENER the opener's pid where it differs
headers=$(grep -c '^ *VM  *PID ' "$tmp/toptext.out")
is "top -b: every header has OPENER after COMM; each VM's row: VM, PID of the VMM, its COMM, OPENER" \
	"$((headers > 0)) $(grep -c '^ *VM  *PID COMM  *OPENER VIOM ' "$tmp/toptext.out") $(awk -v a="$CA" -v b="$CB" '$1 == a || $1 == b { print $1, $2, $3, $4 }' "$tmp/toptext.out" | sort -u | sort -n | tr '\n' ,)" \
	"1 $headers $(two "$CA $VA attrib-vmm $OA" "$CB $VB attrib-vmm $OB" | tr '\n' ,)"
is "lat: each VM's heading names the VMM's pid and comm, then the opener" \
	"$(grep -E "^vm ($CA|$CB) " "$tmp/lattext.out" | sort -u | sort -k2,2n | tr '\n' ,)" \
	"$(printf 'vm %s pid %s (attrib-vmm) opener %s\n' "$CA" "$VA" "$OA" "$CB" "$VB" "$OB" | sort -k2,2n | tr '\n' ,)"

# --- topo (fdinfo): the opener has closed its copy, the VMM holds the file ---
"$viommu" topo --json > "$tmp/topo.json"
is "topo --json: each VM's opener_pid, vmm_pid and the VMM's comm" \
	"$(jq -r --argjson a "$CA" --argjson b "$CB" '.vms[] | select(.vm == $a or .vm == $b) |
		"\(.vm) \(.opener_pid) \(.vmm_pid) \(.comm) \([.objects[] | select(.type == "viommu") | .vmm_pid] | join(","))"' "$tmp/topo.json" | sort -n)" \
	"$(two "$CA $OA $VA attrib-vmm $VA" "$CB $OB $VB attrib-vmm $VB")"
sel=
for p in "$OA" "$VA" "$OB" "$VB" $$; do
	sel+="$("$viommu" topo --json -p "$p" | jq -c '[.vms[].vm]') "
done
"$viommu" topo -p "$OA" > "$tmp/topo.txt"
is "topo -p: A's opener and VMM select A, B's select B, the test's own pid none; the text names both" \
	"$sel$(grep -c "^vm $CA  pid $VA (attrib-vmm)  opener $OA  fd [0-9]* of pid $VA  " "$tmp/topo.txt")" \
	"[$CA] [$CA] [$CB] [$CB] [] 1"

# the VMs go: end of their input
eval "exec ${ctl[A]}>&- ${ctl[B]}>&-"
wait "${vmpid[A]}" "${vmpid[B]}"
tap_done
