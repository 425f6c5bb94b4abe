#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# detector-cost.sh - what each detector of the test kernel costs in run time.
#
# usage: detector-cost.sh [--build] [RUNS]
#
# kernel/viommu.config turns on detectors so that the kernel log check can
# see their reports: lockdep, KFENCE, DEBUG_LIST, UBSAN, soft lockup and
# hung task detection. Each is measured by the guest instructions that the
# upstream iommufd selftest takes, under instruction counting (vm-run.sh
# --icount: one guest nanosecond per instruction, whatever the host's
# load), with the detector on and off: RUNS runs of the selftest in one
# boot per configuration (default 3), the median of them. Off is
#   a boot parameter of the test kernel for what can be switched at run
#     time: kfence.sample_interval=0, nosoftlockup,
#     sysctl.kernel.hung_task_timeout_secs=0, lockdep.prove_locking=0
#     (lockdep then still tracks every lock, it only stops checking);
#   a build without it for the rest: kernel/variants/noubsan.config and
#     nolist.config (--build builds them first: a full kernel build each).
# Prints a table, and the same as JSON in results/detector-cost.json.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=0
[ "${1:-}" = --build ] && { build=1; shift; }
runs=${1:-3}
case $runs in '' | *[!0-9]* | 0) echo "detector-cost.sh: RUNS must be a positive number" >&2; exit 2 ;; esac
out=$repo/results/detector-cost
mkdir -p "$out"

if [ "$build" = 1 ]; then
	for v in noubsan nolist; do
		echo "detector-cost.sh: building variant $v" >&2
		VIOMMU_VARIANT=$v scripts/kernel.sh build > "$out/build-$v.log" 2>&1 ||
			{ tail -20 "$out/build-$v.log" >&2; exit 1; }
	done
fi
kpath() { VIOMMU_VARIANT=${1:-} scripts/kernel.sh path | sed -n "s/^$2=//p"; }
selftests=$(kpath "" selftests)
[ -x "$selftests/iommufd" ] || { echo "detector-cost.sh: no iommufd selftest (run 'make kernel')" >&2; exit 1; }

# name, variant build ("" is the test kernel), boot parameters
configs=(
	"all on||"
	"lockdep checks off||lockdep.prove_locking=0"
	"KFENCE off||kfence.sample_interval=0"
	"soft lockup detector off||nosoftlockup"
	"hung task detector off||sysctl.kernel.hung_task_timeout_secs=0"
	"DEBUG_LIST off|nolist|"
	"UBSAN off|noubsan|"
)

# In the guest: the selftest RUNS times, the guest ns (instructions) of
# each (one line: vm-run.sh quotes the command for the guest's sh)
guest="for i in \$(seq $runs); do t0=\$(date +%s%N); $selftests/iommufd > /dev/null 2>&1; rc=\$?; t1=\$(date +%s%N); echo \"\$rc \$((t1 - t0))\"; done > /run/results/runs"

json=()
printf '%-28s %16s %9s %s\n' configuration "instructions" "vs all on" "runs (G instructions)"
for c in "${configs[@]}"; do
	IFS='|' read -r name variant params <<< "$c"
	bz=$(kpath "$variant" bzimage)
	if [ ! -f "$bz" ]; then
		printf '%-28s %s\n' "$name" "no build of variant $variant (run with --build)"
		continue
	fi
	dir=$out/$(tr ' ' _ <<< "$name")
	TEST_KBUILD=$(kpath "$variant" build) scripts/vm-run.sh --icount -c 1 -t 1800 \
		-k "$bz" ${params:+-a "$params"} -r "$dir" -- sh -c "$guest" > /dev/null ||
		{ echo "detector-cost.sh: the VM for '$name' failed (see $dir/console.log)" >&2; exit 1; }
	if awk '$1 != 0 { bad = 1 } END { exit !bad }' "$dir/runs"; then
		echo "detector-cost.sh: the selftest failed under '$name' (see $dir/runs)" >&2
		exit 1
	fi
	median=$(awk '{ print $2 }' "$dir/runs" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	[ "$name" = "all on" ] && base=$median
	each=$(awk '{ printf "%s%.3f", (NR > 1 ? " " : ""), $2 / 1e9 }' "$dir/runs")
	printf '%-28s %16d %+8.2f%% %s\n' "$name" "$median" \
		"$(awk -v m="$median" -v b="${base:-$median}" 'BEGIN { print (m - b) * 100 / b }')" "$each"
	json+=("$(jq -n --arg name "$name" --arg variant "$variant" --arg params "$params" \
		--argjson median "$median" --argjson runs "[$(awk '{ printf "%s%s", (NR > 1 ? "," : ""), $2 }' "$dir/runs")]" \
		'{name: $name, variant: $variant, boot_params: $params, median_instructions: $median, runs: $runs}')")
done
printf '%s\n' "${json[@]}" | jq -s '{workload: "upstream iommufd selftest", unit: "guest instructions", configurations: .}' \
	> "$repo/results/detector-cost.json"
