// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thin wrappers over the iommufd uAPI and the mock driver's test ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

int mock_open(void)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int mock_destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return xioctl(fd, IOMMU_DESTROY, &cmd);
}

int mock_ioas_alloc(int fd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int rc = xioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	if (!rc)
		*ioas_id = cmd.out_ioas_id;
	return rc;
}

int mock_ioas_map(int fd, uint32_t ioas_id, void *buf, size_t len,
		  uint64_t *iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = len,
	};
	int rc;

	/* A caller-chosen IOVA must lie in the mock's aperture */
	if (*iova) {
		cmd.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		cmd.iova = *iova;
	}
	rc = xioctl(fd, IOMMU_IOAS_MAP, &cmd);
	if (!rc)
		*iova = cmd.iova;
	return rc;
}

int mock_ioas_unmap(int fd, uint32_t ioas_id, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = len,
	};

	return xioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
}

int mock_dev_add(int fd, uint32_t ioas_id, uint32_t dev_flags,
		 struct mock_dev *dev)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = ioas_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc = xioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (!rc) {
		dev->stdev_id = cmd.mock_domain_flags.out_stdev_id;
		dev->hwpt_id = cmd.mock_domain_flags.out_hwpt_id;
		dev->idev_id = cmd.mock_domain_flags.out_idev_id;
	}
	return rc;
}

int mock_nest_parent_alloc(int fd, uint32_t idev_id, uint32_t ioas_id,
			   uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = idev_id,
		.pt_id = ioas_id,
	};
	int rc = xioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!rc)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

int mock_viommu_alloc_type(int fd, uint32_t idev_id, uint32_t hwpt_id,
			   uint32_t type, uint32_t flags, uint32_t *viommu_id)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.type = type,
		.dev_id = idev_id,
		.hwpt_id = hwpt_id,
	};
	int rc = xioctl(fd, IOMMU_VIOMMU_ALLOC, &cmd);

	if (!rc)
		*viommu_id = cmd.out_viommu_id;
	return rc;
}

int mock_viommu_alloc(int fd, uint32_t idev_id, uint32_t hwpt_id,
		      uint32_t *viommu_id)
{
	return mock_viommu_alloc_type(fd, idev_id, hwpt_id,
				      IOMMU_VIOMMU_TYPE_SELFTEST, 0, viommu_id);
}
