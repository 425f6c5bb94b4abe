#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_trace.sh - viommu trace and topo --watch against viommu-load with
# a known plan: -c N prints exactly N events; -i and topo --watch filter in
# BPF, so what they do not print takes no ring buffer room (proved with a
# buffer too small for the unfiltered stream); topo --watch reports its
# losses; the PID column is the tgid; every JSON line carries the schema;
# types by name, virt_id none as null; every JSON line of trace and topo
# --watch carries the drops (as top's and lat's do); and the warning when
# the fds of other users' VMMs cannot be read (CAP_BPF + CAP_PERFMON only).
#
# A reader is stopped (SIGSTOP) while a load runs, so the records wait in
# its ring buffer and come in one batch: the counts are exact.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
tool_scratch

# _links NAME N: NAME holds N BPF links (20: every event, starts included)
_links() {
	local links
	count_links "${pid[$1]}"
	[ "$links" = "$2" ]
}
attached() { wait_until 120 _links "$1" 20 || { echo "# $1 not attached: $(cat "$tmp/$1.err")"; return 1; }; }
# stop NAME: SIGINT, its exit status in st
stop() {
	stop_tracers "${pid[$1]}"
	st=${tracer_rc[${pid[$1]}]}
	unset "pid[$1]"
}
# stopped_load NAME ARGS...: run a load while NAME is stopped (SIGSTOP),
# then let NAME read the batch
stopped_load() {
	local name=$1
	shift
	kill -STOP "${pid[$name]}"
	"$load" "$@" > "$tmp/load" 2>&1
	kill -CONT "${pid[$name]}"
}
exited() { ! kill -0 "${pid[$1]}" 2>/dev/null; }
# schema_ok FILE TYPE: every line is JSON with schema_version 3, this type
# and a ts_unix_ms between $t0 and now (milliseconds)
schema_ok() {
	jq -e -s --arg t "$2" --argjson t0 "$t0" --argjson t1 "$(date +%s%3N)" \
		'length > 0 and all(.schema_version == 3 and .type == $t and
			(.ts_unix_ms | type) == "number" and .ts_unix_ms >= $t0 and .ts_unix_ms <= $t1)' \
		"$1" > /dev/null
}

tap_plan 18
t0=$(date +%s%3N)

# --- trace -c N: N events, not the rest of the batch ---
launch count trace --json -c 5
attached count
stopped_load count -V 1 -i 2 -n 50 -u 0
wait_until 30 exited count
wait "${pid[count]}"
rc=$?
unset "pid[count]"
is "trace -c 5: exits by itself with status 0 after exactly 5 events, of ~120 waiting" \
	"$rc $(wc -l < "$tmp/count.out") $(tail -1 "$tmp/count.err")" "0 5 viommu trace: 5 events, 0 lost"

# --- trace -i ID in BPF: the other vIOMMUs' records take no room ---
# The load's vIOMMU ids are the same in every run of one plan (a new
# context each time): learn the second one from a run of the plan.
plan=(-V 1 -i 4 -n 100 -u 0)
"$load" "${plan[@]}" -n 0 > "$tmp/plan" 2>&1
vid=$(awk '$1 == "viommu" { n++; for (i = 2; i <= NF; i++) if ($i ~ /^viommu=/) { sub(/viommu=/, "", $i); if (n == 2) print $i } }' "$tmp/plan")
# 16 KiB hold vIOMMU $vid's 110 records (96 bytes each), not the 440 of all four
launch one trace --json -R 4 -i "${vid:-0}"
attached one
stopped_load one "${plan[@]}"
stop one
is "trace -i: vIOMMU $vid's 100 guest_inval and 10 object events in a 16 KiB buffer, 0 lost, no other vIOMMU's" \
	"$st $(jq -r '.viommu' "$tmp/one.out" | sort -u | tr '\n' ' ')$(grep -c '"guest_inval"' "$tmp/one.out") $(wc -l < "$tmp/one.out") $(tail -1 "$tmp/one.err")" \
	"0 $vid 100 110 viommu trace: 110 events, 0 lost"
