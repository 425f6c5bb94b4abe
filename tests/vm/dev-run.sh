#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# dev-run.sh SUITE-SCRIPT...: run some VM suites by hand in the test VM,
# with the environment tests/vm/run.sh gives them (KVM loaded first):
#   TEST_KBUILD=/var/cache/viommu/build scripts/vm-run.sh -- tests/vm/dev-run.sh \
#       tests/vm/viommu_churn.sh 'VIOMMU_SANITIZE=1 tests/vm/viommu_churn.sh'
here=$(cd "$(dirname "$0")" && pwd)
export VIOMMU_LOAD=${VIOMMU_LOAD:-$here/../../build/viommu-load}
export TEST_BIN=${TEST_BIN:-$here/../../build/tests}
[ -e /dev/kvm ] || "$here/kvm_module.sh" > /dev/null
for s; do
	echo "=== $s"
	env $s
done
