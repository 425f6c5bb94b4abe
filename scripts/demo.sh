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
trap 'kill $loadpid 2>/dev/null; rm -rf "$tmp"' EXIT

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# KVM is a module in the test kernel
[ -e /dev/kvm ] || for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
	insmod "${TEST_KBUILD:?}/$m.ko"
done

show "viommu-load -k -V 4 -i 2 -e 4 -d 12 -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 &"
echo "# 4 VMs (with KVM VMs), 2 vIOMMUs each on one S2; VM 2's IOMMU takes 0.8 ms more"
"$load" -k -V 4 -i 2 -e 4 -d 12 -r 400 -u 50 -F 20 -E 80 -D 800 -s 2 -H 4 > "$tmp/load" &
loadpid=$!
sleep 2

show "viommu topo -p <VM 0's pid>"
"$viommu" topo -p "$(pgrep -f viommu-load | sort -n | sed -n 2p)"

show "viommu top -b 2 3"
"$viommu" top -b 2 3

show "viommu lat -k guest_inval 3 1"
"$viommu" lat -k guest_inval 3 1

wait $loadpid
show "# what viommu-load says it did"
cat "$tmp/load"
