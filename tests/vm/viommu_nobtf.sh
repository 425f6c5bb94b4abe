#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_nobtf.sh - on a kernel without BTF (the nokvm variant), the viommu
# tool says what is missing and how to get it, and exits 1.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

tap_plan 2
is "this kernel has no BTF" "$(test -e /sys/kernel/btf/vmlinux; echo $?)" 1
"$repo/build/viommu" top -b -n 1 > /dev/null 2> /tmp/err
rc=$?
grep -q 'this kernel has no BTF' /tmp/err && grep -q 'CONFIG_DEBUG_INFO_BTF=y' /tmp/err
is "viommu top: exit 1, naming BTF and the option that gives it" "$rc $?" "1 0"
tap_done
