#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo.sh - scripts/demo.sh (make demo) shows what the README promises: in
# each of its three viommu top intervals, a non-zero invalidation rate and
# a p50 for each of the four VMs, the slow VM's p50 above its injected
# 0.8 ms, fan-out 3.0 on the fifth VM (it only unmaps); a lat histogram
# per VM; and the loads stopped cleanly (status 0, no "VMs failed").
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tap_plan 6
"$repo/scripts/demo.sh" > "$tmp/out" 2>&1
rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$tmp/out" > "$tmp/demo"
tap_result "$([ "$rc $(grep -c 'VMs failed' "$tmp/demo")" = "0 0" ]; echo $?)" \
	"the demo ran to its end (status 0), no VM failed" \
	"status $rc; its output ends: $(tail -5 "$tmp/demo")"
# the load's report: the four VMs' pids (and delays), the fifth's pid
four=$(awk '$1 == "vm" && / viommus=2 / { sub(/pid=/, "", $3); print $3 }' "$tmp/demo" | sort -n | tr '\n' ' ')
slow=$(awk '$1 == "vm" && / delay_us=800 / { sub(/pid=/, "", $3); print $3 }' "$tmp/demo")
fifth=$(awk '$1 == "vm" && / viommus=3 / { sub(/pid=/, "", $3); print $3 }' "$tmp/demo")
is "the loads reported 4 VMs, one slow, and the fifth VM" \
	"$(wc -w <<< "$four") $([ -n "$slow" ] && echo slow) $([ -n "$fifth" ] && echo fifth)" "4 slow fifth"
# top's intervals: VM PID COMM OPENER VIOM VMIDS INV/s ERR/s P50us ... FANOUT
awk '/^\$ viommu top/ { on = 1; next } /^\$ / { on = 0 }
	on && /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]( |$)/ { n++ }
	on && $3 == "viommu-load" { print n, $2, $7, $9, $13 }' "$tmp/demo" > "$tmp/rows"
is "top: three intervals, each with a non-zero rate and a p50 for each of the four VMs" \
	"$(for p in $four; do awk -v p="$p" '$2 == p && $3 > 0 && $4 != "-" { n++ } END { printf "%d ", n }' "$tmp/rows"; done)" \
	"3 3 3 3 "
is "top: the slow VM's p50 is above its 0.8 ms in every interval" \
	"$(awk -v p="$slow" '$2 == p && $4 > 800 { n++ } END { print n + 0 }' "$tmp/rows")" 3
is "top: the fifth VM fans each unmap out to its 3 VMIDs: FANOUT 3.0 in every interval" \
	"$(awk -v p="$fifth" '$2 == p { print $5 }' "$tmp/rows" | tr '\n' ' ')" "3.0 3.0 3.0 "
is "lat: a guest_inval histogram for each of the four VMs" \
	"$(awk '/^\$ viommu lat/ { on = 1; next } /^\$ / { on = 0 }
		on && /^vm [0-9]+ pid / { p = $4 } on && /usecs +: count +distribution/ { print p }' "$tmp/demo" | sort -un | tr '\n' ' ')" \
	"$four"
# the demo's output as diagnostics (not counted): all of it on a failure,
# else top's intervals
if [ "$tap_failed" = 0 ]; then
	awk '/^\$ viommu top/ { on = 1 } /^\$ viommu lat/ { on = 0 } on' "$tmp/demo" | sed 's/^/# /'
else
	sed 's/^/# /' "$tmp/demo"
fi
tap_done
