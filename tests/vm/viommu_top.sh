#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_top.sh - viommu top's figures and outputs against viommu-load's
# own report: the interval's maximum (not the lifetime's), guest
# invalidation errors, the per-vIOMMU drill-down (JSON, batch, screen),
# the self-overhead line (BPF runs counted against trace's events), the
# fixed interval schedule, the log and CSV modes, and the screen's
# scrolling and resizing.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/sanitizer.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$(cd "$(dirname "$0")" && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
tool_scratch

# ready NAME...: each has said it is attached (batch: its first line; JSON,
# log, CSV: "attached" on stderr; trace: its links, 20)
_ready() {
	local n links
	for n; do
		case $n in
		trace) count_links "${pid[$n]}"; [ "$links" = 20 ] || return 1 ;;
		*) grep -qs 'attached\|^Tracing' "$tmp/$n.err" "$tmp/$n.out" || return 1 ;;
		esac
	done
}
stop() {
	local n p=()
	for n; do p+=("${pid[$n]}"); done
	stop_tracers "${p[@]}"
	for n; do st[$n]=${tracer_rc[${pid[$n]}]}; unset "pid[$n]"; done
}
declare -A st

tap_plan $((14 + san_plan))

# --- one load under top --json -x, --csv, -l and trace: VM 0 slow for its
# first 3 rounds (50 ms each), 3 refused invalidations per vIOMMU ---
# (500 ms on the debug kernel: there, with the sanitized tools beside it,
# an ordinary invalidation can take 50 ms). Its 30 rounds are paced over
# 1.5 s (15 s there): the load catches up after the slow calls, and the
# rounds left must still span intervals of their own.
slow_us=$((50000 * time_scale))
rate=$((20 / time_scale)); [ "$rate" -gt 0 ] || rate=1
launch json top --json -x 0.5
launch csv top --csv 0.5
launch log top -l 0.5
launch trace trace --json
wait_until 120 _ready json csv log trace
tap_result $? "top --json -x, --csv, -l and trace attached" "$(cat "$tmp"/*.err)"
"$load" -V 2 -i 2 -n 30 -r "$rate" -u 3 -E 2 -F 2 -x 3 -D "$slow_us" -c 3 -s 0 > "$tmp/load" 2> "$tmp/load.err"
lrc=$?
# every event is counted once the load has exited and an interval has passed
intervals() { grep -c . "$tmp/json.out"; }
n0=$(intervals)
two_more() { [ "$(intervals)" -ge $((n0 + 2)) ]; }
wait_until 30 two_more
stop json csv log trace
# the load's report: per VM pid, per vIOMMU
awk '$1 == "viommu" { delete f; for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
	print f["pid"], f["viommu"], f["vmid"], f["invalidations"], f["inval_errors"] }' "$tmp/load" | sort -n > "$tmp/viommus"
awk '{ inv[$1] += $4; err[$1] += $5 } END { for (p in inv) print p, inv[p] + err[p], err[p] }' "$tmp/viommus" | sort -n > "$tmp/vms"
slow=$(awk '$1 == "vm" && / vm=0 / { sub(/pid=/, "", $3); print $3 }' "$tmp/load")
is "the load ran, top and trace stopped with status 0" "$lrc ${st[json]} ${st[csv]} ${st[log]} ${st[trace]}" "0 0 0 0 0"

is "JSON: per VM, guest invalidations with the refused ones, and the refused ones (total and summed over intervals)" \
	"$(jq -r '.vms[] | "\(.vmm_pid) \(.guest_invals_total) \(.guest_inval_errors_total) \(.guest_inval_errors)"' "$tmp/json.out" |
		awk '{ tot[$1] = $2; err[$1] = $3; sum[$1] += $4 } END { for (p in tot) print p, tot[p], err[p], sum[p] }' | sort -n)" \
	"$(awk '{ print $1, $2, $3, $3 }' "$tmp/vms")"
# the maximum of an interval: slow_us while VM 0 is slow, below it after
# an interval is "after" the slow rounds when the 6 slow calls are all in
# earlier intervals: total - this interval's calls >= 6
slow_rows=$(jq -s -c --argjson p "${slow:-0}" '[.[] | .interval_s as $s | .vms[] | select(.vmm_pid == $p and .guest_invals_per_s > 0) |
	{ total: .guest_invals_total, n: (.guest_invals_per_s * $s | round), max: .guest_inval_lat_us_max, p99: .guest_inval_lat_us_p99 }]' "$tmp/json.out")
got=$(jq -r --argjson slow "$slow_us" '"first \(.[0].max >= $slow) later \([.[] | select(.total - .n >= 6)] | (length > 0) and all(.max != null and .max < $slow)) bound \(all(.max >= .p99 - 0.001))"' <<< "$slow_rows")
[ "$got" = "first true later true bound true" ]
tap_result $? "JSON: the slow VM's MAX is the interval's: >= $((slow_us / 1000)) ms in the interval of its slow calls, < $((slow_us / 1000)) ms in each later one, and never below p99" \
	"got: $got; its intervals: $slow_rows"
