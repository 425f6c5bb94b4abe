#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests of the viommu tool's pure logic (tests/unit/viommu_logic.c).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$repo" build/unit/viommu_logic >&2 || { echo "1..1"; echo "not ok 1 - build viommu_logic"; exit 1; }
exec "$repo/build/unit/viommu_logic"
