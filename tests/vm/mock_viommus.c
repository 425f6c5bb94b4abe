// SPDX-License-Identifier: GPL-2.0-only
/*
 * mock_viommus - create COUNT vIOMMUs on one shared nesting parent through
 * the mock driver, then free them; print what was done. A fixed load for
 * tests that watch the iommufd events with other tools.
 *
 * usage: mock_viommus COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "iommufd_mock.h"

int main(int argc, char **argv)
{
	struct mock_dev dev;
	uint32_t ioas, s2, id;
	int fd, count, rc;

	if (argc != 2 || (count = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: %s COUNT\n", argv[0]);
		return 2;
	}
	fd = mock_open();
	if (fd < 0 || mock_s2_setup(fd, &ioas, &dev, &s2)) {
		perror("mock_viommus: setting up a mock device");
		return 1;
	}
	for (int i = 0; i < count; i++) {
		rc = mock_viommu_alloc(fd, dev.idev_id, s2, &id);
		if (rc) {
			fprintf(stderr, "mock_viommus: IOMMU_VIOMMU_ALLOC: %d\n", rc);
			return 1;
		}
		rc = mock_destroy(fd, id);
		if (rc) {
			fprintf(stderr, "mock_viommus: IOMMU_DESTROY: %d\n", rc);
			return 1;
		}
	}
	close(fd);
	printf("pid=%d hwpt=%u viommus=%d\n", getpid(), s2, count);
	return 0;
}
