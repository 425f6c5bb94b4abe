#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# stress_races.sh - races, kills and the tool, all at once (issue 15 item 2).
#
# One "viommu top --json -b 0.5" runs through the whole test. Meanwhile
# build/tests/stress_races runs VMMs that create and destroy vIOMMUs,
# vDEVICEs, nested HWPTs, vEVENTQs and fault queues in loops, readers of
# every iommufd fdinfo, and SIGKILLs of VMMs at random points, and this
# script attaches and detaches the tool over and over (top -b, trace,
# topo --watch, each stopped by SIGTERM or SIGKILL after a random time).
# A tracing instance counts the object alloc/destroy events meanwhile.
# Then: the helper's own checks (models, exits, fdinfo of the surviving
# contexts, well-formed fdinfo), top's per-VM totals equal to what each
# normally exited VMM did, a killed VMM's between what it had done and
# what it had started, any shortfall counted as a drop, every object
# allocated destroyed, the tool runs all ended as they should. The kernel
# log is checked by vm-run.sh. STRESS_SEED and STRESS_SECS override the
# fixed seed and the duration.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
helper=${TEST_BIN:-$repo/build/tests}/stress_races
seed=${STRESS_SEED:-15}
# times VIOMMU_TIME_SCALE (the debug kernel is ten times slower): about
# as many operations there as on the test kernel
secs=${STRESS_SECS:-$((40 * time_scale))}
inst=/sys/kernel/tracing/instances/stress-races
tmp=$(mktemp -d)
toppid='' smallpid='' stresspid='' toolpid=''
cleanup() {
	local p
	for p in $toppid $smallpid $stresspid $toolpid; do kill -KILL "$p" 2>/dev/null; done
	[ -d "$inst" ] && { echo 0 > "$inst/events/iommufd/enable"; rmdir "$inst"; } 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan 14
echo "# seed $seed (STRESS_SEED=$seed reproduces the schedule), ${secs} s"
RANDOM=$seed

# The object classes whose alloc/destroy events must pair up at the end
classes="viommu vdevice hwpt_nested veventq"
[ -d "$inst" ] && { echo 0 > "$inst/events/iommufd/enable"; rmdir "$inst"; }
traced=0
if mkdir "$inst" && echo 8192 > "$inst/buffer_size_kb"; then
	traced=1
	for c in $classes; do
		for e in alloc destroy; do
			echo 1 > "$inst/events/iommufd/iommufd_${c}_$e/enable" || traced=0
		done
	done
	echo 1 > "$inst/tracing_on" || traced=0
fi

# A second top with room for 3 VMs only: the events it has no room for
# must show as drops
"$viommu" top --json -b 0.5 > "$tmp/top.out" 2> "$tmp/top.err" &
toppid=$!
VIOMMU_MAX_ENTRIES=vm_stats=3 "$viommu" top --json -b 0.5 > "$tmp/small.out" 2> "$tmp/small.err" &
smallpid=$!
attached() { grep -q 'attached' "$tmp/$1.err" || ! kill -0 "$2" 2>/dev/null; }
wait_until 120 attached top "$toppid" && wait_until 120 attached small "$smallpid"
kill -0 "$toppid" 2>/dev/null && kill -0 "$smallpid" 2>/dev/null &&
	wait_until 30 test -s "$tmp/top.out" && wait_until 30 test -s "$tmp/small.out"
tap_result $? "top --json -b 0.5 (twice, one with a VM map of 3): attached and printing before the stress" \
	"$(cat "$tmp/top.err" "$tmp/small.err")"

"$helper" -s "$seed" -d "$secs" -v 4 -r 2 -o "$tmp/report" > "$tmp/helper.out" 2> "$tmp/helper.err" &
stresspid=$!

# The tool attached and detached until the stress ends: SIGTERM (clean
# exit 0, or 143 before its handler is in) or SIGKILL (137)
runs=0 bad_runs='' attached_runs=0
tools=("top -b 0.5" "trace" "topo --watch")
while kill -0 "$stresspid" 2>/dev/null; do
	cmd=${tools[RANDOM % 3]}
	# shellcheck disable=SC2086 # the command's words
	"$viommu" $cmd > "$tmp/tool.out" 2> "$tmp/tool.err" &
	toolpid=$!
	ms=$((200 + RANDOM % 2300))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	if [ $((RANDOM % 3)) = 0 ]; then sig=KILL want=137; else sig=TERM want="0 143"; fi
	kill -"$sig" "$toolpid" 2>/dev/null
	# shellcheck disable=SC2016 # expanded by eval, each time
	# (no "Killed" notice from bash in the TAP stream)
	{ wait_until 30 eval '! kill -0 "$toolpid" 2>/dev/null'; } 2>/dev/null
	kill -KILL "$toolpid" 2>/dev/null
	{ wait "$toolpid"; } 2>/dev/null
	rc=$?
	toolpid=
	runs=$((runs + 1))
	grep -q '^Tracing\|attached\|"schema_version"\|^[0-9]' "$tmp/tool.out" "$tmp/tool.err" &&
		attached_runs=$((attached_runs + 1))
	case " $want " in
	*" $rc "*) ;;
	*) bad_runs="$bad_runs
