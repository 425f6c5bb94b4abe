#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh - the VM suite, run inside the test VM by scripts/run-tests.sh.
#
# usage: run.sh            run the suites (in the test VM)
#        run.sh --list     print their names, one a line (also on the host)
#
# Which suites run depends on the kernel variant ($VIOMMU_VARIANT) and on
# how its config ($TEST_KBUILD/.config) has KVM; --list walks the same list
# the run does, so run-tests.sh knows every TAP file a run must leave.
# Each suite runs under its own time budget (timeout(1)), and its TAP goes
# to $VM_RESULTS/<name>.tap and to the terminal. A suite that exits
# non-zero, dies on a signal or overruns its budget gets a "Bail out!" line
# appended, which the tally counts as a failure; the next suite runs.
#
# The upstream iommufd selftest runs with every event of the iommufd trace
# system enabled (in a tracing instance of its own), so the tracing-only
# code runs under it; the alloc/destroy events seen per object class are
# printed after its results as TAP diagnostics.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# How the kernel under test has KVM: builtin, module or none
kvm_mode() {
	local config=${TEST_KBUILD:?}/.config
	if grep -q '^CONFIG_KVM=y' "$config" 2>/dev/null; then
		echo builtin
	elif grep -q '^CONFIG_KVM=m' "$config" 2>/dev/null; then
		echo module
	else
		echo none
	fi
}

# The main kernel's suites run in two VMs side by side when run-tests.sh
# sets VIOMMU_VM_PART to 1 or 2 (each VM takes a core); unset, one VM runs
# both parts. Part 2 starts at viommu_filters, so that with the steps each
# lane of run-tests.sh takes after it the lanes take about as long (part 1
# about 7 min, part 2 about 8, in a two-lane run here), and loads KVM for
# its own boot.
part=1
in_part() { [ -z "${VIOMMU_VM_PART:-}" ] || [ "$VIOMMU_VM_PART" = "$part" ]; }

