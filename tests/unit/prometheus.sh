#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# prometheus.sh - viommu export on the host, no kernel needed:
#   - its exposition of synthetic values (build/unit/export_render), with
#     VMs and with none: accepted by promtool check metrics (text format)
#     and by the OpenMetrics parser of python3-prometheus-client; exact
#     lines for counters, cumulative buckets, escaping, drops
#   - Accept header negotiation
#   - the metric list of docs/prometheus.md is the code's (--list-metrics)
#   - the alert rules: promtool check rules, promtool test rules, and each
#     rule's tests fail when that rule never fires
#   - bad input, before any BPF: an unresolvable address or a missing
#     directory exit 2, a port in use or a directory it cannot write in
#     exit 1, each with a one-line message naming it
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
render=$repo/build/unit/export_render
viommu=$repo/build/viommu
rules=$repo/deploy/prometheus/viommu-alerts.yml
make -s -C "$repo" build/unit/export_render tools >&2 ||
	{ echo "1..1"; echo "not ok 1 - build export_render and viommu"; exit 1; }
tmp=$(mktemp -d)
held=
trap '[ -z "$held" ] || kill "$held" 2>/dev/null; rm -rf "$tmp"' EXIT
# Debian's python3, which has python3-prometheus-client (not a pyenv one)
py=/usr/bin/python3

tap_plan 23

# --- the exposition ---
for fmt in text openmetrics; do
	for what in full empty; do
		"$render" "$fmt" "$what" > "$tmp/$fmt.$what"
	done
done
for what in full empty; do
	out=$(promtool check metrics < "$tmp/text.$what" 2>&1)
	tap_result $? "promtool check metrics accepts the text format ($what)" "$out"
done
# promtool passes lint problems with status 0 too: there must be none
is "promtool finds nothing to lint (full)" "$(promtool check metrics < "$tmp/text.full" 2>&1)" ""
for what in full empty; do
	out=$($py - "$tmp/openmetrics.$what" <<'PY' 2>&1
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
print(len(fams), sum(len(f.samples) for f in fams))
PY
)
	tap_result $? "the OpenMetrics parser accepts the OpenMetrics format ($what): $out" "$out"
done
# every family of the code appears when there are VMs, vIOMMUs and drops
want=$("$viommu" export --list-metrics | sed -n 's/^| `\([a-z0-9_]*\)` .*/\1/p' | sort)
got=$(sed -n 's/^# TYPE \([a-z0-9_]*\) .*/\1/p' "$tmp/text.full" | sort)
is "every family of --list-metrics is in the exposition" "$got" "$want"
is "with no VMs: only the exporter's own families and the drops" \
	"$(sed -n 's/^# TYPE \([a-z0-9_]*\) .*/\1/p' "$tmp/text.empty" | grep -vc '^viommu_exporter_\|^viommu_bpf_drops')" 0
l1='vm="1",opener_pid="100",comm="viommu-load",vmm_pid="101"'
is "counters: exact values, _total, identity labels" \
	"$(grep -E '^viommu_(guest_invalidations|vevents_lost|faults|fault_responses)_total\{vm="1"' "$tmp/text.full")" \
	"viommu_guest_invalidations_total{$l1} 7
