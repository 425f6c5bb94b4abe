#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_filters.sh - the viommu CLI's filters and record's edges:
#  - -p/--pid and --vm in every command that has them (top, lat, trace,
#    record, export, topo, topo --watch): two scripted VMs (tests/vm/
#    scripted_vm, each the opener of its context and the VMM of its
#    vIOMMUs) do different, known work after the tools attached; each tool
#    filtered to one VM must show exactly that VM's figures and nothing of
#    the other;
#  - record -d SECS: stops by itself after SECS with the figures of the
#    window;
#  - record stopped by Ctrl-C while its command runs: the command is
#    stopped, its status comes back, the record holds what the command
#    reported doing; until then the old file stays under the final name;
#  - record that cannot write its file: the old file stays whole, no
#    temporary file is left, exit 1.
#
# No fixed sleeps: a tool is ready when its fds show all its BPF links, a
# VM when it printed its ready line or finished a command; each wait is
# bounded and a timeout fails the check.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/sanitizer.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
vmbin=${TEST_BIN:?directory of the test programs}/scripted_vm
tool_scratch
declare -A st vm_pid vm_ctx vm_in

# start_vm NAME: a scripted VM reading commands from a fifo; its pid and
# context id in vm_pid[NAME], vm_ctx[NAME], its input on fd vm_in[NAME]
start_vm() {
	local fdn
	mkfifo "$tmp/$1.in"
	"$vmbin" 2 < "$tmp/$1.in" > "$tmp/$1.out" 2> "$tmp/$1.err" &
	pid[vm_$1]=$!
	exec {fdn}> "$tmp/$1.in"
	vm_in[$1]=$fdn
	wait_until 60 grep -q '^ready ' "$tmp/$1.out" || return 1
	vm_pid[$1]=$(sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' "$tmp/$1.out")
	vm_ctx[$1]=$(sed -n 's/^ready .* vm=\([0-9]*\) .*/\1/p' "$tmp/$1.out")
}
# vm_do NAME CMD N: run a command in the VM and wait until it is done
vm_do() {
	echo "$2 $3" >&"${vm_in[$1]}"
	wait_until 120 grep -q "^done $2 $3\$" "$tmp/$1.out"
}
# end_vm NAME: it closes its context and exits; its exit status
_vm_gone() { ! kill -0 "${pid[vm_$1]}" 2>/dev/null; }
end_vm() {
	local rc
	echo "quit 0" >&"${vm_in[$1]}"
	eval "exec ${vm_in[$1]}>&-"
	wait_until 30 _vm_gone "$1" || kill -KILL "${pid[vm_$1]}"
	wait "${pid[vm_$1]}"
	rc=$?
	unset "pid[vm_$1]"
	return $rc
}
# wait_attached NAME N...: each tool NAME holds N BPF links (within 120 s)
_links_are() { count_links "${pid[$1]}"; [ "$links" = "$2" ]; }
_all_links() { while [ $# -gt 0 ]; do _links_are "$1" "$2" || return 1; shift 2; done; }
wait_attached() {
	wait_until 120 _all_links "$@" && return 0
	while [ $# -gt 0 ]; do
		_links_are "$1" "$2" || echo "# viommu $1: $links links, want $2: $(cat "$tmp/$1.err")"
		shift 2
	done
	return 1
}
# stop NAME...: SIGINT to each, its exit status in st[NAME]
stop() {
	local n p=()
	for n; do p+=("${pid[$n]}"); done
	stop_tracers "${p[@]}"
	for n; do st[$n]=${tracer_rc[${pid[$n]}]}; unset "pid[$n]"; done
}

tap_plan $((25 + san_plan))

# --- two VMs, set up before any tool: their pids and ids are known ---
start_vm a && start_vm b
tap_result $? "two scripted VMs ready: a (pid ${vm_pid[a]}, vm ${vm_ctx[a]}), b (pid ${vm_pid[b]}, vm ${vm_ctx[b]})" \
	"$(cat "$tmp/a.err" "$tmp/b.err")"
pa=${vm_pid[a]} pb=${vm_pid[b]} ca=${vm_ctx[a]} cb=${vm_ctx[b]}

# --- topo: snapshots from fdinfo ---
"$viommu" topo --json -p "$pa" > "$tmp/topo_a" 2>&1
rc1=$?
"$viommu" topo --json --vm "$cb" > "$tmp/topo_b" 2>&1
rc2=$?
is "topo -p PID --json: only that VM, with its 2 vIOMMUs and their VMIDs" \
	"$rc1 $(jq -r '[.vms[] | "\(.vm) \(.opener_pid) \([.objects[] | select(.type == "viommu") | "\(.id):\(.vmid)"] | join(","))"] | join(";")' "$tmp/topo_a")" \
	"0 $ca $pa $(sed -n 's/^ready .* viommus=\([0-9,]*\) vmids=\([0-9,]*\)$/\1 \2/p' "$tmp/a.out" |
		awk '{ n = split($1, v, ","); split($2, m, ","); for (i = 1; i <= n; i++) printf "%s%s:%s", (i > 1 ? "," : ""), v[i], m[i] }')"
is "topo --vm ID --json: only that VM, with its 2 vIOMMUs and their VMIDs" \
	"$rc2 $(jq -r '[.vms[] | "\(.vm) \(.opener_pid) \([.objects[] | select(.type == "viommu") | "\(.id):\(.vmid)"] | join(","))"] | join(";")' "$tmp/topo_b")" \
	"0 $cb $pb $(sed -n 's/^ready .* viommus=\([0-9,]*\) vmids=\([0-9,]*\)$/\1 \2/p' "$tmp/b.out" |
		awk '{ n = split($1, v, ","); split($2, m, ","); for (i = 1; i <= n; i++) printf "%s%s:%s", (i > 1 ? "," : ""), v[i], m[i] }')"
"$viommu" topo --vm "$cb" > "$tmp/tree_b" 2>&1
is "topo --vm ID: one VM section, that VM's" \
	"$? $(grep -c '^vm ' "$tmp/tree_b") $(grep -c "^vm $cb  pid $pb " "$tmp/tree_b")" "0 1 1"
"$viommu" topo --vm 1 > "$tmp/tree_none" 2>&1
is "topo --vm of no VM: exit 0, says there is none" "$? $(grep -c '^no iommufd contexts' "$tmp/tree_none")" "0 1"

# --- the event tools, each filtered to one VM, attached before the work ---
launch top_a top -b --json -p "$pa" 0.5
launch top_b top -b --json --vm "$cb" 0.5
launch lat_a lat --json -p "$pa"
launch lat_b lat --json --vm "$cb"
launch trace_a trace --json -p "$pa"
launch trace_b trace --json --vm "$cb"
launch rec_a record -o "$tmp/rec_a.json" -p "$pa"
launch rec_b record -o "$tmp/rec_b.json" --vm "$cb"
mkdir "$tmp/exp_a" "$tmp/exp_b"
launch exp_a export -t "$tmp/exp_a" -p "$pa" 0.5
launch exp_b export -t "$tmp/exp_b" --vm "$cb" 0.5
launch watch_b topo --watch --json --vm "$cb"
wait_attached top_a 18 top_b 18 lat_a 18 lat_b 18 trace_a 20 trace_b 20 \
	rec_a 18 rec_b 18 exp_a 18 exp_b 18 watch_b 20
att=$?
# a: 3 invalidation rounds, 2 unmaps, 1 fault and 1 vEVENT per vIOMMU;
# b: 5, 3, 2, 2. Each has 2 vIOMMUs.
vm_do a inval 3 && vm_do a unmap 2 && vm_do a fault 1 && vm_do a vevent 1 &&
	vm_do b inval 5 && vm_do b unmap 3 && vm_do b fault 2 && vm_do b vevent 2
tap_result $((att | $?)) "11 filtered tools attached, both VMs did their work" \
	"$(cat "$tmp/a.err" "$tmp/b.err")"
# "vm pid guest_invals s2 vmid_invals faults responses vevents_queued"
want_a="$ca $pa 6 2 4 2 2 2"
want_b="$cb $pb 10 3 6 4 4 4"
top_rows() {
	jq -r '.vms[] | "\(.vm) \(.opener_pid) \(.guest_invals_total) \(.s2_invals_total) \(.vmid_invals_total) \(.faults_total) \(.fault_responses_total) \(.vevents_queued_total)"' \
		"$tmp/$1.out" 2>/dev/null
}
tops_caught_up() { [ "$(top_rows top_a | tail -1)" = "$want_a" ] && [ "$(top_rows top_b | tail -1)" = "$want_b" ]; }
wait_until 60 tops_caught_up
exp_caught_up() {
	grep -q "^viommu_guest_invalidations_total{vm=\"$ca\",.*} 6\$" "$tmp/exp_a/viommu.prom" 2>/dev/null &&
		grep -q "^viommu_guest_invalidations_total{vm=\"$cb\",.*} 10\$" "$tmp/exp_b/viommu.prom" 2>/dev/null
}
wait_until 30 exp_caught_up
stop top_a top_b lat_a lat_b trace_a trace_b rec_a rec_b exp_a exp_b

is "top -p PID: every row is that VM's; its last row has its work exactly" \
	"${st[top_a]} $(top_rows top_a | cut -d' ' -f1,2 | sort -u | tr '\n' ';') $(top_rows top_a | tail -1)" \
	"0 $ca $pa; $want_a"
is "top --vm ID: every row is that VM's; its last row has its work exactly" \
	"${st[top_b]} $(top_rows top_b | cut -d' ' -f1,2 | sort -u | tr '\n' ';') $(top_rows top_b | tail -1)" \
	"0 $cb $pb; $want_b"
lat_rows() {
	jq -r '.vms[] | "\(.vm) \(.opener_pid) \(.lat.guest_inval.count) \(.lat.s2_inval.count) \(.lat.fault.count)"' \
		"$tmp/$1.out" 2>/dev/null | tr '\n' ';'
}
is "lat -p PID: only that VM: its 6 guest invalidations, 2 S2 invalidations, 2 faults" \
	"${st[lat_a]} $(lat_rows lat_a)" "0 $ca $pa 6 2 2;"
is "lat --vm ID: only that VM: its 10 guest invalidations, 3 S2 invalidations, 4 faults" \
	"${st[lat_b]} $(lat_rows lat_b)" "0 $cb $pb 10 3 4;"
trace_kinds() {
	jq -r '"\(.vm) \(.opener_pid) \(.event)"' "$tmp/$1.out" 2>/dev/null | sort | uniq -c |
		awk '{ printf "%s %s %s=%s;", $2, $3, $4, $1 }'
}
is "trace -p PID: only that VM's events, each kind as often as it worked" \
	"${st[trace_a]} $(trace_kinds trace_a)" \
	"0 $ca $pa fault=2;$ca $pa fault_response=2;$ca $pa guest_inval=6;$ca $pa s2_inval=2;$ca $pa vevent=2;$ca $pa vmid_inval=4;"
is "trace --vm ID: only that VM's events, each kind as often as it worked" \
	"${st[trace_b]} $(trace_kinds trace_b)" \
	"0 $cb $pb fault=4;$cb $pb fault_response=4;$cb $pb guest_inval=10;$cb $pb s2_inval=3;$cb $pb vevent=4;$cb $pb vmid_inval=6;"
rec_vms() {
	jq -r '"\(.total.vms) \(.total.guest_invals) " + ([.vms[] | "\(.vm) \(.opener_pid) \(.guest_invals) \(.s2_invals) \(.faults)"] | join(";"))' \
		"$tmp/$1.json" 2>/dev/null
}
is "record -p PID, stopped by SIGINT: exit 0, a record of that VM alone" \
	"${st[rec_a]} $(rec_vms rec_a)" "0 1 6 $ca $pa 6 2 2"
is "record --vm ID, stopped by SIGINT: exit 0, a record of that VM alone" \
	"${st[rec_b]} $(rec_vms rec_b)" "0 1 10 $cb $pb 10 3 4"
exp_vms() {
	sed -n 's/^viommu_guest_invalidations_total{vm="\([0-9]*\)",opener_pid="\([0-9]*\)",.*} \([0-9]*\)$/\1 \2 \3/p' \
		"$tmp/$1/viommu.prom" 2>/dev/null | tr '\n' ';'
}
is "export -p PID: the textfile has that VM alone, with its 6 guest invalidations" \
	"${st[exp_a]} $(exp_vms exp_a)" "0 $ca $pa 6;"
is "export --vm ID: the textfile has that VM alone, with its 10 guest invalidations" \
	"${st[exp_b]} $(exp_vms exp_b)" "0 $cb $pb 10;"

# topo --watch --vm: both VMs end; only b's objects go
end_vm a
ra=$?
end_vm b
rb=$?
watch_done() { [ "$(grep -c '"change":"remove"' "$tmp/watch_b.out")" -ge 10 ]; }
wait_until 30 watch_done
# let the other VM's removals reach the tool (it drops them in BPF)
stop watch_b
is "topo --watch --vm ID: the removal of that VM's 2 vIOMMUs, vDEVICEs, nested HWPTs, vEVENTQs and VMIDs, nothing of the other VM" \
	"$ra $rb ${st[watch_b]} $(jq -r 'select(.change) | "\(.change) \(.object) \(.vm) \(.opener_pid)"' "$tmp/watch_b.out" | sort | uniq -c | awk '{ printf "%s %s %s %s %s;", $1, $2, $3, $4, $5 }')" \
	"0 0 0 $(for o in hwpt_nested vdevice veventq viommu vmid; do printf '2 remove %s %s %s;' "$o" "$cb" "$pb"; done)"

# --- record -d: the window, then it stops by itself ---
start_vm c
pc=${vm_pid[c]} cc=${vm_ctx[c]}
launch rec_d record -o "$tmp/rec_d.json" -d 3 -p "$pc"
wait_attached rec_d 18
att=$?
t0=$SECONDS
vm_do c inval 4
did=$?
rec_d_done() { ! kill -0 "${pid[rec_d]}" 2>/dev/null; }
wait_until 60 rec_d_done
wait "${pid[rec_d]}"
rc=$?
unset "pid[rec_d]"
end_vm c
is "record -d 3: exits 0 by itself, with that VM's 8 guest invalidations" \
	"$att $did $rc $(rec_vms rec_d)" "0 0 0 1 8 $cc $pc 8 0 0"
is "record -d 3: the record covers 3 s (3.0 to 3.5)" \
	"$(jq -r '.duration_s >= 3 and .duration_s < 3.5' "$tmp/rec_d.json") $((SECONDS - t0 <= 10))" "true 1"
"$viommu" record -o "$tmp/x.json" -d 0 > /dev/null 2> "$tmp/err"
rc1=$?
"$viommu" record -o "$tmp/x.json" -d soon > /dev/null 2>> "$tmp/err"
rc2=$?
"$viommu" record -d 1 > /dev/null 2>> "$tmp/err"
rc3=$?
is "record -d 0, -d soon, no -o: exit 2 each, one line each, no file" \
	"$rc1 $rc2 $rc3 $(grep -c 'invalid duration: 0' "$tmp/err") $(grep -c 'invalid duration: soon' "$tmp/err") $(grep -ci -- '-o' "$tmp/err" | sed 's/^[1-9][0-9]*$/named/') $(test -e "$tmp/x.json"; echo $?)" \
	"2 2 2 1 1 named 1"

# --- Ctrl-C while the command runs; the old file stays until the new one is whole ---
echo OLD > "$tmp/rec_c.json"
launch rec_c record -o "$tmp/rec_c.json" -s ctrlc -- "$load" -V 1 -i 2 -d 120 -r 20 -u 0
wait_attached rec_c 18
att=$?
# the load's VM is at work once its context is in topo
load_working() { "$viommu" topo --json 2>/dev/null | jq -e '[.vms[] | select(.comm == "viommu-load")] | length == 1' > /dev/null; }
wait_until 60 load_working
working=$?
during="$(cat "$tmp/rec_c.json") $(find "$tmp" -maxdepth 1 -name 'rec_c.json.*' | wc -l)"
stop rec_c
# viommu-load, stopped by the record's SIGTERM, reports what it did
inv=$(awk '$1 == "viommu" { for (i = 2; i <= NF; i++) if ($i ~ /^invalidations=/) { sub(/.*=/, "", $i); n += $i } } END { print n + 0 }' "$tmp/rec_c.out")
is "record stopped by SIGINT mid-command: until then the old file is intact and no other is made" \
	"$att $working $during" "0 0 OLD 0"
is "record stopped by SIGINT: the command stopped, its status 0 comes back, the record is whole with what it did" \
	"${st[rec_c]} $(jq -r '"\(.command_status) \(.scenario) \(.total.vms) \(.total.guest_invals)"' "$tmp/rec_c.json" 2>&1) $([ "$inv" -gt 0 ] && echo ran)" \
	"0 0 ctrlc 1 $inv ran"
is "record: no temporary file left" "$(find "$tmp" -maxdepth 1 -name 'rec_*.json.*' | wc -l)" 0

# --- a record that cannot be written leaves the old file whole ---
mkdir "$tmp/full"
if mount -t tmpfs -o size=4k tmpfs "$tmp/full" 2> "$tmp/err"; then
	echo OLD > "$tmp/full/rec.json"
	"$viommu" record -o "$tmp/full/rec.json" -d 0.5 > /dev/null 2> "$tmp/err"
	rc=$?
	is "record on a full file system: exit 1, says why, the old file intact, no temporary file" \
		"$rc $(grep -c "viommu record: writing $tmp/full/rec.json: No space left on device" "$tmp/err") $(cat "$tmp/full/rec.json") $(ls "$tmp/full" | wc -l)" \
		"1 1 OLD 1"
	umount "$tmp/full"
else
	tap_result 1 "record on a full file system" "cannot mount a tmpfs: $(cat "$tmp/err")"
fi

# --- bad filter values ---
"$viommu" top -b -p 0 > /dev/null 2> "$tmp/err"
rc1=$?
"$viommu" trace --vm x > /dev/null 2>> "$tmp/err"
rc2=$?
"$viommu" lat --vm 4294967296 > /dev/null 2>> "$tmp/err"
rc3=$?
is "-p 0, --vm x, --vm 2^32: exit 2, naming the bad value" \
	"$rc1 $rc2 $rc3 $(grep -c 'invalid pid: 0' "$tmp/err") $(grep -c 'invalid VM id: x' "$tmp/err") $(grep -c 'invalid VM id: 4294967296' "$tmp/err")" \
	"2 2 2 1 1 1"
san_done
tap_done
