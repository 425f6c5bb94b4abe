// SPDX-License-Identifier: GPL-2.0-only
/*
 * fault_virt_id - an IO page fault message carries the vDEVICE's virt_id
 * (IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) when the device has a vDEVICE, and is
 * unchanged for a device without one. Runs in the test VM (mock driver).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "../lib/tap.h"

#define VIRT_ID 0x77
#define GRPID 5

/* Raise one IOPF on dev, read its message, answer it */
static int fault_roundtrip(int fd, int fault_fd, uint32_t idev_id,
			   struct iommu_hwpt_pgfault *msg)
{
	struct iommu_hwpt_page_response resp = {
		.code = IOMMUFD_PAGE_RESP_SUCCESS,
	};

	memset(msg, 0xa5, sizeof(*msg));
	if (mock_trigger_iopf(fd, idev_id, 0, GRPID))
		return -1;
	if (read(fault_fd, msg, sizeof(*msg)) != sizeof(*msg))
		return -1;
	resp.cookie = msg->cookie;
	return write(fault_fd, &resp, sizeof(resp)) == sizeof(resp) ? 0 : -1;
}

int main(void)
{
	uint32_t ioas, s2, viommu, vdev, fault_id, nested, plain;
	struct iommu_hwpt_pgfault msg;
	struct mock_dev dev, bare;
	int fd, fault_fd;

	tap_plan(10);
	fd = mock_open();
	if (fd < 0 || mock_ioas_alloc(fd, &ioas) ||
	    mock_dev_add(fd, ioas, 0, &dev) || mock_dev_add(fd, ioas, 0, &bare) ||
	    mock_nest_parent_alloc(fd, dev.idev_id, ioas, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu) ||
	    mock_fault_alloc(fd, &fault_id, &fault_fd))
		tap_bail("cannot set up the mock devices");

	/* A device with a vDEVICE, behind a nested HWPT on its vIOMMU */
	if (mock_vdevice_alloc(fd, viommu, dev.idev_id, VIRT_ID, &vdev) ||
	    mock_nested_alloc(fd, dev.idev_id, viommu, fault_id, &nested) ||
	    mock_dev_replace(fd, dev.stdev_id, nested))
		tap_bail("cannot attach the device with a vDEVICE");
	tap_is(fault_roundtrip(fd, fault_fd, dev.idev_id, &msg), 0,
	       "IOPF with a vDEVICE delivered and answered");
	tap_ok(msg.flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID,
	       "the message says virt_id is valid");
	tap_is(msg.virt_id, VIRT_ID, "virt_id is the vDEVICE's");
	tap_is(msg.dev_id, dev.idev_id, "dev_id is still the host device id");
	tap_is(msg.grpid, GRPID, "grpid as raised");

	/*
	 * A device without a vDEVICE, behind a nested HWPT on the plain
	 * nesting parent: today's message, bit for bit.
	 */
	if (mock_nested_alloc(fd, bare.idev_id, s2, fault_id, &plain) ||
	    mock_dev_replace(fd, bare.stdev_id, plain))
		tap_bail("cannot attach the device without a vDEVICE");
	tap_is(fault_roundtrip(fd, fault_fd, bare.idev_id, &msg), 0,
	       "IOPF without a vDEVICE delivered and answered");
	tap_is(msg.flags, IOMMU_PGFAULT_FLAGS_LAST_PAGE,
	       "flags as before: only LAST_PAGE (no PASID, no virt_id)");
	tap_is(msg.virt_id, 0, "the word that was __reserved stays 0");
	tap_is(msg.dev_id, bare.idev_id, "dev_id names the device");

	/* Once the vDEVICE is gone, its virt_id is not reported any more */
	if (mock_dev_replace(fd, dev.stdev_id, ioas) ||
	    mock_destroy(fd, nested) || mock_destroy(fd, vdev) ||
	    mock_nested_alloc(fd, dev.idev_id, s2, fault_id, &nested) ||
	    mock_dev_replace(fd, dev.stdev_id, nested))
		tap_bail("cannot destroy the vDEVICE and re-attach the device");
	tap_ok(fault_roundtrip(fd, fault_fd, dev.idev_id, &msg) == 0 &&
	       !(msg.flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) && msg.virt_id == 0,
	       "after its vDEVICE is destroyed, the device's faults carry no virt_id");
	close(fault_fd);
	close(fd);
	return tap_done();
}