viommu_vevents_lost_total{$l1} 6
viommu_faults_total{$l1} 6
viommu_fault_responses_total{$l1} 5"
# guest latencies: 1 of 1 us (< 2 us), 5 of 10 us ([8, 16) us), 1 of 5 ms
# ([4096, 8192) us); powers of two of us are bounds of the tool's layout,
# the last one below the open-ended bucket is 2^25 us (33.554432 s)
h=viommu_guest_invalidation_duration_seconds
is "histogram: cumulative buckets in seconds from the tool's layout, _sum, _count" \
	"$(grep -E "^${h}_(bucket\{vm=\"1\".*le=\"(2e-06|8e-06|1.6e-05|0.004096|0.008192|33.554432|\+Inf)\"|sum\{vm=\"1\"|count\{vm=\"1\")" "$tmp/text.full")" \
	"${h}_bucket{$l1,le=\"2e-06\"} 1
${h}_bucket{$l1,le=\"8e-06\"} 1
${h}_bucket{$l1,le=\"1.6e-05\"} 6
${h}_bucket{$l1,le=\"0.004096\"} 6
${h}_bucket{$l1,le=\"0.008192\"} 7
${h}_bucket{$l1,le=\"33.554432\"} 7
${h}_bucket{$l1,le=\"+Inf\"} 7
${h}_sum{$l1} 0.0043
${h}_count{$l1} 7"
is "histogram: a sample of the open-ended last bucket is only in +Inf" \
	"$(grep -E '^viommu_fault_response_duration_seconds_(bucket\{vm="1".*le="(33.554432|\+Inf)"|count)' "$tmp/text.full" | sed 's/{.*}//')" \
	"viommu_fault_response_duration_seconds_bucket 5
viommu_fault_response_duration_seconds_bucket 6
viommu_fault_response_duration_seconds_count 6"
is "an idle VM: counters at 0, no histogram, no vmm_pid (not known), its comm escaped" \
	"$(grep -c 'vm="2"' "$tmp/text.full") $(grep -c 'vm="2".*le=' "$tmp/text.full") $(grep -m1 -o '{vm="2"[^}]*}' "$tmp/text.full")" \
	'11 0 {vm="2",opener_pid="200",comm="q\"e\\mu\n?"}'
is "per vIOMMU: vm, viommu, vmid; drops by reason" \
	"$(grep -E '^(viommu_viommu_guest_invalidations_total|viommu_bpf_drops_total)' "$tmp/text.full")" \
	'viommu_viommu_guest_invalidations_total{vm="1",viommu="3",vmid="10"} 4
viommu_viommu_guest_invalidations_total{vm="1",viommu="5",vmid="11"} 3
viommu_bpf_drops_total{reason="vm_stats"} 2
viommu_bpf_drops_total{reason="viommu_stats"} 0
viommu_bpf_drops_total{reason="viommu_lat"} 0
viommu_bpf_drops_total{reason="fault_starts"} 0
viommu_bpf_drops_total{reason="task_storage"} 0
viommu_bpf_drops_total{reason="ringbuf"} 3
viommu_bpf_drops_total{reason="vm_idents"} 0'
is "OpenMetrics: counter families without _total, units, # EOF last" \
	"$(grep -E '^# (TYPE|UNIT) viommu_(guest_invalidations|exporter_cpu_seconds) ' "$tmp/openmetrics.full"; tail -1 "$tmp/openmetrics.full")" \
	"# TYPE viommu_guest_invalidations counter
# TYPE viommu_exporter_cpu_seconds counter
# UNIT viommu_exporter_cpu_seconds seconds
# EOF"

# --- content negotiation: what Prometheus 2.42 sends, and others ---
neg=$(for a in 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' \
		'*/*' '' 'text/plain' 'application/openmetrics-text; q=0' \
		'text/plain;q=0.9, application/openmetrics-text;q=0.5'; do
	"$render" negotiate "$a"
done | tr '\n' ' ')
is "Accept: OpenMetrics for Prometheus, the text format otherwise" "$neg" \
	"openmetrics text text text text text "

# --- the docs' metric list is the code's ---
docs=$repo/docs/prometheus.md
is "docs/prometheus.md lists exactly the metrics of viommu export --list-metrics" \
	"$(sed -n '/<!-- metrics:begin/,/<!-- metrics:end/p' "$docs" | sed '1d;$d')" \
	"$("$viommu" export --list-metrics)"

# --- the alert rules ---
out=$(promtool check rules "$rules" 2>&1)
tap_result $? "promtool check rules: $(echo "$out" | grep -o '[0-9]* rules found')" "$out"
out=$(cd "$(dirname "$rules")" && promtool test rules viommu-alerts.test.yml 2>&1)
tap_result $? "promtool test rules: every alert fires when and only where it should" "$out"
# Each rule's tests must see it fire: with that rule never firing, fail
mkdir "$tmp/mut"
cp "$(dirname "$rules")/viommu-alerts.test.yml" "$tmp/mut/"
names=$(sed -n 's/^ *- alert: //p' "$rules")
caught=0 missed=
for n in $names; do
	awk -v n="$n" '
		/^ *- alert: / { mine = ($3 == n) }
		mine && /^ *expr:/ { print "        expr: vector(1) > 2"; skip = 1; next }
		skip && /^          [^ ]/ { next }
		{ skip = 0; print }' "$rules" > "$tmp/mut/viommu-alerts.yml"
	if (cd "$tmp/mut" && promtool test rules viommu-alerts.test.yml > /dev/null 2>&1); then
		missed="$missed $n"
	else
		caught=$((caught + 1))
	fi
done
is "with any one rule never firing, promtool test rules fails ($(echo $names | wc -w) rules)" \
	"$caught${missed:+ (not caught:$missed)}" "$(echo $names | wc -w)"

# --- bad input: each a one-line message and its exit status ---
"$viommu" export -l no-such-host.invalid:9750 > /dev/null 2> "$tmp/err"
is "an unresolvable address: exit 2, named" "$? $(wc -l < "$tmp/err") $(grep -c "cannot resolve 'no-such-host.invalid'" "$tmp/err")" "2 1 1"
"$viommu" export -l 127.0.0.1:70000 > /dev/null 2> "$tmp/err"
is "a port out of range: exit 2, named" "$? $(grep -c "invalid port '70000'" "$tmp/err")" "2 1"
# a port some other program listens on
$py -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(60)' > "$tmp/port" &
held=$!
wait_until 10 test -s "$tmp/port"
port=$(cat "$tmp/port")
"$viommu" export -l "127.0.0.1:$port" > /dev/null 2> "$tmp/err"
is "a port in use: exit 1, named" "$? $(wc -l < "$tmp/err") $(grep -c "cannot listen on 127.0.0.1:$port: Address already in use" "$tmp/err")" "1 1 1"
kill "$held"; held=
"$viommu" export -t "$tmp/nonexistent" > /dev/null 2> "$tmp/err"
is "a textfile directory that does not exist: exit 2, named" \
	"$? $(wc -l < "$tmp/err") $(grep -c "textfile $tmp/nonexistent: No such file or directory" "$tmp/err")" "2 1 1"
mkdir -m 0755 "$tmp/ro"
chmod 0755 "$tmp"	# nobody must reach it, and find it read-only
setpriv --reuid=65534 --regid=65534 --clear-groups "$viommu" export -t "$tmp/ro" > /dev/null 2> "$tmp/err"
is "a textfile directory it cannot write in: exit 1, named" \
	"$? $(wc -l < "$tmp/err") $(grep -c "textfile $tmp/ro: cannot write in it: Permission denied" "$tmp/err")" "1 1 1"
tap_done
