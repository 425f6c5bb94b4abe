# SPDX-License-Identifier: GPL-2.0-only
# The start of a host unit suite of the viommu tool; source it after
# tap.sh. It builds the tool (a suite that cannot is one failed result),
# sets $repo, $viommu (VIOMMU_TOOL, to test another build, else
# build/viommu) and $tmp, a scratch dir removed on exit.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
viommu=${VIOMMU_TOOL:-$repo/build/viommu}
make -s -C "$repo" tools >&2 || { echo "1..1"; echo "not ok 1 - build viommu"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
