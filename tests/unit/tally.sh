#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests for scripts/tally.sh: the closing line counts must be exact.
. "$(dirname "$0")/../lib/tap.sh"
tally=$(dirname "$0")/../../scripts/tally.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tap_plan 36

# The skips these cases expect ("SUITE TEST" per line)
cat > "$tmp/skips" <<'EOF'
# a comment, then a blank line

mixed b
kself iommufd_viommu.no_viommu.hw_queue
kself iommufd_viommu.no_viommu.vdevice_cache
nokvm:varskip the variant's case
known the kernel bug
EOF
t() { "$tally" -s "$tmp/skips" "$@"; }

printf '1..3\nok 1 a\nok 2 b # SKIP no hugepages\nnot ok 3 c\n' > "$tmp/mixed.tap"
out=$(t "$tmp/mixed.tap"); rc=$?
is "mixed: closing line" "$(echo "$out" | tail -1)" "1 passed, 1 failed, 1 skipped"
is "mixed: exit status on failure" "$rc" 1
echo "$out" | grep -q '^  mixed: 3 c$'
tap_result $? "mixed: the failed case is named"

printf '1..5\nok 1 a\nok 2 b\n' > "$tmp/crashed.tap"
out=$(t "$tmp/crashed.tap")
is "crash: missing planned results count as failed" "$(echo "$out" | tail -1)" "2 passed, 3 failed, 0 skipped"

printf 'TAP version 13\n1..2\n# ok 7 nested diagnostics do not count\nok 1 a\nok 2 b\n' > "$tmp/clean.tap"
out=$(t "$tmp/clean.tap" "$tmp/clean.tap"); rc=$?
is "clean: sums over files" "$(echo "$out" | tail -1)" "4 passed, 0 failed, 0 skipped"
is "clean: exit status" "$rc" 0

printf '1..1\nok 1 a\nok 2 b\n' > "$tmp/over.tap"
out=$(t "$tmp/over.tap")
is "more results than planned counts as a failure" "$(echo "$out" | tail -1)" "2 passed, 1 failed, 0 skipped"

out=$(t "$tmp/absent.tap")
is "missing file counts as a failure" "$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"
echo "$out" | grep -q '^  absent: no results (.*absent.tap): the suite did not run$'
tap_result $? "missing file: the suite is named"

printf 'run.sh: line 3: /x/kvm_absent: No such file or directory\n' > "$tmp/norun.tap"
out=$(t "$tmp/norun.tap")
is "a suite that printed no plan and no results counts as a failure" \
	"$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"

# A skip reported as "not ok" is a failure, listed or not
printf '1..2\nok 1 a\nnot ok 2 - b # SKIP no hugepages\n' > "$tmp/mixed.tap"
out=$(t "$tmp/mixed.tap"); rc=$?
is "a skip reported as not ok: closing line" "$(echo "$out" | tail -1)" "1 passed, 1 failed, 0 skipped"
is "a skip reported as not ok: exit status" "$rc" 1

# Every test number once: "ok 1" three times under 1..3 is one result
# and two repeats, with results 2 and 3 missing
printf '1..3\nok 1 a\nok 1 a\nok 1 a\n' > "$tmp/dup.tap"
out=$(t "$tmp/dup.tap"); rc=$?
is "repeated test numbers: closing line" "$(echo "$out" | tail -1)" "1 passed, 4 failed, 0 skipped"
is "repeated test numbers: exit status" "$rc" 1
echo "$out" | grep -q '^  dup: test number 1 reported again: ok 1 a$'
tap_result $? "repeated test numbers: named"

printf 'ok 1 a\nok 2 b\n' > "$tmp/noplan.tap"
out=$(t "$tmp/noplan.tap"); rc=$?
is "results without a plan: closing line" "$(echo "$out" | tail -1)" "2 passed, 1 failed, 0 skipped"
is "results without a plan: exit status" "$rc" 1

# "Bail out!" fails the file even after every planned result passed (how
# tests/vm/run.sh reports a suite that crashed or hung after its last line)
printf '1..2\nok 1 a\nok 2 b\nBail out! x exited with status 139 (SIGSEGV)\n' > "$tmp/bail.tap"
out=$(t "$tmp/bail.tap"); rc=$?
is "Bail out! after the results: closing line" "$(echo "$out" | tail -1)" "2 passed, 1 failed, 0 skipped"
is "Bail out! after the results: exit status" "$rc" 1
echo "$out" | grep -q '^  bail: Bail out! x exited with status 139 (SIGSEGV)$'
tap_result $? "Bail out!: the reason is named"
# ... and adds no failure to a file that already has them
printf '1..3\nok 1 a\nBail out! no device\n' > "$tmp/bail.tap"
out=$(t "$tmp/bail.tap")
is "Bail out! with results missing" "$(echo "$out" | tail -1)" "1 passed, 2 failed, 0 skipped"

