#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench and the README's table of what the tool costs by number of
# VMs: bench.sh runs tests/bench/tool_cost.sh in a boot with room for its
# 1,024 VMs, and the README's table has the header and the VM counts that
# tool_cost.sh prints (its figures come from a run of it).
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cost=$repo/tests/bench/tool_cost.sh

tap_plan 3
grep -q '^"$repo/tests/bench/tool_cost.sh"$' "$repo/tests/bench/bench.sh"
b=$?
# the bench recipe's first boot (bench.sh): 4 GiB
m=$(sed -n '/^bench:/,/^$/p' "$repo/Makefile" | grep -c -- '--icount -c 1 -m 4G .*tests/bench/bench.sh\|--icount -c 1 -m 4G .*-- \\$')
is "make bench runs tool_cost.sh (bench.sh step 6) in a 4 GiB boot" "$b $m" "0 1"

header=$(sed -n 's/^echo "\(| VMs | .*|\)"$/\1/p' "$cost")
# the README's table: the lines from that header to the first non-table line
table=$(awk -v h="$header" '$0 == h { on = 1 } on && !/^\|/ { exit } on' "$repo/README.md")
is "README has tool_cost.sh's table header ($header)" "$(head -1 <<< "$table")" "$header"
counts=$(sed -n 's/^counts=\${TOOL_COST_VMS:-\(.*\)}$/\1/p' "$cost")
want=$(for n in $counts; do printf '%s ' "$(printf "%'d" "$n" 2>/dev/null | LC_ALL=C sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')"; done)
is "README's table has a row per VM count tool_cost.sh measures ($counts)" \
	"$(tail -n +3 <<< "$table" | awk -F' *\\| *' '{ printf "%s ", $2 }')" "$want"
tap_done
