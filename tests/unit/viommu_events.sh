#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The one list of events (VIOMMU_EVENT_KINDS in bpf/viommu.h): trace
# --list names every kind with its tracepoint, the BPF object has a
# program for each of them (and for the start events of the timed calls),
# and viommu(8) documents exactly those events with those fields.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"

tap_plan 5
# EVENT TRACEPOINT FIELDS...: one line per kind, after the header
"$viommu" trace --list > "$tmp/list" 2> "$tmp/err"
rc=$?
tail -n +2 "$tmp/list" | awk '{ $1 = $1; print }' > "$tmp/events"
n=$(wc -l < "$tmp/events")
bad=$(awk 'NF < 2 || $2 !~ /^iommufd:iommufd_/' "$tmp/events")
dups=$(cut -d' ' -f1 "$tmp/events" | sort | uniq -d; cut -d' ' -f2 "$tmp/events" | sort | uniq -d)
is "trace --list: exit 0, 18 kinds, each named once with its own iommufd tracepoint" \
	"$rc $n [$bad] [$dups] $(head -1 "$tmp/list" | awk '{ print $1, $2, $3 }')" \
	"0 18 [] [] EVENT TRACEPOINT FIELDS"

"$viommu" trace --list --json > "$tmp/json"
is "trace --list --json: the same events, each line with schema_version and type" \
	"$(jq -r 'select(.schema_version == 3 and .type == "viommu-trace-events") |
		[.event, .tracepoint] + .fields | join(" ")' "$tmp/json")" "$(cat "$tmp/events")"

# The BPF programs (the skeleton's, named btf_<tracepoint>): one per kind,
# plus the start events whose end event is a kind
sed -n 's/^[[:space:]]*struct bpf_program \*btf_\(.*\);/\1/p' "$repo/build/bpf/viommu.skel.h" |
	sort > "$tmp/progs"
cut -d' ' -f2 "$tmp/events" | sed 's/^iommufd://' | sort > "$tmp/kinds_tp"
starts=$(comm -23 "$tmp/progs" "$tmp/kinds_tp")
orphans=
for s in $starts; do
	grep -qx "${s%_start}_end" "$tmp/kinds_tp" || orphans="$orphans $s"
done
is "a BPF program for every kind's tracepoint; the others are the 2 start events of timed calls" \
	"$(comm -13 "$tmp/progs" "$tmp/kinds_tp" | wc -l) $(wc -w <<< "$starts") [$orphans]" "0 2 []"

# viommu(8), section EVENTS: ".BI name \" fields\"" then "\fBtracepoint\fR: ..."
sed -n '/^\.SH EVENTS/,/^\.SH /p' "$repo/docs/viommu.8" > "$tmp/section"
awk '/^\.BI / { name = $2; sub(/^\.BI [^ ]+ "/, ""); sub(/"$/, ""); f = $0; getline;
		match($0, /^\\fB[a-z0-9_]+\\fR/); tp = substr($0, 4, RLENGTH - 6);
		print name, "iommufd:" tp, f }' "$tmp/section" | awk '{ $1 = $1; print }' > "$tmp/doc"
diff "$tmp/events" "$tmp/doc" > "$tmp/diff"
is "viommu(8) EVENTS lists exactly trace's events, tracepoints and fields, in order" \
	"$(cat "$tmp/diff")" ""
# the tracepoint reference names every tracepoint the programs attach to
missing=
for tp in $(cat "$tmp/progs"); do
	grep -q "\`$tp\`\|\`${tp%_*}_[a-z]*\` / \`_${tp##*_}\`" "$repo/docs/tracepoints.md" ||
		missing="$missing $tp"
done
is "docs/tracepoints.md describes each of the $(wc -l < "$tmp/progs") tracepoints" "$missing" ""
tap_done
