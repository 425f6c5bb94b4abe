#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vm-run.sh - boot a test kernel under QEMU and run one command in it.
#
# usage: vm-run.sh [options] -- COMMAND [ARG...]
#   -k, --kernel BZIMAGE   kernel to boot (default: the cached build)
#   -r, --results DIR      results dir, shared read-write, seen by the guest
#                          as $VM_RESULTS (default: ./results/vm)
#   -t, --timeout SECS     kill the VM after this long (default 600)
#   -m, --mem SIZE         guest memory (default 2G)
#   -c, --cpus N           vCPUs (default 2)
#   -a, --append PARAMS    more kernel command line parameters
#   -n, --name NAME        a second VM on the same results dir: its console
#                          log is DIR/console-NAME.log
#   -v, --verbose          stream the kernel console as well
#   -i, --icount           count instructions: guest time advances 1 ns per
#                          guest instruction (QEMU -icount shift=0,sleep=off),
#                          so a rate the guest measures is an instruction
#                          count; the guest sees VIOMMU_ICOUNT=1
#
# The guest sees the host root read-only over virtio-9p (multidevs=remap),
# with tmpfs on /tmp, /run, /var/tmp, /root and /dev/shm. COMMAND runs in
# the current directory with its output on this terminal; its exit status
# is ours. The run fails (exit 125) when the VM dies without reporting a
# status, times out, or when the kernel log shows a report of a kind listed
# in scripts/kernel-log-patterns (BUG, WARNING, Oops, KASAN, KFENCE, UBSAN,
# list corruption, lockdep, soft lockup, RCU stall, hung task, kmemleak).
# The console log is kept in DIR/console.log (console-NAME.log with --name).
# VIOMMU_VM_SLOTS: how many test VMs may run at once (default: one a core).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kernel= results=$PWD/results/vm timeout=600 mem=2G cpus=2 verbose=0 icount=0
name= extra=

usage() { sed -n '4,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-k | --kernel) kernel=$2; shift 2 ;;
	-r | --results) results=$2; shift 2 ;;
	-t | --timeout) timeout=$2; shift 2 ;;
	-m | --mem) mem=$2; shift 2 ;;
	-c | --cpus) cpus=$2; shift 2 ;;
	-n | --name) name=$2; shift 2 ;;
	-a | --append) extra=$2; shift 2 ;;
	-v | --verbose) verbose=1; shift ;;
	-i | --icount) icount=1; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || usage
if [ -z "$kernel" ]; then
	kernel=$("$repo/scripts/kernel.sh" path | sed -n 's/^bzimage=//p')
fi
[ -f "$kernel" ] || { echo "vm-run.sh: no kernel at $kernel (run 'make kernel')" >&2; exit 125; }
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "vm-run.sh: qemu-system-x86_64 missing (run 'make deps')" >&2; exit 125; }

# A test VM runs its vCPUs on one host thread (below), so it keeps one core
# busy: at most one VM per core at a time (VIOMMU_VM_SLOTS, default the
# number of cores), each in a slot lock of its own, so no guest runs at a
# fraction of a core and stretches the timeouts in it. Multi-threaded TCG
# wants every core: it takes every slot. Instruction-counting VMs (the perf
# gate, detector-cost.sh) and KUnit's arm64 QEMU take none.
cache=${VIOMMU_CACHE:-/var/cache/viommu}
mkdir -p "$cache"
slots=${VIOMMU_VM_SLOTS:-$(nproc)}
take_all_slots() {
	local i fd
	for ((i = 0; i < slots; i++)); do
		exec {fd}>"$cache/.vm.lock${i#0}"
		flock -n "$fd" || {
			echo "vm-run.sh: waiting for the other test VMs to finish" >&2
			flock "$fd"
		}
	done
}
take_vm_slot() {
	local i waited=0
	while :; do
		for ((i = 0; i < slots; i++)); do
			exec 8>"$cache/.vm.lock${i#0}"
			flock -n 8 && return 0
			exec 8>&-
		done
		[ $waited = 1 ] ||
			echo "vm-run.sh: waiting for one of $slots test VMs to finish" >&2
		waited=1
		sleep 1
	done
}
# An instruction-counting VM measures guest instructions, which host load
# does not change: it need not wait (VIOMMU_VM_LOCK=0 skips the lock too).
if [ "$icount" = 1 ] || [ "${VIOMMU_VM_LOCK:-1}" = 0 ]; then
	:
