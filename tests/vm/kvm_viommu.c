// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_viommu - IOMMU_VIOMMU_ALLOC with IOMMU_VIOMMU_ALLOC_KVM_FD: a vIOMMU
 * tied to a real KVM VM, every error path, both teardown orders, the VM's
 * identity in the trace events. Runs in the test VM (/dev/kvm works there with nested SVM).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

struct ctx {
	int fd;
	uint32_t ioas, s2;
	struct mock_dev dev;
};

static void ctx_open(struct ctx *c)
{
	c->fd = mock_open();
	if (c->fd < 0 || mock_s2_setup(c->fd, &c->ioas, &c->dev, &c->s2))
		tap_bail("cannot set up a mock device and nesting parent");
}

static int viommu_alloc(struct ctx *c, uint32_t flags, int kvm_fd,
			uint32_t *id)
{
	return mock_viommu_alloc_type(c->fd, c->dev.idev_id, c->s2,
				      IOMMU_VIOMMU_TYPE_SELFTEST, flags, kvm_fd,
				      id);
}

int main(void)
{
	struct trace_rec *recs;
	struct ctx c;
	uint32_t id, id2, vdev, done, fault_id, hwpt;
	int vm, null_fd, fault_fd, n;
	int64_t kvm_pid = -1;

	tap_plan(21);
	vm = kvm_vm_create();
	if (vm < 0)
		tap_bail("KVM_CREATE_VM failed: is /dev/kvm usable (-cpu max)?");
	trace_system_enable("iommufd", true);
	trace_clear();
	ctx_open(&c);

	tap_is(viommu_alloc(&c, 0, 0, &id), 0, "alloc without a VM still works");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm, &id2), 0,
	       "alloc with a KVM VM fd");
	n = trace_read(&recs);
	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (!strcmp(recs[i].event, "iommufd_viommu_alloc") &&
		    trace_field_u64(&recs[i], "viommu", &v) && v == id2)
			trace_field_s64(&recs[i], "kvm_pid", &kvm_pid);
	}
	tap_is(kvm_pid, getpid(), "the alloc event names the VM by its creator pid");
	kvm_pid = -1;
	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (!strcmp(recs[i].event, "iommufd_viommu_alloc") &&
		    trace_field_u64(&recs[i], "viommu", &v) && v == id)
			trace_field_s64(&recs[i], "kvm_pid", &kvm_pid);
	}
	tap_is(kvm_pid, 0, "a vIOMMU without a VM has kvm_pid 0");
	free(recs);

	/* Errors */
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, -1, &id), -EBADF,
	       "a negative fd: EBADF");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, 1000, &id), -EBADF,
	       "a closed fd: EBADF");
	null_fd = open("/dev/null", O_RDONLY);
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, null_fd, &id),
	       -EINVAL, "an fd that is not a KVM VM: EINVAL");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, c.fd, &id), -EINVAL,
	       "the iommufd itself: EINVAL");
	{
		int kvm = open("/dev/kvm", O_RDWR);

		tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, kvm, &id),
		       -EINVAL, "/dev/kvm (not a VM): EINVAL");
		close(kvm);
	}
	tap_is(viommu_alloc(&c, 1u << 1, 0, &id), -EOPNOTSUPP,
	       "an unknown flag: EOPNOTSUPP");
	tap_is(viommu_alloc(&c, 0, vm, &id), -EINVAL,
	       "kvm_fd set without the flag: EINVAL");
	close(null_fd);

	/* The VM fd closed first: the vIOMMU keeps the VM alive and works */
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm, &id), 0,
	       "a second vIOMMU on the same VM");
	close(vm);
	tap_is(mock_vdevice_alloc(c.fd, id, c.dev.idev_id, 0x55, &vdev), 0,
	       "after the VM fd is closed, a vDEVICE can be added");
	tap_is(mock_viommu_invalidate(c.fd, id, 0x55, 2, 0, &done), 0,
	       "and the vIOMMU invalidates");
	tap_is(mock_destroy(c.fd, vdev), 0, "vDEVICE destroyed");
	tap_is(mock_destroy(c.fd, id), 0, "the vIOMMU outliving its VM fd is destroyed");
	tap_is(mock_destroy(c.fd, id2), 0, "the last vIOMMU holding the VM is destroyed");

	/* The vIOMMU destroyed first: the VM is untouched */
	vm = kvm_vm_create();
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm, &id), 0,
	       "alloc on a new VM");
	tap_is(mock_destroy(c.fd, id), 0, "vIOMMU destroyed before its VM");
	tap_ok(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0,
	       "the VM still answers ioctls");
	close(vm);

	/* The context closed with a VM-backed vIOMMU alive */
	vm = kvm_vm_create();
	tap_ok(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm, &id) == 0 &&
	       mock_fault_alloc(c.fd, &fault_id, &fault_fd) == 0 &&
	       mock_nested_alloc(c.fd, c.dev.idev_id, id, fault_id, &hwpt) != -1,
	       "a VM-backed vIOMMU with a fault queue, left for close()");
	close(fault_fd);
	close(c.fd);
	close(vm);
	trace_system_enable("iommufd", false);
	return tap_done();
}
