#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel.sh - fetch, patch, build and export the project's Linux kernel.
#
# The kernel lives in a cache outside the clone, shared by development and
# CI on one machine, so that a change to one patch rebuilds in minutes:
#
#   $VIOMMU_CACHE (default /var/cache/viommu)
#     dl/         the Debian source package (and the isolated apt state)
#     linux/      git tree: commit "base" = pristine source, then the series
#     build/      out-of-tree kernel build (O=)
#     selftests/  iommufd selftests built against that tree (long-timeout/:
#                 the same with 300 s per case, for the debug kernel)
#
# Commands:
#   fetch     download linux-source-7.3 (pinned in kernel/BASE) with apt
#   prepare   make the cached tree equal base + kernel/patches
#   build     prepare, configure (tinyconfig + kernel/viommu.config), build
#             bzImage and the iommufd selftests
#   export    write the cached tree's commits back to kernel/patches
#   drift     show whether the cached tree and kernel/patches differ
#   check     checkpatch --strict each patch, and build each prefix
#   kunit-arm64
#             build the series for arm64 (kernel/arm64-kunit.config) with
#             Debian's cross compiler into build-arm64-kunit/, run its KUnit
#             suites under qemu-system-aarch64, and print each case as TAP
#   path      print the paths of the built artifacts
#
# Environment:
#   VIOMMU_CACHE           cache directory (default /var/cache/viommu)
#   VIOMMU_LINUX_TARBALL   use this linux-source-7.3.tar.xz instead of apt
#   VIOMMU_JOBS            make -j (default: cores + 1)
#   VIOMMU_VARIANT         build kernel/variants/NAME.config into build-NAME/
#   VIOMMU_CCACHE=0        compile without ccache ($VIOMMU_CACHE/ccache)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${VIOMMU_CACHE:-/var/cache/viommu}
jobs=${VIOMMU_JOBS:-$(($(nproc) + 1))}
tree=$cache/linux
# A variant (kernel/variants/NAME.config on top of the fragment) builds in
# its own directory; the default kernel is the one the VM suite runs.
variant=${VIOMMU_VARIANT:-}
build=$cache/build${variant:+-$variant}
selftests=$cache/selftests
patches=$repo/kernel/patches
fragment=$repo/kernel/viommu.config
fragments=("$fragment")
if [ -n "$variant" ]; then
	[ -f "$repo/kernel/variants/$variant.config" ] ||
		{ echo "kernel.sh: no kernel/variants/$variant.config" >&2; exit 2; }
	fragments+=("$repo/kernel/variants/$variant.config")
fi
# Fixed identity and date for the base commit, so its hash is the same on
# every machine and the exported series is byte-for-byte reproducible.
base_env=(GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost
	  GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@localhost
	  GIT_AUTHOR_DATE='2000-01-01T00:00:00Z'
	  GIT_COMMITTER_DATE='2000-01-01T00:00:00Z')

# shellcheck source=/dev/null
. "$repo/kernel/BASE"

