#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# one_liners.sh - run every bpftrace one-liner of docs/one-liners.md, as the
# doc writes it, against viommu-load, and check its output.
#
# In the doc, each one-liner is a ```sh block holding one `bpftrace -e`
# command, preceded by a comment
#   <!-- test: load="VIOMMU-LOAD ARGS" expect="REGEX" count=N -->
# The one-liner passes when, after the load, at least N lines of its output
# match REGEX (with count=0: none does), where PID stands for the load's VM
# pid. With --print, the
# outputs are printed instead (to refresh the doc's sample output).
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
doc=$repo/docs/one-liners.md
load=${VIOMMU_LOAD:?path of viommu-load}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
print=0
[ "${1:-}" = --print ] && print=1

# Extract (test comment, command) pairs
python3 - "$doc" > "$tmp/cases" <<'PY'
import re, sys, shlex
doc = open(sys.argv[1]).read()
for m in re.finditer(r'<!-- test: (.*?) -->\s*```sh\n(.*?)\n```', doc, re.S):
    meta, cmd = m.group(1), m.group(2).strip()
    kv = {k: q or b for k, q, b in re.findall(r'(\w+)=(?:"([^"]*)"|(\S+))', meta)}
    print("\t".join([kv["load"], kv["expect"], kv.get("count", "1"), cmd]))
PY
n=$(wc -l < "$tmp/cases")
[ "$print" = 1 ] || tap_plan "$n"
[ "$n" -ge 12 ] || echo "# only $n one-liners in the doc"

# Wait until every probe bpftrace announced is attached, as bpftool sees it
wait_attached() { # pid outfile
	local want have
	for _ in $(seq 600); do
		want=$(sed -n 's/^Attaching \([0-9]*\) probe.*/\1/p' "$2")
		if [ -n "$want" ]; then
			have=$(bpftool perf show pid "$1" 2>/dev/null | grep -c tracepoint)
			[ "$have" -ge "$want" ] && return 0
		fi
		sleep 0.1
	done
	return 1
}

i=0
while IFS=$'\t' read -r loadargs expect count cmd; do
	i=$((i + 1))
	bash -c "$cmd" > "$tmp/out" 2>&1 &
	bt=$!
	wait_attached $bt "$tmp/out"
	# bpftool lists an attachment before bpftrace has enabled its perf
	# event; a load of a few ms could otherwise finish before it counts
	sleep 1
	# shellcheck disable=SC2086
	pid=$("$load" $loadargs | sed -n 's/^vm .* pid=\([0-9]*\).*/\1/p' | head -1)
	stop_tracer $bt
	rc=$?
	if [ "$print" = 1 ]; then
		echo "### $cmd"
		cat "$tmp/out"
		continue
	fi
	re=${expect//PID/$pid}
	got=$(grep -cE "$re" "$tmp/out")
	if [ "$count" = 0 ]; then
		[ "$rc" = 0 ] && [ "$got" = 0 ]
	else
		[ "$rc" = 0 ] && [ "$got" -ge "$count" ]
	fi
	tap_result $? "one-liner $i: $cmd" "load: $loadargs (pid $pid)
expect $count lines matching: $re
$(cat "$tmp/out")"
done < "$tmp/cases"
[ "$print" = 1 ] || tap_done
