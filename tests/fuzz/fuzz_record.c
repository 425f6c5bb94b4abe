// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_record - records as viommu compare reads them: the input is a
 * record file, compared in-process ("viommu compare") as the new record
 * against a valid baseline, as the baseline, and against itself.
 */
#include <limits.h>
#include "fuzz.h"

/* A schema 2 record as viommu record writes it (only what compare reads) */
static const char baseline[] =
	"{\"schema_version\":2,\"type\":\"viommu-record\",\"total\":{\"vms\":1,\"lat\":{"
	"\"guest_inval\":{\"count\":40,\"sum_ns\":2000000,\"max_ns\":90000,"
	"\"bucket_unit_ns\":1000,\"sub_buckets\":8,\"buckets\":[[60,30],[70,10]]},"
	"\"s2_inval\":{\"count\":0,\"sum_ns\":0,\"max_ns\":0,"
	"\"bucket_unit_ns\":1000,\"sub_buckets\":8,\"buckets\":[]},"
	"\"fault\":{\"count\":25,\"sum_ns\":500000,\"max_ns\":40000,"
	"\"bucket_unit_ns\":1000,\"sub_buckets\":8,\"buckets\":[[50,25]]}}}}\n";

static char base_path[PATH_MAX], new_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(false);
	snprintf(base_path, sizeof(base_path), "%s/base.json", fuzz_dir);
	snprintf(new_path, sizeof(new_path), "%s/new.json", fuzz_dir);
	fuzz_write(base_path, baseline, sizeof(baseline) - 1);
	return 0;
}

static void compare(const char *a, const char *b)
{
	const char *const args[] = { "viommu", "compare", "-S", "1", a, b, NULL };
	int rc = fuzz_run(args);

	/* 0 no regression, 1 a regression, 2 unusable input */
	if (rc < 0 || rc > EXIT_USAGE) {
		fprintf(stderr, "fuzz_record: exit status %d\n", rc);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	fuzz_write(new_path, data, size);
	compare(base_path, new_path);
	compare(new_path, base_path);
	compare(new_path, new_path);
	return 0;
}
