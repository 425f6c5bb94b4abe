#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh - the VM suite, run inside the test VM by scripts/run-tests.sh.
# Each suite's TAP goes to $VM_RESULTS/<name>.tap and to the terminal.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${VM_RESULTS:?run inside the test VM}" "${TEST_BIN:?}"
export TEST_BIN VIOMMU_LOAD=${VIOMMU_LOAD:-$TEST_BIN/../viommu-load}

suite() { # name command...
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$VM_RESULTS/$name.tap"
}

# A kernel variant runs only the checks it exists for
case ${VIOMMU_VARIANT:-} in
nokvm)
	suite kvm_absent "$TEST_BIN/kvm_absent" none
	suite viommu_nobtf "$here/viommu_nobtf.sh"
	exit 0 ;;
kvmy)
	suite kvm_builtin sh -c 'echo 1..1; test -c /dev/kvm || printf "not "
		echo "ok 1 - /dev/kvm with no module loaded"' 
	suite kvm_viommu "$TEST_BIN/kvm_viommu"
	exit 0 ;;
esac

# KVM is a module in the test kernel: check IOMMU_VIOMMU_ALLOC_KVM_FD before
# it is loaded, then load it; iommufd_fail_nth and the tests after need it.
# A kernel without KVM gets EOPNOTSUPP; one with KVM built in has nothing
# to load.
if [ -e /dev/kvm ]; then
	echo "== KVM is built in"
elif [ -f "${TEST_KBUILD:?}/arch/x86/kvm/kvm.ko" ]; then
	suite kvm_absent "$TEST_BIN/kvm_absent" module
	suite kvm_module "$here/kvm_module.sh"
else
	suite kvm_absent "$TEST_BIN/kvm_absent" none
fi
: "${TEST_SELFTESTS:?}"
suite iommufd "$TEST_SELFTESTS/iommufd"
suite iommufd_fail_nth "$TEST_SELFTESTS/iommufd_fail_nth"
suite trace_viommu "$TEST_BIN/trace_viommu"
suite trace_events "$TEST_BIN/trace_events"
suite kvm_viommu "$TEST_BIN/kvm_viommu"
suite fault_virt_id "$TEST_BIN/fault_virt_id"
suite bpftrace_viommu "$here/bpftrace_viommu.sh"
suite bpftrace_tools "$here/bpftrace_tools.sh"
suite one_liners "$here/one_liners.sh"
suite viommu_tool "$here/viommu_tool.sh"
exit 0
