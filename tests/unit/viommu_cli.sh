#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The viommu CLI on the host: usage errors exit 2, and on this machine's own
# kernel (no iommufd trace events) it names every missing event.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"

tap_plan 13
"$viommu" > /dev/null 2>&1
is "no command: exit 2" "$?" 2
"$viommu" frobnicate > /dev/null 2> "$tmp/err"
is "unknown command: exit 2" "$?" 2
grep -q "unknown command 'frobnicate'" "$tmp/err"
tap_result $? "... naming it" "$(cat "$tmp/err")"
"$viommu" top -n x > /dev/null 2>&1
is "top -n x: exit 2" "$?" 2
"$viommu" compare only-one.json > /dev/null 2>&1
is "compare with one record: exit 2" "$?" 2
"$viommu" compare /nonexistent/a.json /nonexistent/b.json > /dev/null 2> "$tmp/err"
is "compare of a missing file: exit 2" "$?" 2
# a record of schema 1 (log2 histograms): refused in one line saying what to do
printf '{"type":"viommu-record","schema_version":1,"total":{"lat":{}}}' > "$tmp/old.json"
"$viommu" compare "$tmp/old.json" "$tmp/old.json" > /dev/null 2> "$tmp/err"
is "compare of a schema 1 record: exit 2, one line naming the file, the schema and the fix" \
	"$? $(wc -l < "$tmp/err") $(grep -c "base: schema 1 record .*record it again with this viommu (schema 3) ($tmp/old.json)" "$tmp/err")" "2 1 1"
# A VM id is a context id: any u32 but 0 (random, so half are above INT32_MAX)
"$viommu" topo --vm 4294967295 > "$tmp/out" 2>&1
rc1=$?
"$viommu" topo --vm 4294967296 > /dev/null 2> "$tmp/err"
rc2=$?
is "topo --vm 4294967295 (U32_MAX) is a VM id (no such VM: exit 0); 4294967296 is not (exit 2, named)" \
	"$rc1 $(grep -c '^no iommufd contexts' "$tmp/out") $rc2 $(grep -c 'invalid VM id: 4294967296' "$tmp/err")" "0 1 2 1"
# -V is the version, as in BCC's tools; lat's per-vIOMMU view is --per-viommu
is "viommu --version, viommu -V, top --version, lat -V, viommu-top -V: the version, exit 0" \
	"$("$viommu" --version; "$viommu" -V; "$viommu" top --version; "$viommu" lat -V; "$repo/build/viommu-top" -V; echo $?)" \
	"$(printf 'viommu 2.0\n%.0s' 1 2 3 4 5; echo 0)"
"$viommu" lat --help > "$tmp/out" 2>&1
grep -q -- '--per-viommu  *Guest invalidations per vIOMMU' "$tmp/out" && ! grep -q -- '-V, --per-viommu' "$tmp/out"
tap_result $? "lat: per vIOMMU is --per-viommu, not -V" "$(grep -e -V -e per-viommu "$tmp/out")"
tap_result "$(grep -q '^EXAMPLES:' "$tmp/out"; echo $?)" "lat --help has examples"
"$repo/build/viommu-top" --help 2>&1 | grep -q 'viommu top: a live table'
tap_result $? "viommu-top is viommu top"

# This machine's kernel has none of the project's events (or no BTF at all)
"$viommu" top -b -n 1 > /dev/null 2> "$tmp/err"
rc=$?
# Privileged means the effective capabilities, not uid 0 (a root shell in
# a container may lack them): CAP_BPF (39) and CAP_PERFMON (38), or
# CAP_SYS_ADMIN (21)
caps=$((16#$(awk '/^CapEff:/ { print $2 }' /proc/self/status)))
if (( !((caps >> 39 & 1) && (caps >> 38 & 1)) && !(caps >> 21 & 1) )); then
	grep -q "CAP_BPF and CAP_PERFMON" "$tmp/err"
elif [ -e /sys/kernel/btf/vmlinux ]; then
	[ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "lacks 20 of the 20 iommufd trace events" "$tmp/err" &&
		grep -q "iommufd:iommufd_viommu_alloc" "$tmp/err" && grep -q "make kernel" "$tmp/err" &&
		# -v lists every missing event, one per line, before that line
		[ "$("$viommu" top -v -b -n 1 2>&1 >/dev/null | grep -c '^viommu: missing event iommufd:iommufd_')" = 20 ]
else
	grep -q "no BTF" "$tmp/err"
fi
is "host kernel: exit 1, one line naming the missing events (-v: each of the 20) and where to get them" "$rc $?" "1 0"
tap_done