schema_ok "$tmp/one.out" viommu-trace
tap_result $? "trace --json: every line has schema_version 3, type viommu-trace, ts_unix_ms (ms)" "$(head -2 "$tmp/one.out")"
is "trace --json: vIOMMU and vEVENTQ types by name" \
	"$(jq -r 'select(.event == "viommu_alloc" or .event == "veventq_alloc") | "\(.event) \(.viommu_type // .veventq_type)"' "$tmp/one.out")" \
	"viommu_alloc selftest
veventq_alloc selftest"

# --- every JSON line carries the drops: room for 1 VM of 2 (vm_stats) ---
VIOMMU_MAX_ENTRIES=vm_stats=1 launch drops trace --json
attached drops
stopped_load drops -V 2 -i 1 -n 5 -u 0
stop drops
# one batch, read after the load: every line has the final drops, the
# VM without room its vIOMMU alloc, 5 invalidations and destroy
is "trace --json, vm_stats full: all 30 lines carry the drops, the VM without room its 7 updates" \
	"$st $(jq -c .drops "$tmp/drops.out" | sort | uniq -c | awk '{ print $1, $2 }')" \
	"0 30 {\"vm_stats\":7,\"viommu_stats\":0,\"viommu_lat\":0,\"fault_starts\":0,\"task_storage\":0,\"ringbuf\":0,\"vm_idents\":0}"

# --- the PID column is the tgid: invalidations from 2 threads of each VM ---
launch text trace
attached text
stopped_load text -V 2 -i 1 -n 40 -t 2 -u 0
stop text
vmpids=$(awk '$1 == "vm" { for (i = 2; i <= NF; i++) if ($i ~ /^pid=/) { sub(/pid=/, "", $i); print $i } }' "$tmp/load" | sort -n | tr '\n' ' ')
is "trace: the header names the column PID; guest_inval rows (2 threads per VM) carry the VMs' pids" \
	"$st $(grep -c '^TIME(s) *CPU *PID *COMM *VM *EVENT *DETAILS$' "$tmp/text.out") $(awk '$6 == "guest_inval" { print $3 }' "$tmp/text.out" | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" \
	"0 1 $(for p in $vmpids; do printf '%s:40 ' "$p"; done)"

# --- virt_id: a number when the kernel knows the guest's ID, null when not ---
launch faults trace --json
launch faultstxt trace
attached faults && attached faultstxt
"$load" -V 1 -n 0 -u 0 -F 1 > "$tmp/load" 2>&1
"$TEST_BIN/fault_virt_id" > "$tmp/fv" 2>&1
stop faults
st1=$st
stop faultstxt
# fault_virt_id: three faults through a nested HWPT on the vDEVICE's
# vIOMMU (0x77; the trace shows it whether or not the queue asked for it in
# the message), then three with no guest ID: through a nested HWPT on the
# bare S2, from a device without a vDEVICE, and after the vDEVICE went
is "trace --json: fault virt_id is 256 (the load's vRID), 119 (0x77) three times, and null three times" \
	"$st1 $(jq -r 'select(.event == "fault") | .virt_id' "$tmp/faults.out" | sort | tr '\n' ' ')" "0 119 119 119 256 null null null "
is "trace: fault virt_id 0x100, 0x77 (three times) and none (three times) in text" \
	"$st $(awk '$6 == "fault" { for (i = 7; i <= NF; i++) if ($i ~ /^virt_id=/) print $i }' "$tmp/faultstxt.out" | sort | tr '\n' ' ')" \
	"0 virt_id=0x100 virt_id=0x77 virt_id=0x77 virt_id=0x77 virt_id=none virt_id=none virt_id=none "

# --- topo --watch: object changes only, and losses reported ---
launch watch topo --watch --json -R 1
attached watch
snap() { grep -q '"type":"viommu-topo"' "$tmp/watch.out"; }
wait_until 30 snap
# 16 vIOMMUs x 10 changes = 160 records (15 KiB) into 4 KiB; the 1600
# guest invalidations and the S2 unmaps must take no room at all
stopped_load watch -V 1 -i 16 -n 100 -u 2
lost_seen() { grep -q '"change":"lost"' "$tmp/watch.out"; }
wait_until 30 lost_seen
stop watch
is "topo --watch -R 1: changes shown + lost = the load's 160 object changes" \
	"$st $(jq -s '([.[] | select(.change == "add" or .change == "remove")] | length) + ([.[] | select(.change == "lost") | .lost] | add // 0)' "$tmp/watch.out")" \
	"0 160"
lost=$(jq -s '[.[] | select(.change == "lost") | .lost] | add // 0' "$tmp/watch.out")
tap_result "$([ "$lost" -gt 0 ] && [ "$lost" -lt 160 ]; echo $?)" "topo --watch: the loss is reported ($lost of 160)" "$(tail -3 "$tmp/watch.out")"
is "topo --watch --json: the tree line carries the drops (none yet), every change and lost line the ring buffer's $lost" \
	"$(jq -c 'select(.type == "viommu-topo") | [.drops[]] | add' "$tmp/watch.out") $(jq -s -c '[.[] | select(.type == "viommu-topo-change") | .drops.ringbuf] | unique' "$tmp/watch.out")" \
	"0 [$lost]"
grep -v '"type":"viommu-topo"' "$tmp/watch.out" > "$tmp/changes"
schema_ok "$tmp/changes" viommu-topo-change
tap_result $? "topo --watch --json: change and lost lines have schema_version 3, type viommu-topo-change, ts_unix_ms" "$(head -2 "$tmp/changes")"

# --- privileges: root with only CAP_BPF + CAP_PERFMON may not read the fds
# of a VMM with more capabilities (ptrace access mode: CAP_SYS_PTRACE) ---
"$load" -V 2 -i 1 -n 0 -u 0 -H 120 > "$tmp/held" 2>&1 &
loadpid=$!
held() { [ "$(grep -c '^vm ' "$tmp/held")" -ge 2 ]; }
wait_until 120 held
heldpids=$(awk '$1 == "vm" { for (i = 2; i <= NF; i++) if ($i ~ /^pid=/) { sub(/pid=/, "", $i); print $i } }' "$tmp/held" | sort -n | tr '\n' ' ')
with_caps() { # CAPS ARGS...: viommu as root with only these capabilities
	local caps=$1
	shift
	setpriv --bounding-set="-all,$caps" --inh-caps="-all,$caps" "$viommu" "$@"
}
with_caps +bpf,+perfmon top -b -n 1 0.5 > "$tmp/np.out" 2> "$tmp/np.err"
rc=$?
is "CAP_BPF+CAP_PERFMON: top runs (exit 0), warns once naming CAP_SYS_PTRACE, shows none of the 2 held VMs" \
	"$rc $(grep -c 'warning: cannot read the open files' "$tmp/np.err") $(grep -c 'CAP_SYS_PTRACE' "$tmp/np.err") $(grep -c ' viommu-load ' "$tmp/np.out")" \
	"0 1 1 0"
with_caps +bpf,+perfmon,+sys_ptrace top -b -n 1 0.5 > "$tmp/pt.out" 2> "$tmp/pt.err"
rc=$?
is "... with CAP_SYS_PTRACE too: no warning, a row for each held VM" \
	"$rc $(grep -c 'warning' "$tmp/pt.err") $(awk '$3 == "viommu-load" { print $2 }' "$tmp/pt.out" | sort -n | tr '\n' ' ')" \
	"0 0 $heldpids"
with_caps +bpf,+perfmon topo > "$tmp/tp.out" 2> "$tmp/tp.err"
is "CAP_BPF+CAP_PERFMON: topo says no context is visible, and why" \
	"$? $(cat "$tmp/tp.out") $(grep -c 'ptrace read access' "$tmp/tp.err")" \
	"0 no iommufd contexts visible (see the warning above) 1"
pkill -P "$loadpid"
wait "$loadpid" 2>/dev/null
loadpid=

# --- other kernels: the kernel's BTF with a name changed (same length),
# given to the checks and to CO-RE as VIOMMU_BTF ---
btf_renamed() { # OLD NEW FILE: prints how many strings were renamed
	python3 - "$@" <<'PY'
import struct, sys
out = sys.argv[3]
old, new = sys.argv[1].encode(), sys.argv[2].encode()
data = bytearray(open('/sys/kernel/btf/vmlinux', 'rb').read())
magic, _, _, hdr_len, _, _, str_off, str_len = struct.unpack_from('<HBBIIIII', data)
assert magic == 0xeb9f and len(old) == len(new)
at = hdr_len + str_off
strs = bytes(data[at:at + str_len])
n = strs.count(b'\0' + old + b'\0')
data[at:at + str_len] = strs.replace(b'\0' + old + b'\0', b'\0' + new + b'\0')
open(out, 'wb').write(data)
print(n)
PY
}
# A kernel whose vIOMMU names no VMM process: the field the tool reads is
# vmm (the v2 series) or kvm_pid (the first one); rename the one there is
if bpftool btf dump file /sys/kernel/btf/vmlinux format raw 2>/dev/null |
	grep -A30 "STRUCT 'iommufd_viommu'" | grep -q "'vmm' type_id"; then
	vmmfield=vmm
	n=$(btf_renamed vmm vqq "$tmp/nokvm.btf")
else
	vmmfield=kvm_pid
	n=$(btf_renamed kvm_pid kvm_pxd "$tmp/nokvm.btf")
fi
VIOMMU_BTF=$tmp/nokvm.btf launch nokvm trace --json
launch kvm trace --json
attached nokvm && attached kvm
"$load" -V 1 -i 1 -n 1 -u 0 -k > "$tmp/load" 2>&1
stop nokvm
st1=$st
stop kvm
lp=$(awk '$1 == "vm" { for (i = 2; i <= NF; i++) if ($i ~ /^pid=/) { sub(/pid=/, "", $i); print $i } }' "$tmp/load")
is "no $vmmfield in the kernel's BTF: trace loads (CO-RE existence check), says so, vIOMMUs have vmm_pid 0" \
	"$n $st1 $(grep -c "note: this kernel's struct iommufd_viommu has no field vmm nor kvm_pid" "$tmp/nokvm.err") $(jq -r 'select(.event == "viommu_alloc" or .event == "viommu_destroy") | .vmm_pid' "$tmp/nokvm.out" | tr '\n' ' ')" \
	"1 0 1 0 0 "
is "... while on the kernel's own BTF the same vIOMMUs have the load's VM process as vmm_pid" \
	"$st $(jq -r 'select(.event == "viommu_alloc" or .event == "viommu_destroy") | .vmm_pid' "$tmp/kvm.out" | tr '\n' ' ')" "0 $lp $lp "
# A kernel whose end events lack the start time argument
btf_renamed start_ns start_xx "$tmp/nostart.btf" > /dev/null
VIOMMU_BTF=$tmp/nostart.btf "$viommu" top -b -n 1 > /dev/null 2> "$tmp/err"
is "end events without start_ns: exit 1, naming each event and the argument" \
	"$? $(grep -c "^  iommufd:iommufd_cache_invalidate_end: argument 8 is 'start_xx', the tool reads 'start_ns' there$" "$tmp/err") $(grep -c "^  iommufd:iommufd_s2_invalidate_end: argument 6 is 'start_xx', the tool reads 'start_ns' there$" "$tmp/err")" \
	"1 1 1"
tap_done
