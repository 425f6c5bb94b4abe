#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# perf-compare.sh - the performance gate: compare a measurement
# (tests/perf/measure.sh) against the committed baseline.
#
# usage: perf-compare.sh BASELINE.json NEW.json
#
# Every figure is a count of guest instructions (lower is better). The
# baseline holds the figures and a limit per figure in percent
# ("limits_pct", with "default"). Prints a table and a TAP line per figure
# on stdout; a figure that grew past its limit, or is missing from the
# measurement, fails. Exit 0 when none failed, 1 when one did, 2 when an
# input is unusable.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: perf-compare.sh BASELINE.json NEW.json" >&2; exit 2; }
for f in "$1" "$2"; do
	jq -e '.schema_version == 1 and (.figures | type == "object")' "$f" > /dev/null 2>&1 ||
		{ echo "perf-compare.sh: $f is not a schema 1 measurement" >&2; exit 2; }
done

out=$(jq -r -n --slurpfile base "$1" --slurpfile new "$2" '
	$base[0] as $b | $new[0] as $n |
	($b.figures | keys) as $names |
	"1..\($names | length)",
	($names | to_entries[] | .key as $i | .value as $k |
	 ($b.figures[$k]) as $base_v | ($n.figures[$k]) as $now |
	 ($b.limits_pct[$k] // $b.limits_pct.default) as $lim |
	 if $now == null then
		"not ok \($i + 1) - \($k): missing from the measurement"
	 else
		(if $base_v > 0 then (($now - $base_v) * 100 / $base_v) else 0 end) as $pct |
		(if $pct > $lim then "not ok" else "ok" end) as $v |
		"\($v) \($i + 1) - \($k): \($now) insns, baseline \($base_v), \(if $pct >= 0 then "+" else "" end)\($pct * 10 | round / 10)% (limit +\($lim)%)"
	 end)') || exit 2
echo "$out"
! grep -q '^not ok' <<< "$out"
