#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# one_liners.sh - run every bpftrace one-liner of docs/one-liners.md, as the
# doc writes it, against one run of viommu-load, and check what it prints.
#
# The doc names the load once, in <!-- test-load: VIOMMU-LOAD ARGS -->, and
# precedes each one-liner (a ```sh block holding one `bpftrace -e` command)
# with
#   <!-- test: [each=UNIT] [match=some] [also=PROG] expect="LINE" ... -->
# Every one-liner is started at once; when all have attached, the load runs
# once, then they are stopped. A one-liner passes when it exits 0 and what
# it printed (minus "Attaching N probes..." and blank lines; a hist() is
# one record with its non-empty buckets) is exactly the expected records:
# each expect="LINE" once per UNIT, with {EXPR} replaced by its value for
# that unit. With match=some, other records may be printed too. UNIT is
#   run      (default) the whole load: sums over its VMs
#   vm       each `vm` line of the load's report, with the sums of its
#            vIOMMUs (invalidations, entries, vevents, vevents_lost, iopfs)
#            and vmid_invals = s2_unmaps * viommus
#   viommu   each `viommu` line, with the fields of its VM
#   event    each iommufd event tracefs recorded during the load (event,
#            count)
#   inval_error  each (owner, result) of guest invalidations that failed,
#            per tracefs (count)
# EXPR is Python over those fields, with hex(), bucket(V, N) (a hist()
# with N samples in V's bucket), agree(VALUES, V, N) (the hist() of
# VALUES, which must be N times V: tracefs and the load's report at once)
# and near(VALUES) (a hist() of VALUES as measured again by the one-liner:
# as many samples, each within one log2 bucket). From tracefs,
# which records the events in an instance of its own, a vm unit also has
# inval_us (duration_ns / 1000 of its guest invalidations), iopf_us (its IO
# page faults' delivery to response) and vmid_fanout_traced (the VMID
# invalidations between each S2 start and end of its VMM), the run unit entries_traced (of every guest
# invalidation before any also= program ran).
# also=PROG (a program in $TEST_BIN) runs after the load, when every other
# one-liner has stopped: a load only this one sees.
#
# The load's own report and tracefs are the oracles; every one-liner must
# expect at least one record. With --print, the outputs are printed
# instead (to refresh the doc's sample output).
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
doc=${ONE_LINERS_DOC:-$repo/docs/one-liners.md}
load=${VIOMMU_LOAD:?path of viommu-load}
tracer_scratch one_liners
print=0
[ "${1:-}" = --print ] && print=1
ready_timeout=${ONE_LINERS_TIMEOUT:-300}

# The load, and per one-liner: number, also=, command (separated by \x1f,
# which, unlike a tab, keeps an empty field)
bt_py "$doc" "$tmp" <<'PY'
doc, tmp = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r'<!-- test-load: (.*?) -->', doc)
open(tmp + '/plan', 'w').write(m.group(1) if m else '')
with open(tmp + '/cases', 'w') as out:
    for i, m in enumerate(re.finditer(r'<!-- test: (.*?) -->\s*```sh\n(.*?)\n```', doc, re.S), 1):
        also = dict(re.findall(r'(\w+)=(?:"[^"]*"|(\S+))', m.group(1))).get('also', '')
        out.write('%d\x1f%s\x1f%s\n' % (i, also, m.group(2).strip()))
PY
n=$(wc -l < "$tmp/cases")
[ "$print" = 1 ] || tap_plan "$n"
[ "$n" -ge 12 ] || echo "# only $n one-liners in the doc"
[ -s "$tmp/plan" ] || echo "# no <!-- test-load: ... --> in the doc"

tracefs_on "$inst" || echo "# no tracefs instance: the tracefs oracles are empty"

# Start them all. A bpftrace start-up costs 3 to 4 s of CPU under TCG
# either way (measured in the test VM: 6 starts one after the other took
# 18.6 to 31.6 s, all 6 at once 21.3 to 23.0 s): starting together saves
# nothing by itself, but then one load, one stop and one check serve all.
declare -A bt also_of
while IFS=$'\x1f' read -r i also cmd; do
	bash -c "exec $cmd" > "$tmp/out.$i" 2>&1 &
	bt[$i]=$!
	pids+=($!)
	also_of[$i]=$also
