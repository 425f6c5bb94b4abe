#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The viommu CLI's bad-input matrix, the rows this host can show (its
# kernel has no iommufd events; tests/vm/viommu_bad_input.sh has the rows
# that need the project's kernel). Each row: the exit status viommu(8)
# documents, exactly one line on stderr naming what is missing or wrong
# and how to get it right, nothing on stdout, no file left behind.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"
chmod 755 "$tmp"
rec=$repo/tests/fuzz/corpus/record

# row NAME WANT_RC STDERR_REGEX... : the last run's status, a single stderr
# line matching every regex, and an empty stdout
row() {
	local name=$1 want=$2 lines re miss=""
	shift 2
	lines=$(wc -l < "$tmp/err")
	for re in "$@"; do
		grep -qE -- "$re" "$tmp/err" || miss+=" /$re/"
	done
	is "$name: exit $want, one line on stderr, nothing on stdout" \
		"$rc $lines $(wc -c < "$tmp/out")${miss:+ missing$miss}" "$want 1 0"
}
run() { "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

tap_plan 25

# --- privileges and kernel support ---
run nobody --inh-caps=-all "$viommu" top -b -n 1
row "not root" 1 'permission denied' 'CAP_BPF and CAP_PERFMON' 'sudo|setcap cap_bpf,cap_perfmon\+ep'
# CAP_BPF and CAP_PERFMON alone get past the privilege check: here, to the
# missing events (in the VM, to the ptrace warning: viommu_bad_input.sh)
caps=-all,+bpf,+perfmon
run nobody --inh-caps=$caps --ambient-caps=$caps --bounding-set=$caps "$viommu" top -b -n 1
row "not root, only CAP_BPF+CAP_PERFMON" 1 'lacks 20 of the 20 iommufd trace events' 'make kernel'
run env VIOMMU_BTF="$tmp/no-such-btf" "$viommu" lat
row "no BTF" 1 'has no BTF' 'CONFIG_DEBUG_INFO_BTF=y'
run "$viommu" trace
row "iommufd events missing" 1 'lacks 20 of the 20 iommufd trace events .*iommufd:iommufd_viommu_alloc' \
	"kernel/patches, built by 'make kernel'"
# topo needs no BPF: as nobody it cannot read the other processes' fds
run nobody --inh-caps=-all "$viommu" topo
is "not root: topo exits 0 with one warning line naming CAP_SYS_PTRACE and setcap" \
	"$rc $(wc -l < "$tmp/err") $(grep -c 'warning: cannot read the open files .*CAP_SYS_PTRACE.*setcap' "$tmp/err")" "0 1 1"

# --- output: a reader that goes away, stdout closed, a full disk ---
# a /proc of one VMM with 3000 objects: topo prints far more than a pipe holds
mkdir -p "$tmp/proc/4242/fd" "$tmp/proc/4242/fdinfo"
ln -s /dev/iommu "$tmp/proc/4242/fd/3"
echo qemu > "$tmp/proc/4242/comm"
{
	printf 'iommufd-ctx:\t7\niommufd-owner-tgid:\t4242\niommufd-object:\tid=1 type=ioas\n'
	for i in $(seq 2 3000); do printf 'iommufd-object:\tid=%d type=hwpt_paging ioas=1\n' "$i"; done
} > "$tmp/proc/4242/fdinfo/3"
VIOMMU_PROC=$tmp/proc "$viommu" topo 2> "$tmp/err" | head -1 > "$tmp/out"
is "SIGPIPE (topo | head -1): killed by SIGPIPE (141), nothing on stderr, head got the first line" \
	"${PIPESTATUS[0]} $(wc -c < "$tmp/err") $(cat "$tmp/out")" \
	"141 0 vm 7  pid 4242 (qemu)  fd 3 of pid 4242  3000 objects"
# ... even when the caller left SIGPIPE ignored (the tool restores it)
(trap '' PIPE; VIOMMU_PROC=$tmp/proc "$viommu" topo 2> "$tmp/err" | head -1 > /dev/null; echo "${PIPESTATUS[0]}" > "$tmp/st")
is "SIGPIPE ignored by the caller: still 141 and nothing on stderr" "$(cat "$tmp/st") $(wc -c < "$tmp/err")" "141 0"
VIOMMU_PROC=$tmp/proc "$viommu" topo >&- 2> "$tmp/err"
rc=$?
: > "$tmp/out"
row "stdout closed (topo >&-)" 2 'standard output is closed' '> FILE'
"$viommu" compare "$rec/valid.json" "$rec/valid.json" >&- 2> "$tmp/err"
rc=$?
: > "$tmp/out"
row "stdout closed (compare >&-)" 2 'standard output is closed'
VIOMMU_PROC=$tmp/proc "$viommu" topo > /dev/full 2> "$tmp/err"
rc=$?
row "stdout on a full disk (topo > /dev/full)" 1 'viommu topo: writing standard output: No space left on device'

# --- records for compare: each unusable one is exit 2 in one line naming it ---
cp "$rec/truncated.json" "$rec/empty" "$rec/schema1.json" "$rec/schema4.json" \
	"$rec/not_json" "$rec/negative.json" "$rec/huge.json" "$tmp/"
mkdir "$tmp/a-directory"
cmp_row() { # NAME FILE REGEX...
	local name=$1 file=$2
	shift 2
	run "$viommu" compare "$rec/valid.json" "$file"
	row "compare, $name" 2 "$file" "$@"
}
cmp_row "record truncated" "$tmp/truncated.json" 'cut short' 'record it again with viommu record'
cmp_row "record empty" "$tmp/empty" 'empty file' 'record it again with viommu record'
cmp_row "record of schema 1" "$tmp/schema1.json" 'schema 1 record' 'record it again with this viommu'
cmp_row "record of schema 4" "$tmp/schema4.json" 'schema_version 4, this viommu reads 2 to 3' 'compare it with the viommu that wrote it'
cmp_row "not JSON" "$tmp/not_json" 'not JSON \(unexpected character, at byte 0\)'
cmp_row "negative counts" "$tmp/negative.json" 'total.lat.guest_inval: "count" is negative \(-5\)'
cmp_row "huge counts" "$tmp/huge.json" '"count" is 18446744073709551615, beyond what a record holds'
cmp_row "a directory" "$tmp/a-directory" 'a directory, not a record'
cmp_row "no such file" "$tmp/nothing.json" 'No such file or directory'

# --- an output path that cannot be written: found before the run, nothing left ---
mkdir "$tmp/ro"
run "$viommu" record -o "$tmp/a-directory" -d 1
row "record -o a directory" 2 'is a directory: name a file'
run "$viommu" record -o "$tmp/no/such/dir.json" -d 1
row "record -o in a directory that does not exist" 2 'its directory does not exist'
# ro_run DIR ARGS...: viommu ARGS with a read-only tmpfs on DIR, in a
# mount namespace of its own; its mounts private, unless / is no mount
# point to make private (a chroot, as in check-fresh, itself in a private
# namespace)
ro_run() {
	local dir=$1 prop=private
	shift
	unshare -m --propagation private true 2>/dev/null || prop=unchanged
	unshare -m --propagation $prop sh -c 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"' \
		sh "$dir" "$viommu" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
ro_run "$tmp/ro" record -o "$tmp/ro/run.json" -d 1
row "record -o in a read-only directory" 1 "cannot write $tmp/ro/run.json: Read-only file system" \
	'choose a directory you can write in'
ro_run "$tmp/ro" export -t "$tmp/ro" 1
row "export --textfile in a read-only directory" 1 "textfile $tmp/ro: cannot write in it: Read-only file system"
# a directory of another user's, seen from the disk: nothing may be left
mkdir -m 755 "$tmp/roots"
run nobody --inh-caps=-all "$viommu" record -o "$tmp/roots/run.json" -d 1
row "record -o in another user's directory (not root)" 1 "cannot write $tmp/roots/run.json: Permission denied"
is "no file left behind by the refused records" "$(ls -A "$tmp/roots" "$tmp/a-directory" | tr '\n' ' ')" \
	"$tmp/a-directory:  $tmp/roots: "
tap_figures
tap_done
