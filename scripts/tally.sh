#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tally.sh - count TAP results and print the closing line.
#
# usage: tally.sh FILE.tap...
#
# Counts top-level "ok"/"not ok" lines of each TAP file ("# SKIP" marks a
# skip). A file whose plan ("1..N") promises more results than it holds is
# charged the missing ones as failures, so a test program that crashes
# half way cannot pass. Prints per-file counts, the skipped and failed
# cases, then "N passed, N failed, N skipped", and exits 1 on any failure.
set -uo pipefail

total_pass=0 total_fail=0 total_skip=0
failed_list=() skipped_list=()
for f in "$@"; do
	[ -f "$f" ] || { failed_list+=("$f: missing"); total_fail=$((total_fail + 1)); continue; }
	name=$(basename "$f" .tap)
	# a kernel variant's suites (results/vm-NAME/) are named NAME:suite
	case $(basename "$(dirname "$f")") in
	vm-*) name="$(basename "$(dirname "$f")" | sed 's/^vm-//'):$name" ;;
	esac
	read -r pass fail skip plan < <(awk '
		/^ok /     { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else p++ }
		/^not ok / { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else f++ }
		/^1\.\.[0-9]+/ { split($0, a, "[.][.]"); plan = a[2] + 0 }
		END { printf "%d %d %d %d\n", p, f, s, plan }' "$f")
	while IFS= read -r line; do
		failed_list+=("$name: ${line#not ok }")
	done < <(grep -E '^not ok ' "$f" | grep -viE '# skip')
	while IFS= read -r line; do
		skipped_list+=("$name: $line")
	done < <(grep -E '^(not )?ok .*# [Ss][Kk][Ii][Pp]' "$f")
	seen=$((pass + fail + skip))
	if [ "$plan" -eq 0 ] && [ "$seen" -eq 0 ]; then
		# no plan and no results: the suite never ran (missing program?)
		failed_list+=("$name: no TAP plan or results: the suite did not run")
		fail=1
	elif [ "$plan" -gt "$seen" ]; then
		failed_list+=("$name: $((plan - seen)) planned results missing (crashed?)")
		fail=$((fail + plan - seen))
	elif [ "$plan" -gt 0 ] && [ "$seen" -gt "$plan" ]; then
		failed_list+=("$name: $((seen - plan)) results beyond the plan of $plan")
		fail=$((fail + 1))
	fi
	printf '  %-28s %4d passed, %3d failed, %3d skipped\n' "$name" "$pass" "$fail" "$skip"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
done
if [ ${#skipped_list[@]} -gt 0 ]; then
	echo "skipped:"
	printf '  %s\n' "${skipped_list[@]}"
fi
if [ ${#failed_list[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed_list[@]}"
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
