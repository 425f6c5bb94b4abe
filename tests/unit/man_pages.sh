#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The man pages: they format without a warning, every page viommu(8)
# refers to in the project exists, and every option of viommu-load and of
# each viommu command is documented in its page.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/unit_tool.sh"

# documented PAGE OPTION...: the options ("--long" or "-x") PAGE lacks
# (groff writes "-" as "\-")
documented() {
	local page=$1 o
	shift
	for o; do grep -qF -- "$(sed 's/-/\\-/g' <<< "$o")" "$page" || printf '%s ' "$o"; done
}

tap_plan 5
for page in "$repo"/docs/viommu.8 "$repo"/docs/viommu-load.1; do
	groff -man -ww -z "$page" > "$tmp/warn" 2>&1
	is "$(basename "$page") formats without a warning" "$?$(cat "$tmp/warn")" 0
done
is "viommu(8) refers to viommu-load(1), which exists" \
	"$(grep -c '^\.BR viommu-load (1)' "$repo/docs/viommu.8") $(sed -n '/^\.SH NAME/{n;p}' "$repo/docs/viommu-load.1" | cut -d' ' -f1)" \
	"1 viommu-load"
# viommu-load's options, from its argp table: { "long", 'x', ...
opts=$(sed -n "s/^[[:space:]]*{ \"\([a-z-]*\)\", '\(.\)'.*/--\1 -\2/p" "$repo/tools/viommu-load.c")
is "viommu-load(1) documents each of viommu-load's $(wc -w <<< "$opts") options, long and short" \
	"$(documented "$repo/docs/viommu-load.1" $opts)" ""
# each command's --help: "  -x, --long" and "      --long" (the
# commands whose options viommu(8) spells out long so far, and the common
# options every command takes)
missing=
for cmd in topo trace; do
	o=$("$viommu" "$cmd" --help | sed -n 's/^ *\(-[^-?], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p' |
		grep -vx -- '--help\|--usage\|--version')
	m=$(documented "$repo/docs/viommu.8" $o)
	[ -z "$m" ] || missing="$missing $cmd: $m"
done
is "viommu(8) documents every long option of topo, trace and the common options" "$missing" ""
tap_done
