/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Force-included (-include) into the upstream iommufd selftests for the
 * debug kernel: its KASAN, kmemleak and debug objects make a case run about
 * ten times longer under TCG, past the kselftest harness's fixed 30 s per
 * case (iommufd_fail_nth's map cases take about 60 s there). The harness
 * reads TEST_TIMEOUT_DEFAULT where each TEST_F() expands, so defining it
 * again after the harness's own header (its include guard keeps the
 * selftest's include from reading it twice) scales every case's limit.
 */
#include <kselftest_harness.h>
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
