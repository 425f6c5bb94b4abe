# SPDX-License-Identifier: GPL-2.0-only
# Minimal TAP producer for the project's shell tests. Source it, call
# tap_plan N, then ok/is/fail per case; tap_done checks the count.
tap_n=0
tap_planned=0
tap_failed=0
# times a suite waits are multiplied by: 10 on the debug kernel (KASAN,
# lockdep), which tests/vm/run.sh exports VIOMMU_TIME_SCALE for
time_scale=${VIOMMU_TIME_SCALE:-1}

tap_plan() { tap_planned=$1; echo "1..$1"; }

tap_result() { # status name [diagnostic]
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
	fi
	return 0
}

# ok NAME COMMAND...: passes when COMMAND exits 0
ok() {
	local name=$1 out
	shift
	out=$("$@" 2>&1)
	tap_result $? "$name" "$out"
}

# is NAME GOT WANT: passes when the two strings are equal
is() {
	if [ "$2" = "$3" ]; then
		tap_result 0 "$1"
	else
		tap_result 1 "$1" "got:  '$2'
want: '$3'"
	fi
}

skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }

# tap_figures [MORE]: one "# figures:" line of what the suite did (its
# results, failures, seconds so far, and MORE), so the README's
# reliability table can be derived again from any run's TAP
tap_figures() {
	echo "# figures: $tap_n results, $tap_failed failed, ${SECONDS} s${1:+, $1}"
}

tap_done() {
	[ "$tap_n" -eq "$tap_planned" ] || echo "# planned $tap_planned, ran $tap_n"
	[ "$tap_failed" -eq 0 ] && [ "$tap_n" -eq "$tap_planned" ]
}

# stop_tracer PID: stop a background bpftrace with SIGINT and return its
# exit status. bash starts background jobs with SIGINT ignored, and
# bpftrace installs its own handler only once it is running, so a single
# early SIGINT can be lost: repeat it until the tracer exits, for at most
# 30 s (times VIOMMU_TIME_SCALE); a tracer still running then is killed
# (status 124), so one stuck tracer cannot hang the whole test VM.
stop_tracer() {
	local pid=$1 i j
	# A second SIGINT while bpftrace prints its maps makes it fail: give
	# each one 5 s to take effect before repeating it.
	for i in $(seq 6); do
		kill -INT "$pid" 2>/dev/null || break
		for j in $(seq $((50 * time_scale))); do
			kill -0 "$pid" 2>/dev/null || break 2
			sleep 0.1
		done
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid still running $((30 * time_scale)) s after SIGINT: killed"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# wait_until SECS COMMAND...: run COMMAND every 0.1 s until it succeeds;
# status 1 when it has not within SECS seconds (a condition, not a sleep),
# times VIOMMU_TIME_SCALE on a slower kernel (tests/vm/run.sh sets it).
# The pause is a read timing out on a pipe nobody writes: no process to
# start each time (under TCG, starting one takes a good part of 0.1 s).
wait_until() {
	local end=$((SECONDS + $1 * time_scale))
	shift
	[ -n "${_tap_idle_fd:-}" ] || exec {_tap_idle_fd}<> <(:)
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		read -rt 0.1 -u "$_tap_idle_fd" _ || :
	done
}

# bpftrace_polling PID: the bpftrace process PID has attached and enabled
# every probe and reads their output. bpftrace (0.17 and later) enters
# epoll_wait only after its last attachment, and even the output of a
# BEGIN probe is read from there: its main thread blocked in epoll_wait
# (x86-64 syscall 232, or epoll_pwait 281, epoll_pwait2 441) means ready.
bpftrace_polling() {
	local nr
	{ read -r nr _ < "/proc/$1/syscall"; } 2>/dev/null || return 1
	case $nr in
	232 | 281 | 441) return 0 ;;
	esac
	return 1
}

# wait_polling SECS PID...: wait, for at most SECS, until each bpftrace PID
# has been seen polling (bpftrace_polling) or has exited, and leave
# polled[PID]=1 for the ones seen polling. Once is enough: between two
# epoll_wait calls bpftrace is briefly elsewhere. Status 1 on a timeout.
wait_polling() {
	local secs=$1
	shift
	declare -gA polled=()
	wait_until "$secs" _all_polled "$@"
}
_all_polled() {
	local p all=0
	for p; do
		[ -n "${polled[$p]:-}" ] && continue
		if bpftrace_polling "$p"; then
			polled[$p]=1
		elif ! kill -0 "$p" 2>/dev/null; then
			polled[$p]=0
		else
			all=1
		fi
	done
	return $all
}