# suites CALLBACK: "CALLBACK NAME SECONDS COMMAND..." for each suite, in
# order. SECONDS is the suite's budget: about ten times what it took in a
# TCG guest on a busy machine (iommufd 36 s, bpftrace_tools 39 s), at
# least a minute; one hang costs its budget, and the rest of the suites
# still fit in the VM's time limit.
suites() {
	local each=$1 kvm selftests
	# A kernel variant runs only the checks it exists for
	case ${VIOMMU_VARIANT:-} in
	nokvm)
		$each kvm_absent 60 "$TEST_BIN/kvm_absent" none
		$each viommu_nobtf 120 "$here/viommu_nobtf.sh"
		return ;;
	kvmy)
		$each kvm_builtin 60 sh -c 'echo 1..1; test -c /dev/kvm || printf "not "
			echo "ok 1 - /dev/kvm with no module loaded"'
		$each kvm_viommu 120 "$TEST_BIN/kvm_viommu"
		return ;;
	perf)
		# iommufd as a module (as distribution kernels build it): the
		# tool before it is loaded, with it, and as it is unloaded
		$each iommufd_module 300 "$here/iommufd_module.sh"
		return ;;
	esac
	# KVM is a module in the test kernel: check IOMMU_VIOMMU_ALLOC_KVM_FD
	# before it is loaded, then load it; iommufd_fail_nth and the tests
	# after need it. A kernel without KVM gets EOPNOTSUPP; one with KVM
	# built in has nothing to load.
	kvm=$(kvm_mode) || exit 2
	case $kvm in
	module)
		$each kvm_absent 60 "$TEST_BIN/kvm_absent" module
		$each kvm_module 60 "$here/kvm_module.sh" ;;
	none)
		$each kvm_absent 60 "$TEST_BIN/kvm_absent" none ;;
	esac
	# the debug kernel runs a case ten times longer: its build of the
	# selftests gives each case 300 s instead of the harness's 30 s
	selftests=${TEST_SELFTESTS:-}
	[ "${VIOMMU_VARIANT:-}" = debug ] && selftests=$selftests/long-timeout
	$each iommufd 400 "$here/run.sh" --iommufd-trace iommufd \
		"$selftests/iommufd"
	$each iommufd_fail_nth 300 "$here/run.sh" --iommufd-trace \
		iommufd_fail_nth "$selftests/iommufd_fail_nth"
	$each object_pairing 60 "$here/object_pairing.sh" \
		"${VM_RESULTS:-}/iommufd.objects" "${VM_RESULTS:-}/iommufd_fail_nth.objects"
	$each trace_viommu 120 "$TEST_BIN/trace_viommu"
	$each trace_events 120 "$TEST_BIN/trace_events"
	$each object_events 120 "$TEST_BIN/object_events"
	$each vmm_attribution 120 "$TEST_BIN/vmm_attribution"
	$each kvm_viommu 120 "$TEST_BIN/kvm_viommu"
	$each fault_virt_id 120 "$TEST_BIN/fault_virt_id"
	$each trace_edges 120 "$TEST_BIN/trace_edges"
	$each event_durations 120 "$TEST_BIN/event_durations"
	$each s2_paths 120 "$TEST_BIN/s2_paths"
	# issue 15: the uAPI fuzzed under allocation failures (45 s of steps),
	# then VMMs, fdinfo readers, SIGKILLs and the tool racing (40 s)
	$each fuzz_uapi 180 "$TEST_BIN/fuzz_uapi" -d 45
	$each stress_races 300 "$here/stress_races.sh"
	$each bpftrace_viommu 300 "$here/bpftrace_viommu.sh"
	$each bpftrace_tools 400 "$here/bpftrace_tools.sh"
	$each one_liners 600 "$here/one_liners.sh"
	$each viommu_tool 600 "$here/viommu_tool.sh"
	$each viommu_trace 300 "$here/viommu_trace.sh"
	# the debug kernel: what part 1 leaked, when it runs in a VM of its own
	kmemleak_scan kmemleak_1
	part=2
	if [ "$kvm" = module ] && [ "${VIOMMU_VM_PART:-}" = 2 ] &&
	   [ "$each" = run_suite ] && [ ! -e /dev/kvm ]; then
		"$here/kvm_module.sh" > /dev/null || echo "# run.sh: cannot load KVM"
	fi
	$each viommu_filters 600 "$here/viommu_filters.sh"
	$each viommu_bad_input 300 "$here/viommu_bad_input.sh"
	$each prometheus_export 450 "$here/prometheus_export.sh"
	$each viommu_hist 300 "$here/viommu_hist.sh"
	$each viommu_churn 300 "$here/viommu_churn.sh"
	$each viommu_top 300 "$here/viommu_top.sh"
	$each viommu_attrib 300 "$here/viommu_attrib.sh"
	$each demo 300 "$here/demo.sh"
	# the tool tests again with the ASan + UBSan build (tests/lib/sanitizer.sh)
	$each viommu_tool_asan 600 env VIOMMU_SANITIZE=1 "$here/viommu_tool.sh"
	$each viommu_churn_asan 300 env VIOMMU_SANITIZE=1 "$here/viommu_churn.sh"
	$each viommu_top_asan 300 env VIOMMU_SANITIZE=1 "$here/viommu_top.sh"
	# and what part 2 (or, in one VM, the whole suite) leaked, last
	kmemleak_scan kmemleak_2
}

# NAME: the debug kernel (kernel/variants/debug.config) scans for leaks
# after each part of the suite
kmemleak_scan() {
	if grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$TEST_KBUILD/.config" 2>/dev/null; then
		$each "$1" 120 "$here/kmemleak.sh"
	fi
}

# shellcheck disable=SC2317 # called through suites()
list_suite() { in_part && echo "$1"; }

# shellcheck disable=SC2317
run_suite() { # NAME SECONDS COMMAND...
	local name=$1 secs=$2 rc start took why=
	local tap=$VM_RESULTS/$1.tap
	in_part || return 0
	shift 2
	secs=$((secs * ${VIOMMU_TIME_SCALE:-1}))
	echo "== $name"
	start=$SECONDS
	# -k: a suite that ignores SIGTERM is killed 10 s later; timeout
	# signals the suite's whole process group, so its children go too
	timeout -k 10 "$secs" "$@" 2>&1 | tee "$tap"
	rc=${PIPESTATUS[0]}
	took=$((SECONDS - start))
	if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ "$took" -ge "$secs" ]; }; then
		why="timed out: killed after its budget of ${secs}s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo "$((rc - 128))")"
	elif [ "$rc" -ne 0 ]; then
		why="exited with status $rc"
	fi
	[ -n "$why" ] && echo "Bail out! run.sh: $name $why" | tee -a "$tap"
	echo "== $name: status $rc, ${took}s"
}

