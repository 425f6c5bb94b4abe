#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests of what viommu top computes without the kernel (tests/unit/viommu_top.c).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$repo" build/unit/viommu_top >&2 || { echo "1..1"; echo "not ok 1 - build viommu_top"; exit 1; }
exec "$repo/build/unit/viommu_top"
