/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the fuzz targets share: the viommu tool's own entry point, main()
 * of tools/viommu/main.c (built as viommu_main), run in-process the way
 * the shell runs it, with argp told not to exit (cli_argp_flags).
 */
#ifndef VIOMMU_FUZZ_H
#define VIOMMU_FUZZ_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "viommu.h"

int viommu_main(int argc, char **argv);

#define FUZZ_MAX_ARGS	64

/* A scratch directory of the process, in $TMPDIR (the callers remove it) */
static char fuzz_dir[4096];

static inline void fuzz_setup(bool parse_only)
{
	int null = open("/dev/null", O_WRONLY);

	/* the commands' output is not what is checked; libFuzzer's is stderr */
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	cli_argp_flags = ARGP_NO_EXIT;
	cli_parse_only = parse_only;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/viommu-fuzz.XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fuzz_dir))
		abort();
}

static inline void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd;

	/* a new file each time: ext4 flushes a file truncated to 0 on close */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

/* Run main() on a NULL-terminated list of arguments (argv[0] included) */
static inline int fuzz_run(const char *const *args)
{
	char *argv[FUZZ_MAX_ARGS + 1], *copies[FUZZ_MAX_ARGS];
	int argc = 0, rc;

	/* argp permutes argv and main() points argv[1] elsewhere: copies */
	for (; args[argc] && argc < FUZZ_MAX_ARGS; argc++)
		argv[argc] = copies[argc] = strdup(args[argc]);
	argv[argc] = NULL;
	rc = viommu_main(argc, argv);
	for (int i = 0; i < argc; i++)
		free(copies[i]);
	fflush(stdout);
	return rc;
}

#endif
