#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh - the VM suite, run inside the test VM by scripts/run-tests.sh.
# Each suite's TAP goes to $VM_RESULTS/<name>.tap and to the terminal.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${VM_RESULTS:?run inside the test VM}" "${TEST_BIN:?}" "${TEST_SELFTESTS:?}"
export TEST_BIN

suite() { # name command...
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$VM_RESULTS/$name.tap"
}

suite iommufd "$TEST_SELFTESTS/iommufd"
suite iommufd_fail_nth "$TEST_SELFTESTS/iommufd_fail_nth"
suite trace_viommu "$TEST_BIN/trace_viommu"
suite trace_events "$TEST_BIN/trace_events"
suite bpftrace_viommu "$here/bpftrace_viommu.sh"
exit 0
