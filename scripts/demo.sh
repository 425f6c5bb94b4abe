#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo.sh - runs in the test VM (make demo): four VMs on the mock IOMMU,
# one of them with a slow IOMMU, seen through viommu topo, top and lat.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
viommu=$repo/build/viommu
load=$repo/build/viommu-load
tmp=$(mktemp -d)
trap 'kill $loadpid $load5 2>/dev/null; rm -rf "$tmp"' EXIT

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# KVM is a module in the test kernel
[ -e /dev/kvm ] || for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
	insmod "${TEST_KBUILD:?}/$m.ko"
done

show "viommu-load -k -V 4 -i 2 -e 4 -d 12 -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 &"
echo "# 4 VMs (with KVM VMs), 2 vIOMMUs each on one S2; VM 2's IOMMU sleeps"
echo "# 0.8 ms in every invalidation (longer under TCG, whose timers are coarse)"
"$load" -k -V 4 -i 2 -e 4 -d 12 -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 -H 4 > "$tmp/load" &
loadpid=$!
show "viommu-load -k -V 1 -i 3 -n 0 -u 1000000 &"
echo "# and a fifth VM that only unmaps: each S2 unmap invalidates its 3 VMIDs"
"$load" -k -V 1 -i 3 -n 0 -u 1000000 > /dev/null &
load5=$!
sleep 2

show "viommu topo --vm 1"
"$viommu" topo --vm 1

show "viommu top -b 2 3"
"$viommu" top -b 2 3

show "viommu lat -k guest_inval 3 1"
"$viommu" lat -k guest_inval 3 1

pkill -P $load5
kill $load5
wait $loadpid
show "# what viommu-load says it did (the first four VMs)"
cat "$tmp/load"
