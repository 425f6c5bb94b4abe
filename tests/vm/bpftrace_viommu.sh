#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A bpftrace one-liner on the iommufd_viommu_* tracepoints counts exactly
# the vIOMMUs that a known load created, keyed by the creating pid.
. "$(dirname "$0")/../lib/tap.sh"
bin=${TEST_BIN:?}
tmp=$(mktemp -d)
bt=
trap '[ -z "$bt" ] || kill -KILL $bt 2>/dev/null; rm -rf "$tmp"' EXIT
count=7

tap_plan 5
if ! command -v bpftrace >/dev/null; then
	for i in 1 2 3 4 5; do skip "bpftrace one-liner $i" "bpftrace not installed"; done
	exit 0
fi

bpftrace -e 'BEGIN { printf("Tracing... Hit Ctrl-C to end.\n"); }
	     tracepoint:iommufd:iommufd_viommu_alloc { @alloc[args->owner_tgid, args->type] = count(); }
	     tracepoint:iommufd:iommufd_viommu_destroy { @destroy[args->owner_tgid] = count(); }' \
	> "$tmp/out" 2>&1 &
bt=$!
# Ready once it polls for output (after its last attachment): then bpftool
# must list both tracepoints as attached to it
wait_polling 300 $bt
[ "${polled[$bt]}" = 1 ]
polling=$?
bpftool perf show pid $bt > "$tmp/perf" 2>&1
load=$("$bin/mock_viommus" $count)
tap_result $? "load ran: $load"
pid=$(echo "$load" | sed -n 's/^pid=\([0-9]*\).*/\1/p')
stop_tracer $bt
tap_result $? "bpftrace exited cleanly on SIGINT" "$(cat "$tmp/out")"
bt=
is "bpftrace attached BEGIN and both tracepoints, and polls for output" \
	"$polling $(grep -c '^Attaching 3 probes' "$tmp/out") $(grep -c '^Tracing' "$tmp/out") $(grep -o 'tracepoint *iommufd_viommu_[a-z]*' "$tmp/perf" | awk '{ print $2 }' | sort | tr '\n' ' ')" \
	"0 1 1 iommufd_viommu_alloc iommufd_viommu_destroy "
# The whole of each map: the load's pid and the mock type, nothing else
is "alloc counts: the load's pid and the mock type only" \
	"$(grep -E '^@alloc\[' "$tmp/out" | tr '\n' ' ')" "@alloc[$pid, 3735928559]: $count "
is "destroy counts: the load's pid only" \
	"$(grep -E '^@destroy\[' "$tmp/out" | tr '\n' ' ')" "@destroy[$pid]: $count "
tap_done
