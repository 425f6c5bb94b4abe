// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thin wrappers over the iommufd uAPI and the mock driver's test ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>
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
	int rc = xioctl(fd, IOMMU_IOAS_MAP, &cmd);

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

int mock_s2_setup(int fd, uint32_t *ioas_id, struct mock_dev *dev,
		  uint32_t *s2_id)
{
	int rc = mock_ioas_alloc(fd, ioas_id);

	if (!rc)
		rc = mock_dev_add(fd, *ioas_id, 0, dev);
	if (!rc)
		rc = mock_nest_parent_alloc(fd, dev->idev_id, *ioas_id, s2_id);
	return rc;
}

int mock_viommu_alloc_type(int fd, uint32_t idev_id, uint32_t hwpt_id,
			   uint32_t type, uint32_t flags, int32_t kvm_fd,
			   uint32_t *viommu_id)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.type = type,
		.dev_id = idev_id,
		.hwpt_id = hwpt_id,
		.kvm_fd = kvm_fd,
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
				      IOMMU_VIOMMU_TYPE_SELFTEST, 0, 0, viommu_id);
}

int mock_vdevice_alloc(int fd, uint32_t viommu_id, uint32_t idev_id,
		       uint64_t virt_id, uint32_t *vdev_id)
{
	struct iommu_vdevice_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.dev_id = idev_id,
		.virt_id = virt_id,
	};
	int rc = xioctl(fd, IOMMU_VDEVICE_ALLOC, &cmd);

	if (!rc)
		*vdev_id = cmd.out_vdevice_id;
	return rc;
}

int mock_nested_alloc(int fd, uint32_t idev_id, uint32_t viommu_id,
		      uint32_t fault_id, uint32_t *hwpt_id)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = fault_id ? IOMMU_HWPT_FAULT_ID_VALID : 0,
		.dev_id = idev_id,
		.pt_id = viommu_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = fault_id,
	};
	int rc = xioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!rc)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

int mock_dev_replace(int fd, uint32_t stdev_id, uint32_t pt_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.mock_domain_replace = { .pt_id = pt_id },
	};

	return xioctl(fd, IOMMU_TEST_CMD, &cmd);
}

int mock_viommu_invalidate(int fd, uint32_t viommu_id, uint32_t vdev_id,
			   uint32_t nr, uint32_t cache_id, uint32_t *done)
{
	struct iommu_viommu_invalidate_selftest inv[64];
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = viommu_id,
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		.data_uptr = (uintptr_t)inv,
		.entry_len = sizeof(inv[0]),
		.entry_num = nr,
	};
	int rc;

	if (nr > 64)
		return -EINVAL;
	for (uint32_t i = 0; i < nr; i++)
		inv[i] = (struct iommu_viommu_invalidate_selftest){
			.vdev_id = vdev_id,
			.cache_id = cache_id,
		};
	rc = xioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);
	if (done)
		*done = cmd.entry_num;
	return rc;
}

int mock_veventq_alloc(int fd, uint32_t viommu_id, uint32_t depth,
		       uint32_t *veventq_id, int *veventq_fd)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = depth,
	};
	int rc = xioctl(fd, IOMMU_VEVENTQ_ALLOC, &cmd);

	if (!rc) {
		*veventq_id = cmd.out_veventq_id;
		*veventq_fd = cmd.out_veventq_fd;
	}
	return rc;
}

int mock_trigger_vevent(int fd, uint32_t idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_TRIGGER_VEVENT,
		.trigger_vevent = { .dev_id = idev_id },
	};

	return xioctl(fd, IOMMU_TEST_CMD, &cmd);
}

int mock_fault_alloc(int fd, uint32_t *fault_id, int *fault_fd)
{
	return mock_fault_alloc_flags(fd, 0, fault_id, fault_fd);
}

int mock_fault_alloc_flags(int fd, uint32_t flags, uint32_t *fault_id,
			   int *fault_fd)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd), .flags = flags };
	int rc = xioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);

	if (!rc) {
		*fault_id = cmd.out_fault_id;
		*fault_fd = cmd.out_fault_fd;
	}
	return rc;
}

int mock_trigger_iopf(int fd, uint32_t idev_id, uint32_t pasid,
		      uint32_t grpid)
{
	return mock_trigger_iopf_group(fd, idev_id, pasid, grpid, 1);
}

int mock_trigger_iopf_group(int fd, uint32_t idev_id, uint32_t pasid,
			    uint32_t grpid, uint32_t nr_faults)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = idev_id,
			.pasid = pasid,
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ,
			.addr = MOCK_IOPF_ADDR,
			.nr_faults = nr_faults,
		},
	};

	return xioctl(fd, IOMMU_TEST_CMD, &cmd);
}

int mock_hw_queue_alloc(int fd, uint32_t viommu_id, uint32_t index,
			uint64_t iova, uint64_t len, uint32_t *hw_queue_id)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = IOMMU_HW_QUEUE_TYPE_SELFTEST,
		.index = index,
		.nesting_parent_iova = iova,
		.length = len,
	};
	int rc = xioctl(fd, IOMMU_HW_QUEUE_ALLOC, &cmd);

	if (!rc)
		*hw_queue_id = cmd.out_hw_queue_id;
	return rc;
}

int mock_viommu_vmid(int fd, uint32_t viommu_id, uint32_t *vmid)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_VIOMMU_GET_VMID,
		.id = viommu_id,
	};
	int rc = xioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (!rc)
		*vmid = cmd.viommu_vmid.out_vmid;
	return rc;
}

int mock_viommu_set_inval_delay(int fd, uint32_t viommu_id, uint32_t delay_us)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_VIOMMU_SET_INVAL_DELAY,
		.id = viommu_id,
		.viommu_inval_delay = { .delay_us = delay_us },
	};

	return xioctl(fd, IOMMU_TEST_CMD, &cmd);
}

int mock_viommu_alloc_kvm(int fd, uint32_t idev_id, uint32_t hwpt_id,
			  int kvm_fd, uint32_t *viommu_id)
{
	if (kvm_fd < 0)
		return mock_viommu_alloc(fd, idev_id, hwpt_id, viommu_id);
	return mock_viommu_alloc_type(fd, idev_id, hwpt_id,
				      IOMMU_VIOMMU_TYPE_SELFTEST,
				      IOMMU_VIOMMU_ALLOC_KVM_FD, kvm_fd,
				      viommu_id);
}

int kvm_vm_create(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		vm = -errno;
	close(kvm);
	return vm;
}

int mock_fdinfo_field(const char *path, uint32_t obj_id, const char *key,
		      int64_t *val)
{
	char pat[64], *line = NULL, *p, *end;
	size_t cap = 0;
	unsigned int id;
	int rc = -ENOENT;
	FILE *f;

	if (obj_id)
		snprintf(pat, sizeof(pat), " %s=", key);
	else
		snprintf(pat, sizeof(pat), "%s:\t", key);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (rc == -ENOENT && getline(&line, &cap, f) > 0) {
		if (obj_id) {
			if (sscanf(line, "iommufd-object:\tid=%u ", &id) != 1 ||
			    id != obj_id)
				continue;
			p = strstr(line, pat);
		} else {
			p = strncmp(line, pat, strlen(pat)) ? NULL : line;
			if (!p)
				continue;
		}
		if (!p)
			break;
		p += strlen(pat);
		*val = strtoll(p, &end, 0);
		if (end != p && (*end == ' ' || *end == '\n' || !*end))
			rc = 0;
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

int mock_fdinfo_obj_field(int fd, uint32_t obj_id, const char *key,
			  int64_t *val)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return mock_fdinfo_field(path, obj_id, key, val);
}