# Skips: only those listed, by suite and test name; kselftest's format
cat > "$tmp/kself.tap" <<'EOF'
TAP version 13
1..4
# Starting 4 tests from 1 test cases.
#  RUN           iommufd_viommu.no_viommu.hw_queue ...
#      SKIP      Skipping test for variant no_viommu
#            OK  iommufd_viommu.no_viommu.hw_queue
ok 1 iommufd_viommu.no_viommu.hw_queue # SKIP Skipping test for variant no_viommu
    1..2
    ok 1 nested results are not counted
    not ok 2 nested results are not counted # SKIP either
ok 2 iommufd_viommu.no_viommu.vdevice_cache
ok 3 iommufd_viommu.mock_viommu.hw_queue
ok 4 iommufd_viommu.mock_viommu.vdevice_cache #  some message
# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:1 error:0
EOF
out=$(t "$tmp/kself.tap"); rc=$?
is "expected skip: closing line" "$(echo "$out" | tail -1)" "3 passed, 0 failed, 1 skipped"
is "expected skip: exit status" "$rc" 0
echo "$out" | grep -A1 '^skipped, as expected' | grep -q '^  kself iommufd_viommu.no_viommu.hw_queue$'
tap_result $? "expected skip seen: listed"
echo "$out" | grep -A1 '^expected to skip, but did not' |
	grep -q '^  kself iommufd_viommu.no_viommu.vdevice_cache$'
tap_result $? "expected skip that passed: listed, not a failure"

printf '1..2\nok 1 - bpftrace one-liner 1 # SKIP bpftrace not installed\nok 2 - b\n' \
	> "$tmp/other.tap"
out=$(t "$tmp/other.tap"); rc=$?
is "unexpected skip: closing line" "$(echo "$out" | tail -1)" "1 passed, 1 failed, 0 skipped"
is "unexpected skip: exit status" "$rc" 1
echo "$out" | grep -q '^  other: unexpected skip: 1 - bpftrace one-liner 1 # SKIP bpftrace not installed$'
tap_result $? "unexpected skip: named"

# A skip expected of one suite is unexpected in another
cp "$tmp/kself.tap" "$tmp/kself2.tap"
out=$(t "$tmp/kself2.tap")
is "a skip is expected per suite" "$(echo "$out" | tail -1)" "3 passed, 1 failed, 0 skipped"

# A kernel variant's suites are VARIANT:suite
mkdir -p "$tmp/vm-nokvm"
printf '1..1\nok 1 - the variant'"'"'s case # SKIP no KVM\n' > "$tmp/vm-nokvm/varskip.tap"
out=$(t "$tmp/vm-nokvm/varskip.tap")
is "a variant's expected skip" "$(echo "$out" | tail -1)" "0 passed, 0 failed, 1 skipped"

printf '1..0 # SKIP no iommufd\n' > "$tmp/whole.tap"
out=$(t "$tmp/whole.tap")
is "a suite skipped as a whole counts as a failure" "$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"

printf '1..1\nok 1 a\n1..1\n' > "$tmp/twoplans.tap"
out=$(t "$tmp/twoplans.tap")
is "a second plan counts as a failure" "$(echo "$out" | tail -1)" "1 passed, 1 failed, 0 skipped"
# a known bug: "not ok # TODO" listed passes the run and is named
printf '1..2\nok 1 a\nnot ok 2 - the kernel bug # TODO issue 12\n' > "$tmp/known.tap"
out=$(t "$tmp/known.tap"); rc=$?
is "a listed known failure: counted with the skips" "$(echo "$out" | tail -1) $rc" "1 passed, 0 failed, 1 skipped 0"
echo "$out" | grep -q '^  known the kernel bug # TODO issue 12$'
tap_result $? "a listed known failure is named in its own section"
printf '1..1\nnot ok 1 - another bug # TODO later\n' > "$tmp/todo.tap"
out=$(t "$tmp/todo.tap")
is "an unlisted TODO failure fails the run" "$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"
printf '1..1\nok 1 - the kernel bug # TODO issue 12\n' > "$tmp/known.tap"
out=$(t "$tmp/known.tap")
is "a known failure that passes: a pass" "$(echo "$out" | tail -1)" "1 passed, 0 failed, 0 skipped"
tap_done
