# SPDX-License-Identifier: GPL-2.0-only
#
# ktap2tap.awk - the cases of kunit.py's KTAP output as one flat TAP list.
#
# KTAP nests a level per suite: the cases of a suite are indented four
# spaces under its "# Subtest:" line and its plan. Each case becomes
# "ok N - suite: case"; the plan is the sum of the suites' plans, so a case
# that never ran (the kernel crashed, the run timed out) is missing and the
# tally fails the run. Parameterised cases (8 spaces) count as their case.
/^    # Subtest: / { suite = $0; sub(/^    # Subtest: /, "", suite) }
/^    1\.\.[0-9]+/ { planned += substr($1, 4) }
/^    (not )?ok [0-9]+ / {
	line = $0
	sub(/^    /, "", line)
	ok = (line ~ /^ok /)
	sub(/^(not )?ok [0-9]+ (- )?/, "", line)
	cases[++n] = (ok ? "ok " : "not ok ") n " - " suite ": " line
}
END {
	printf "1..%d\n", (planned > n ? planned : n)
	for (i = 1; i <= n; i++)
		print cases[i]
}
