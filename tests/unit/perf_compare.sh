#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests for scripts/perf-compare.sh, the performance gate's verdict.
. "$(dirname "$0")/../lib/tap.sh"
cmp=$(dirname "$0")/../../scripts/perf-compare.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tap_plan 9
cat > "$tmp/base.json" <<'J'
{"schema_version": 1, "limits_pct": {"default": 2, "top.per_interval": 10},
 "figures": {"guest_inval.off": 15000, "guest_inval.top": 17000,
	     "top.per_interval": 100000}}
J
new() { # guest_inval.off guest_inval.top top.per_interval
	printf '{"schema_version": 1, "figures": {"guest_inval.off": %s, "guest_inval.top": %s, "top.per_interval": %s}}\n' \
		"$1" "$2" "$3" > "$tmp/new.json"
}

new 15000 17000 100000
out=$("$cmp" "$tmp/base.json" "$tmp/new.json"); rc=$?
is "identical figures pass" "$rc" 0
is "one TAP line per figure" "$(grep -c '^ok ' <<< "$out")" 3

new 15000 17341 100000	# +2.006 %
out=$("$cmp" "$tmp/base.json" "$tmp/new.json"); rc=$?
is "a figure 341 insns (2.006 %) over a 2 % limit fails" "$rc" 1
grep -q '^not ok 2 - guest_inval.top: 17341 insns, baseline 17000' <<< "$out"
tap_result $? "... naming the figure and both values" "$out"

new 15000 17340 109000	# +2.0 % and +9 %: within the limits
"$cmp" "$tmp/base.json" "$tmp/new.json" > /dev/null
is "growth up to each figure's own limit passes" "$?" 0

new 10000 12000 50000
"$cmp" "$tmp/base.json" "$tmp/new.json" > /dev/null
is "improvements pass" "$?" 0

printf '{"schema_version": 1, "figures": {"guest_inval.off": 15000}}\n' > "$tmp/new.json"
out=$("$cmp" "$tmp/base.json" "$tmp/new.json"); rc=$?
is "a figure missing from the measurement fails" "$rc" 1
grep -q '^not ok 2 - guest_inval.top: missing' <<< "$out"
tap_result $? "... by name" "$out"

echo '{"figures": {}}' > "$tmp/new.json"
"$cmp" "$tmp/base.json" "$tmp/new.json" > /dev/null 2>&1
is "a record without schema 1 is refused (exit 2)" "$?" 2
tap_done
