#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# iommufd_module.sh - the viommu tool on a kernel that builds iommufd as a
# module (CONFIG_IOMMUFD=m, as distribution kernels do; the perf variant):
# - not loaded: every command that needs the events exits 1 with one line
#   naming 'modprobe iommufd', nothing on stdout, no record file;
# - loaded (insmod $TEST_KBUILD/.../iommufd.ko): top, trace and record work
#   with no flag, and their per-VM counts are viommu-load's own;
# - unloaded under them: rmmod fails while a VM holds /dev/iommu; once the
#   VMs are gone it succeeds (the tool pins nothing), and each tool prints
#   what it has, says the module went away in one line and exits 0.
# The tracepoints stay built in (drivers/iommu/iommufd/trace.c, like
# driver.c, is iommufd_driver, a bool): their BTF is vmlinux's.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
kbuild=${TEST_KBUILD:?the kernel build the VM booted}
ko=$kbuild/drivers/iommu/iommufd/iommufd.ko
tool_scratch

grep -q '^CONFIG_IOMMUFD=m' "$kbuild/.config" ||
	{ echo "Bail out! $kbuild/.config does not build iommufd as a module"; exit 1; }
# from a state with the module out (a suite before may have loaded it)
[ -e /sys/module/iommufd ] && rmmod iommufd

lines() { wc -l < "$1"; }
present() { if [ -e "$1" ]; then echo 1; else echo 0; fi; }
exited() { ! kill -0 "${pid[$1]}" 2>/dev/null; }
# attached NAME N: NAME holds N BPF links (top, record: 18; trace: 20)
_links() { local links; count_links "${pid[$1]}"; [ "$links" = "$2" ]; }
attached() { wait_until 120 _links "$1" "$2" || echo "# $1 not attached: $(cat "$tmp/$1.err")"; }
# ended NAME: wait (30 s at most) for NAME to exit by itself; status in st
ended() {
	wait_until 30 exited "$1" || kill -KILL "${pid[$1]}"
	wait "${pid[$1]}"
	st=$?
	unset "pid[$1]"
}
unload_msg="viommu: the iommufd module was unloaded, so no VM is left to watch: stopped (load it with 'modprobe iommufd' and run the tool again)"

tap_plan 15

# --- not loaded ---
typedefs=$(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null |
	grep -c "^\[[0-9]*\] TYPEDEF 'btf_trace_iommufd_")
is "not loaded: no iommufd misc device, no /sys/module/iommufd, the 20 events' BTF in vmlinux, no module BTF" \
	"$(present /sys/class/misc/iommu) $(present /sys/module/iommufd) $typedefs $(present /sys/kernel/btf/iommufd)" \
	"0 0 20 0"
# each command that needs the events: exit 1, exactly this line, no output
want_line="viommu: iommufd is not loaded (no /sys/class/misc/iommu, no /dev/iommu): load it with 'modprobe iommufd' and run the tool again"
not_loaded() { # NAME ARGS...
	local name=$1
	shift
	# bounded: a tool that missed the unloaded module would run on
	timeout 60 "$viommu" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
	is "not loaded: viommu $*: exit 1, one line naming 'modprobe iommufd', nothing on stdout" \
		"$? $(lines "$tmp/$name.err") $(grep -cxF "$want_line" "$tmp/$name.err") $(wc -c < "$tmp/$name.out")" \
		"1 1 1 0"
}
not_loaded top top -b -n 1
not_loaded lat lat 1 1
not_loaded trace trace
not_loaded topo topo --watch
timeout 60 "$viommu" record -o "$tmp/none.json" -d 1 > "$tmp/rec0.out" 2> "$tmp/rec0.err"
is "not loaded: viommu record: exit 1, the one line, no record file" \
	"$? $(lines "$tmp/rec0.err") $(grep -cxF "$want_line" "$tmp/rec0.err") $(present "$tmp/none.json")" \
	"1 1 1 0"

# --- loaded: the tools work with no flag ---
insmod "$ko"
rc=$?
# devtmpfs makes the node as the misc device registers
wait_until 10 test -c /dev/iommu
is "insmod iommufd.ko: status 0, /dev/iommu a char device, the module live" \
	"$rc $(test -c /dev/iommu && echo dev) $(cat /sys/module/iommufd/initstate 2>&1)" "0 dev live"
echo "# module BTF /sys/kernel/btf/iommufd: $(present /sys/kernel/btf/iommufd)"

launch top top --json -b 0.5
launch trace trace --json
launch rec record -o "$tmp/rec.json"
attached top 18; attached trace 20; attached rec 18
# a VM that holds /dev/iommu pins the module: the kernel refuses rmmod
"$load" -V 2 -i 2 -n 30 -u 4 -H 120 > "$tmp/load" 2> "$tmp/load.err" &
loadpid=$!
wait_until 120 vm_lines "$tmp/load" 2
rmmod iommufd 2> "$tmp/busy.err"
rc=$?
is "rmmod while 2 VMs hold /dev/iommu: refused (in use), the 3 tools still running" \
	"$rc $(grep -c 'in use' "$tmp/busy.err") $(exited top || echo top) $(exited trace || echo trace) $(exited rec || echo rec)" \
	"1 1 top trace rec"

