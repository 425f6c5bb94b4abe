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
/* Maps at an IOVA the kernel picks; *iova is only written, on success */
int mock_ioas_map(int fd, uint32_t ioas_id, void *buf, size_t len,
		  uint64_t *iova);
int mock_ioas_unmap(int fd, uint32_t ioas_id, uint64_t iova, uint64_t len);
int mock_dev_add(int fd, uint32_t ioas_id, uint32_t dev_flags,
		 struct mock_dev *dev);
int mock_nest_parent_alloc(int fd, uint32_t idev_id, uint32_t ioas_id,
			   uint32_t *hwpt_id);
/* A new IOAS with one mock device on it and a nesting parent (S2) HWPT */
int mock_s2_setup(int fd, uint32_t *ioas_id, struct mock_dev *dev,
		  uint32_t *s2_id);
int mock_viommu_alloc(int fd, uint32_t idev_id, uint32_t hwpt_id,
		      uint32_t *viommu_id);
/* IOMMU_VIOMMU_ALLOC as given: kvm_fd goes in the word after data_len */
int mock_viommu_alloc_type(int fd, uint32_t idev_id, uint32_t hwpt_id,
			   uint32_t type, uint32_t flags, int32_t kvm_fd,
			   uint32_t *viommu_id);
int mock_vdevice_alloc(int fd, uint32_t viommu_id, uint32_t idev_id,
		       uint64_t virt_id, uint32_t *vdev_id);
int mock_nested_alloc(int fd, uint32_t idev_id, uint32_t viommu_id,
		      uint32_t fault_id, uint32_t *hwpt_id);
int mock_dev_replace(int fd, uint32_t stdev_id, uint32_t pt_id);
/* IOMMU_HWPT_INVALIDATE of nr mock cache entries of vdev_id on a vIOMMU;
 * *done gets how many the kernel handled */
int mock_viommu_invalidate(int fd, uint32_t viommu_id, uint32_t vdev_id,
			   uint32_t nr, uint32_t cache_id, uint32_t *done);
int mock_veventq_alloc(int fd, uint32_t viommu_id, uint32_t depth,
		       uint32_t *veventq_id, int *veventq_fd);
int mock_trigger_vevent(int fd, uint32_t idev_id);
int mock_fault_alloc(int fd, uint32_t *fault_id, int *fault_fd);
/* The same with IOMMU_FAULT_QUEUE_ALLOC flags (IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID) */
int mock_fault_alloc_flags(int fd, uint32_t flags, uint32_t *fault_id,
			   int *fault_fd);
/* Raise an IOPF on idev_id; the caller reads and answers it on fault_fd */
int mock_trigger_iopf(int fd, uint32_t idev_id, uint32_t pasid,
		      uint32_t grpid);
/*
 * The same as one page request group of nr_faults requests, for the pages
 * from MOCK_IOPF_ADDR on, the last one LAST_PAGE
 */
#define MOCK_IOPF_ADDR	0x100000
int mock_trigger_iopf_group(int fd, uint32_t idev_id, uint32_t pasid,
			    uint32_t grpid, uint32_t nr_faults);
int mock_hw_queue_alloc(int fd, uint32_t viommu_id, uint32_t index,
			uint64_t iova, uint64_t len, uint32_t *hw_queue_id);
/* The VMID the mock driver gave a vIOMMU (IOMMU_TEST_OP_VIOMMU_GET_VMID) */
int mock_viommu_vmid(int fd, uint32_t viommu_id, uint32_t *vmid);
/* Make every guest invalidation on a mock vIOMMU sleep delay_us first */
int mock_viommu_set_inval_delay(int fd, uint32_t viommu_id, uint32_t delay_us);
/* IOMMU_VIOMMU_ALLOC of the mock type on a KVM VM (kvm_fd >= 0) or not */
int mock_viommu_alloc_kvm(int fd, uint32_t idev_id, uint32_t hwpt_id,
			  int kvm_fd, uint32_t *viommu_id);
/* A new KVM VM fd, or -errno */
int kvm_vm_create(void);
/*
 * From /proc/self/fdinfo/<fd> of an iommufd file, the number after "key="
 * on the iommufd-object line of object obj_id (decimal, or hex with 0x).
 * Returns 0, -ENOENT without such an object or key, or another -errno.
 */
int mock_fdinfo_obj_field(int fd, uint32_t obj_id, const char *key,
			  int64_t *val);
/*
 * The same from any fdinfo file (another process's: /proc/PID/fdinfo/FD);
 * obj_id 0 reads a context line instead, "key:<tab>number".
 */
int mock_fdinfo_field(const char *path, uint32_t obj_id, const char *key,
		      int64_t *val);

#endif
