#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The libFuzzer targets of the viommu tool's parsers (tests/fuzz/: fdinfo
# as topo reads it, records as compare reads them, every command line),
# each run for FUZZ_UNIT_TIME seconds (default 20) from seed FUZZ_SEED
# (default 1), starting from its committed corpus. A crash, a sanitizer
# report, a leak, a hang (10 s for one input) or an exit status the tool
# does not document fails the target's row; the input that did it is kept
# in build/fuzz/artifacts/ and named. "make fuzz" runs them longer.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
targets=(fdinfo record cli)
make -s -C "$repo" fuzz-bins >&2 || { echo "1..1"; echo "not ok 1 - build the fuzz targets"; exit 1; }
time=${FUZZ_UNIT_TIME:-20}
seed=${FUZZ_SEED:-1}
art=$repo/build/fuzz/artifacts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$art"

tap_plan ${#targets[@]}
for t in "${targets[@]}"; do
	corpus=$repo/tests/fuzz/corpus/$t
	mkdir -p "$tmp/$t/work" "$tmp/$t/tmp"
	rm -f "$art/$t"-*
	# new inputs go to the scratch dir; the committed corpus is only read.
	# The targets catch SIGTERM (the tool's handler): KILL is the backstop.
	TMPDIR=$tmp/$t/tmp timeout -s KILL $((time + 60)) "$repo/build/fuzz/fuzz_$t" \
		-seed="$seed" -max_total_time="$time" -timeout=10 -close_fd_mask=2 \
		-dict="$repo/tests/fuzz/$t.dict" \
		-artifact_prefix="$art/$t-" "$tmp/$t/work" "$corpus" > "$tmp/$t.log" 2>&1
	rc=$?
	done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$tmp/$t.log" | tail -1)
	runs=$(awk '{ print $2 }' <<< "$done_line")
	secs=$(awk '{ print $5 }' <<< "$done_line")
	finding=$(ls "$art/$t"-* 2>/dev/null | head -1)
	if [ "$rc" = 0 ] && [ -n "$done_line" ] && [ -z "$finding" ]; then
		tap_result 0 "fuzz_$t: ran $runs execs in $secs s with no finding (seed $seed, corpus of $(ls "$corpus" | wc -l))"
	else
		tap_result 1 "fuzz_$t: a finding (exit $rc), seed $seed${finding:+, input kept in $finding}" \
			"$(grep -E 'ERROR|SUMMARY|runtime error|timeout|fuzz_[a-z]+:' "$tmp/$t.log" | head -8)"
	fi
done
tap_done
