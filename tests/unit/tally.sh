#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests for scripts/tally.sh: the closing line counts must be exact.
. "$(dirname "$0")/../lib/tap.sh"
tally=$(dirname "$0")/../../scripts/tally.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tap_plan 9

printf '1..3\nok 1 a\nok 2 b # SKIP no hugepages\nnot ok 3 c\n' > "$tmp/mixed.tap"
out=$("$tally" "$tmp/mixed.tap"); rc=$?
is "mixed: closing line" "$(echo "$out" | tail -1)" "1 passed, 1 failed, 1 skipped"
is "mixed: exit status on failure" "$rc" 1
echo "$out" | grep -q '^  mixed: 3 c$'
tap_result $? "mixed: the failed case is named"

printf '1..5\nok 1 a\nok 2 b\n' > "$tmp/crashed.tap"
out=$("$tally" "$tmp/crashed.tap")
is "crash: missing planned results count as failed" "$(echo "$out" | tail -1)" "2 passed, 3 failed, 0 skipped"

printf 'TAP version 13\n1..2\n# ok 7 nested diagnostics do not count\nok 1 a\nok 2 b\n' > "$tmp/clean.tap"
out=$("$tally" "$tmp/clean.tap" "$tmp/clean.tap"); rc=$?
is "clean: sums over files" "$(echo "$out" | tail -1)" "4 passed, 0 failed, 0 skipped"
is "clean: exit status" "$rc" 0

printf '1..1\nok 1 a\nok 2 b\n' > "$tmp/over.tap"
out=$("$tally" "$tmp/over.tap")
is "more results than planned counts as a failure" "$(echo "$out" | tail -1)" "2 passed, 1 failed, 0 skipped"

out=$("$tally" "$tmp/absent.tap")
is "missing file counts as a failure" "$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"

printf 'run.sh: line 3: /x/kvm_absent: No such file or directory\n' > "$tmp/norun.tap"
out=$("$tally" "$tmp/norun.tap")
is "a suite that printed no plan and no results counts as a failure" \
	"$(echo "$out" | tail -1)" "0 passed, 1 failed, 0 skipped"
tap_done
