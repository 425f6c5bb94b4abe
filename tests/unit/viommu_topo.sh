#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# viommu topo on the host, against a /proc laid out by hand (VIOMMU_PROC):
# one VMM with an iommufd context of 300 devices and 300 vDEVICEs on one
# vIOMMU (wider than the 256 children trees were cut at), vIOMMUs and
# vEVENTQs of known and unknown types; its JSON lines; its memory under
# valgrind; a VM whose file another process opened (libvirtd for QEMU),
# named after its VMM and selected by -p with either pid; and, against the
# real /proc, the warning when another user's open files cannot be read.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"

# The fdinfo format: Documentation/userspace-api/iommufd.rst, "Objects in fdinfo"
proc=$tmp/proc
mkdir -p "$proc/100/fd" "$proc/100/fdinfo" "$proc/200/fd" "$proc/200/fdinfo" \
	"$proc/300/fd" "$proc/300/fdinfo"
echo qemu-fake > "$proc/100/comm"
echo libvirtd-fake > "$proc/200/comm"
echo qemu-vmm > "$proc/300/comm"
ln -s /dev/iommu "$proc/100/fd/3"
ln -s /dev/null "$proc/100/fd/4"
ln -s /dev/null "$proc/200/fd/0"
ln -s /dev/iommu "$proc/300/fd/5"
printf 'pos:\t0\nflags:\t02\n' > "$proc/100/fdinfo/4"
printf 'pos:\t0\nflags:\t02\n' > "$proc/200/fdinfo/0"
# VM 9: libvirtd (200) opened /dev/iommu and passed it to QEMU (300), the
# VMM, which allocated its vIOMMU; libvirtd closed its copy
printf 'pos:\t0\nflags:\t02\niommufd-ctx:\t9\niommufd-owner-tgid:\t200\n%s' \
	"$(printf 'iommufd-object:\tid=%s\n' '1 type=ioas' '2 type=hwpt_paging ioas=1 nest_parent=1' \
		'3 type=viommu hwpt=2 viommu_type=3735928559 vmid=8 vmm_pid=300')" > "$proc/300/fdinfo/5"
{
	printf 'pos:\t0\nflags:\t02\nmnt_id:\t20\nino:\t5\n'
	printf 'iommufd-ctx:\t7\niommufd-owner-tgid:\t100\n'
	printf 'iommufd-object:\tid=%s\n' \
		'1 type=ioas' \
		'2 type=hwpt_paging ioas=1 nest_parent=1' \
		'3 type=viommu hwpt=2 viommu_type=3735928559 vmid=5 vmm_pid=100' \
		'4 type=viommu hwpt=2 viommu_type=1 vmid=6 kvm_pid=0' \
		'5 type=viommu hwpt=2 viommu_type=77 vmid=7 kvm_pid=0' \
		'6 type=veventq viommu=3 veventq_type=3203383023 depth=64' \
		'7 type=hw_queue viommu=3 hw_queue_type=3735928559 index=0 base_addr=0x8000 length=4096' \
		'8 type=veventq viommu=4 veventq_type=1 depth=32'
	for i in $(seq 0 299); do
		printf 'iommufd-object:\tid=%d type=device dev=mock%d\n' $((100 + i)) "$i"
	done
	for i in $(seq 0 299); do
		printf 'iommufd-object:\tid=%d type=vdevice viommu=3 dev=%d virt_id=0x%x\n' \
			$((1000 + i)) $((100 + i)) $((0x100 + i))
	done
} > "$proc/100/fdinfo/3"

tap_plan 12
VIOMMU_PROC=$proc "$viommu" topo > "$tmp/tree" 2> "$tmp/err"
is "topo: exit 0, two VMs, the first with its 608 objects" \
	"$? $(grep -c '^vm ' "$tmp/tree") $(grep '^vm 7 ' "$tmp/tree")" \
	"0 2 vm 7  pid 100 (qemu-fake)  fd 3 of pid 100  608 objects"
is "topo: a VM whose file another process opened: pid and name of its VMM, then the opener" \
	"$(grep '^vm 9 ' "$tmp/tree")" "vm 9  pid 300 (qemu-vmm)  opener 200  fd 5 of pid 300  3 objects"
