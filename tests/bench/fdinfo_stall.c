// SPDX-License-Identifier: GPL-2.0-only
/*
 * fdinfo_stall - how much a reader of an iommufd file's fdinfo delays the
 * VM's own ioctls, in a context with many objects.
 *
 * usage: fdinfo_stall [-n OBJECTS] [-c CALLS] [-r]
 *
 * Sets up a mock vIOMMU with a vDEVICE, then OBJECTS more objects (IOASes),
 * and times CALLS guest invalidations (IOMMU_HWPT_INVALIDATE, one entry),
 * each looking the vIOMMU up in the context's object xarray. With -r a
 * child process reads /proc/self/fdinfo of the same file in a loop the
 * whole time. Prints one JSON line: the latency percentiles in ns and how
 * many fdinfo reads completed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iommufd_mock.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read fdinfo of fd until killed; count the reads in *reads (shared) */
static void read_forever(int fd, volatile unsigned long *reads)
{
	static char buf[1 << 16];
	char path[64];
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	for (;;) {
		f = open(path, O_RDONLY);
		if (f < 0)
			_exit(1);
		while (read(f, buf, sizeof(buf)) > 0)
			;
		close(f);
		(*reads)++;
	}
}

int main(int argc, char **argv)
{
	unsigned int objects = 10000, calls = 2000;
	uint32_t ioas, s2, viommu, vdev, done, extra;
	volatile unsigned long *reads;
	bool reader = false;
	struct mock_dev dev;
	uint64_t *lat;
	pid_t child = 0;
	int fd, opt;

	while ((opt = getopt(argc, argv, "n:c:r")) != -1) {
		switch (opt) {
		case 'n': objects = strtoul(optarg, NULL, 0); break;
		case 'c': calls = strtoul(optarg, NULL, 0); break;
		case 'r': reader = true; break;
		default:
			fprintf(stderr, "usage: fdinfo_stall [-n OBJECTS] [-c CALLS] [-r]\n");
			return 2;
		}
	}
	lat = calloc(calls ?: 1, sizeof(*lat));
	reads = mmap(NULL, sizeof(*reads), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = mock_open();
	if (!lat || reads == MAP_FAILED || fd < 0 ||
	    mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu) ||
	    mock_vdevice_alloc(fd, viommu, dev.idev_id, 1, &vdev)) {
		fprintf(stderr, "fdinfo_stall: cannot set up the mock vIOMMU\n");
		return 1;
	}
	for (unsigned int i = 0; i < objects; i++) {
		if (mock_ioas_alloc(fd, &extra)) {
			fprintf(stderr, "fdinfo_stall: IOMMU_IOAS_ALLOC %u failed\n", i);
			return 1;
		}
	}
	if (reader) {
		child = fork();
		if (child == 0)
			read_forever(fd, reads);
		/* let it start its first walk */
		while (!*reads)
			usleep(1000);
	}
	for (unsigned int i = 0; i < calls; i++) {
		uint64_t t = now_ns();

		if (mock_viommu_invalidate(fd, viommu, 1, 1, 0, &done)) {
			fprintf(stderr, "fdinfo_stall: IOMMU_HWPT_INVALIDATE failed\n");
			return 1;
		}
		lat[i] = now_ns() - t;
	}
	if (child) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	qsort(lat, calls, sizeof(*lat), cmp_u64);
	printf("{\"objects\":%u,\"reader\":%s,\"calls\":%u,\"p50_ns\":%llu,"
	       "\"p99_ns\":%llu,\"max_ns\":%llu,\"fdinfo_reads\":%lu}\n",
	       objects, reader ? "true" : "false", calls,
	       (unsigned long long)lat[calls / 2],
	       (unsigned long long)lat[calls * 99 / 100],
	       (unsigned long long)lat[calls - 1], *reads);
	return 0;
}
