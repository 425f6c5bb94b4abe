#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# provoke.sh - runs in a throwaway test VM: make the kernel report one
# problem of each kind through LKDTM (drivers/misc/lkdtm), for
# tests/boot/kernel_log_check.sh.
#
# usage: provoke.sh survivable|fatal
#   survivable  a WARNING, a UBSAN array bound, a list corruption, a KFENCE
#               use-after-free, a spinlock held on return to user space
#               (lockdep), a hung task, and a CPU spinning with preemption
#               off (a soft lockup and an RCU stall); then the VM powers off
#   fatal       a BUG(): Oops, and the panic that oops=panic makes of it
set -u
insmod "${TEST_KBUILD:?}/drivers/misc/lkdtm/lkdtm.ko" || exit 1
crash=/sys/kernel/debug/provoke-crash/DIRECT
# reported PATTERN: wait up to 30 s for the kernel log to show PATTERN
reported() {
	i=0
	while ! dmesg | grep -Eq "$1"; do
		i=$((i + 1))
		[ $i -lt 60 ] || { echo "provoke.sh: no '$1' after 30 s" >&2; return 1; }
		sleep 0.5
	done
}
case ${1:-} in
survivable)
	# Report quickly: soft lockup after 2 x 2 s, RCU stall after 3 s, a
	# hung task after 2 s, and KFENCE sampling every millisecond.
	echo 2 > /proc/sys/kernel/watchdog_thresh
	echo 3 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout
	echo 2 > /proc/sys/kernel/hung_task_timeout_secs
	echo 1 > /sys/module/kfence/parameters/sample_interval
	for t in WARNING ARRAY_BOUNDS CORRUPT_LIST_ADD KFENCE_READ_AFTER_FREE; do
		echo "$t" > $crash
	done
	# One at a time, each started once the one before has been reported:
	# the soft lockup takes a CPU for good, and with SPINLOCKUP's leaked
	# preempt count it can leave khungtaskd no CPU to report the hung task
	# on (seen once in CI). Each wait is bounded; a report that never comes
	# fails the check that looks for it, not this script.
	sh -c "echo HUNG_TASK > $crash" &
	reported 'INFO: task .* blocked for more than'
	# Returns to user space holding a spinlock: a lockdep report
	sh -c "echo SPINLOCKUP > $crash" &
	reported 'lock held when returning to user space'
	# Spins with preemption off: a soft lockup and an RCU stall
	sh -c "echo SOFTLOCKUP > $crash" &
	reported 'soft lockup - CPU'
	reported 'detected stall'
	# let the console catch up with the log before the VM powers off
	sleep 2
	;;
fatal)
	echo BUG > $crash
	sleep 10 ;;
*) echo "usage: provoke.sh survivable|fatal" >&2; exit 2 ;;
esac
exit 0
