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
	# Returns to user space holding a spinlock: a lockdep report
	sh -c "echo SPINLOCKUP > $crash" &
	sh -c "echo HUNG_TASK > $crash" &
	# Spins with preemption off: a soft lockup and an RCU stall
	sh -c "echo SOFTLOCKUP > $crash" &
	# The reports come on their own timers; 12 s is several of each.
	sleep 12
	;;
fatal)
	echo BUG > $crash
	sleep 10 ;;
*) echo "usage: provoke.sh survivable|fatal" >&2; exit 2 ;;
esac
exit 0
