// SPDX-License-Identifier: GPL-2.0-only
/*
 * fault_virt_id - an IO page fault message carries the vDEVICE's virt_id
 * (IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) when the fault queue asked for it
 * (IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID) and the fault came through a nested HWPT
 * on that vDEVICE's vIOMMU; every other message is what it was before the
 * series. Runs in the test VM (mock driver).
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

/* dev leaves its nested HWPT, which goes, for a new one on pt with fault */
static int reattach(int fd, const struct mock_dev *dev, uint32_t ioas,
		    uint32_t pt, uint32_t fault, uint32_t *nested)
{
	return mock_dev_replace(fd, dev->stdev_id, ioas) ?:
	       mock_destroy(fd, *nested) ?:
	       mock_nested_alloc(fd, dev->idev_id, pt, fault, nested) ?:
	       mock_dev_replace(fd, dev->stdev_id, *nested);
}

int main(void)
{
	uint32_t ioas, s2, viommu, vdev, fault_id, plain_id, nested, plain, unused;
	struct iommu_hwpt_pgfault msg;
	struct mock_dev dev, bare;
	int fd, fault_fd, plain_fd, unused_fd;

	tap_plan(14);
	fd = mock_open();
	if (fd < 0 || mock_ioas_alloc(fd, &ioas) ||
	    mock_dev_add(fd, ioas, 0, &dev) || mock_dev_add(fd, ioas, 0, &bare) ||
	    mock_nest_parent_alloc(fd, dev.idev_id, ioas, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu) ||
	    mock_fault_alloc_flags(fd, IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID, &fault_id,
				   &fault_fd) ||
	    mock_fault_alloc(fd, &plain_id, &plain_fd))
		tap_bail("cannot set up the mock devices and the fault queues");
	tap_is(mock_fault_alloc_flags(fd, 1 << 1, &unused, &unused_fd), -EOPNOTSUPP,
	       "a fault queue flag the kernel does not know: EOPNOTSUPP");

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

	/* The same device and vIOMMU, on a queue that did not ask */
	if (reattach(fd, &dev, ioas, viommu, plain_id, &nested))
		tap_bail("cannot attach the device to a HWPT of the plain queue");
	tap_ok(fault_roundtrip(fd, plain_fd, dev.idev_id, &msg) == 0 &&
	       msg.flags == IOMMU_PGFAULT_FLAGS_LAST_PAGE && msg.virt_id == 0,
	       "a queue allocated without IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID: the old message (flags 0x%x virt_id 0x%x)",
	       msg.flags, msg.virt_id);

	/*
	 * The device keeps its vDEVICE, but faults through a nested HWPT on
	 * the bare nesting parent: no guest knows it by that virt_id there
	 */
	if (reattach(fd, &dev, ioas, s2, fault_id, &nested))
		tap_bail("cannot attach the device to a nested HWPT on the S2");
	tap_ok(fault_roundtrip(fd, fault_fd, dev.idev_id, &msg) == 0 &&
	       msg.flags == IOMMU_PGFAULT_FLAGS_LAST_PAGE && msg.virt_id == 0,
	       "a vDEVICE, but a nested HWPT on the bare S2: no virt_id (flags 0x%x virt_id 0x%x)",
	       msg.flags, msg.virt_id);

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

	/*
	 * Back behind a nested HWPT on its vIOMMU, then the vDEVICE destroyed
	 * under it: the virt_id is looked up at each delivery, not kept from
	 * the attach, so the faults after carry none
	 */
	if (reattach(fd, &dev, ioas, viommu, fault_id, &nested))
		tap_bail("cannot re-attach the device to its vIOMMU");
	tap_ok(fault_roundtrip(fd, fault_fd, dev.idev_id, &msg) == 0 &&
	       (msg.flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) && msg.virt_id == VIRT_ID,
	       "back behind the vIOMMU's nested HWPT: the virt_id again (flags 0x%x virt_id 0x%x)",
	       msg.flags, msg.virt_id);
	if (mock_destroy(fd, vdev))
		tap_bail("cannot destroy the vDEVICE");
	tap_ok(fault_roundtrip(fd, fault_fd, dev.idev_id, &msg) == 0 &&
	       !(msg.flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) && msg.virt_id == 0,
	       "its vDEVICE destroyed while it sits behind the vIOMMU's nested HWPT: no virt_id (flags 0x%x virt_id 0x%x)",
	       msg.flags, msg.virt_id);
	close(plain_fd);
	close(fault_fd);
	close(fd);
	return tap_done();
}
