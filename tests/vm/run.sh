#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh - the VM suite, run inside the test VM by scripts/run-tests.sh.
# Each suite's TAP goes to $VM_RESULTS/<name>.tap and to the terminal.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${VM_RESULTS:?run inside the test VM}" "${TEST_BIN:?}" "${TEST_SELFTESTS:?}"
export TEST_BIN VIOMMU_LOAD=${VIOMMU_LOAD:-$TEST_BIN/../viommu-load}

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
suite kvm_viommu "$TEST_BIN/kvm_viommu"
suite fault_virt_id "$TEST_BIN/fault_virt_id"
suite bpftrace_viommu "$here/bpftrace_viommu.sh"
suite bpftrace_tools "$here/bpftrace_tools.sh"
suite one_liners "$here/one_liners.sh"
exit 0