# Every kernel build goes through ccache, kept in the cache directory. Paths
# under the cache are hashed relative to the build directory and the
# directory itself is not hashed, so a variant in build-NAME/ reuses the
# main build's objects wherever its configuration leaves them unchanged.
kcc=gcc
if [ "${VIOMMU_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
	kcc="ccache gcc"
	export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$cache CCACHE_NOHASHDIR=1
	export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
fi
kmake() { make -s -C "$tree" O="$build" ARCH=x86_64 CC="$kcc" "$@"; }
# The arm64 build of "kunit-arm64" (configured by its first run)
kmake_arm64() {
	local cc=aarch64-linux-gnu-gcc
	[ "$kcc" = gcc ] || cc="ccache $cc"
	[ -f "$cache/build-arm64-kunit/.config" ] ||
		die "no arm64 build: run 'scripts/kernel.sh kunit-arm64' first"
	make -s -C "$tree" O="$cache/build-arm64-kunit" ARCH=arm64 \
		CROSS_COMPILE=aarch64-linux-gnu- CC="$cc" "$@"
}

say() { printf 'kernel.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The cache is locked for each command; a caller that must keep the tree
# and build still while it uses them (a test run) takes the lock itself and
# exports VIOMMU_CACHE_LOCKED=1.
lock() {
	[ "${VIOMMU_CACHE_LOCKED:-}" = 1 ] && return 0
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
}

# shellcheck source=scripts/apt-mirror.sh
. "$repo/scripts/apt-mirror.sh"

deb_path() { echo "$cache/dl/${PACKAGE}_${VERSION}_all.deb" | sed 's/:/%3a/'; }

cmd_fetch() {
	local deb mirror aptdir
	[ -n "${VIOMMU_LINUX_TARBALL:-}" ] && return 0
	deb=$(deb_path)
	if [ -f "$deb" ] && echo "$DEB_SHA256  $deb" | sha256sum -c --quiet 2>/dev/null; then
		return 0
	fi
	mirror=$(apt_mirror)
	[ -n "$mirror" ] || die "cannot find this machine's Debian mirror in its apt configuration"
	aptdir=$cache/dl/apt
	mkdir -p "$aptdir"/{state/lists/partial,cache/archives/partial}
	: > "$aptdir/state/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $SUITE main" \
		> "$aptdir/sources.list"
	# Own sources list, state and cache: nothing else on the machine is
	# updated, and the machine's package lists are left alone.
	local opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list"
		    -o Dir::Etc::SourceParts=/dev/null
		    -o "Dir::State=$aptdir/state"
		    -o "Dir::State::status=$aptdir/state/status"
		    -o "Dir::Cache=$aptdir/cache"
		    -o APT::Sandbox::User=root)
	say "fetching $PACKAGE=$VERSION from $SUITE"
	apt-get -q "${opts[@]}" update >/dev/null
	(cd "$cache/dl" && apt-get -q "${opts[@]}" download "$PACKAGE=$VERSION") || {
		say "available versions of $PACKAGE in $SUITE:"
		apt-cache "${opts[@]}" madison "$PACKAGE" >&2 || true
		die "cannot download $PACKAGE=$VERSION; set VIOMMU_LINUX_TARBALL to a local linux-source-7.3.tar.xz, or update kernel/BASE"
	}
	echo "$DEB_SHA256  $deb" | sha256sum -c --quiet ||
		die "$deb does not match DEB_SHA256 in kernel/BASE"
}

# Create the git tree with the pristine source as commit "base".
make_base() {
	local tarball tmp
	[ -d "$tree/.git" ] && return 0
	cmd_fetch
	tmp=$cache/linux.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if [ -n "${VIOMMU_LINUX_TARBALL:-}" ]; then
		tarball=$VIOMMU_LINUX_TARBALL
	else
		dpkg-deb --fsys-tarfile "$(deb_path)" |
			tar -x -C "$tmp" "./usr/src/$PACKAGE.tar.xz"
		tarball=$tmp/usr/src/$PACKAGE.tar.xz
	fi
	say "unpacking $(basename "$tarball")"
	mkdir -p "$tmp/src"
	tar -xJf "$tarball" -C "$tmp/src" --strip-components=1
	# Debian's tarball carries its packaging repo's top-level .gitignore
	# rule "/*", which hides every new file from git: a new file would
	# build here yet be missing from the exported patch. Drop that rule.
	sed -i '/^# Debian packaging: ignore everything/,/^!\/debian\/$/d' \
		"$tmp/src/.gitignore"
	(
		cd "$tmp/src"
		git init -q -b series
		git config core.autocrlf false
		git config gc.auto 0
		# git am needs a committer; patches keep their own authors
		git config user.name "viommu developers"
		git config user.email viommu-dev@localhost
		git add -A -f
		env "${base_env[@]}" git commit -q -m "$PACKAGE $VERSION (Debian, $SUITE)"
		git tag base
	)
	mv "$tmp/src" "$tree"
	rm -rf "$tmp"
}

series_stamp() { { cat "$patches"/*.patch 2>/dev/null || true; } | sha256sum | cut -d" " -f1; }

# .git/viommu-series records "<series stamp> <HEAD>" as last applied or
# exported, so prepare can tell new patches from local, unexported commits.
cmd_prepare() {
	local want old new f rec_stamp= rec_head=
	make_base
	cd "$tree"
	want=$(series_stamp)
	[ -f .git/viommu-series ] && read -r rec_stamp rec_head < .git/viommu-series
	if ! git diff --quiet HEAD; then
		die "$tree has uncommitted changes; commit them and run '$0 export', or discard them"
	fi
	# An interrupted "check --bisect" leaves an older commit checked out
	if [ "$(git symbolic-ref -q --short HEAD)" != series ] &&
	   git rev-parse -q --verify series >/dev/null; then
		say "returning $tree to branch series (was at $(git log --oneline -1 | cut -c1-60))"
		git checkout -q series
	fi
	old=$(git rev-parse HEAD)
	if [ "$rec_stamp" = "$want" ] && [ "$old" = "$rec_head" ]; then
		return 0
	fi
	if [ -n "$rec_head" ] && [ "$old" != "$rec_head" ]; then
		# CI tests the repository's kernel, never a developer's local
		# commits: keep those on a branch and rebuild from the patches.
		if [ "${CI:-}" = true ]; then
			local keep
			keep=unexported-$(date +%Y%m%d-%H%M%S)
			git branch "$keep" "$old"
			say "CI: $tree had commits not in kernel/patches; kept on branch $keep, rebuilding from kernel/patches"
			rec_stamp=
		elif [ "$rec_stamp" = "$want" ]; then
			say "note: $tree has commits not yet in kernel/patches; run '$0 export'"
			return 0
		else
			die "kernel/patches changed and $tree has unexported commits; export or drop them first (git -C $tree reset --hard $rec_head)"
		fi
	fi
	# Remember the mtimes of every file the old or new series touches, so
	# files whose content does not change keep their mtime and make does
	# not rebuild them.
	declare -A mtime
	local touched
	touched=$( { git diff --name-only base "$old"
		     cat "$patches"/*.patch 2>/dev/null | sed -n 's|^+++ b/||p' || true
		   } | sort -u)
	for f in $touched; do
		[ -e "$f" ] && mtime[$f]=$(stat -c %Y "$f")
	done
	git checkout -q -B series base
	if ls "$patches"/*.patch >/dev/null 2>&1; then
		git am -q --committer-date-is-author-date "$patches"/*.patch ||
			{ git am --abort; die "the series does not apply to base"; }
	fi
	new=$(git rev-parse HEAD)
	for f in $touched; do
		if [ -n "${mtime[$f]:-}" ] && [ -e "$f" ] &&
		   git diff --quiet "$old" "$new" -- "$f"; then
			touch -d "@${mtime[$f]}" "$f"
		fi
	done
	echo "$want $new" > .git/viommu-series
	say "tree at $(git log --oneline -1 | cut -c1-70) ($(git rev-list --count base..HEAD) patches)"
}

# Write base..HEAD as patches into $1: unnumbered subjects and zeroed
# commit ids keep the files stable as the series grows. The patches are
# mailed as they are, so their license (GPL-2.0) is declared in REUSE.toml
# rather than by a line inside each.
write_series() {
	git -C "$tree" format-patch -q -N --zero-commit --no-signature -o "$1" base..HEAD
}

cmd_export() {
	make_base
	cd "$tree"
	git diff --quiet HEAD || die "$tree has uncommitted changes; commit them first"
	rm -f "$patches"/*.patch
	mkdir -p "$patches"
	write_series "$patches"
	echo "$(series_stamp) $(git rev-parse HEAD)" > .git/viommu-series
	say "exported $(ls "$patches" | grep -c '\.patch$') patches to kernel/patches"
}

cmd_drift() {
	local tmp rc=0
	make_base
	tmp=$(mktemp -d)
	write_series "$tmp"
	if ! diff -r -q "$patches" "$tmp" >/dev/null 2>&1; then
		say "the cached tree and kernel/patches differ:"
		diff -r -u "$patches" "$tmp" | head -100 >&2 || true
		rc=1
	elif ! git -C "$tree" diff --quiet HEAD; then
		say "the cached tree has uncommitted changes"
		git -C "$tree" status --short | head -20 >&2
		rc=1
	else
		say "no drift: $(ls "$tmp" | wc -l) patches"
	fi
	rm -rf "$tmp"
	return $rc
}

configure() {
	local stamp
	stamp=$(cat "${fragments[@]}" "$repo/kernel/BASE" | sha256sum | cut -d' ' -f1)
	if [ -f "$build/.config" ] && [ "$(cat "$build/.viommu-config" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	mkdir -p "$build"
	say "configuring: tinyconfig + kernel/viommu.config${variant:+ + kernel/variants/$variant.config}"
	kmake tinyconfig >/dev/null
	(cd "$tree" && KCONFIG_CONFIG="$build/.config" \
		scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "${fragments[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	# Every option the fragment asks for must have survived olddefconfig.
	local missing
	# A later fragment overrides an earlier one.
	missing=$(cat "${fragments[@]}" | grep -E '^CONFIG_' |
		awk -F= '{ v[$1] = $0; if (!($1 in o)) o[$1] = n++ }
			 END { for (k in v) print o[k] "\t" v[k] }' |
		sort -n | cut -f2- | while IFS= read -r line; do
		opt=${line%%=*} val=${line#*=}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$build/.config" && echo "$line"
		else
			grep -qx "$line" "$build/.config" || echo "$line"
		fi
	done)
	[ -z "$missing" ] || die "config options not satisfied (missing dependencies?): $missing"
	echo "$stamp" > "$build/.viommu-config"
}

cmd_build() {
	cmd_prepare
	configure
	say "building bzImage (-j$jobs)"
	kmake -j"$jobs" bzImage modules headers
	if [ -n "$variant" ]; then
		cmd_path
		return
	fi
	say "building iommufd selftests"
	mkdir -p "$selftests"
	make -s -C "$tree/tools/testing/selftests/iommu" OUTPUT="$selftests" \
		KHDR_INCLUDES="-isystem $build/usr/include" >/dev/null
	# the same with a per-case limit of 300 s instead of 30 s, for the
	# debug kernel (tests/selftests/harness-timeout.h)
	mkdir -p "$selftests/long-timeout"
	make -s -C "$tree/tools/testing/selftests/iommu" \
		OUTPUT="$selftests/long-timeout" \
		KHDR_INCLUDES="-isystem $build/usr/include" \
		USERCFLAGS="-I$tree/tools/testing/selftests -include $repo/tests/selftests/harness-timeout.h" \
		>/dev/null
	cmd_path
}

cmd_path() {
	echo "bzimage=$build/arch/x86/boot/bzImage"
	echo "vmlinux=$build/vmlinux"
	echo "build=$build"
	echo "headers=$build/usr/include"
	echo "selftests=$selftests"
	echo "tree=$tree"
}

cmd_check() {
	local n i rc=0 commits
	cmd_prepare
	cd "$tree"
	commits=$(git rev-list --reverse base..HEAD)
	n=$(echo "$commits" | grep -c . || true)
	i=0
	for c in $commits; do
		i=$((i + 1))
		say "[$i/$n] $(git log --format=%s -1 "$c")"
		# spdxcheck.py needs python3-ply: use the system python, not a
		# pyenv one. The tree is a Debian source package with no upstream
		# history, so checkpatch cannot look up the upstream commits that
		# Fixes: tags and messages cite; their ids were checked upstream.
		# A new file's MAINTAINERS entry is checked below by name: a
		# file under a directory an entry already covers needs no line.
		if ! git format-patch --stdout -1 "$c" |
			PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict -q \
				--ignore UNKNOWN_COMMIT_ID,FILE_PATH_CHANGES - >&2; then
			rc=1
		fi
	done
	# Every file the series adds has maintainers beyond the catch-all list
	local f who
	for f in $(git diff --diff-filter=A --name-only base..HEAD); do
		who=$(perl scripts/get_maintainer.pl --no-git --no-rolestats -f "$f" 2>/dev/null |
			grep -v 'linux-kernel@vger.kernel.org' || true)
		[ -n "$who" ] || { say "no MAINTAINERS entry covers $f"; rc=1; }
	done
	# Build each prefix of the series: the series must bisect.
	if [ "${1:-}" = --bisect ]; then
		trap 'git -C "$tree" checkout -q series' EXIT
		for c in $commits; do
			git checkout -q "$c"
			say "building at $(git log --oneline -1)"
			kmake -j"$jobs" bzImage || rc=1
			# and for arm64 where the patch touches arm64 code: the
			# directories it touches, in the arm64 KUnit build
			if git diff --name-only "$c^" "$c" | grep -q '^arch/arm64/\|^drivers/iommu/arm/'; then
				say "building for arm64 at $(git log --oneline -1)"
				kmake_arm64 -j"$jobs" olddefconfig >/dev/null &&
					kmake_arm64 -j"$jobs" drivers/iommu/arm/ arch/arm64/kvm/ || rc=1
			fi
		done
		git checkout -q series
	fi
	return $rc
}

# The KUnit suites that need arm64 (the SMMUv3 driver's), run by the
# kernel's own kunit.py under QEMU. kunit.py prints KTAP with a level per
# suite; the cases are printed as one flat TAP list named "suite: case", so
# the tally counts each case.
cmd_kunit_arm64() {
	local kbuild=$cache/build-arm64-kunit out cc=aarch64-linux-gnu-gcc
	command -v "$cc" >/dev/null || die "no $cc: run 'make deps' (package gcc-aarch64-linux-gnu)"
	command -v qemu-system-aarch64 >/dev/null ||
		die "no qemu-system-aarch64: run 'make deps' (package qemu-system-arm)"
	cmd_prepare
	[ "$kcc" = gcc ] || cc="ccache $cc"
	mkdir -p "$kbuild"
	out=$kbuild/kunit.log
	say "building and running the arm64 KUnit suites (-j$jobs)"
	# kunit.py wants to run from the tree; its build goes to $kbuild
	if ! (cd "$tree" && python3 tools/testing/kunit/kunit.py run --arch arm64 \
		--cross_compile aarch64-linux-gnu- --kunitconfig "$repo/kernel/arm64-kunit.config" \
		--build_dir "$kbuild" --jobs "$jobs" --make_options "CC=$cc" \
		--raw_output=kunit --timeout 300) > "$out" 2>&1; then
		grep -q '^ *ok \|^ *not ok ' "$out" || { tail -40 "$out" >&2; die "the arm64 KUnit run failed"; }
	fi
	awk -f "$repo/scripts/ktap2tap.awk" "$out"
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	fetch | prepare | build | export | drift | check)
		lock
		"cmd_$cmd" "$@" ;;
	kunit-arm64)
		lock
		cmd_kunit_arm64 ;;
	path) cmd_path ;;
	*) sed -n '3,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d' >&2; exit 2 ;;
	esac
}
main "$@"
