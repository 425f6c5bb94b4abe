#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo.sh - runs in the test VM (make demo): four VMs on the mock IOMMU,
# one of them with a slow IOMMU, and a fifth that only unmaps, seen through
# viommu topo, top and lat.
#
# The tools start first and the loads once each tool has said it is
# attached (its "Tracing ..." line): attaching under TCG takes seconds, and
# a load started before would be half over. Once top has printed three
# whole intervals with every VM set up the loads are stopped with SIGINT,
# which viommu-load answers by reporting what it did and exiting 0, and
# then the tools (lat prints its histograms then): no tool detaches while
# invalidations are in flight (under TCG the kernel's live patching of the
# tracepoint call sites then took an int3 Oops in iommufd_hwpt_invalidate,
# once in our runs).
# tests/vm/demo.sh checks the output.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
viommu=$repo/build/viommu
load=$repo/build/viommu-load
tmp=$(mktemp -d)
toppid= latpid= loadpid= load5=
trap 'kill $toppid $latpid $loadpid $load5 2>/dev/null; rm -rf "$tmp"' EXIT

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

# until SECS COMMAND...: poll COMMAND every 0.1 s, for at most SECS
# (times VIOMMU_TIME_SCALE, which the test VM sets on a slower kernel)
until_true() {
	local end=$((SECONDS + $1 * ${VIOMMU_TIME_SCALE:-1}))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		read -rt 0.1 < <(:) || :
	done
}
said() { grep -q "$2" "$1" 2>/dev/null; }

# KVM is a module in the test kernel
[ -e /dev/kvm ] || for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
	insmod "${TEST_KBUILD:?}/$m.ko"
done

# The tools first, each until it says it is attached
"$viommu" top -b 2 > "$tmp/top" 2>&1 &
toppid=$!
"$viommu" lat -k guest_inval > "$tmp/lat" 2>&1 &
latpid=$!
until_true 120 said "$tmp/top" '^Tracing' || die "viommu top did not attach: $(cat "$tmp/top")"
until_true 120 said "$tmp/lat" '^Tracing' || die "viommu lat did not attach: $(cat "$tmp/lat")"

# at most a minute (they are stopped after three intervals), longer on a
# slower kernel, where setting the five VMs up alone can take a minute
secs=$((60 * ${VIOMMU_TIME_SCALE:-1}))
show "viommu-load -k -V 4 -i 2 -e 4 -d $secs -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 &"
echo "# 4 VMs (with KVM VMs), 2 vIOMMUs each on one S2; VM 2's IOMMU sleeps"
echo "# 0.8 ms in every invalidation (longer under TCG, whose timers are coarse)"
"$load" -k -V 4 -i 2 -e 4 -d "$secs" -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 > "$tmp/load" 2>&1 &
loadpid=$!
show "viommu-load -k -V 1 -i 3 -n 0 -u 1000000 &"
echo "# and a fifth VM that only unmaps: each S2 unmap invalidates its 3 VMIDs"
"$load" -k -V 1 -i 3 -n 0 -u 1000000 > "$tmp/load5" 2>&1 &
load5=$!

# topo of the fifth VM once its three vIOMMUs exist (and the four VMs'
# two each)
vm5=
viommus_of() { "$viommu" topo -p "$1" 2>/dev/null | grep -c -- '- viommu '; }
vms_ready() {
	local vm
	vm5=$(pgrep -P "$load5" | head -1)
	[ -n "$vm5" ] && [ "$(viommus_of "$vm5")" = 3 ] || return 1
	[ "$(pgrep -P "$loadpid" | wc -l)" = 4 ] || return 1
	for vm in $(pgrep -P "$loadpid"); do
		[ "$(viommus_of "$vm")" = 2 ] || return 1
	done
}
until_true 120 vms_ready || die "the five VMs did not set up their vIOMMUs"
show "viommu topo -p $vm5"
"$viommu" topo -p "$vm5"

# three whole intervals of top with every VM running (on a slow kernel
# setting the VMs up takes the first ones), then stop the loads, then
# the tools
intervals_now() { grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}( |$)' "$tmp/top"; }
first=$(($(intervals_now) + 2))
intervals() { [ "$(intervals_now)" -ge $((first + 2)) ]; }
until_true 60 intervals || die "viommu top printed no three intervals: $(cat "$tmp/top")"
kill -INT $loadpid $load5
wait $loadpid
rc=$?
wait $load5
rc5=$?
loadpid= load5=
kill -INT $toppid $latpid
wait $toppid $latpid
toppid= latpid=

show "viommu top -b 2     # three intervals, then Ctrl-C"
awk -v first="$first" '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]( |$)/ { n++ }
	n < 1 || (n >= first && n < first + 3)' "$tmp/top"

show "viommu lat -k guest_inval     # Ctrl-C after the loads"
cat "$tmp/lat"

show "# what viommu-load says it did (status $rc, and $rc5 for the fifth VM)"
cat "$tmp/load" "$tmp/load5"
[ "$rc" = 0 ] && [ "$rc5" = 0 ]