$cmd: SIG$sig after ${ms} ms: status $rc: $(head -c 300 "$tmp/tool.err")" ;;
	esac
done
wait "$stresspid"
rc=$?
stresspid=
grep '^#' "$tmp/helper.out"
echo "# $runs tool runs ($attached_runs attached before they were stopped)"
is "stress_races ran (status 0, nothing on stderr)" "$rc $(head -c 300 "$tmp/helper.err")" "0 "
n=0
while read -r _ status name; do
	n=$((n + 1))
	tap_result "$status" "$name"
done < <(grep '^check ' "$tmp/helper.out")
[ "$n" = 5 ] || tap_result 1 "the helper's five checks" "got $n"

is "every tool run ended as its signal says (0 or 143 for SIGTERM, 137 for SIGKILL), $runs runs" \
	"$runs${bad_runs}" "$runs"

# top has seen the last exit once its totals stop moving for 2 intervals
lines_now() { wc -l < "$tmp/top.out"; }
settled() { [ "$(lines_now)" -ge $((start_lines + 4)) ]; }
start_lines=$(lines_now)
wait_until 60 settled
kill -TERM "$toppid" "$smallpid"
wait "$toppid"
rc=$?
wait "$smallpid"
rc="$rc $?"
toppid='' smallpid=''
is "top (both): ran through the stress and stopped on SIGTERM with status 0" "$rc" "0 0"

# compare TOP-OUTPUT: top's view against the VMMs' report. Shortfalls are
# counted in events (an invalidation's entries are one event's payload),
# as the drops are.
compare() {
python3 - "$1" "$tmp/report" <<'PY'
import json, sys
rows, drops = {}, {}
with open(sys.argv[1], 'rb') as f:
    lines = f.read().decode('utf-8', errors='replace').splitlines()
for line in lines:
    try:
        o = json.loads(line)
    except ValueError:
        continue
    for k, v in o.get('drops', {}).items():
        drops[k] = max(drops.get(k, 0), v)
    for v in o.get('vms', []):
        rows[v['vm']] = v
keys = [('guest_invals_total', 'invals'), ('guest_inval_entries_total', 'entries'),
        ('s2_invals_total', 's2'), ('vmid_invals_total', 'vmid_invals'),
        ('vevents_queued_total', 'vevents'), ('faults_total', 'faults'),
        ('fault_responses_total', 'responses')]
normal_bad, killed_bad, normal, killed, short = [], [], 0, 0, 0
for line in open(sys.argv[2]):
    f = dict(w.split('=', 1) for w in line.split()[1:])
    vm = int(f['vm'])
    top = rows.get(vm, {})
    got = {t: top.get(t, 0) for t, _ in keys}
    if f['fate'] == 'normal':
        normal += 1
        want = {t: int(f[r]) for t, r in keys}
        if got != want:
            normal_bad.append('vm %d pid %s: top %s, VMM %s' % (vm, f['pid'],
                [got[t] for t, _ in keys], [want[t] for t, _ in keys]))
        short += sum(max(0, want[t] - got[t]) for t, r in keys if r != 'entries')
    else:
        killed += 1
        for t, r in keys:
            # the kernel answers the faults a dead VMM left (reason
            # "destroyed"): responses are bounded by the faults raised
            lo = int(f[r])
            hi = int(f['started_' + ('faults' if r == 'responses' else r)])
            # a VMM killed with guest memory mapped: closing its context
            # takes its one nesting parent off the IOAS, which unmaps (and
            # traces) that S2 once more (no vIOMMU is left to fan out to)
            if r == 's2':
                hi += 1
            if r != 'entries':
                short += max(0, lo - got[t])
            if got[t] > hi:
                killed_bad.append('vm %d pid %s: %s %d above the %d started' %
                                  (vm, f['pid'], t, got[t], hi))
print('normal %d %s' % (normal, '; '.join(normal_bad[:5]) or 'ok'))
print('killed %d %s' % (killed, '; '.join(killed_bad[:5]) or 'ok'))
print('short %d drops %d %s' % (short, sum(drops.values()), drops))
PY
}
compare "$tmp/top.out" > "$tmp/compare"
compare "$tmp/small.out" > "$tmp/compare.small"
read -r _ n_normal normal_res < <(grep '^normal ' "$tmp/compare")
read -r _ n_killed killed_res < <(grep '^killed ' "$tmp/compare")
read -r _ short _ dropped drops_res < <(grep '^short ' "$tmp/compare")
echo "# top's drops over the run: $dropped $drops_res"
is "top's totals for each of the $n_normal VMMs that exited normally are its own (invalidations, entries, S2, VMIDs, vEVENTs, faults, responses)" \
	"$normal_res" ok