elif [ "${VIOMMU_TCG_THREAD:-single}" = single ]; then
	take_vm_slot
else
	take_all_slots
fi

mkdir -p "$results"
results=$(cd "$results" && pwd)
ctl=$results/.vm${name:+-$name}
rm -rf "$ctl"
mkdir -p "$ctl"
console=$results/console${name:+-$name}.log
: > "$console"

[ "$icount" = 1 ] && export VIOMMU_ICOUNT=1
# The command, its directory and environment, as a script the guest runs.
{
	echo "cd $(printf '%q' "$PWD")"
	echo "export PATH=$(printf '%q' "$PATH")"
	for v in $(compgen -e | grep -E '^(VIOMMU_|TEST_)' || true); do
		echo "export $v=$(printf '%q' "${!v}")"
	done
	printf '%q ' "$@"
	echo
} > "$ctl/cmd"

append="console=ttyS0 root=/dev/root rootfstype=9p"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro"
append+=" init=$repo/scripts/vm-init.sh panic=-1 oops=panic"
append+=" vm_results=$results vm_ctl=${ctl##*/}"
# Paths under the guest's tmpfs dirs that must stay visible (see vm-init.sh)
append+=" vm_keep=$repo,$PWD,$cache"
[ -z "$extra" ] || append+=" $extra"

# One host thread runs all the vCPUs (they take turns; the guest is still
# SMP). QEMU 7.2's multi-threaded TCG can run a stale translation of code
# another vCPU has just patched: a tracepoint's call site rewritten by
# text_poke_bp() while a tool attaches, executed as the temporary int3, an
# "Oops: int3" the guest kernel did not cause. QEMU 8.1 reworked the
# locking around translation for this ("accel/tcg: Always lock pages
# before translation"); Debian 12 ships 7.2.
# Measured here: tracepoint churn under load (scripts/tcg-textpoke-race.sh)
# took that Oops in 1 of 3 two-minute runs multi-threaded, none in 3
# single-threaded; the whole suite once in about 6 runs. The cost in wall
# time: viommu_tool 58 s against 41 s on a busy machine, 42 s in a whole
# run on a quieter one. VIOMMU_TCG_THREAD=multi runs one thread per vCPU.
accel="tcg,thread=${VIOMMU_TCG_THREAD:-single}"
qemu=(qemu-system-x86_64 -accel "$accel" -cpu max -smp "$cpus" -m "$mem"
      -nodefaults -no-reboot -display none
      -kernel "$kernel" -append "$append"
      -fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
      -device virtio-9p-pci,fsdev=root,mount_tag=/dev/root
      -fsdev "local,id=res,path=$results,security_model=none,multidevs=remap"
      -device virtio-9p-pci,fsdev=res,mount_tag=results
      -chardev "file,id=con,path=$console"
      -serial chardev:con
      -chardev stdio,id=out,signal=off
      -serial chardev:out)
[ "$icount" = 1 ] && qemu+=(-icount shift=0,sleep=off)

tailpid=
if [ "$verbose" = 1 ]; then
	tail -n +1 -f "$console" >&2 &
	tailpid=$!
fi
set +e
timeout -s KILL "$timeout" "${qemu[@]}" < /dev/null
qrc=$?
set -e
[ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null

fail() {
	echo "vm-run.sh: $*" >&2
	echo "vm-run.sh: console log: $console" >&2
	exit 125
}
# Kernel reports first: a report often explains a time-out or a lost status.
kinds=
while IFS=$'\t' read -r kind re; do
	case $kind in '#'* | '') continue ;; esac
	if grep -Eq "$re" "$console"; then
		kinds+=" $kind"
		grep -E -m3 -A20 "$re" "$console" >&2
	fi
done < "$repo/scripts/kernel-log-patterns"
[ -z "$kinds" ] || fail "kernel reported a problem:$kinds"
[ $qrc -eq 137 ] && fail "VM timed out after ${timeout}s"
[ -s "$ctl/rc" ] || fail "VM exited (qemu status $qrc) without reporting the command's status"
exit "$(cat "$ctl/rc")"