# stop_tracers PID...: stop several background tracers with one SIGINT
# each, all at once, and leave the exit status of each in tracer_rc[PID].
# For tracers known to be running (bpftrace_polling): their handler is in
# place, so the signal is repeated only to one still running after 10 s
# and 20 s; one still running after 30 s (times VIOMMU_TIME_SCALE) is
# killed (status 124).
stop_tracers() {
	local pid i left
	declare -gA tracer_rc=()
	kill -INT "$@" 2>/dev/null
	for i in 1 2 3; do
		wait_until 10 _none_alive "$@" && break
		[ "$i" = 3 ] && break
		left=()
		for pid; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
		kill -INT "${left[@]}" 2>/dev/null
	done
	for pid; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "# pid $pid still running $((30 * time_scale)) s after SIGINT: killed"
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			tracer_rc[$pid]=124
		else
			wait "$pid"
			tracer_rc[$pid]=$?
		fi
	done
}
_none_alive() {
	local p
	for p; do kill -0 "$p" 2>/dev/null && return 1; done
	return 0
}

# tracefs_on NAME: record every iommufd event in a tracefs instance of its
# own (the main buffer stays untouched), stamped with the mono clock that
# bpftrace's nsecs reads. tracefs_off NAME FILE: stop it, keep its text in
# FILE and remove it. The records are an oracle that shares no code with
# bpftrace or the viommu tool: only the events themselves.
tracefs_on() {
	local d=/sys/kernel/tracing/instances/$1
	mkdir "$d" && echo mono > "$d/trace_clock" &&
		echo 1 > "$d/events/iommufd/enable"
}
tracefs_off() {
	local d=/sys/kernel/tracing/instances/$1
	[ -d "$d" ] || return 1
	echo 0 > "$d/events/iommufd/enable"
	cat "$d/trace" > "$2"
	rmdir "$d"
}

# tracer_scratch NAME: what a suite of tracers needs: a scratch dir in $tmp,
# a tracefs instance name in $inst (NAME_PID) and an empty $pids for the
# tracers it starts; on exit every pid still in $pids is killed, the
# instance (if on) is removed and so is the dir.
tracer_scratch() {
	tmp=$(mktemp -d)
	inst=$1_$$
	pids=()
	trap '[ ${#pids[@]} = 0 ] || kill -KILL "${pids[@]}" 2>/dev/null
	      tracefs_off "$inst" /dev/null 2>/dev/null
	      rm -rf "$tmp"' EXIT
}

# tool_scratch: what a suite of viommu tool runs needs: a scratch dir in
# $tmp, the pids of the tools it starts (pid[NAME], see launch) and the pid
# of a load it keeps ($loadpid); on exit every tool, the load and its VMs are
# killed and the dir is removed. The suite sets $viommu, the tool to run.
tool_scratch() {
	tmp=$(mktemp -d)
	declare -gA pid=()
	loadpid=
	trap _tool_cleanup EXIT
}
_tool_cleanup() {
	local p
	for p in "${pid[@]}"; do kill -KILL "$p" 2>/dev/null; done
	[ -z "$loadpid" ] || { pkill -KILL -P "$loadpid"; kill -KILL "$loadpid"; } 2>/dev/null
	rm -rf "$tmp"
}

# vm_lines FILE N: the load has printed the report of its N VMs (done with
# its work; a held load keeps its objects from then on)
vm_lines() { [ "$(grep -c '^vm ' "$1" 2>/dev/null)" -ge "$2" ]; }
# hold_load FILE N ARGS...: start $load holding its objects, wait for the
# report of its N VMs; release_load ends it (its VMs, children of it)
hold_load() {
	local file=$1 n=$2
	shift 2
	"$load" "$@" -H 120 > "$file" 2>&1 &
	loadpid=$!
	wait_until 120 vm_lines "$file" "$n"
}
release_load() {
	pkill -P "$loadpid"
	wait "$loadpid" 2>/dev/null
	loadpid=
}

# launch NAME ARGS...: $viommu ARGS in the background, into $tmp/NAME.out
# and .err, its pid in pid[NAME]
launch() {
	local name=$1
	shift
	"$viommu" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
	pid[$name]=$!
}

