# SPDX-License-Identifier: GPL-2.0-only
# Minimal TAP producer for the project's shell tests. Source it, call
# tap_plan N, then ok/is/fail per case; tap_done checks the count.
tap_n=0
tap_planned=0
tap_failed=0

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

tap_done() {
	[ "$tap_n" -eq "$tap_planned" ] || echo "# planned $tap_planned, ran $tap_n"
	[ "$tap_failed" -eq 0 ] && [ "$tap_n" -eq "$tap_planned" ]
}

# stop_tracer PID: stop a background bpftrace with SIGINT and return its
# exit status. bash starts background jobs with SIGINT ignored, and
# bpftrace installs its own handler only once it is running, so a single
# early SIGINT can be lost: repeat it until the tracer exits, for at most
# 30 s; a tracer still running then is killed (status 124), so one stuck
# tracer cannot hang the whole test VM.
stop_tracer() {
	local pid=$1 i j
	# A second SIGINT while bpftrace prints its maps makes it fail: give
	# each one 5 s to take effect before repeating it.
	for i in $(seq 6); do
		kill -INT "$pid" 2>/dev/null || break
		for j in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break 2
			sleep 0.1
		done
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid still running 30 s after SIGINT: killed"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}
