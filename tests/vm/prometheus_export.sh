#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# prometheus_export.sh - viommu export against the real thing: Debian's
# prometheus server, on loopback with a config and data dir of its own,
# scrapes "viommu export" every second while viommu-load runs a known plan
# (3 VMs x 2 vIOMMUs, one VM's IOMMU 200 ms slow), and its HTTP API must
# give each VM's and vIOMMU's counters exactly as the load reports them,
# the slow VM's p99 above the delay and the others' below, counters that
# never went backwards, and the VMs' series gone after the grace period
# with their final values. A second exporter writes a textfile under
# --max-vms 2. Plus the exposition through promtool, OpenMetrics, and
# HTTP errors.
. "$(dirname "$0")/../lib/tap.sh"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
load=${VIOMMU_LOAD:?path of viommu-load}
py=/usr/bin/python3
prom_url=http://127.0.0.1:9090
check() { "$py" "$here/prometheus_check.py" "$prom_url" "$@"; }
# What Prometheus 2.42 sends
prom_accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
grace=8
tmp=$(mktemp -d)
pids=()
loadpid=
cleanup() {
	[ -z "$loadpid" ] || { pkill -KILL -P "$loadpid"; kill -KILL "$loadpid"; } 2>/dev/null
	[ ${#pids[@]} = 0 ] || kill -KILL "${pids[@]}" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The suite runs after kvm_module; alone, load KVM as it does
if [ ! -c /dev/kvm ] && [ -n "${TEST_KBUILD:-}" ]; then
	insmod "$TEST_KBUILD/virt/lib/irqbypass.ko" 2>/dev/null
	insmod "$TEST_KBUILD/arch/x86/kvm/kvm.ko" 2>/dev/null
	insmod "$TEST_KBUILD/arch/x86/kvm/kvm-amd.ko" 2>/dev/null
fi

tap_plan 18

# --- the exporters: HTTP on a free port; a textfile one under --max-vms 2 ---
"$viommu" export -l 127.0.0.1:0 --per-viommu --grace "$grace" 0.5 > "$tmp/exp.out" 2> "$tmp/exp.err" &
exp=$!
pids+=("$exp")
mkdir "$tmp/tf"
"$viommu" export -t "$tmp/tf" --max-vms 2 --grace "$grace" 0.2 > "$tmp/tf.out" 2> "$tmp/tf.err" &
tf=$!
pids+=("$tf")
wait_until 60 grep -q '^Serving http://' "$tmp/exp.out"
wait_until 60 grep -q '^Writing' "$tmp/tf.out"
url=$(sed -n 's|^Serving \(http://[^ ]*\) .*|\1|p' "$tmp/exp.out")
port=$(sed 's|.*:\([0-9]*\)/metrics$|\1|' <<< "$url")
curl -sf "$url" > "$tmp/empty.prom"
out=$(promtool check metrics < "$tmp/empty.prom" 2>&1; grep -x 'viommu_exporter_vms 0' "$tmp/empty.prom")
is "export: serves $url with no VMs; promtool check metrics accepts it" \
	"$out" "viommu_exporter_vms 0"
curl -sf -H "Accept: $prom_accept" -D "$tmp/om.hdr" "$url" > "$tmp/om"
out=$("$py" -c 'import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as p
list(p(open(sys.argv[1]).read()))' "$tmp/om" 2>&1)
is "export: OpenMetrics for Prometheus's Accept header, accepted by an OpenMetrics parser" \
	"$(grep -i '^content-type:' "$tmp/om.hdr" | tr -d '\r'); $(tail -1 "$tmp/om") $out" \
	"Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8; # EOF "

# --- Debian's Prometheus, scraping it every second, with the alert rules ---
cp "$repo/deploy/prometheus/viommu-alerts.yml" "$tmp/"
cat > "$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $tmp/viommu-alerts.yml
scrape_configs:
  - job_name: viommu
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn > "$tmp/prom.log" 2>&1 &
prom=$!
pids+=("$prom")
out=$(check up 180)
tap_result $? "prometheus: scrapes the exporter (up == 1)" "$out
$(tail -5 "$tmp/prom.log")"
wait_until 60 eval 'check rules > "$tmp/rules" 2>&1'
tap_result "$(grep -qx '7 alert rules: .*' "$tmp/rules" && [ "$(wc -l < "$tmp/rules")" = 1 ]; echo $?)" \
	"prometheus: loaded the 7 alert rules and evaluates them, all healthy" "$(cat "$tmp/rules")"

# --- a known load: 3 VMs with KVM, 2 vIOMMUs each, VM 1 200 ms slow; 40
# invalidations per vIOMMU at 10/s, so scrapes see the counters grow. The
# delay is far above the tail the other VMs see when the guest's two
# vCPUs share one host thread beside Prometheus (30-39 ms seen at 5 ms) ---
"$load" -k -V 3 -i 2 -n 40 -r 10 -e 3 -u 4 -E 70 -F 5 -D 200000 -s 1 -H 120 > "$tmp/load" 2>&1 &
loadpid=$!
wait_until 180 eval '[ "$(grep -c "^vm " "$tmp/load")" -ge 3 ]'
tap_result $? "viommu-load: reported its 3 VMs" "$(cat "$tmp/load")"
out=$(check exact "$tmp/load" 60)
tap_result $? "prometheus: each VM's and vIOMMU's counters and histogram counts equal the load's report" "$out"
out=$(check p99 "$tmp/load")
tap_result $? "prometheus: histogram_quantile(0.99) of the slow VM above 200 ms, of the others below" "$out"

# --- the textfile exporter, under --max-vms 2 ---
tfile=$tmp/tf/viommu.prom
out=$(promtool check metrics < "$tfile" 2>&1)
tap_result $? "textfile: promtool check metrics accepts it, with VMs" "$out"
is "textfile: --max-vms 2 exports 2 of the 3 VMs and counts 1 dropped" \
	"$(grep -E '^viommu_exporter_(vms|vms_dropped_total|max_vms) ' "$tfile" | tr '\n' ' ')" \
	"viommu_exporter_vms 2 viommu_exporter_vms_dropped_total 1 viommu_exporter_max_vms 2 "
# its two VMs' invalidations, as the load reports them
want=$(awk '$1 == "viommu" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		inv[f["pid"]] += f["invalidations"] } END { for (p in inv) print p, inv[p] }' "$tmp/load" | sort)
got=$(sed -n 's/^viommu_guest_invalidations_total{vm="[0-9]*",.*vmm_pid="\([0-9]*\)"} \([0-9]*\)$/\1 \2/p' "$tfile" | sort)
is "textfile: its 2 VMs' invalidation counts are the load's" "$(grep -cxF -f <(echo "$got") <<< "$want") $(wc -l <<< "$got")" "2 2"
# Written by rename: each read is a whole file (its last family last), and
# the file is a new inode from one interval to the next
ino=$(stat -c %i "$tfile")
reads=0 torn=0
end=$((SECONDS + 3))
while [ "$SECONDS" -lt "$end" ]; do
	c=$(< "$tfile")
	[[ $c == *$'\nviommu_exporter_max_vms 2' ]] || torn=$((torn + 1))
	reads=$((reads + 1))
done
is "textfile: replaced by rename (new inode), never seen half-written ($reads reads)" \
	"$([ "$(stat -c %i "$tfile")" != "$ino" ] && echo renamed) torn $torn" "renamed torn 0"

# --- HTTP errors: the exporter answers them and keeps serving ---
status=$(exec 3<> "/dev/tcp/127.0.0.1/$port" && printf 'GARBAGE\r\n\r\n' >&3 && read -r -t 10 line <&3 &&
	echo "${line%$'\r'}")
codes=$(for u in /nope /; do curl -s -o /dev/null -w '%{http_code} ' "127.0.0.1:$port$u"; done
	curl -s -o /dev/null -w '%{http_code} ' -X POST "$url"
	curl -s -o /dev/null -w '%{http_code}' "$url")
is "http: garbage gets 400, /nope 404, / 200, POST 405, and /metrics still 200" \
	"$status; $codes" "HTTP/1.1 400 Bad Request; 404 200 405 200"

# --- the VMs exit: their series stay for the grace period, then stop ---
released=$(date +%s.%N)
pkill -P "$loadpid"
wait "$loadpid" 2>/dev/null
loadpid=
curl -sf "$url" > "$tmp/after.prom"
is "export: right after the VMs exit, their series are still served" \
	"$(grep -c '^viommu_guest_invalidations_total{.*comm="viommu-load"' "$tmp/after.prom")" 3
out=$(check gone "$tmp/load" 60 "$released")
rc=$?
tap_result "$(awk -v t="$out" -v g="$grace" -v rc=$rc 'BEGIN { exit !(rc == 0 && t >= g - 1) }'; echo $?)" \
	"prometheus: the exited VMs' series stop after the ${grace} s grace period (${out} s)" "$out"
out=$(check last "$tmp/load")
tap_result $? "prometheus: the stopped series' last values are the final counts (not reset to zero)" "$out"
out=$(check growing "$tmp/load")
tap_result $? "prometheus: the counters grew across scrapes and no series ever went backwards" "$out"
wait_until 30 eval '! grep -q "comm=\"viommu-load\"" "$tfile"'
tap_result $? "textfile: the exited VMs left it after the grace period" "$(grep -c viommu-load "$tfile")"

# --- both exporters stop on SIGINT with status 0, leaving only the file ---
stop_tracers "$exp" "$tf"
pids=("$prom")
is "export: SIGINT ends both with status 0; the textfile dir holds only viommu.prom" \
	"${tracer_rc[$exp]} ${tracer_rc[$tf]} $(ls -A "$tmp/tf" | tr '\n' ' ')" "0 0 viommu.prom "
[ -s "$tmp/exp.err" ] && sed 's/^/# export: /' "$tmp/exp.err"
kill -TERM "$prom"
wait "$prom" 2>/dev/null
pids=()
tap_done
