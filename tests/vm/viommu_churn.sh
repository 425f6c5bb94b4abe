#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_churn.sh - viommu top under churn: 8 overlapping viommu-load runs
# of 16 VMs each (128 VMs, many appearing and exiting in each 0.3 s
# interval) under "viommu top --json -b 0.3". The output must be strict
# UTF-8 JSON, every row must carry its VMM's name (each was known: the
# VMs are viommu-load processes), and each VM's last totals must be what
# its load reported, VM by VM and summed.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/sanitizer.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
tmp=$(mktemp -d)
runs=8 per_run=16
toppid=
loadpids=()
cleanup() {
	[ -z "$toppid" ] || kill -KILL "$toppid" 2>/dev/null
	for p in "${loadpids[@]}"; do pkill -KILL -P "$p"; kill -KILL "$p"; done 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan $((6 + san_plan))

"$viommu" top --json -b 0.3 > "$tmp/top.out" 2> "$tmp/top.err" &
toppid=$!
# attached and reading once its first interval is out
first_line() { [ -s "$tmp/top.out" ] || ! kill -0 "$toppid" 2>/dev/null; }
wait_until 120 first_line
tap_result $? "top --json -b 0.3: attached and printing" "$(cat "$tmp/top.err")"

# Each run starts once the one before has reported a VM: its VMs are then
# exiting while the next run's appear, across several intervals
reported() { grep -q '^vm ' "$1" 2>/dev/null; }
for i in $(seq $runs); do
	"$load" -V $per_run -i 1 -n 20 -e 2 -u 2 -E 2 -F 1 > "$tmp/load$i" 2> "$tmp/load$i.err" &
	loadpids+=($!)
	wait_until 120 reported "$tmp/load$i"
done
rcs=
for p in "${loadpids[@]}"; do wait "$p"; rcs="$rcs$?"; done
loadpids=()
is "the $runs loads ran their $((runs * per_run)) VMs" \
	"$rcs $(cat "$tmp"/load? | grep -c '^vm ')" "$(printf '0%.0s' $(seq $runs)) $((runs * per_run))"

# What the loads did, per VM pid: invalidations, entries, S2 unmaps, VMID
# invalidations, vEVENTs, faults (one vIOMMU each)
cat "$tmp"/load? | awk '$1 == "viommu" || $1 == "vm" {
		delete f
		for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
	}
	$1 == "viommu" { inv[f["pid"]] += f["invalidations"]; ent[f["pid"]] += f["entries"]
		vev[f["pid"]] += f["vevents"]; iopf[f["pid"]] += f["iopfs"] }
	$1 == "vm" { s2[f["pid"]] = f["s2_unmaps"]; n[f["pid"]] = f["viommus"] }
	END { for (p in s2) print p, inv[p], ent[p], s2[p], s2[p] * n[p], vev[p], iopf[p], iopf[p] }' |
	sort -n > "$tmp/want"
awk '{ for (i = 2; i <= NF; i++) s[i] += $i } END { printf "total"; for (i = 2; i <= NF; i++) printf " %d", s[i]; print "" }' \
	"$tmp/want" > "$tmp/want.total"

# top's view, from strict UTF-8 JSON: per VM its last row's totals, per pid
got_top() {
	python3 - "$tmp/top.out" "$1" <<'PY'
import json, sys
rows, bad = {}, []
with open(sys.argv[1], 'rb') as f:
    data = f.read()
try:
    text = data.decode('utf-8', errors='strict')
except UnicodeDecodeError as e:
    text = data.decode('utf-8', errors='replace')
    bad.append('not UTF-8: %s' % e)
lines = text.splitlines()
# the last line may be cut by a kill: only complete lines count
if text and not text.endswith('\n'):
    lines = lines[:-1]
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line, strict=True)
    except ValueError as e:
        bad.append('line %d: %s: %r' % (n, e, line[:200]))
        continue
    if o.get('type') != 'viommu-top' or o.get('schema_version') != 3:
        bad.append('line %d: not a viommu-top line' % n)
    for v in o.get('vms', []):
        rows[v['vm']] = v
        if v['comm'] != 'viommu-load':
            bad.append('line %d: vm %d pid %d comm %r' % (n, v['vm'], v['vmm_pid'], v['comm']))
keys = ('guest_invals_total', 'guest_inval_entries_total', 's2_invals_total',
        'vmid_invals_total', 'vevents_queued_total', 'faults_total', 'fault_responses_total')
what = sys.argv[2]
if what == 'bad':
    print('\n'.join(bad[:20]) if bad else 'none')
    sys.exit(0)
per_pid = {}
for v in rows.values():
    t = per_pid.setdefault(v['vmm_pid'], [0] * len(keys))
    for i, k in enumerate(keys):
        t[i] += v[k]
if what == 'pids':
    for p in sorted(per_pid):
        print(p, *per_pid[p])
else:
    print('total', *[sum(t[i] for t in per_pid.values()) for i in range(len(keys))])
PY
}
caught_up() { [ "$(got_top total)" = "$(cat "$tmp/want.total")" ]; }
wait_until 60 caught_up
kill -INT "$toppid"
wait "$toppid"
rc=$?
toppid=
is "top: stops on SIGINT with status 0" "$rc" 0
is "top: every line strict UTF-8 JSON, every row named viommu-load" "$(got_top bad)" none
is "top: the loads' VMs, each with its totals (invalidations, entries, S2, VMID invalidations, vEVENTs, faults, responses)" \
	"$(got_top pids)" "$(cat "$tmp/want")"
is "top: the totals summed over its VMs are the loads' own" "$(got_top total)" "$(cat "$tmp/want.total")"
echo "# figures: $((runs * per_run)) VMs in $runs loads, $(wc -l < "$tmp/top.out") top lines;" \
	"their invalidations, entries, S2, VMIDs, vEVENTs, faults, responses: $(cut -d' ' -f2- "$tmp/want.total")"
san_done
tap_done
