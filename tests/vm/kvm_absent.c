// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_absent - IOMMU_VIOMMU_ALLOC_KVM_FD when no KVM VM can exist: KVM is
 * a module not loaded yet (no fd can be a VM: EINVAL), or the kernel has
 * no KVM at all (EOPNOTSUPP). The suite runs this before loading KVM.
 *
 * Usage: kvm_absent module|none
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "../lib/tap.h"

int main(int argc, char **argv)
{
	uint32_t ioas, s2, id;
	struct mock_dev dev;
	int fd, null_fd, want;

	if (argc != 2 || (strcmp(argv[1], "module") && strcmp(argv[1], "none"))) {
		fprintf(stderr, "usage: kvm_absent module|none\n");
		return 2;
	}
	want = strcmp(argv[1], "module") ? -EOPNOTSUPP : -EINVAL;
	tap_plan(5);
	fd = mock_open();
	if (fd < 0 || mock_s2_setup(fd, &ioas, &dev, &s2))
		tap_bail("cannot set up a mock device and nesting parent");
	null_fd = open("/dev/null", O_RDWR);

	tap_ok(access("/dev/kvm", F_OK) != 0, "no /dev/kvm (KVM %s)",
	       want == -EINVAL ? "not loaded" : "not built");
	tap_is(mock_viommu_alloc_type(fd, dev.idev_id, s2, IOMMU_VIOMMU_TYPE_SELFTEST,
				      IOMMU_VIOMMU_ALLOC_KVM_FD, null_fd, &id),
	       want, "the flag with an open fd: %s", want == -EINVAL ? "EINVAL" : "EOPNOTSUPP");
	/* The fd is looked up only where KVM could exist */
	tap_is(mock_viommu_alloc_type(fd, dev.idev_id, s2, IOMMU_VIOMMU_TYPE_SELFTEST,
				      IOMMU_VIOMMU_ALLOC_KVM_FD, 1000, &id),
	       want == -EINVAL ? -EBADF : -EOPNOTSUPP, "the flag with a closed fd: %s",
	       want == -EINVAL ? "EBADF" : "EOPNOTSUPP");
	tap_is(mock_viommu_alloc_type(fd, dev.idev_id, s2, IOMMU_VIOMMU_TYPE_SELFTEST,
				      0, 0, &id), 0, "without the flag: allocated");
	tap_is(mock_viommu_alloc_type(fd, dev.idev_id, s2, IOMMU_VIOMMU_TYPE_SELFTEST,
				      0, null_fd, &id), -EINVAL,
	       "kvm_fd set without the flag: EINVAL");
	close(fd);
	return tap_done();
}
