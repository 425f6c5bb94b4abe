#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# viommu_hist.sh - what the viommu tool keeps and forgets: a vIOMMU id the
# kernel reuses starts a histogram of its own.
#
# No fixed sleeps: a tool is ready when the fdinfo of its fds shows its BPF
# links; every wait is bounded and a timeout fails the check.
. "$(dirname "$0")/../lib/tap.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
churn=${TEST_BIN:?}/viommu_churn
tmp=$(mktemp -d)
declare -A pid st
cleanup() {
	local p
	for p in "${pid[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# launch NAME ARGS...: viommu ARGS in the background, into $tmp/NAME.out
# and .err (environment from the caller's assignments)
launch() {
	local name=$1
	shift
	"$viommu" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
	pid[$name]=$!
}
# links NAME: how many BPF links the tool holds (18 once attached)
_links() {
	local f k n=0
	for f in /proc/"${pid[$1]}"/fdinfo/*; do
		while IFS=$' \t:' read -r k _; do
			[ "$k" = link_type ] && { n=$((n + 1)); break; }
		done 2>/dev/null < "$f"
	done
	[ "$n" -ge 18 ] || ! kill -0 "${pid[$1]}" 2>/dev/null
}
attached() { wait_until 120 _links "$1" && kill -0 "${pid[$1]}" 2>/dev/null; }
# stop NAME: SIGINT, its exit status in st[NAME]
stop() {
	stop_tracers "${pid[$1]}"
	st[$1]=${tracer_rc[${pid[$1]}]}
	unset "pid[$1]"
}

tap_plan 2

# --- a vIOMMU id reused by the kernel's xarray starts afresh ---
launch reuse lat --per-viommu --json
attached reuse
att=$?
"$churn" reuse 7 13 > "$tmp/churn"
rc=$?
stop reuse
first=$(sed -n 's/.* first=\([0-9]*\) .*/\1/p' "$tmp/churn")
is "churn: the second vIOMMU got the first one's id" "$att $rc $(sed -n 's/.* second=\([0-9]*\) .*/\1/p' "$tmp/churn")" "0 0 $first"
is "lat --per-viommu: the reused id is two vIOMMUs, in alloc order, with 7 and 13 invalidations" \
	"${st[reuse]} $(jq -r '.viommus[] | "\(.viommu) \(.gone) \(.guest_inval.count)"' "$tmp/reuse.out" | tr '\n' ,)" \
	"0 $first true 7,$first true 13,"

tap_done
