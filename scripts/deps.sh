#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# deps.sh - install the Debian packages the project needs, idempotently.
# Only packages that are missing are installed; nothing is upgraded.
set -euo pipefail

packages=(
	# kernel build
	make gcc ccache flex bison bc libelf-dev libssl-dev dwarves cpio kmod
	xz-utils git python3 python3-ply python3-git rsync jq
	# checkpatch, and the tools the test scripts call (pkill, sysctl, ip,
	# column)
	perl procps iproute2 bsdextrautils
	# test VM
	qemu-system-x86
	# the arm64 KUnit run of the SMMUv3 driver: cross compiler and QEMU
	gcc-aarch64-linux-gnu qemu-system-arm
	# BPF toolchain and tracing
	clang llvm bpftool bpftrace libbpf-dev pkg-config
	# tools and selftests; clang's ASan/UBSan runtime for the sanitizer
	# build of the tool (make tools SANITIZE=1, unit tests)
	libjson-c-dev libncurses-dev libcap-dev libclang-rt-14-dev
	# memory checks of the tool in the unit tests
	valgrind
	# man pages checked by the unit tests
	groff-base
	# viommu export: its HTTP server; the Prometheus server and promtool
	# that test it and its alert rules; curl for the scrape tests
	libevent-dev prometheus curl
	# an OpenMetrics parser, to check the exporter's OpenMetrics output
	python3-prometheus-client
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run 'make deps' as root, or: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -q update >/dev/null
apt-get -q install -y --no-install-recommends --no-upgrade "${missing[@]}" >/dev/null