# count_links PID: how many BPF links PID holds, in $links (shell builtins
# only: polling it starts no process per look)
count_links() {
	local f k
	links=0
	for f in /proc/"$1"/fdinfo/*; do
		while IFS=$' \t:' read -r k _; do
			[ "$k" = link_type ] && { links=$((links + 1)); break; }
		done 2>/dev/null < "$f"
	done
}

# bt_py ARG... <<'PY' ... PY: run the Python program on stdin with ARGs,
# after the helpers below: bpftrace output as records, log2 buckets as
# bpftrace's hist() makes them, tracefs text, viommu-load's report.
bt_py() {
	local prog
	prog=$(cat)
	python3 -c "$_bt_pylib
$prog" "$@"
}
_bt_pylib=$(cat <<'PY'
import collections, os, re, sys

_SUFFIX = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40,
           'P': 1 << 50, 'E': 1 << 60}

def bucket(v):
    """The low bound of the hist() bucket of v: -1 (negative), 0, 1, 2^k"""
    v = int(v)
    return -1 if v < 0 else v if v < 2 else 1 << (v.bit_length() - 1)

def _index(low):
    return 0 if low < 0 else 1 if low == 0 else low.bit_length() + 1

def _label_low(label):
    if label.startswith('(...'):
        return -1
    m = re.match(r'\[(\d+)([KMGTPE]?)', label)
    return int(m.group(1)) * _SUFFIX[m.group(2)]

class Rec:
    """One printed line; a hist() header also holds its buckets (low: n)"""
    def __init__(self, text):
        self.text = ' '.join(text.split())
        self.hist = {} if self.text.endswith(':') else None
    def __str__(self):
        if self.hist is None:
            return self.text
        return '%s hist(%s)' % (self.text, ','.join(
            '%d=%d' % kv for kv in sorted(self.hist.items())))

_BUCKET = re.compile(r'^(\(\.\.\., 0\)|\[[^]\)]*[]\)])\s+(\d+)\s*\|')

def records(path):
    """bpftrace's output without the Attaching line and blank lines;
    bucket lines are folded into their hist record, empty buckets dropped"""
    recs = []
    for line in open(path, errors='replace'):
        if not line.strip() or re.match(r'Attaching \d+ probes?\.\.\.$', line):
            continue
        m = _BUCKET.match(line)
        if m and recs and recs[-1].hist is not None:
            if int(m.group(2)):
                low = _label_low(m.group(1))
                recs[-1].hist[low] = recs[-1].hist.get(low, 0) + int(m.group(2))
            continue
        recs.append(Rec(line))
    return recs

def hist_of(values):
    """the record text of hist() over values"""
    h = collections.Counter(bucket(v) for v in values)
    return 'hist(%s)' % ','.join('%d=%d' % kv for kv in sorted(h.items()))

def near_problem(hist, values, slack=None):
    """None when hist holds as many samples as values and could be them
    measured again: each moved by at most slack buckets, but for one in
    ten (the two measurements are not the same instant: under TCG the
    vCPU can stall between them); compared as cumulative counts. Else
    what is wrong. The slack is a bucket, two on a slower kernel
    (VIOMMU_TIME_SCALE, the debug kernel), whose longer paths between
    the two measurements make such a stall the likelier."""
    if slack is None:
        slack = 1 if int(os.environ.get('VIOMMU_TIME_SCALE', '1')) <= 1 else 2
    if sum(hist.values()) != len(values):
        return '%d samples, want %d' % (sum(hist.values()), len(values))
    got, want = collections.Counter(), collections.Counter()
    for low, n in hist.items():
        got[_index(low)] += n
    for v in values:
        want[_index(bucket(v))] += 1
    far = (len(values) + 9) // 10
    cum = lambda c, i: sum(n for k, n in c.items() if k <= i)
    for i in range(0, 67):
        if not cum(want, i - slack) - far <= cum(got, i) <= cum(want, i + slack) + far:
            return 'more than %d samples more than %d bucket away from the oracle %s' % (
                far, slack, hist_of(values))
    return None

def match(expected, recs, complete=True):
    """Compare records with expected record texts: exact text, or a
    'HEADER near(v,v,...)' for a histogram of values measured twice. With
    complete, every record must be expected. Returns the problems."""
    left = list(recs)
    problems = []
    for e in expected:
        m = re.match(r'(.*) near\(([-\d,]*)\)$', e)
        if m:
            vals = [int(x) for x in m.group(2).split(',') if x]
            cand = [r for r in left if r.text == m.group(1) and r.hist is not None]
            if not cand:
                problems.append('missing: %s %s' % (m.group(1), hist_of(vals)))
                continue
            left.remove(cand[0])
            p = near_problem(cand[0].hist, vals)
            if p:
                problems.append('%s: %s' % (cand[0], p))
            continue
        cand = [r for r in left if str(r) == e]
        if cand:
            left.remove(cand[0])
        else:
            problems.append('missing: %s' % e)
    if complete:
        problems += ['unexpected: %s' % r for r in left]
    return problems

def _num(v):
    try:
        return int(v, 0)
    except ValueError:
        return v

def fields(text):
    return {k: _num(v) for k, v in re.findall(r'(\w+)=(\S+)', text)}

_EVENT = re.compile(r'(\d+)\.(\d{6}): (\w+): (.*)$')

def trace(path):
    """tracefs records as dicts (event, ts in ns, fields); fails when the
    buffer overflowed"""
    evs = []
    for line in open(path, errors='replace'):
        m = re.match(r'# entries-in-buffer/entries-written: (\d+)/(\d+)', line)
        if m and m.group(1) != m.group(2):
            sys.exit('tracefs lost events: ' + line.strip())
        m = _EVENT.search(line)
        if m and not line.startswith('#'):
            d = fields(m.group(4))
            d['event'], d['ts'] = m.group(3), int(m.group(1)) * 10**9 + int(m.group(2)) * 1000
            evs.append(d)
    return evs

def load_report(path):
    """viommu-load's vm and viommu lines, as dicts"""
    vms, viommus = [], []
    for line in open(path):
        kind = line.split(' ', 1)[0]
        if kind in ('vm', 'viommu'):
            (vms if kind == 'vm' else viommus).append(fields(line))
    return vms, viommus
PY
)
