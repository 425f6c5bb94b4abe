#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A bpftrace one-liner on the iommufd_viommu_* tracepoints counts exactly
# the vIOMMUs that a known load created, keyed by the creating pid.
. "$(dirname "$0")/../lib/tap.sh"
bin=${TEST_BIN:?}
tmp=$(mktemp -d)
trap 'kill $bt 2>/dev/null; rm -rf "$tmp"' EXIT
count=7

tap_plan 5
if ! command -v bpftrace >/dev/null; then
	for i in 1 2 3 4 5; do skip "bpftrace one-liner $i" "bpftrace not installed"; done
	exit 0
fi

# BEGIN runs once every probe is attached: wait for its line, not for
# "Attaching N probes...", which bpftrace prints before it attaches.
bpftrace -e 'BEGIN { printf("Tracing... Hit Ctrl-C to end.\n"); }
	     tracepoint:iommufd:iommufd_viommu_alloc { @alloc[args->owner_tgid, args->type] = count(); }
	     tracepoint:iommufd:iommufd_viommu_destroy { @destroy[args->owner_tgid] = count(); }' \
	> "$tmp/out" 2>&1 &
bt=$!
for _ in $(seq 600); do
	grep -q '^Tracing' "$tmp/out" && break
	sleep 0.1
done
load=$("$bin/mock_viommus" $count)
tap_result $? "load ran: $load"
pid=$(echo "$load" | sed -n 's/^pid=\([0-9]*\).*/\1/p')
stop_tracer $bt
tap_result $? "bpftrace exited cleanly on SIGINT" "$(cat "$tmp/out")"
grep -q '^Attaching 3 probes' "$tmp/out"
tap_result $? "bpftrace attached BEGIN and both tracepoints" "$(cat "$tmp/out")"
is "alloc count for the load's pid and the mock type" \
	"$(grep -E "^@alloc\[$pid, 3735928559\]:" "$tmp/out")" "@alloc[$pid, 3735928559]: $count"
is "destroy count for the load's pid" \
	"$(grep -E "^@destroy\[$pid\]:" "$tmp/out")" "@destroy[$pid]: $count"
tap_done