done < "$tmp/cases"
t0=$SECONDS
wait_polling "$ready_timeout" "${pids[@]}"
echo "# $n one-liners attached in $((SECONDS - t0)) s"
: > "$tmp/unready"
for i in "${!bt[@]}"; do
	[ "${polled[${bt[$i]}]}" = 1 ] || echo "$i" >> "$tmp/unready"
done

# shellcheck disable=SC2046
"$load" $(cat "$tmp/plan") > "$tmp/load" 2> "$tmp/load.err"
echo $? > "$tmp/load.rc"

# One-liners with also= keep running while their program does
first=() later=()
for i in "${!bt[@]}"; do
	if [ -n "${also_of[$i]}" ]; then later+=("${bt[$i]}"); else first+=("${bt[$i]}"); fi
done
stop_tracers "${first[@]}"
declare -A rc
for p in "${first[@]}"; do rc[$p]=${tracer_rc[$p]}; done
echo also > "/sys/kernel/tracing/instances/$inst/trace_marker" 2>/dev/null
for prog in $(printf '%s\n' "${also_of[@]}" | sort -u); do
	"${TEST_BIN:?}/$prog" > "$tmp/also.$prog" 2>&1
done
if [ ${#later[@]} -gt 0 ]; then
	stop_tracers "${later[@]}"
	for p in "${later[@]}"; do rc[$p]=${tracer_rc[$p]}; done
fi
pids=()
tracefs_off "$inst" "$tmp/trace" || : > "$tmp/trace"
for i in "${!bt[@]}"; do echo "$i ${rc[${bt[$i]}]}" >> "$tmp/rc"; done

if [ "$print" = 1 ]; then
	echo "### viommu-load $(cat "$tmp/plan")"
	cat "$tmp/load"
	while IFS=$'\x1f' read -r i also cmd; do
		echo "### $i: $cmd"
		cat "$tmp/out.$i"
	done < "$tmp/cases"
	exit 0
fi

# Check every one-liner: status, name, and the diagnostic in diag.N
bt_py "$doc" "$tmp" <<'PY' > "$tmp/results"
doc, tmp = open(sys.argv[1]).read(), sys.argv[2]
vms, viommus = load_report(tmp + '/load')
load_rc = open(tmp + '/load.rc').read().strip()
status = dict(l.split() for l in open(tmp + '/rc') if len(l.split()) == 2)
unready = open(tmp + '/unready').read().split()
evs = trace(tmp + '/trace')
phase1 = []
for e in evs:
    if e['event'] == 'tracing_mark_write':
        break
    phase1.append(e)

# per VM: the VMID invalidations inside each S2 start/end (a VMM's unmaps
# run one at a time: its starts and ends nest, one pair per nesting parent)
fanout, s2_open, s2_n = collections.defaultdict(list), {}, {}
for e in phase1:
    o = e.get('owner')
    if e['event'] == 'iommufd_s2_invalidate_start':
        s2_n[o] = s2_n.get(o, 0) if s2_open.get(o) else 0
        s2_open[o] = s2_open.get(o, 0) + 1
    elif e['event'] == 'iommufd_viommu_vmid_invalidate' and s2_open.get(o):
        s2_n[o] += 1
    elif e['event'] == 'iommufd_s2_invalidate_end' and s2_open.get(o):
        s2_open[o] -= 1
        if not s2_open[o]:
            fanout[o].append(s2_n[o])
# per VM: guest invalidation durations and IOPF response times, from tracefs
inval_us, iopf_us, delivered = collections.defaultdict(list), collections.defaultdict(list), {}
for e in evs:
    if e['event'] == 'iommufd_cache_invalidate_end':
        inval_us[e['owner']].append(e['duration_ns'] // 1000)
    elif e['event'] == 'iommufd_fault_deliver':
        delivered[(e['ictx'], e['dev'], e['grpid'])] = e['ts']
    elif e['event'] == 'iommufd_fault_respond':
        t = delivered.pop((e['ictx'], e['dev'], e['grpid']), None)
        if t is not None:
            iopf_us[e['owner']].append((e['ts'] - t) // 1000)

SUMS = ('invalidations', 'entries', 'vevents', 'vevents_lost', 'iopfs')
vm_units = []
for v in vms:
    u = dict(v)
    for k in SUMS:
        u[k] = sum(w[k] for w in viommus if w['pid'] == v['pid'])
    u['vmid_invals'] = u['s2_unmaps'] * u['viommus']
    u['inval_us'], u['iopf_us'] = inval_us[v['pid']], iopf_us[v['pid']]
    u['vmid_fanout_traced'] = fanout[v['pid']]
    vm_units.append(u)
units = {
    'vm': vm_units,
    'viommu': [dict([(k, x) for k, x in u.items() if k not in SUMS] + list(w.items()))
               for w in viommus for u in vm_units if u['pid'] == w['pid']],
    'run': [dict([(k, sum(u[k] for u in vm_units)) for k in
                  SUMS + ('viommus', 's2_unmaps', 'vmid_invals')] + [('vms', len(vm_units))] +
                 [('entries_traced', [e['entries'] for e in phase1
                                      if e['event'] == 'iommufd_cache_invalidate_start'])])],
    'event': [{'event': k, 'count': n} for k, n in
              sorted(collections.Counter(e['event'] for e in phase1).items())],
    'inval_error': [{'owner': o, 'result': r, 'count': n} for (o, r), n in sorted(
        collections.Counter((e['owner'], e['result']) for e in evs
                            if e['event'] == 'iommufd_cache_invalidate_end' and e['result']).items())],
}
# the hist() of values tracefs recorded, if they are the load's (n times v)
def agree(traced, v, n):
    if sorted(traced) != [v] * n:
        return 'tracefs %s, not %d x %d as the load reports' % (hist_of(traced), n, v)
    return hist_of(traced)
env = {'hex': hex, 'bucket': lambda v, n: hist_of([v] * n), 'agree': agree,
       'near': lambda vals: 'near(%s)' % ','.join(map(str, vals))}

cases = re.finditer(r'<!-- test: (.*?) -->\s*```sh\n(.*?)\n```', doc, re.S)
for i, m in enumerate(cases, 1):
    kv = re.findall(r'(\w+)=(?:"([^"]*)"|(\S+))', m.group(1))
    opt = {k: q or b for k, q, b in kv if k != 'expect'}
    lines = [q or b for k, q, b in kv if k == 'expect']
    each = opt.get('each', 'run')
    want = [re.sub(r'\{([^{}]+)\}', lambda x: str(eval(x.group(1), env, u)), l)
            for u in units[each] for l in lines]
    got = records('%s/out.%d' % (tmp, i))
    problems = []
    if str(i) in unready:
        problems.append('not attached (bpftrace_polling) within the time limit')
    if status.get(str(i)) != '0':
        problems.append('exit status %s' % status.get(str(i)))
    if load_rc != '0' or not vms:
        problems.append('the load failed: ' + open(tmp + '/load.err').read())
    if not want:
        problems.append('no records expected: the %s units are empty' % each)
    problems += match(want, got, opt.get('match', 'all') != 'some')
    with open('%s/diag.%d' % (tmp, i), 'w') as d:
        d.write('\n'.join(problems + ['', 'expected (each=%s):' % each] + want +
                          ['', 'printed:'] + [str(r) for r in got]))
    print('%d\t%s' % (len(problems) > 0, m.group(2).strip()))
PY
[ -s "$tmp/results" ] || echo "# the checker failed"
i=0
while IFS=$'\t' read -r failed cmd; do
	i=$((i + 1))
	tap_result "$failed" "one-liner $i: $cmd" "$(cat "$tmp/diag.$i")"
done < "$tmp/results"
tap_done
