#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bpftrace_tools.sh - every scripts/bpftrace tool, attached at once to one
# run of viommu-load with a known plan, reports exactly what the load did:
# counts per VM and vIOMMU, VMIDs, vRIDs and objects, compared with the
# load's own report for every VM and vIOMMU, and latency histograms
# compared with the same events recorded by tracefs. Not only a zero exit
# status.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=$repo/scripts/bpftrace
load=${VIOMMU_LOAD:?path of viommu-load}
tracer_scratch bpftrace_tools
names=(viommu_invlat viommu_s2fanout viommu_vmid viommu_faults viommu_objects)
# 2 VMs of 3 vIOMMUs on one S2 each: invalidations of 3 entries, unmaps
# (fan-out 3), 70 vEVENTs per vIOMMU into a queue of 64, 3 IOPFs each
plan="-V 2 -i 3 -n 10 -e 3 -u 5 -E 70 -F 3"

tap_plan 19

tracefs_on "$inst" || echo "# no tracefs instance: the latency checks have no oracle"
declare -A bt
for t in "${names[@]}"; do
	bpftrace "$tools/$t.bt" > "$tmp/$t.out" 2>&1 &
	bt[$t]=$!
	pids+=($!)
done
t0=$SECONDS
wait_polling 300 "${pids[@]}"
echo "# ${#names[@]} tools attached in $((SECONDS - t0)) s"
# shellcheck disable=SC2086
"$load" $plan > "$tmp/load" 2> "$tmp/load.err"
load_rc=$?
stop_tracers "${pids[@]}"
pids=()
tracefs_off "$inst" "$tmp/trace" || : > "$tmp/trace"

for t in "${names[@]}"; do
	[ "${polled[${bt[$t]}]}" = 1 ] && [ "${tracer_rc[${bt[$t]}]}" = 0 ]
	tap_result $? "$t.bt attached (polling) and exits 0 on SIGINT" "$(cat "$tmp/$t.out")"
done

# The checks: "status<TAB>name" lines, the diagnostic of check N in diag.N
bt_py "$tmp" "$load_rc" <<'PY' > "$tmp/results"
tmp, load_rc = sys.argv[1], sys.argv[2]
vms, viommus = load_report(tmp + '/load')
evs = trace(tmp + '/trace')
nr = 0

def check(name, problems, shown):
    global nr
    nr += 1
    if load_rc != '0' or not vms:
        problems = ['the load failed: ' + open(tmp + '/load.err').read()] + problems
    with open('%s/diag.%d' % (tmp, nr), 'w') as d:
        d.write('\n'.join(problems + ['', 'printed:'] + [str(r) for r in shown]))
    print('%d\t%s' % (len(problems) > 0, name))

def recs(tool, prefix):
    return [r for r in records('%s/%s.out' % (tmp, tool)) if r.text.startswith(prefix)]

def same(want, got):
    """problems unless the two lists hold the same items"""
    want, got = collections.Counter(want), collections.Counter(got)
    return ['missing: %s' % (k,) for k in want - got] + \
           ['unexpected: %s' % (k,) for k in got - want]

vm_of = {v['pid']: v for v in vms}

