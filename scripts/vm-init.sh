#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# vm-init.sh - PID 1 of a test VM started by vm-run.sh.
#
# The root is the host's, read-only over 9p: give the guest writable tmpfs
# where programs expect to write, mount the results dir, run the command
# on the second serial port and leave its exit status in the results dir.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -t tmpfs -o mode=1777 tmpfs /run

# Paths the run needs (the clone, its cwd, the kernel cache) may lie under a
# directory that gets a tmpfs, e.g. a clone in /tmp: bind them aside first
# and back on top of the tmpfs.
keep=$(sed -n 's/.*vm_keep=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
mkdir -p /run/keep
: > /run/keep/list
n=0
for d in /tmp /var/tmp /root /dev/shm; do
	for p in $keep; do
		case $p/ in
		"$d"/*)
			n=$((n + 1))
			mkdir -p /run/keep/$n
			mount --bind "$p" /run/keep/$n
			echo "$n $p" >> /run/keep/list ;;
		esac
	done
	mount -t tmpfs -o mode=1777 tmpfs "$d"
	while read -r i p; do
		case $p/ in
		"$d"/*) mkdir -p "$p" && mount --bind /run/keep/$i "$p" ;;
		esac
	done < /run/keep/list
done
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /dev/hugepages && mount -t hugetlbfs hugetlbfs /dev/hugepages

results=$(sed -n 's/.*vm_results=\([^ ]*\).*/\1/p' /proc/cmdline)
export VM_RESULTS=/run/results
mkdir -p "$VM_RESULTS"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$VM_RESULTS"
export HOME=/root VM_HOST_RESULTS="$results" VM_GUEST=1

# Huge pages for the iommufd selftests (MAP_HUGETLB), quiet fault injection.
echo 64 > /proc/sys/vm/nr_hugepages
for f in /sys/kernel/debug/failslab /sys/kernel/debug/fail_page_alloc; do
	[ -d $f ] && echo 0 > $f/verbose
done
ip link set lo up 2>/dev/null

# This VM's control dir (vm-run.sh --name: two VMs on one results dir)
ctl=$VM_RESULTS/$(sed -n 's/.*vm_ctl=\([^ ]*\).*/\1/p' /proc/cmdline)
out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null
sh "$ctl/cmd" > $out 2>&1 < /dev/null
echo $? > "$ctl/rc"
dmesg > "$ctl/dmesg"
sync
umount "$VM_RESULTS"
echo o > /proc/sysrq-trigger
# PID 1 must not exit before the power-off lands (that would panic), and the
# root may already be gone: spin in the shell itself.
while :; do :; done
