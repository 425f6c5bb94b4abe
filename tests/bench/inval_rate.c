// SPDX-License-Identifier: GPL-2.0-only
/*
 * inval_rate - guest-invalidation ioctl throughput through the mock driver.
 *
 * usage: inval_rate [SECONDS] [ENTRIES]
 *
 * Sets up one vIOMMU with a vDEVICE and issues IOMMU_HWPT_INVALIDATE with
 * ENTRIES entries per call for SECONDS, then prints "calls_per_sec=N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iommufd_mock.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	unsigned int entries = argc > 2 ? atoi(argv[2]) : 1;
	uint32_t ioas, s2, viommu, vdev, done;
	struct mock_dev dev;
	unsigned long calls = 0;
	double start, end;
	int fd;

	fd = mock_open();
	if (fd < 0 || mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu) ||
	    mock_vdevice_alloc(fd, viommu, dev.idev_id, 1, &vdev)) {
		fprintf(stderr, "inval_rate: cannot set up the mock vIOMMU\n");
		return 1;
	}
	start = now();
	end = start + secs;
	do {
		/* check the clock every 256 calls: it costs more than a call */
		for (int i = 0; i < 256; i++) {
			if (mock_viommu_invalidate(fd, viommu, 1, entries, 0, &done)) {
				fprintf(stderr, "inval_rate: IOMMU_HWPT_INVALIDATE failed\n");
				return 1;
			}
		}
		calls += 256;
	} while (now() < end);
	printf("calls_per_sec=%.0f\n", calls / (now() - start));
	return 0;
}
