# SPDX-License-Identifier: GPL-2.0-only
"""prometheus_check.py - what tests/vm/prometheus_export.sh asks a real
Prometheus server (its HTTP API) about viommu export's series, compared
with viommu-load's own report.

usage: prometheus_check.py PROM-URL COMMAND ARGS...
  up SECS                    wait until job "viommu" is up (scraped once)
  exact LOAD SECS            wait until every VM's and vIOMMU's series equal
                             the load's report; print what differs if not
  p99 LOAD                   histogram_quantile(0.99) per VM against the
                             load's injected delay
  growing LOAD               each VM's invalidation counter took >= 3
                             values and never went backwards (resets)
  gone LOAD SECS [SINCE]     wait until the load's VMs have no series left;
                             print the seconds since SINCE (epoch) it took
  last LOAD                  the last value of each VM's counters, looked
                             back on after they stopped, is the final count
  rules                      every alert rule loaded and evaluated (health ok)
Exit status 0 when the check holds; 1 with what differs on stdout.
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request

PROM = sys.argv[1].rstrip('/')


def api(path, **params):
    url = '%s/api/v1/%s?%s' % (PROM, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=20) as r:
        data = json.load(r)
    if data.get('status') != 'success':
        raise RuntimeError('%s: %s' % (url, data))
    return data['data']


def query(expr):
    return api('query', query=expr)['result']


def fields(text):
    out = {}
    for k, v in re.findall(r'(\w+)=(\S+)', text):
        try:
            out[k] = int(v, 0)
        except ValueError:
            out[k] = v
    return out


def load_report(path):
    vms, viommus = [], []
    for line in open(path):
        kind = line.split(' ', 1)[0]
        if kind == 'vm':
            vms.append(fields(line))
        elif kind == 'viommu':
            viommus.append(fields(line))
    if not vms:
        sys.exit('no "vm" lines in the load report %s' % path)
    return vms, viommus


def pids_re(vms):
    return '|'.join(str(v['pid']) for v in vms)


def expected(vms, viommus, exited=False):
    """{(metric, pid or (pid, viommu)): value}: while the load holds its
    objects, or after its VMs exited (their vIOMMUs destroyed)"""
    want = {}
    for vm in vms:
        p = vm['pid']
        mine = [v for v in viommus if v['pid'] == p]
        inv = sum(v['invalidations'] for v in mine)
        ent = sum(v['entries'] for v in mine)
        vev = sum(v['vevents'] for v in mine)
        lost = sum(v['vevents_lost'] for v in mine)
        iopf = sum(v['iopfs'] for v in mine)
        for name, val in (
                ('viommu_guest_invalidations_total', inv),
                ('viommu_guest_invalidation_entries_total', ent),
                ('viommu_guest_invalidation_errors_total', 0),
                ('viommu_guest_invalidation_duration_seconds_count', inv),
                ('viommu_s2_invalidations_total', vm['s2_unmaps']),
                ('viommu_s2_invalidation_duration_seconds_count', vm['s2_unmaps']),
                ('viommu_vmid_invalidations_total', vm['s2_unmaps'] * vm['viommus']),
                ('viommu_vevents_queued_total', vev - lost),
                ('viommu_vevents_lost_total', lost),
                ('viommu_faults_total', iopf),
                ('viommu_fault_responses_total', iopf),
                ('viommu_fault_response_duration_seconds_count', iopf),
                ('viommu_viommus_allocated_total', vm['viommus']),
                ('viommu_viommus_destroyed_total', vm['viommus'] if exited else 0)):
            want[(name, p)] = val
        for v in mine:
            k = (p, v['viommu'])
            for name, val in (
                    ('viommu_viommu_guest_invalidations_total', v['invalidations']),
                    ('viommu_viommu_guest_invalidation_entries_total', v['entries']),
                    ('viommu_viommu_guest_invalidation_duration_seconds_count', v['invalidations']),
                    ('viommu_viommu_vmid_invalidations_total', vm['s2_unmaps']),
                    ('viommu_viommu_vevents_queued_total', v['vevents'] - v['vevents_lost']),
                    ('viommu_viommu_vevents_lost_total', v['vevents_lost']),
                    ('vmid', v['vmid'])):
                want[(name, k)] = val
    return want


def got(vms):
    """the same keys from Prometheus, and label problems"""
    out, problems, vm_pid = {}, [], {}
    res = query('{__name__=~"viommu_.*(_total|_count)", vmm_pid=~"%s"}' % pids_re(vms))
    for s in res:
        m = s['metric']
        p = int(m['vmm_pid'])
        vm_pid[m['vm']] = p
        out[(m['__name__'], p)] = int(float(s['value'][1]))
        if m.get('comm') != 'viommu-load':
            problems.append('%s{vmm_pid="%d"}: comm %r' % (m['__name__'], p, m.get('comm')))
        # each VM of the load opens /dev/iommu itself: it is its own opener
        if m.get('opener_pid') != str(p):
            problems.append('%s{vmm_pid="%d"}: opener_pid %r, want %r' % (
                m['__name__'], p, m.get('opener_pid'), str(p)))
    if vm_pid:
        res = query('{__name__=~"viommu_viommu_.*(_total|_count)", vm=~"%s"}' %
                    '|'.join(vm_pid))
        for s in res:
            m = s['metric']
            k = (vm_pid[m['vm']], int(m['viommu']))
            out[(m['__name__'], k)] = int(float(s['value'][1]))
            out[('vmid', k)] = int(m['vmid'])
    return out, problems


def diff(want, have):
    lines = []
    for k in sorted(set(want) | set(have), key=str):
        if want.get(k) != have.get(k):
            lines.append('%s %s: got %s, want %s' % (k[0], k[1], have.get(k), want.get(k)))
    return lines


def cmd_up(secs):
    end = time.time() + float(secs)
    while True:
        try:
            r = query('up{job="viommu"} == 1')
            if r:
                return 0
        except OSError:
            pass
        if time.time() > end:
            print('job "viommu" not up after %s s' % secs)
            return 1
        time.sleep(0.5)


def cmd_exact(load, secs):
    vms, viommus = load_report(load)
    want = expected(vms, viommus)
    end = time.time() + float(secs)
    while True:
        have, problems = got(vms)
        lines = diff(want, have)
        if not lines and not problems:
            return 0
        if time.time() > end:
            print('\n'.join(problems + lines))
            return 1
        time.sleep(0.5)


def cmd_p99(load):
    vms, _ = load_report(load)
    res = query('histogram_quantile(0.99, viommu_guest_invalidation_duration_seconds_bucket{vmm_pid=~"%s"})'
                % pids_re(vms))
    p99 = {int(s['metric']['vmm_pid']): float(s['value'][1]) for s in res}
    bad = []
    delay = max(vm['delay_us'] for vm in vms) / 1e6
    for vm in vms:
        q = p99.get(vm['pid'])
        slow = vm['delay_us'] > 0
        if q is None or (slow and not q > delay) or (not slow and not q < delay):
            bad.append('pid %d (delay %d us): p99 %s s, want %s %g s' % (
                vm['pid'], vm['delay_us'], q, '>' if slow else '<', delay))
    print('p99 per pid: ' + ', '.join('%d %.6f' % kv for kv in sorted(p99.items())))
    if bad:
        print('\n'.join(bad))
    return 1 if bad else 0


def cmd_growing(load):
    vms, _ = load_report(load)
    sel = 'vmm_pid=~"%s"' % pids_re(vms)
    bad = []
    # the counters took several values while the VMs lived ...
    for s in query('changes(viommu_guest_invalidations_total{%s}[10m])' % sel):
        if float(s['value'][1]) < 2:
            bad.append('pid %s: guest invalidations took %d values, want >= 3' % (
                s['metric']['vmm_pid'], float(s['value'][1]) + 1))
    # ... and no sample of the load's series (counters, buckets) was ever
    # below the one before: every sample of the last 10 minutes
    n = 0
    for s in query('{__name__=~"viommu_.*(_total|_bucket|_count)", %s}[10m]' % sel):
        n += 1
        vals = [float(v) for _, v in s['values']]
        down = [(a, b) for a, b in zip(vals, vals[1:]) if b < a]
        if down:
            bad.append('%s went backwards: %s' % (s['metric'], down[:3]))
    if n < 10 * len(vms):
        bad.append('only %d series to check' % n)
    if bad:
        print('\n'.join(bad))
    return 1 if bad else 0


def cmd_gone(load, secs, since=None):
    vms, _ = load_report(load)
    start = float(since) if since else time.time()
    while query('{__name__=~"viommu_.*", vmm_pid=~"%s"}' % pids_re(vms)):
        if time.time() - start > float(secs):
            print('series still there after %s s' % secs)
            return 1
        time.sleep(0.5)
    print('%.1f' % (time.time() - start))
    return 0


def cmd_last(load):
    vms, viommus = load_report(load)
    want = {k: v for k, v in expected(vms, viommus, exited=True).items()
            if k[0].startswith('viommu_') and not k[0].startswith('viommu_viommu_')}
    have = {}
    # last_over_time() drops the metric name: one query per family
    for name in sorted({k[0] for k in want}):
        for s in query('last_over_time(%s{vmm_pid=~"%s"}[10m])' % (name, pids_re(vms))):
            have[(name, int(s['metric']['vmm_pid']))] = int(float(s['value'][1]))
    lines = diff(want, have)
    if lines:
        print('\n'.join(lines))
    return 1 if lines else 0


def cmd_rules():
    groups = api('rules', type='alert')['groups']
    rules = [r for g in groups for r in g['rules']]
    bad = ['%s: %s %s' % (r['name'], r['health'], r.get('lastError', ''))
           for r in rules if r['health'] != 'ok']
    if not rules:
        bad.append('no alert rules loaded')
    print('%d alert rules: %s' % (len(rules), ' '.join(sorted(r['name'] for r in rules))))
    if bad:
        print('\n'.join(bad))
    return 1 if bad else 0


def main():
    cmd, args = sys.argv[2], sys.argv[3:]
    fn = {'up': cmd_up, 'exact': cmd_exact, 'p99': cmd_p99, 'growing': cmd_growing,
          'gone': cmd_gone, 'last': cmd_last, 'rules': cmd_rules}.get(cmd)
    if not fn:
        sys.exit(__doc__)
    return fn(*args)


if __name__ == '__main__':
    sys.exit(main())
