/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Thin wrappers over the iommufd uAPI and the selftest (mock) driver's test
 * ioctl, shared by the VM tests and viommu-load. Each returns 0 or -errno.
 */
#ifndef IOMMUFD_MOCK_H
#define IOMMUFD_MOCK_H

#include <stdint.h>
#include <stddef.h>

/* One mock device attached to an IOAS, as IOMMU_TEST_OP_MOCK_DOMAIN gives */
struct mock_dev {
	uint32_t stdev_id;	/* selftest device object */
	uint32_t hwpt_id;	/* the paging domain it was attached to */
	uint32_t idev_id;	/* iommufd device (bind) id */
};

int mock_open(void);
int mock_destroy(int fd, uint32_t id);
int mock_ioas_alloc(int fd, uint32_t *ioas_id);
int mock_ioas_map(int fd, uint32_t ioas_id, void *buf, size_t len,
		  uint64_t *iova);
int mock_ioas_unmap(int fd, uint32_t ioas_id, uint64_t iova, uint64_t len);
int mock_dev_add(int fd, uint32_t ioas_id, uint32_t dev_flags,
		 struct mock_dev *dev);
int mock_nest_parent_alloc(int fd, uint32_t idev_id, uint32_t ioas_id,
			   uint32_t *hwpt_id);
int mock_viommu_alloc(int fd, uint32_t idev_id, uint32_t hwpt_id,
		      uint32_t *viommu_id);
int mock_viommu_alloc_type(int fd, uint32_t idev_id, uint32_t hwpt_id,
			   uint32_t type, uint32_t flags, uint32_t *viommu_id);

#endif