# What the load did, per VM pid: invalidations, entries, S2 unmaps, VMID
# invalidations (an unmap invalidates each vIOMMU's VMID), vIOMMUs (for
# trace's alloc and destroy events)
awk '$1 == "viommu" || $1 == "vm" {
		delete f
		for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
	}
	$1 == "viommu" { inv[f["pid"]] += f["invalidations"]; ent[f["pid"]] += f["entries"] }
	$1 == "vm" { s2[f["pid"]] = f["s2_unmaps"]; n[f["pid"]] = f["viommus"] }
	END { for (p in s2) print p, inv[p], ent[p], s2[p], s2[p] * n[p], n[p] }' "$tmp/load" |
	sort -n > "$tmp/want"
sed 's/^/# load: pid invalidations entries s2_unmaps vmid_invals viommus: /' "$tmp/want"
is "viommu-load -V 2 -i 2 -n 30 -u 4: each of its 2 VMs did 60 invalidations (60 entries) and 4 S2 unmaps on 2 vIOMMUs" \
	"$(cut -d' ' -f2-4,6 "$tmp/want" | tr '\n' ';') $(lines "$tmp/load.err")" "60 60 4 2;60 60 4 2; 0"
# top's last row of each VM, per VMM pid
top_rows() {
	jq -r '.vms[]? | "\(.vmm_pid) \(.guest_invals_total) \(.guest_inval_entries_total) \(.s2_invals_total) \(.vmid_invals_total)"' \
		"$tmp/top.out" 2>/dev/null | awk '{ row[$1] = $0 } END { for (p in row) print row[p] }' | sort -n
}
cut -d' ' -f1-5 "$tmp/want" > "$tmp/top.want"
caught_up() { [ "$(top_rows)" = "$(cat "$tmp/top.want")" ]; }
wait_until 60 caught_up
is "top --json: each VM's totals (invalidations, entries, S2 unmaps, VMID invalidations) are the load's" \
	"$(top_rows)" "$(cat "$tmp/top.want")"
# the VMs close: their vIOMMUs' destroy events, then no holder of /dev/iommu
release_load

# --- unloaded under the tools ---
rmmod iommufd
rc=$?
ended top; top_st=$st
ended trace; trace_st=$st
ended rec; rec_st=$st
is "rmmod with no VM left: status 0, the module and /dev/iommu gone" \
	"$rc $(present /sys/module/iommufd) $(present /sys/class/misc/iommu)" "0 0 0"
is "top: exits 0 by itself, stderr its attached line then the module line, stdout whole JSON lines" \
	"$top_st $(lines "$tmp/top.err") $(head -1 "$tmp/top.err") $(tail -1 "$tmp/top.err" | grep -cxF "$unload_msg") $(jq -s 'length > 0' "$tmp/top.out")" \
	"0 2 viommu top: attached (tp_btf) 1 true"
# trace's events per VM pid: guest_inval, s2_inval, viommu_alloc, viommu_destroy
jq -r 'select(.event) | "\(.vmm_pid) \(.event)"' "$tmp/trace.out" |
	awk '{ n[$1 " " $2]++; p[$1] = 1 } END { for (q in p) print q, n[q " guest_inval"] + 0, n[q " s2_inval"] + 0,
		n[q " viommu_alloc"] + 0, n[q " viommu_destroy"] + 0 }' | sort -n > "$tmp/trace.got"
awk '{ print $1, $2, $4, $6, $6 }' "$tmp/want" > "$tmp/trace.want"
is "trace: exits 0 by itself, its totals line then the module line; per VM its guest_inval, s2_inval, viommu_alloc, viommu_destroy events are the load's" \
	"$trace_st $(lines "$tmp/trace.err") $(grep -c '^viommu trace: [0-9]* events, 0 lost$' "$tmp/trace.err") $(tail -1 "$tmp/trace.err" | grep -cxF "$unload_msg") $(tr '\n' ';' < "$tmp/trace.got")" \
	"0 2 1 1 $(tr '\n' ';' < "$tmp/trace.want")"
is "record: exits 0 by itself, the record whole with the load's guest invalidations, its summary then the module line" \
	"$rec_st $(jq -r .total.guest_invals "$tmp/rec.json") $(lines "$tmp/rec.err") $(grep -c '^viommu record: 2 VMs' "$tmp/rec.err") $(tail -1 "$tmp/rec.err" | grep -cxF "$unload_msg")" \
	"0 $(awk '{ s += $2 } END { print s }' "$tmp/want") 2 1 1"
# and back to the start: the tool says to load it again
timeout 60 "$viommu" top -b -n 1 > "$tmp/again.out" 2> "$tmp/again.err"
is "after rmmod: top exits 1 with the 'modprobe iommufd' line again" \
	"$? $(lines "$tmp/again.err") $(grep -cxF "$want_line" "$tmp/again.err")" "1 1 1"
tap_done
