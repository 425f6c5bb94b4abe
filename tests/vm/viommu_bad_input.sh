#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_bad_input.sh - the rows of the CLI's bad-input matrix that need
# this project's kernel (tests/unit/viommu_bad_input.sh has the others):
# SIGINT and SIGTERM end each command with exit 0 and its output whole
# (a record written whole, no temporary file left); a reader that goes
# away (| head -1) ends it by SIGPIPE with nothing on stderr; without
# root, or with only CAP_BPF+CAP_PERFMON, one line says what is missing;
# a record that cannot be written (read-only root, a full disk) is one
# line, exit 1, and no file.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
tool_scratch
# the schema version records are written with
schema=$(sed -n 's/^#define VIOMMU_SCHEMA_VERSION[[:space:]]*//p' "$repo/tools/viommu/viommu.h")

# attached NAME N: NAME holds at least N BPF links (top and record: 18
# events; trace: 20)
_links_ge() { local links; count_links "${pid[$1]}"; [ "$links" -ge "$2" ]; }
attached() { wait_until 120 _links_ge "$1" "$2" || echo "# $1 not attached: $(cat "$tmp/$1.err")"; }
# sig NAME SIGNAL: send it, wait (30 s at most), exit status in st
sig() {
	kill -"$2" "${pid[$1]}"
	wait_until 30 eval '! kill -0 '"${pid[$1]}"' 2>/dev/null' || kill -KILL "${pid[$1]}"
	wait "${pid[$1]}"
	st=$?
	unset "pid[$1]"
}
lines() { wc -l < "$1"; }
tmpfiles() { find "$1" -name '*.tmp.*' | wc -l; }

tap_plan 12

# --- SIGINT and SIGTERM ---
launch top top -b 0.5
launch trace trace
launch rec record -o "$tmp/int.json"
attached top 18; attached trace 20; attached rec 18
"$load" -V 1 -n 10 -u 0 > "$tmp/load" 2>&1
sig top INT
is "SIGINT: top exits 0, nothing on stderr" "$st $(lines "$tmp/top.err")" "0 0"
sig trace TERM
is "SIGTERM: trace exits 0, its one totals line on stderr" \
	"$st $(lines "$tmp/trace.err") $(grep -c '^viommu trace: [0-9]* events, 0 lost$' "$tmp/trace.err")" "0 1 1"
sig rec INT
is "SIGINT: record exits 0, writes a whole record (10 invalidations), one line on stderr, no temporary file" \
	"$st $(jq -r '"\(.schema_version) \(.total.guest_invals)"' "$tmp/int.json") $(lines "$tmp/rec.err") $(tmpfiles "$tmp")" \
	"0 $schema 10 1 0"
# SIGTERM to record with a command: the command is stopped (the load
# answers SIGTERM with its report and exit 0), the record is kept
launch recc record -o "$tmp/term.json" -- "$load" -V 1 -n 5 -u 0 -H 120
attached recc 18
wait_until 60 grep -q '^vm ' "$tmp/recc.out"
sig recc TERM
is "SIGTERM: record -- CMD stops CMD, exits with its status (0), the record whole" \
	"$st $(jq -r '"\(.schema_version) \(.command_status) \(.total.guest_invals)"' "$tmp/term.json") $(tmpfiles "$tmp")" \
	"0 $schema 0 5 0"

# --- a reader that goes away: SIGPIPE, silently ---
# head takes the "Tracing ..." line and leaves; the next line the tool
# writes (top: the next interval; trace: an event of the load) kills it
( "$viommu" top -b 0.3 2> "$tmp/pipe_top.err" | head -1 > "$tmp/pipe_top.out"
  echo "${PIPESTATUS[0]}" > "$tmp/pipe_top.st" ) &
( "$viommu" trace 2> "$tmp/pipe_trace.err" | head -1 > "$tmp/pipe_trace.out"
  echo "${PIPESTATUS[0]}" > "$tmp/pipe_trace.st" ) &
wait_until 120 test -s "$tmp/pipe_trace.out"
wait_until 120 test -s "$tmp/pipe_top.out"
"$load" -V 1 -n 5 -u 0 > /dev/null 2>&1
wait_until 60 test -s "$tmp/pipe_trace.st"
wait_until 60 test -s "$tmp/pipe_top.st"
is "SIGPIPE: top -b | head -1: killed by SIGPIPE (141), nothing on stderr" \
	"$(cat "$tmp/pipe_top.st") $(lines "$tmp/pipe_top.err") $(cut -c1-7 "$tmp/pipe_top.out")" "141 0 Tracing"
is "SIGPIPE: trace | head -1: killed by SIGPIPE (141), nothing on stderr" \
	"$(cat "$tmp/pipe_trace.st") $(lines "$tmp/pipe_trace.err") $(cut -c1-7 "$tmp/pipe_trace.out")" "141 0 Tracing"

# --- privileges on the project's kernel ---
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$viommu" top -b -n 1 > "$tmp/np.out" 2> "$tmp/np.err"
is "not root: exit 1, one line naming CAP_BPF and CAP_PERFMON" \
	"$? $(lines "$tmp/np.err") $(grep -c 'CAP_BPF and CAP_PERFMON.*setcap' "$tmp/np.err")" "1 1 1"
# root with only these two: the programs load; other processes' fds (init's
# at least) cannot be read, which one line says
setpriv --bounding-set=-all,+bpf,+perfmon --inh-caps=-all,+bpf,+perfmon \
	"$viommu" top -b -n 1 0.3 > "$tmp/caps.out" 2> "$tmp/caps.err"
is "only CAP_BPF+CAP_PERFMON: exit 0, one warning line naming CAP_SYS_PTRACE" \
	"$? $(lines "$tmp/caps.err") $(grep -c 'warning: cannot read the open files.*CAP_SYS_PTRACE' "$tmp/caps.err")" "0 1 1"
"$viommu" top -b -n 1 >&- 2> "$tmp/closed.err"
is "stdout closed: exit 2, one line, before anything is loaded" \
	"$? $(lines "$tmp/closed.err") $(grep -c 'standard output is closed' "$tmp/closed.err")" "2 1 1"

# --- a record that cannot be written ---
"$viommu" record -o /usr/viommu-record.json -d 1 > /dev/null 2> "$tmp/ro.err"
is "record -o on the read-only root: exit 1 before the run, one line, no file" \
	"$? $(lines "$tmp/ro.err") $(grep -c 'cannot write /usr/viommu-record.json: Read-only file system' "$tmp/ro.err") $(ls /usr | grep -c viommu-record)" \
	"1 1 1 0"
# a filesystem with room for the temporary file's name, not its content
mkdir "$tmp/full"
mount -t tmpfs -o size=8k tmpfs "$tmp/full"
dd if=/dev/zero of="$tmp/full/fill" bs=1k count=64 2>/dev/null
launch full record -o "$tmp/full/rec.json" -d 1
wait "${pid[full]}"
st=$?
unset "pid[full]"
is "record on a full disk: exit 1, one line naming the error, no file left" \
	"$st $(lines "$tmp/full.err") $(grep -c "writing $tmp/full/rec.json: No space left on device" "$tmp/full.err") $(ls -A "$tmp/full")" \
	"1 1 1 fill"
umount "$tmp/full"

# Ring buffer overflow is counted and shown (LOST lines, totals): the
# trace -R and topo --watch checks of viommu_trace.sh and viommu_tool.sh.
skip "iommufd as a module that is not loaded: says which module to load" \
	"this kernel builds iommufd in: the perf variant, with it as a module, covers it (perf:iommufd_module)"
tap_figures
tap_done
