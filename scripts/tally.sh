#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tally.sh - count TAP results and print the closing line.
#
# usage: tally.sh [-s SKIPS] FILE.tap...
#   -s SKIPS   the skips the run expects (default: tests/expected-skips)
#
# Reads the top-level lines of each TAP file: the plan ("1..N"), results
# ("ok"/"not ok", numbered or not) and "Bail out!"; indented (nested) TAP
# and "# " diagnostics are not counted. A file is charged a failure for:
#   - each "not ok" (a "not ok ... # SKIP" too: a skip must be "ok"),
#     except a "not ok ... # TODO why" listed in SKIPS: a known bug, counted
#     with the skips and named in its own section of every tally;
#   - each skip not listed in SKIPS ("SUITE TEST" lines; an expected skip
#     that passes instead is fine);
#   - each planned result missing (a test program that crashes half way),
#     each result numbered beyond the plan, each repeated test number;
#   - results without a plan, a second plan, a plan of no tests, a missing
#     file (the suite did not run);
#   - "Bail out!" (tests/vm/run.sh appends one when a suite exits non-zero
#     or overruns its time): at least one failure for the file.
# A file's suite is its name without .tap; the suites of a kernel variant
# (results/vm-NAME/) are NAME:suite. Prints per-file counts, the expected
# skips seen, the failures by name, then "N passed, N failed, N skipped",
# and exits 1 on any failure.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
skips=$repo/tests/expected-skips
while getopts s: opt; do
	case $opt in
	s) skips=$OPTARG ;;
	*) sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -r "$skips" ] || { echo "tally.sh: cannot read the expected skips $skips" >&2; exit 2; }

# One TAP file, for suite $1: prints "F message" per failure, "E test" per
# expected skip seen, "X test" per expected skip of this suite not seen,
# and last "C passed failed skipped".
count() {
	awk -v suite="$1" -v skips="$skips" '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	BEGIN {
		while ((getline l < skips) > 0) {
			l = trim(l)
			if (l == "" || l ~ /^#/ || !match(l, /[ \t]+/))
				continue
			if (substr(l, 1, RSTART - 1) != suite)
				continue
			t = trim(substr(l, RSTART))
			if (!(t in expected))
				order[++nexp] = t
			expected[t] = 1
		}
		close(skips)
	}
	/^Bail out!/ { if (bail == "") bail = $0; next }
	/^1\.\.[0-9]+/ {
		if (++nplans > 1) { print "F a second plan: " $0; bad++; next }
		pl = $0; sub(/^1\.\./, "", pl); plan = pl + 0
		if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) planskip = $0
		next
	}
	/^(not )?ok([ \t]|$)/ {
		notok = ($0 ~ /^not /)
		rest = $0; sub(/^(not )?ok[ \t]*/, "", rest)
		if (match(rest, /^[0-9]+/)) {
			num = substr(rest, 1, RLENGTH) + 0
			rest = substr(rest, RLENGTH + 1)
		} else
			num = last + 1
		last = num
		rest = trim(rest)
		if (num in seen) {
			print "F test number " num " reported again: " $0
			bad++
			next
		}
		seen[num] = 1; nres++
		if (num > max) max = num
		# description up to the directive ("# SKIP ..."), without "- "
		desc = rest; directive = ""
		if ((i = index(rest, "#")) > 0) {
			desc = substr(rest, 1, i - 1); directive = substr(rest, i + 1)
		}
		desc = trim(desc); sub(/^- */, "", desc)
		isskip = (directive ~ /^[ \t]*[Ss][Kk][Ii][Pp]/)
		istodo = (directive ~ /^[ \t]*[Tt][Oo][Dd][Oo]/)
		if (notok && istodo && (desc in expected)) {
			print "K " desc " #" directive
			hit[desc] = 1
			s++
		} else if (notok && istodo) {
			print "F " num " " rest " (a known failure must be listed)"
			f++
		} else if (notok) {
			print "F " num " " rest (isskip ? " (a skip must be \"ok\")" : "")
			f++
		} else if (isskip && (desc in expected)) {
			print "E " desc
			hit[desc] = 1
			s++
		} else if (isskip) {
			print "F unexpected skip: " num " " rest
			f++
		} else
			p++
		next
	}
	END {
		if (nplans == 0 && nres > 0) {
			print "F " nres " results but no plan (1..N)"
			bad++
		} else if (plan == 0 && nres == 0) {
			if (planskip != "")
				print "F the whole suite skipped: " planskip
			else if (nplans > 0)
				print "F a plan of no tests"
			else
				print "F no TAP plan or results: the suite did not run"
			bad++
		}
		if (nplans > 0) {
			missing = 0
			for (n = 1; n <= plan; n++)
				if (!(n in seen)) { if (!missing) first = n; missing++ }
			if (missing) {
				print "F " missing " of " plan " planned results missing, from number " first " (crashed?)"
				bad += missing
			}
			beyond = 0
			for (n in seen)
				if (n + 0 > plan) beyond++
			if (beyond) {
				print "F " beyond " results beyond the plan of " plan
				bad += beyond
			}
		}
		f += bad
		if (bail != "") {
			print "F " bail
			if (f == 0) f = 1
		}
		for (i = 1; i <= nexp; i++)
			if (!(order[i] in hit)) print "X " order[i]
		printf "C %d %d %d\n", p, f, s
	}' "$2"
}

total_pass=0 total_fail=0 total_skip=0
failed_list=() seen_list=() unseen_list=() known_list=()
for f in "$@"; do
	name=$(basename "$f" .tap)
	case $(basename "$(dirname "$f")") in
	vm-*) name="$(basename "$(dirname "$f")" | sed 's/^vm-//'):$name" ;;
	esac
	if [ ! -f "$f" ]; then
		failed_list+=("$name: no results (${f#"$repo"/}): the suite did not run")
		printf '  %-28s %4d passed, %3d failed, %3d skipped\n' "$name" 0 1 0
		total_fail=$((total_fail + 1))
		continue
	fi
	pass=0 fail=0 skip=0
	while IFS= read -r line; do
		case $line in
		"F "*) failed_list+=("$name: ${line#F }") ;;
		"E "*) seen_list+=("$name ${line#E }") ;;
		"K "*) known_list+=("$name ${line#K }") ;;
		"X "*) unseen_list+=("$name ${line#X }") ;;
		"C "*) read -r pass fail skip <<< "${line#C }" ;;
		esac
	done < <(count "$name" "$f")
	printf '  %-28s %4d passed, %3d failed, %3d skipped\n' "$name" "$pass" "$fail" "$skip"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
done
if [ ${#seen_list[@]} -gt 0 ]; then
	echo "skipped, as expected (${skips#"$repo"/}):"
	printf '  %s\n' "${seen_list[@]}"
fi
if [ ${#known_list[@]} -gt 0 ]; then
	echo "known failures, listed in ${skips#"$repo"/} (counted as skipped):"
	printf '  %s\n' "${known_list[@]}"
fi
if [ ${#unseen_list[@]} -gt 0 ]; then
	echo "expected to skip, but did not (fine):"
	printf '  %s\n' "${unseen_list[@]}"
fi
if [ ${#failed_list[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed_list[@]}"
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
