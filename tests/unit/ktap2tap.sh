#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests for scripts/ktap2tap.awk: every KUnit case of kunit.py's KTAP
# output is one TAP result, and a case that never ran fails the tally.
. "$(dirname "$0")/../lib/tap.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
k2t() { awk -f "$here/scripts/ktap2tap.awk" "$@"; }

tap_plan 6

# two suites, a failure, a parameterised case, and the top-level results
cat > "$tmp/full.ktap" <<'KTAP'
KTAP version 1
1..2
    KTAP version 1
    # Subtest: arm-smmu-v3-kunit-test
    # module: arm_smmu_v3_test
    1..3
    ok 1 arm_smmu_v3_write_ste_test_bypass_to_abort
    not ok 2 arm_smmu_v3_vsmmu_vmid_test
        KTAP version 1
        # Subtest: param
        ok 1 first
    ok 3 arm_smmu_v3_vsmmu_kvm_vmid_test
# arm-smmu-v3-kunit-test: pass:2 fail:1 skip:0 total:3
not ok 1 arm-smmu-v3-kunit-test
    KTAP version 1
    # Subtest: other
    1..1
    ok 1 - one
ok 2 other
KTAP
is "cases flattened, suite named, failure kept" "$(k2t "$tmp/full.ktap")" "1..4
ok 1 - arm-smmu-v3-kunit-test: arm_smmu_v3_write_ste_test_bypass_to_abort
not ok 2 - arm-smmu-v3-kunit-test: arm_smmu_v3_vsmmu_vmid_test
ok 3 - arm-smmu-v3-kunit-test: arm_smmu_v3_vsmmu_kvm_vmid_test
ok 4 - other: one"

# the kernel died after the first case: the plan still counts three
head -7 "$tmp/full.ktap" > "$tmp/crashed.ktap"
k2t "$tmp/crashed.ktap" > "$tmp/crashed.tap"
is "a crash leaves the suite's plan" "$(head -1 "$tmp/crashed.tap")" "1..3"
is "a crash: the cases that ran" "$(grep -c '^ok ' "$tmp/crashed.tap")" 1
"$here/scripts/tally.sh" "$tmp/crashed.tap" > "$tmp/tally.out" 2>&1
is "a crash fails the tally" "$?" 1

# nothing at all (the build failed before the run): no case, a failing plan
: > "$tmp/empty.ktap"
is "no output: an empty plan" "$(k2t "$tmp/empty.ktap")" "1..0"
k2t "$tmp/full.ktap" > "$tmp/full.tap"
"$here/scripts/tally.sh" "$tmp/full.tap" > "$tmp/tally.out" 2>&1
is "a failed case fails the tally" "$?" 1
tap_done