is "JSON -x: each vIOMMU's VMID, and its invalidations (refused ones too) summed over the intervals" \
	"$(jq -r '.vms[] | .vmm_pid as $p | .viommu_detail[] | "\($p) \(.viommu) \(.vmid) \(.guest_invals)"' "$tmp/json.out" |
		awk '{ k = $1 " " $2 " " $3; n[k] += $4 } END { for (k in n) print k, n[k] }' | sort -n)" \
	"$(awk '{ print $1, $2, $3, $4 + $5 }' "$tmp/viommus")"
is "JSON: overhead: BPF runs summed over the intervals = trace's events; ns/run > 0; the tool's CPU% in [0, 200]" \
	"$(jq -s -r '"\(map(.overhead.bpf_runs) | add) \(map(.overhead.bpf_ns_per_run) | max > 0) \(map(.overhead.tool_cpu_pct) | all(. >= 0 and . <= 200))"' "$tmp/json.out")" \
	"$(grep -c '"event"' "$tmp/trace.out") true true"
is "CSV: the header, then per VM (its VMM's pid) its invalidations and refused ones summed over the intervals" \
	"$(head -1 "$tmp/csv.out" | cut -d, -f1-10)
$(awk -F, 'NR > 1 { inv[$5] += $8; err[$5] += $10 } END { for (p in inv) print p, inv[p], err[p] }' "$tmp/csv.out" | sort -n)" \
	"ts_unix_ms,interval_s,vm,opener_pid,vmm_pid,comm,viommus,guest_invals,guest_invals_per_s,guest_inval_errors
$(cat "$tmp/vms")"
is "log (-l): a header, then one line per VM per interval: time, the load's pids, viommu-load" \
	"$(head -1 "$tmp/log.out" | awk '{ $1 = $1; print }')
$(awk 'NR > 1 && $1 != "TIME" { print $3, $4, ($1 ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/) }' "$tmp/log.out" | sort -un)" \
	"TIME VM PID COMM OPENER INV/s ERR/s P50us P99us MAXus S2/s FANOUT FLT/s LOST
$(awk '{ print $1, "viommu-load", 1 }' "$tmp/vms")"

# --- 24 VMs holding their objects: batch -x, the schedule, the screen ---
"$load" -V 24 -i 2 -n 0 -u 0 -H 120 > "$tmp/held" 2>&1 &
loadpid=$!
held() { [ "$(grep -c '^vm ' "$tmp/held")" = 24 ]; }
wait_until 120 held
tap_result $? "24 VMs hold their objects" "$(tail -3 "$tmp/held")"
"$viommu" top -b -x 0.3 1 > "$tmp/batch" 2>&1
is "batch -x: under each VM row, its 2 vIOMMUs with their VMIDs" \
	"$(awk '$1 == "viommu" { print $2, $3 }' "$tmp/batch" | sort -n)" \
	"$(awk '$1 == "viommu" { delete f; for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
		print f["viommu"], f["vmid"] }' "$tmp/held" | sort -n)"
is "batch: the overhead line and the ERR/s column" \
	"$(grep -c '^overhead: BPF [0-9]* runs/s, [0-9]* ns/run, [0-9.]*% CPU; viommu [0-9.]*% CPU$' "$tmp/batch") $(grep -cE '^    VM     PID COMM .* INV/s +ERR/s +P50us' "$tmp/batch")" "1 1"
# 25 intervals of 0.2 s: the last starts 4.8 s after the first, whatever
# each read costs (a drifting loop adds its work to every interval)
"$viommu" top --json -b 0.2 25 > "$tmp/sched" 2> /dev/null
is "fixed schedule: 25 intervals of 0.2 s, the last 4.8 s (+- 0.1) after the first" \
	"$(jq -s -r '"\(length) \(((.[-1].ts_unix_ms - .[0].ts_unix_ms) - 4800) | fabs <= 100)"' "$tmp/sched")" "25 true"
# the screen, 12 rows: End selects the last VM (sorted by id when idle),
# x shows its vIOMMUs, a taller terminal shows the first VM again
first=$(grep -m1 '^vm ' "$tmp/held" | sed 's/.* pid=\([0-9]*\) .*/\1/')
python3 "$here/top_screen.py" "$viommu" 12 200 > "$tmp/screen" 2>&1
last_vm=$(jq -r '.vms | map(.vm) | max' <(tail -1 "$tmp/sched"))
last_viommus=$(jq -r --argjson v "$last_vm" '.vms[] | select(.vm == $v) | .vmm_pid' <(tail -1 "$tmp/sched"))
step() { sed -n "s/^STEP $1 //p" "$tmp/screen"; }
is "screen: End shows the last VM, x its 2 vIOMMUs, a taller terminal the first VM again; q exits 0" \
	"$(step end | grep -c "$last_viommus viommu-load") $(step expand | grep -o 'viommu [0-9]' | wc -l) $(step resize | grep -c " $first viommu-load") $(sed -n 's/^EXIT //p' "$tmp/screen")" \
	"1 2 1 0"
release() { kill -TERM "$loadpid"; wait "$loadpid"; }
release
is "viommu-load: SIGTERM ends a held load cleanly (status 0, each VM reported)" "$? $(grep -c '^vm ' "$tmp/held")" "0 24"
loadpid=
san_done
tap_done
