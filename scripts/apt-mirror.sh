# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# apt_mirror [CODENAME]: the Debian mirror this machine's own apt
# configuration uses for CODENAME (default: this machine's release), so
# that nothing in the project names a registry host.
apt_mirror() {
	local codename=${1:-}
	[ -n "$codename" ] || codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' |
		awk -v c="$codename" '$2 == c && $3 == "deb" { print $1; exit }'
}