# viommu_invlat.bt: per (VM, vIOMMU)
dur = collections.defaultdict(list)
for e in evs:
    if e['event'] == 'iommufd_cache_invalidate_end' and e['duration_ns']:
        dur[(e['owner'], e['viommu'])].append(e['duration_ns'] // 1000)
r = recs('viommu_invlat', '@requests[')
check('viommu_invlat.bt: @requests of each of the 6 (VM, vIOMMU) is its invalidations',
      match(['@requests[%d, %d]: %d' % (w['pid'], w['viommu'], w['invalidations'])
             for w in viommus], r), r)
r = recs('viommu_invlat', '@entries[')
check('viommu_invlat.bt: @entries of each (VM, vIOMMU) is the entries it invalidated',
      match(['@entries[%d, %d]: %d' % (w['pid'], w['viommu'], w['entries'])
             for w in viommus], r), r)
r = recs('viommu_invlat', '@usecs[')
check('viommu_invlat.bt: one latency histogram per (VM, vIOMMU), as tracefs timed them',
      match(['@usecs[%d, %d]: near(%s)' % (w['pid'], w['viommu'], ','.join(
          map(str, dur[(w['pid'], w['viommu'])]))) for w in viommus], r), r)

# viommu_s2fanout.bt: per VM
r = recs('viommu_s2fanout', '@unmaps[')
check('viommu_s2fanout.bt: @unmaps of each VM is its unmaps',
      match(['@unmaps[%d]: %d' % (v['pid'], v['s2_unmaps']) for v in vms], r), r)
r = recs('viommu_s2fanout', '@fanout[')
check('viommu_s2fanout.bt: every unmap of each VM touched its 3 VMIDs',
      match(['@fanout[%d]: %s' % (v['pid'], hist_of([v['viommus']] * v['s2_unmaps']))
             for v in vms], r), r)
starts, s2_us = {}, collections.defaultdict(list)
for e in evs:
    # seq is unique within a context: pair by (ictx, seq)
    key = (e.get('ictx'), e.get('seq'))
    if e['event'] == 'iommufd_s2_invalidate_start':
        starts[key] = e['ts']
    elif e['event'] == 'iommufd_s2_invalidate_end' and key in starts:
        s2_us[e['owner']].append((e['ts'] - starts.pop(key)) // 1000)
r = recs('viommu_s2fanout', '@usecs[')
check('viommu_s2fanout.bt: S2 invalidation latency of each VM, as tracefs timed it',
      match(['@usecs[%d]: near(%s)' % (v['pid'], ','.join(map(str, s2_us[v['pid']])))
             for v in vms], r), r)

# viommu_vmid.bt: TIME EVENT PID ICTX VIOMMU VMID GUEST_ID
lines = [l.split() for l in open(tmp + '/viommu_vmid.out')]
rows = [l for l in lines if len(l) == 7 and l[1] in ('assign', 'release')]
want = ['%d %d %d' % (w['pid'], w['viommu'], w['vmid']) for w in viommus]
for ev in ('assign', 'release'):
    got = ['%s %s %s' % (l[2], l[4], l[5]) for l in rows if l[1] == ev]
    check('viommu_vmid.bt: one %s per vIOMMU, with the (pid, vIOMMU, VMID) of the load' % ev,
          same(want, got), [' '.join(l) for l in lines])

# viommu_faults.bt: per VM and per vIOMMU
r = recs('viommu_faults', '@vevents[')
want = []
for v in vms:
    ws = [w for w in viommus if w['pid'] == v['pid']]
    want += ['@vevents[%d, queued]: %d' % (v['pid'], sum(w['vevents'] - w['vevents_lost'] for w in ws)),
             '@vevents[%d, lost_full]: %d' % (v['pid'], sum(w['vevents_lost'] for w in ws))]
check('viommu_faults.bt: vEVENTs queued and lost (queue full) per VM, no other outcome',
      match(want, r), r)
r = recs('viommu_faults', '@iopfs[')
check('viommu_faults.bt: IOPFs per VM and vRID',
      match(['@iopfs[%d, %d]: %d' % (w['pid'], w['vrid'], w['iopfs']) for w in viommus], r), r)
delivered, iopf_us = {}, collections.defaultdict(list)
for e in evs:
    if e['event'] == 'iommufd_fault_deliver':
        delivered[(e['ictx'], e['dev'], e['grpid'])] = e['ts']
    elif e['event'] == 'iommufd_fault_respond':
        t = delivered.pop((e['ictx'], e['dev'], e['grpid']), None)
        if t is not None:
            iopf_us[e['owner']].append((e['ts'] - t) // 1000)
r = recs('viommu_faults', '@response_usecs[')
check('viommu_faults.bt: IOPF response time per VM, as tracefs timed it',
      match(['@response_usecs[%d]: near(%s)' % (v['pid'], ','.join(map(str, iopf_us[v['pid']])))
             for v in vms], r), r)

# viommu_objects.bt: TIME PID ICTX EVENT VIOMMU DETAIL...
lines = [l.split() for l in open(tmp + '/viommu_objects.out')]
rows = [l for l in lines if len(l) >= 5 and l[0].isdigit()]
shown = [' '.join(l) for l in lines]
got = ['%s %s %s' % (l[1], l[4], ' '.join(x for x in l[5:] if not x.startswith('vdev=')))
       for l in rows if l[3] == 'vdevice_alloc']
check('viommu_objects.bt: one vDEVICE per vIOMMU, with the load\'s device and vRID',
      same(['%d %d dev=%d virt_id=%s' % (w['pid'], w['viommu'], w['dev'], hex(w['vrid']))
            for w in viommus], got), shown)
got = ['%s %s %s' % (l[1], l[4], l[6]) for l in rows if l[3] == 'viommu_alloc']
check('viommu_objects.bt: each vIOMMU allocated on its VM\'s S2',
      same(['%d %d hwpt=%d' % (w['pid'], w['viommu'], vm_of[w['pid']]['s2'])
            for w in viommus], got), shown)
want = ['%d %s %d' % (w['pid'], kind, w['viommu']) for w in viommus
        for kind in ('viommu', 'vdevice', 'nested', 'veventq')]
problems = []
for ev in ('alloc', 'destroy'):
    problems += ['%s: %s' % (ev, p) for p in same(want, [
        '%s %s %s' % (l[1], l[3].rsplit('_', 1)[0], l[4]) for l in rows if l[3].endswith('_' + ev)])]
check('viommu_objects.bt: each vIOMMU\'s vIOMMU, vDEVICE, nested HWPT and vEVENTQ created and destroyed, nothing else',
      problems, shown)
PY
[ -s "$tmp/results" ] || echo "# the checker failed"
i=0
while IFS=$'\t' read -r failed name; do
	i=$((i + 1))
	tap_result "$failed" "$name" "$(cat "$tmp/diag.$i")"
done < "$tmp/results"
tap_done