# --iommufd-trace NAME COMMAND...: run COMMAND with the iommufd trace events
# on; the object alloc/destroy events seen go to $VM_RESULTS/NAME.objects
# ("event ictx id" a line, after a "lost N" line) for object_pairing.sh
iommufd_trace() {
	local inst=/sys/kernel/tracing/instances/viommu-run rc lost=0 cpu n start
	local objects=$VM_RESULTS/$1.objects
	shift
	rm -f "$objects"
	# a leftover of a run killed half way
	[ -d "$inst" ] && { echo 0 > "$inst/events/iommufd/enable"; rmdir "$inst"; }
	if ! mkdir "$inst" || ! echo 16384 > "$inst/buffer_size_kb" ||
	   ! echo 1 > "$inst/events/iommufd/enable" || ! echo 1 > "$inst/tracing_on"; then
		echo "# run.sh: cannot enable the iommufd trace events in $inst"
		"$@"
		rc=$?
		[ -d "$inst" ] && rmdir "$inst"
		[ "$rc" -ne 0 ] && return "$rc"
		return 1
	fi
	# shellcheck disable=SC2064 # $inst is local: expand it now
	trap "echo 0 > '$inst/events/iommufd/enable'; rmdir '$inst'" EXIT
	start=$SECONDS
	"$@"
	rc=$?
	echo "# figures: the selftest ran $((SECONDS - start)) s, exit $rc"
	echo 0 > "$inst/events/iommufd/enable"
	for cpu in "$inst"/per_cpu/cpu*; do
		n=$(sed -n 's/^overrun: //p' "$cpu/stats")
		lost=$((lost + ${n:-0}))
	done
	# Reading the buffer runs the events' output code too
	awk -v lost="$lost" -v objects="$objects" '
		BEGIN {
			printf "lost %d\n", lost > objects
			# the field that holds the id of an object of each class
			key["viommu"] = "viommu"; key["vdevice"] = "vdev"
			key["hwpt_nested"] = "hwpt"; key["hw_queue"] = "hw_queue"
			key["veventq"] = "veventq"
		}
		match($0, / iommufd_[a-z0-9_]+: /) {
			ev = substr($0, RSTART + 9, RLENGTH - 11)
			n++
			if (ev ~ /_(alloc|destroy)$/) {
				cls = ev; sub(/_[a-z]+$/, "", cls)
				classes[cls] = 1
				count[ev]++
				ictx = id = "?"
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^ictx=/)
						ictx = substr($i, 6)
					if (index($i, key[cls] "=") == 1)
						id = substr($i, length(key[cls]) + 2)
				}
				printf "%s %s %s\n", ev, ictx, id > objects
			}
		}
		END {
			printf "# iommufd trace events during the selftest: %d, %d lost\n", n, lost
			for (c in classes)
				printf "# iommufd trace: %-12s alloc %6d destroy %6d\n",
					c, count[c "_alloc"], count[c "_destroy"] | "sort"
			close("sort")
		}' "$inst/trace"
	return "$rc"
}

case ${1:-} in
--list)
	TEST_BIN=${TEST_BIN:-} TEST_SELFTESTS=${TEST_SELFTESTS:-}
	suites list_suite
	exit 0 ;;
--iommufd-trace)
	shift
	iommufd_trace "$@"
	exit ;;
"") ;;
*) sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

: "${VM_RESULTS:?run inside the test VM}" "${TEST_BIN:?}"
export TEST_BIN VIOMMU_LOAD=${VIOMMU_LOAD:-$TEST_BIN/../viommu-load}
[ -n "${VIOMMU_VARIANT:-}" ] || : "${TEST_SELFTESTS:?}"
# The debug kernel (KASAN, kmemleak, debug objects) runs about ten times
# slower under TCG: each suite's budget, and each wait of a suite for a
# condition (tests/lib/tap.sh), is ten times as long
[ "${VIOMMU_VARIANT:-}" = debug ] && export VIOMMU_TIME_SCALE=10
suites run_suite
exit 0
