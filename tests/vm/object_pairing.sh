#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# object_pairing.sh - over whole runs of the upstream iommufd and
# iommufd_fail_nth selftests (fail_nth makes every allocation of every
# ioctl fail in turn), each object class a vIOMMU owns fired as many alloc
# events as destroy events, never a destroy for an object not alive, never
# an alloc of an object already alive, and nothing was lost.
#
# usage: object_pairing.sh FILE...   (the .objects files run.sh
#        --iommufd-trace wrote: "lost N", then a line per event:
#        "<class>_alloc|<class>_destroy ictx id")
set -uo pipefail

classes=(viommu vdevice hwpt_nested hw_queue veventq)
echo "1..$(( $# * (3 + ${#classes[@]}) ))"
n=0
result() { # OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 1 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

for file; do
	run=$(basename "$file" .objects)
	if [ ! -r "$file" ]; then
		for _ in $(seq $((3 + ${#classes[@]}))); do
			result 0 "$run: no event record ($file missing)"
		done
		continue
	fi
	lost=$(sed -n '1s/^lost //p' "$file")
	echo "# figures: $run: $(($(wc -l < "$file") - 1)) alloc and destroy events"
	result "$([ "${lost:-x}" = 0 ] && echo 1)" "$run: no event lost (${lost:-?})"
	# One pass: keep the live set, count what breaks it
	read -r orphan twice left < <(awk '
		NR == 1 { next }
		{
			cls = $1; sub(/_(alloc|destroy)$/, "", cls)
			k = cls " " $2 " " $3
			if ($1 ~ /_alloc$/) {
				if (k in live) twice++
				live[k] = 1
			} else {
				if (!(k in live)) orphan++
				delete live[k]
			}
		}
		END {
			for (k in live) left++
			printf "%d %d %d\n", orphan, twice, left
		}' "$file")
	result "$([ "$orphan" = 0 ] && echo 1)" \
		"$run: every destroy is of an object alive ($orphan not)"
	result "$([ "$twice" = 0 ] && [ "$left" = 0 ] && echo 1)" \
		"$run: no alloc of a live object ($twice), none alive at the end ($left)"
	for c in "${classes[@]}"; do
		a=$(grep -c "^${c}_alloc " "$file")
		d=$(grep -c "^${c}_destroy " "$file")
		# both selftests make vIOMMUs: none seen means none recorded
		ok=$([ "$a" = "$d" ] && { [ "$c" != viommu ] || [ "$a" -gt 0 ]; } && echo 1)
		result "$ok" "$run: $c alloc $a = destroy $d"
	done
done
