// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_fdinfo - /proc/PID/fdinfo of an iommufd file, as viommu topo reads
 * it: the input is the fdinfo text of fd 3 of pid 1 in a /proc laid out
 * in a scratch directory (VIOMMU_PROC), then "viommu topo" and "viommu
 * topo --json" run in-process: the parser (snapshot.c), the tree and the
 * JSON built from whatever it accepted.
 */
#include <limits.h>
#include <sys/stat.h>
#include "fuzz.h"

static char fdinfo_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[PATH_MAX];

	fuzz_setup(false);
	snprintf(path, sizeof(path), "%s/1", fuzz_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/1/fd", fuzz_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/1/fdinfo", fuzz_dir);
	mkdir(path, 0755);
	/* fd 3 is an iommufd (readlink only: the target need not exist) */
	snprintf(path, sizeof(path), "%s/1/fd/3", fuzz_dir);
	if (symlink("/dev/iommu", path))
		abort();
	snprintf(path, sizeof(path), "%s/1/comm", fuzz_dir);
	fuzz_write(path, "qemu-system-x86\n", 16);
	snprintf(fdinfo_path, sizeof(fdinfo_path), "%s/1/fdinfo/3", fuzz_dir);
	setenv("VIOMMU_PROC", fuzz_dir, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const text[] = { "viommu", "topo", NULL };
	static const char *const json[] = { "viommu", "topo", "--json", NULL };

	fuzz_write(fdinfo_path, data, size);
	/* a malformed fdinfo is skipped, never fatal: exit 0 */
	if (fuzz_run(text) || fuzz_run(json)) {
		fprintf(stderr, "fuzz_fdinfo: topo failed\n");
		abort();
	}
	return 0;
}
