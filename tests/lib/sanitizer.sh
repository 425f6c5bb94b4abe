# SPDX-License-Identifier: GPL-2.0-only
# The sanitizer pass of the viommu tool tests. A suite sources this after
# tap.sh; with VIOMMU_SANITIZE=1 (the *_asan suites of tests/vm/run.sh) it
# runs the ASan + UBSan build (make tools SANITIZE=1, build/asan/viommu)
# and has every report written to a file of its own instead of stderr,
# where a test reading the tool's stderr could miss it. san_plan is the
# number of results san_done adds: one, "no sanitizer report", in that
# pass; none otherwise.
san_dir=
san_plan=0
if [ "${VIOMMU_SANITIZE:-0}" = 1 ]; then
	# VIOMMU_SAN_TOOL: another sanitized build (to prove a suite catches a bug)
	VIOMMU_TOOL=${VIOMMU_SAN_TOOL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/asan/viommu}
	san_dir=$(mktemp -d)
	chmod 1777 "$san_dir"	# the tests run it as nobody too
	san_plan=1
	# halt at the first report: the tool's exit status shows it too
	export ASAN_OPTIONS="log_path=$san_dir/asan:detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=99"
	export UBSAN_OPTIONS="log_path=$san_dir/ubsan:print_stacktrace=1:halt_on_error=1:exitcode=99"
fi

# san_done: in the sanitizer pass, "ok" only if no report was written (and
# the sanitized binary was the one run)
san_done() {
	local f reports=()
	[ -n "$san_dir" ] || return 0
	for f in "$san_dir"/*; do [ -e "$f" ] && reports+=("$f"); done
	if [ ! -x "$VIOMMU_TOOL" ]; then
		tap_result 1 "sanitizer: the ASan + UBSan build ran the tests" "no $VIOMMU_TOOL (make tools SANITIZE=1)"
	elif [ ${#reports[@]} -eq 0 ]; then
		tap_result 0 "sanitizer: the ASan + UBSan build ran the tests without a report"
	else
		tap_result 1 "sanitizer: the ASan + UBSan build ran the tests without a report" \
			"$(head -n 40 "${reports[@]}")"
	fi
	tap_figures "sanitizer reports ${#reports[@]}"
	rm -rf "$san_dir"
}
