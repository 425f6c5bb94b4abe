#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# viommu compare on the command line: -t, -D and -S change the verdict
# exactly at their thresholds, and bad values are usage errors (exit 2).
#
# The records are written here: N guest invalidations all of one latency
# (100 us in the base, 200 us in the new one), so the mean and every
# percentile change by exactly +100 % and +100 us.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"

# record N NS BUCKET: N samples of NS ns in log-linear bucket BUCKET
# (docs/viommu.8, RECORDS: 100 us is bucket 116, 200 us bucket 124)
record() {
	local empty='"count":0,"sum_ns":0,"max_ns":0,"bucket_unit_ns":1000,"sub_buckets":8,"buckets":[]'
	printf '{"schema_version":3,"type":"viommu-record","total":{"lat":{"guest_inval":{"count":%d,"sum_ns":%d,"max_ns":%d,"bucket_unit_ns":1000,"sub_buckets":8,"buckets":[[%d,%d]]},"s2_inval":{%s},"fault":{%s}}}}\n' \
		"$1" $(($1 * $2)) "$2" "$3" "$1" "$empty" "$empty"
}
record 30 100000 116 > "$tmp/base.json"
record 30 200000 124 > "$tmp/new.json"
record 10 100000 116 > "$tmp/base10.json"
record 10 200000 124 > "$tmp/new10.json"

# cmp ARGS...: "STATUS REGRESSIONS SKIPPED" of viommu compare ARGS
cmp() {
	"$viommu" compare "$@" > "$tmp/out" 2> "$tmp/err"
	echo "$? $(grep -c 'REGRESSION$' "$tmp/out") $(grep -c ' skipped (fewer than' "$tmp/out")"
}

tap_plan 13
is "defaults (-t 20 -D 5 -S 20): +100 % is a regression of the mean and the 3 percentiles, exit 1" \
	"$(cmp "$tmp/base.json" "$tmp/new.json")" "1 4 2"
is "... the table says +100.0 % for each" "$(grep -c '+100.0%  REGRESSION$' "$tmp/out")" 4
is "-t 100: growing by exactly the threshold passes, exit 0" \
	"$(cmp -t 100 "$tmp/base.json" "$tmp/new.json")" "0 0 2"
is "-t 99.9: just above it fails, exit 1" "$(cmp -t 99.9 "$tmp/base.json" "$tmp/new.json")" "1 4 2"
is "... and the summary names the threshold as given" \
	"$(tail -1 "$tmp/out")" "4 regressions (threshold +99.9% and +5 us)"
is "--threshold=150: exit 0" "$(cmp --threshold=150 "$tmp/base.json" "$tmp/new.json")" "0 0 2"
is "-D 100: a growth of exactly 100 us passes, exit 0" \
	"$(cmp -D 100 "$tmp/base.json" "$tmp/new.json")" "0 0 2"
is "-D 99: exit 1" "$(cmp -D 99 "$tmp/base.json" "$tmp/new.json")" "1 4 2"
is "10 samples, default -S 20: the kind is skipped, exit 0" \
	"$(cmp "$tmp/base10.json" "$tmp/new10.json")" "0 0 3"
is "-S 10: compared, exit 1" "$(cmp -S 10 "$tmp/base10.json" "$tmp/new10.json")" "1 4 2"
is "--min-samples=11: skipped again, exit 0" \
	"$(cmp --min-samples=11 "$tmp/base10.json" "$tmp/new10.json")" "0 0 3"
is "a faster new record: exit 0 whatever -t" "$(cmp -t 0 "$tmp/new.json" "$tmp/base.json")" "0 0 2"
bad=0 out=
for a in "-t x" "-t -5" "-D x" "-D -1" "-S x" "-S -1" "-S 1.5"; do
	# shellcheck disable=SC2086
	"$viommu" compare $a "$tmp/base.json" "$tmp/new.json" > /dev/null 2> "$tmp/err"
	rc=$?
	lines=$(grep -c 'viommu compare: invalid' "$tmp/err")
	[ "$rc" = 2 ] && [ "$lines" = 1 ] || bad=1
	out="$out$a: exit $rc, $(head -1 "$tmp/err"); "
done
tap_result $bad "-t x, -t -5, -D x, -D -1, -S x, -S -1, -S 1.5: exit 2, naming the bad value" "$out"
tap_done
