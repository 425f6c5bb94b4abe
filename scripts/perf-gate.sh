#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# perf-gate.sh - the performance regression gate "make test" runs.
#
# usage: perf-gate.sh [--update] [RESULTS_DIR]
#
# Boots the test kernel under instruction counting (vm-run.sh --icount),
# measures guest instructions per event (tests/perf/measure.sh) and
# compares them with tests/perf/baseline.json (scripts/perf-compare.sh);
# in the same boot it measures once more with a 1 us delay injected into
# every mock invalidation and checks that the gate fails that, so a gate
# that cannot fail does not pass. Leaves RESULTS_DIR/perf-gate.tap and
# RESULTS_DIR/perf-gate-proof.tap (default RESULTS_DIR: results).
#
# --update writes the measurement as the new baseline, keeping its limits;
# commit it with the figures that moved in the commit message.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
update=0
[ "${1:-}" = --update ] && { update=1; shift; }
results=$(mkdir -p "${1:-$repo/results}" && cd "${1:-$repo/results}" && pwd)
baseline=$repo/tests/perf/baseline.json
out=$results/perf
rounds=${VIOMMU_PERF_ROUNDS:-3}
mkdir -p "$out"
rm -f "$out"/*.json

proof=1
[ "$update" = 1 ] && proof=0
cd "$repo"
# the build the VM boots (VIOMMU_VARIANT picks it): measure.sh loads its
# iommufd.ko when it builds iommufd as a module
TEST_KBUILD=${TEST_KBUILD:-$(scripts/kernel.sh path | sed -n 's/^build=//p')}
export TEST_KBUILD
# (one line: vm-run.sh quotes the command for the guest's sh)
guest="tests/perf/measure.sh --rounds $rounds --out /run/results/figures.json"
[ "$proof" = 1 ] &&
	guest+=" && VIOMMU_PERF_DELAY_US=1 tests/perf/measure.sh --rounds 1 --out /run/results/injected.json"
scripts/vm-run.sh --icount -c 1 -t "${VIOMMU_PERF_TIMEOUT:-900}" -r "$out" -- sh -c "$guest"
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$out/figures.json" ]; then
	printf '1..1\nnot ok 1 - perf gate: the measurement VM failed (status %s; see %s/console.log)\n' \
		"$rc" "$out" > "$results/perf-gate.tap"
	cat "$results/perf-gate.tap"
	exit 1
fi

if [ "$update" = 1 ]; then
	jq --slurpfile m "$out/figures.json" '.figures = $m[0].figures' "$baseline" > "$baseline.tmp" &&
		mv "$baseline.tmp" "$baseline"
	echo "perf-gate.sh: wrote $baseline:"
	jq -r '.figures | to_entries[] | "  \(.key) \(.value)"' "$baseline"
	exit 0
fi

scripts/perf-compare.sh "$baseline" "$out/figures.json" > "$results/perf-gate.tap"
gate=$?
cat "$results/perf-gate.tap"
if [ $gate -ne 0 ]; then
	echo "perf-gate.sh: a figure regressed; if the change means it, run 'make perf-baseline' and say so in the commit"
fi

# The proof: the same gate must fail the run with the injected delay
scripts/perf-compare.sh "$baseline" "$out/injected.json" > "$out/injected.tap"
prc=$?
if [ $prc -eq 1 ]; then
	printf '1..1\nok 1 - the gate fails a run with 1 us injected into every invalidation (%s)\n' \
		"$(grep -m1 '^not ok' "$out/injected.tap" | sed 's/^not ok [0-9]* - //')" \
		> "$results/perf-gate-proof.tap"
else
	printf '1..1\nnot ok 1 - the gate passed a run with 1 us injected into every invalidation (status %s)\n' \
		"$prc" > "$results/perf-gate-proof.tap"
fi
cat "$results/perf-gate-proof.tap"
[ $gate -eq 0 ] && [ $prc -eq 1 ]
