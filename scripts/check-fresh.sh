#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# check-fresh.sh - prove that a pristine Debian 12 gets through the build
# with only what the project's own files install.
#
# usage: check-fresh.sh [TARGET...]   (default: unit tools)
#
# A minimal Debian 12 root (debootstrap --variant=minbase, plus make, the
# one tool a user needs before "make" can install the rest) is made once
# from this machine's own Debian mirror and kept as a tarball in
# $VIOMMU_CACHE/fresh/. Each TARGET then runs as "make TARGET" as root in a
# new copy of that root, holding a copy of the work tree (tracked and
# untracked, not ignored files), so that every target must install what it
# uses by itself. The kernel build and the VM need no check here: they
# run after "make deps" in every "make test".
#
# Prints a TAP line per target; exits 1 if any failed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VIOMMU_CACHE:-/var/cache/viommu}
fresh=$cache/fresh
suite=bookworm
tarball=$fresh/$suite-minbase.tar
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(unit tools)

say() { printf 'check-fresh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot)"
# shellcheck source=scripts/apt-mirror.sh
. "$repo/scripts/apt-mirror.sh"

make_root_tarball() {
	local mirror tmp
	[ -f "$tarball" ] && return 0
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends debootstrap >/dev/null ||
			die "cannot install debootstrap (apt-get update first?)"
	fi
	mirror=$(apt_mirror "$suite")
	[ -n "$mirror" ] || die "no Debian mirror for $suite in this machine's apt configuration"
	mkdir -p "$fresh"
	tmp=$fresh/root.tmp
	rm -rf "$tmp"
	say "debootstrap --variant=minbase $suite (once; kept in $tarball)"
	debootstrap --variant=minbase --include=make "$suite" "$tmp" "$mirror" \
		> "$fresh/debootstrap.log" 2>&1 ||
		{ tail -20 "$fresh/debootstrap.log" >&2; die "debootstrap failed"; }
	tar -C "$tmp" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$tmp"
}

# One target in one new root; its output goes to $fresh/TARGET.log.
check_target() {
	local target=$1 root=$fresh/root-$1 rc
	rm -rf "$root"
	mkdir -p "$root"
	tar -C "$root" -xf "$tarball"
	# The machine's own apt configuration (mirror, options) and resolver
	rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
	cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null || true
	if [ -f /etc/apt/sources.list ]; then cp /etc/apt/sources.list "$root/etc/apt/"; fi
	cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mkdir -p "$root/src"
	git -C "$repo" ls-files -z -c -o --exclude-standard |
		(cd "$repo" && tar --null -T - -cf -) | tar -C "$root/src" -xf -
	say "make $target in a fresh root (log: $fresh/$target.log)"
	set +e
	unshare --mount --propagation private sh -c '
		root=$1 target=$2
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			sh -c "cd /src && make $target"
	' sh "$root" "$target" > "$fresh/$target.log" 2>&1
	rc=$?
	set -e
	if [ $rc -ne 0 ]; then
		tail -25 "$fresh/$target.log" >&2
	else
		rm -rf "$root"
	fi
	return $rc
}

make_root_tarball
echo "1..${#targets[@]}"
n=0 failed=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	if check_target "$t"; then
		echo "ok $n - make $t on a pristine Debian 12"
	else
		echo "not ok $n - make $t on a pristine Debian 12 (see $fresh/$t.log)"
		failed=1
	fi
done
exit $failed
