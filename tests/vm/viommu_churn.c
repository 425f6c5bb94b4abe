// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu_churn - VM behaviours that viommu-load does not play, for the
 * viommu tool's tests of what it keeps and forgets (tests/vm/viommu_hist.sh):
 *
 *   viommu_churn reuse N1 N2 [MS]
 *                              one VM: a vIOMMU does N1 guest invalidations
 *                              and is destroyed; MS milliseconds later
 *                              (default 0) the next vIOMMU gets the same id
 *                              from the xarray and does N2
 *   viommu_churn faults N      one VM raises N IO page faults and exits
 *                              without answering them: the kernel answers
 *                              them when the fault queue goes, untraced
 *   viommu_churn answer N      one VM raises and answers N IO page faults
 *
 * Each prints one line saying what it did, then exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"

#define VRID 0x100

static void die(const char *what, int rc)
{
	fprintf(stderr, "viommu_churn: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* A vIOMMU with a vDEVICE on dev; returns its id */
static uint32_t viommu_up(int fd, const struct mock_dev *dev, uint32_t s2,
			  uint32_t *vdev)
{
	uint32_t id;
	int rc;

	if ((rc = mock_viommu_alloc(fd, dev->idev_id, s2, &id)) ||
	    (rc = mock_vdevice_alloc(fd, id, dev->idev_id, VRID, vdev)))
		die("vIOMMU and vDEVICE", rc);
	return id;
}

static void invalidate(int fd, uint32_t viommu, int n)
{
	uint32_t done;
	int rc;

	for (int i = 0; i < n; i++)
		if ((rc = mock_viommu_invalidate(fd, viommu, VRID, 1, 0, &done)))
			die("IOMMU_HWPT_INVALIDATE", rc);
}

static int reuse(int n1, int n2, int pause_ms)
{
	uint32_t ioas, s2, vdev, first, second;
	struct mock_dev dev;
	int fd = mock_open(), rc;

	if (fd < 0)
		die("open /dev/iommu", fd);
	if ((rc = mock_s2_setup(fd, &ioas, &dev, &s2)))
		die("IOAS, device and S2", rc);
	first = viommu_up(fd, &dev, s2, &vdev);
	invalidate(fd, first, n1);
	if ((rc = mock_destroy(fd, vdev)) || (rc = mock_destroy(fd, first)))
		die("destroying the first vIOMMU", rc);
	usleep(pause_ms * 1000);
	second = viommu_up(fd, &dev, s2, &vdev);
	invalidate(fd, second, n2);
	printf("reuse pid=%d first=%u second=%u n1=%d n2=%d\n", getpid(), first,
	       second, n1, n2);
	close(fd);
	return first == second ? 0 : 1;
}

static int faults(int n, int answer)
{
	uint32_t ioas, s2, vdev, viommu, fault_id, nested;
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	struct iommu_hwpt_pgfault msg;
	struct mock_dev dev;
	int fd = mock_open(), fault_fd, rc;

	if (fd < 0)
		die("open /dev/iommu", fd);
	if ((rc = mock_s2_setup(fd, &ioas, &dev, &s2)) ||
	    (rc = mock_fault_alloc(fd, &fault_id, &fault_fd)))
		die("IOAS, device, S2 and fault queue", rc);
	viommu = viommu_up(fd, &dev, s2, &vdev);
	if ((rc = mock_nested_alloc(fd, dev.idev_id, viommu, fault_id, &nested)) ||
	    (rc = mock_dev_replace(fd, dev.stdev_id, nested)))
		die("nested HWPT with the fault queue", rc);
	for (int i = 0; i < n; i++) {
		if ((rc = mock_trigger_iopf(fd, dev.idev_id, 0, i & 0x1ff)))
			die("IOMMU_TEST_OP_TRIGGER_IOPF", rc);
		if (!answer)
			continue;
		if (read(fault_fd, &msg, sizeof(msg)) != sizeof(msg))
			die("reading the fault", -EIO);
		resp.cookie = msg.cookie;
		if (write(fault_fd, &resp, sizeof(resp)) != sizeof(resp))
			die("answering the fault", -EIO);
	}
	printf("faults pid=%d n=%d answered=%d\n", getpid(), n, answer ? n : 0);
	close(fault_fd);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "reuse"))
		return reuse(atoi(argv[2]), atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 0);
	if (argc == 3 && !strcmp(argv[1], "faults"))
		return faults(atoi(argv[2]), 0);
	if (argc == 3 && !strcmp(argv[1], "answer"))
		return faults(atoi(argv[2]), 1);
	fprintf(stderr, "usage: viommu_churn reuse N1 N2 [MS] | faults N | answer N\n");
	return 2;
}