is "topo: all 300 devices at the root and all 300 vDEVICEs under their vIOMMU, none cut" \
	"$(grep -c '^[|` ]-- device \|^[`|]- device ' "$tmp/tree") $(grep -c -- '- vdevice ' "$tmp/tree")" "300 300"
is "topo: the last vDEVICE, under viommu 3, with its device and vRID" \
	"$(grep -- '- vdevice 1299 ' "$tmp/tree" | sed 's/^[ |`-]*//')" "vdevice 1299 dev 399 mock299 virt_id 0x22b"
is "topo: vIOMMU, vEVENTQ and HW queue types by their uAPI names, the number only for an unknown one" \
	"$(grep -oE '(viommu|veventq|hw_queue) [0-9]+ type [a-z0-9_]+' "$tmp/tree" | tr '\n' ',')" \
	"viommu 3 type selftest,veventq 6 type selftest,hw_queue 7 type selftest,viommu 4 type arm_smmuv3,veventq 8 type arm_smmuv3,viommu 5 type 77,viommu 3 type selftest,"

before=$(date +%s%3N)
VIOMMU_PROC=$proc "$viommu" topo --json > "$tmp/json" 2> "$tmp/err"
rc=$?
after=$(date +%s%3N)
is "topo --json: one line with schema_version, type and ts_unix_ms (now, in ms)" \
	"$rc $(wc -l < "$tmp/json") $(jq -r --argjson b "$before" --argjson a "$after" \
		'"\(.schema_version) \(.type) \(.ts_unix_ms >= $b and .ts_unix_ms <= $a)"' "$tmp/json")" \
	"0 1 3 viommu-topo true"
is "topo --json: each VM's opener_pid, vmm_pid and the VMM's comm" \
	"$(jq -r '.vms[] | "\(.vm) \(.opener_pid) \(.vmm_pid) \(.comm) \([.objects[] | select(.type == "viommu") | .vmm_pid] | unique)"' "$tmp/json" | tr '\n' ,)" \
	'7 100 100 qemu-fake [0,100],9 200 300 qemu-vmm [300],'
for p in 100 200 300 999; do
	printf '%s:%s ' "$p" "$(VIOMMU_PROC=$proc "$viommu" topo -p "$p" --json | jq -c '[.vms[].vm]')"
done > "$tmp/bypid"
is "topo -p PID: the VMs whose opener or VMM is PID" "$(cat "$tmp/bypid")" "100:[7] 200:[9] 300:[9] 999:[] "
is "topo --json: types as names (the number as a string when unknown)" \
	"$(jq -c '[.vms[] | select(.vm == 7) | .objects[] | select(.viommu_type or .veventq_type or .hw_queue_type) |
		"\(.id) \(.viommu_type // .veventq_type // .hw_queue_type | type) \(.viommu_type // .veventq_type // .hw_queue_type)"]' "$tmp/json")" \
	'["3 string selftest","4 string arm_smmuv3","5 string 77","6 string selftest","7 string selftest","8 string arm_smmuv3"]'
is "topo --json: 300 vDEVICEs, virt_id an unsigned number" \
	"$(jq -r '[.vms[].objects[] | select(.type == "vdevice") | .virt_id] | "\(length) \(map(type) | unique) \(min) \(max)"' "$tmp/json")" \
	'300 ["number"] 256 555'

# Each context's JSON is freed with the line: nothing definitely lost
if command -v valgrind > /dev/null; then
	VIOMMU_PROC=$proc valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=99 "$viommu" topo --json > /dev/null 2> "$tmp/vg"
	rc=$?
	is "topo --json under valgrind: no leak, no memory error" "$rc" 0
	[ "$rc" = 0 ] || sed 's/^/# /' "$tmp/vg" | head -20
else
	tap_result 1 "topo --json under valgrind" "valgrind is missing: make deps"
fi

# Another user's processes: their fds need ptrace read access. Said once.
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$viommu" topo > "$tmp/out" 2> "$tmp/err"
rc=$?
is "not root: topo exits 0 and warns once that other processes' fds need CAP_SYS_PTRACE (ptrace read access)" \
	"$rc $(grep -c 'warning: cannot read the open files of' "$tmp/err") $(grep -c 'CAP_SYS_PTRACE' "$tmp/err") $(grep -c 'PTRACE_MODE_READ' "$tmp/err")" \
	"0 1 1 1"
tap_done