is "top's totals for each of the $n_killed killed VMMs are at most what they started (responses: faults raised; S2: one more, the teardown of a mapped S2)" "$killed_res" ok
tap_result "$([ "$short" -le "$dropped" ] && echo 0 || echo 1)" \
	"every event top missed ($short) is counted as a drop ($dropped)"
read -r _ short _ dropped drops_res < <(grep '^short ' "$tmp/compare.small")
echo "# the top with a VM map of 3: drops $dropped $drops_res"
tap_result "$([ "$short" -gt 0 ] && [ "$short" -le "$dropped" ] && echo 0 || echo 1)" \
	"the top with a VM map of 3 missed events ($short), each counted as a drop ($dropped)"

# Every object allocated was destroyed, killed VMMs' too, and as many as
# the VMMs made (between done and started)
if [ "$traced" = 1 ]; then
	for c in $classes; do echo 0 > "$inst/events/iommufd/iommufd_${c}_alloc/enable"
		echo 0 > "$inst/events/iommufd/iommufd_${c}_destroy/enable"; done
	lost=0
	for cpu in "$inst"/per_cpu/cpu*; do
		n=$(sed -n 's/^overrun: //p' "$cpu/stats"); lost=$((lost + ${n:-0}))
	done
	pairs=$(awk -v lost="$lost" '
		match($0, / iommufd_[a-z_]+_(alloc|destroy): /) {
			ev = substr($0, RSTART + 9, RLENGTH - 11); n[ev]++ }
		END { printf "lost=%d", lost
			split("viommu vdevice hwpt_nested veventq", c)
			for (i = 1; i <= 4; i++)
				printf " %s=%d/%d", c[i], n[c[i] "_alloc"], n[c[i] "_destroy"] }' "$inst/trace")
	made=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
		END { printf "viommu=%d-%d vdevice=%d-%d hwpt_nested=%d-%d veventq=%d-%d",
			s["viommus"], s["started_viommus"], s["vdevices"], s["started_vdevices"],
			s["nested"], s["started_nested"], s["veventqs"], s["started_veventqs"] }' "$tmp/report")
	echo "# traced alloc/destroy: $pairs; the VMMs made (done-started): $made"
	verdict=$(awk -v pairs="$pairs" -v made="$made" 'BEGIN {
		np = split(pairs, p, " "); split(made, m, " ")
		bad = ""
		if (p[1] != "lost=0") bad = bad " " p[1]
		for (i = 2; i <= np; i++) {
			split(p[i], a, "[=/]"); split(m[i - 1], b, "[=-]")
			if (a[2] != a[3] || a[2] < b[2] || a[2] > b[3]) bad = bad " " p[i] " (made " m[i - 1] ")"
		}
		print bad == "" ? "ok" : bad }')
	is "every vIOMMU, vDEVICE, nested HWPT and vEVENTQ allocated was destroyed, as many as the VMMs made" \
		"$verdict" ok
	echo 0 > "$inst/tracing_on"
	rmdir "$inst" && inst=/nonexistent
else
	tap_result 1 "every object allocated was destroyed" "cannot set up the tracing instance $inst"
fi
tap_figures "seed $seed"
tap_done
