#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# reliability-run.sh: the suites of the README's reliability table, one
# after another in the test VM, each into $VM_RESULTS/NAME.tap:
#   TEST_KBUILD=/var/cache/viommu/build scripts/vm-run.sh -t 1500 -r build/rel -- tests/vm/reliability-run.sh
# (build/rel, not results/: make unit and make vm-test empty results/),
# the seconds of each suite in $VM_RESULTS/times.
here=$(cd "$(dirname "$0")" && pwd)
export VIOMMU_LOAD=${VIOMMU_LOAD:-$here/../../build/viommu-load}
export TEST_BIN=${TEST_BIN:-$here/../../build/tests}
sel=${TEST_SELFTESTS:-/var/cache/viommu/selftests}
[ -e /dev/kvm ] || "$here/kvm_module.sh" > /dev/null
suite() { # NAME COMMAND...
	local name=$1 start=$SECONDS
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$VM_RESULTS/$name.tap"
	echo "== $name: status ${PIPESTATUS[0]}, $((SECONDS - start)) s" | tee -a "$VM_RESULTS/times"
}
suite iommufd "$here/run.sh" --iommufd-trace iommufd "$sel/iommufd"
suite iommufd_fail_nth "$here/run.sh" --iommufd-trace iommufd_fail_nth "$sel/iommufd_fail_nth"
suite object_pairing "$here/object_pairing.sh" "$VM_RESULTS/iommufd.objects" "$VM_RESULTS/iommufd_fail_nth.objects"
suite fuzz_uapi "$TEST_BIN/fuzz_uapi" -d 45
suite stress_races "$here/stress_races.sh"
suite viommu_bad_input "$here/viommu_bad_input.sh"
suite viommu_tool_asan env VIOMMU_SANITIZE=1 "$here/viommu_tool.sh"
suite viommu_churn_asan env VIOMMU_SANITIZE=1 "$here/viommu_churn.sh"
suite viommu_top_asan env VIOMMU_SANITIZE=1 "$here/viommu_top.sh"
