// SPDX-License-Identifier: GPL-2.0-only
/*
 * object_events - an object userspace never saw fires neither its alloc nor
 * its destroy event; one it saw fires each exactly once.
 *
 * For each class a vIOMMU owns (vIOMMU, vDEVICE, nested HWPT, HW queue,
 * vEVENTQ) the allocating ioctl is made to fail after the driver accepted
 * the object, when the kernel copies the result back: the command sits in a
 * page that is made read-only once filled, so the ioctl reads it and fails
 * with EFAULT on the way out. Then a nested HWPT that the driver refuses.
 * Each failure must leave no event of its class; a successful allocation
 * and IOMMU_DESTROY of the same kind, as a control, leave one of each.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define VIRT_ID 0x51

static struct trace_rec *recs;
static int nrecs;
static long page_size;

/* Read the buffer anew and empty it, so each step sees its own events */
static void collect(void)
{
	nrecs = trace_take(&recs);
	if (nrecs < 0)
		tap_bail("cannot read the trace buffer");
}

static int count(const char *class, const char *what)
{
	char event[64];

	snprintf(event, sizeof(event), "iommufd_%s_%s", class, what);
	return trace_count(recs, nrecs, event);
}

/*
 * ioctl(fd, req, cmd) with cmd copied into a page that is read-only by the
 * time of the call: the kernel can read the command, not write its result.
 */
static int ioctl_readonly(int fd, unsigned long req, const void *cmd,
			  size_t len)
{
	void *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	if (page == MAP_FAILED)
		tap_bail("mmap failed");
	memcpy(page, cmd, len);
	if (mprotect(page, page_size, PROT_READ))
		tap_bail("mprotect failed");
	rc = ioctl(fd, req, page) ? -errno : 0;
	munmap(page, page_size);
	return rc;
}

/* The failed ioctl returned EFAULT and left no event of its class */
static void no_events(const char *class, int rc, const char *how)
{
	collect();
	tap_is(rc, -EFAULT, "%s: %s fails with EFAULT", class, how);
	tap_ok(count(class, "alloc") == 0 && count(class, "destroy") == 0,
	       "%s: no alloc and no destroy event (saw %d, %d)", class,
	       count(class, "alloc"), count(class, "destroy"));
}

/* A successful alloc then IOMMU_DESTROY: one event of each */
static void one_each(int fd, const char *class, int rc, uint32_t id)
{
	collect();
	tap_is(count(class, "alloc"), rc ? -1 : 1, "%s: one alloc event", class);
	rc = rc ?: mock_destroy(fd, id);
	collect();
	tap_is(count(class, "destroy"), rc ? -1 : 1,
	       "%s: one destroy event", class);
}

int main(void)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	uint32_t ioas, s2, viommu, id;
	struct mock_dev dev;
	uint64_t iova = 0;
	int fd, qfd, rc;
	void *buf;

	tap_plan(24);
	page_size = sysconf(_SC_PAGESIZE);
	if (!trace_event_exists("iommufd", "iommufd_viommu_alloc"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_system_enable("iommufd", true))
		tap_bail("cannot enable the iommufd events");

	fd = mock_open();
	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || buf == MAP_FAILED || mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_ioas_map(fd, ioas, buf, page_size, &iova) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu))
		tap_bail("cannot set up a mock device, an S2 and a vIOMMU");
	collect();

	{
		struct iommu_viommu_alloc cmd = {
			.size = sizeof(cmd),
			.type = IOMMU_VIOMMU_TYPE_SELFTEST,
			.dev_id = dev.idev_id,
			.hwpt_id = s2,
		};

		no_events("viommu", ioctl_readonly(fd, IOMMU_VIOMMU_ALLOC, &cmd,
						   sizeof(cmd)),
			  "IOMMU_VIOMMU_ALLOC with a read-only result");
		tap_is(trace_count(recs, nrecs, "iommufd_viommu_vmid_assign"),
		       trace_count(recs, nrecs, "iommufd_viommu_vmid_release"),
		       "viommu: the driver released the VMID it assigned");
		rc = mock_viommu_alloc(fd, dev.idev_id, s2, &id);
		one_each(fd, "viommu", rc, id);
	}
	{
		struct iommu_vdevice_alloc cmd = {
			.size = sizeof(cmd),
			.viommu_id = viommu,
			.dev_id = dev.idev_id,
			.virt_id = VIRT_ID,
		};

		no_events("vdevice", ioctl_readonly(fd, IOMMU_VDEVICE_ALLOC,
						    &cmd, sizeof(cmd)),
			  "IOMMU_VDEVICE_ALLOC with a read-only result");
		rc = mock_vdevice_alloc(fd, viommu, dev.idev_id, VIRT_ID, &id);
		one_each(fd, "vdevice", rc, id);
	}
	{
		struct iommu_hwpt_alloc cmd = {
			.size = sizeof(cmd),
			.dev_id = dev.idev_id,
			.pt_id = viommu,
			.data_type = IOMMU_HWPT_DATA_SELFTEST,
			.data_len = sizeof(data),
			.data_uptr = (uintptr_t)&data,
		};

		no_events("hwpt_nested", ioctl_readonly(fd, IOMMU_HWPT_ALLOC,
							&cmd, sizeof(cmd)),
			  "IOMMU_HWPT_ALLOC on a vIOMMU with a read-only result");
		/* A data type the mock driver refuses in alloc_domain_nested */
		cmd.data_type = IOMMU_HWPT_DATA_VTD_S1;
		rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd) ? -errno : 0;
		collect();
		tap_is(rc, -EOPNOTSUPP,
		       "hwpt_nested: a data type the driver refuses fails with EOPNOTSUPP");
		tap_ok(count("hwpt_nested", "alloc") == 0 &&
		       count("hwpt_nested", "destroy") == 0,
		       "hwpt_nested: the refused one fires no event (saw %d, %d)",
		       count("hwpt_nested", "alloc"),
		       count("hwpt_nested", "destroy"));
		rc = mock_nested_alloc(fd, dev.idev_id, viommu, 0, &id);
		one_each(fd, "hwpt_nested", rc, id);
	}
	{
		struct iommu_hw_queue_alloc cmd = {
			.size = sizeof(cmd),
			.viommu_id = viommu,
			.type = IOMMU_HW_QUEUE_TYPE_SELFTEST,
			.index = 0,
			.nesting_parent_iova = iova,
			.length = page_size,
		};

		no_events("hw_queue", ioctl_readonly(fd, IOMMU_HW_QUEUE_ALLOC,
						     &cmd, sizeof(cmd)),
			  "IOMMU_HW_QUEUE_ALLOC with a read-only result");
		rc = mock_hw_queue_alloc(fd, viommu, 0, iova, page_size, &id);
		one_each(fd, "hw_queue", rc, id);
	}
	{
		struct iommu_veventq_alloc cmd = {
			.size = sizeof(cmd),
			.viommu_id = viommu,
			.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
			.veventq_depth = 2,
		};

		no_events("veventq", ioctl_readonly(fd, IOMMU_VEVENTQ_ALLOC,
						    &cmd, sizeof(cmd)),
			  "IOMMU_VEVENTQ_ALLOC with a read-only result");
		rc = mock_veventq_alloc(fd, viommu, 2, &id, &qfd);
		/* its file holds the object: IOMMU_DESTROY needs it closed */
		if (!rc)
			close(qfd);
		one_each(fd, "veventq", rc, id);
	}

	close(fd);
	collect();
	tap_is(count("viommu", "destroy"), 1,
	       "closing the context destroys the one vIOMMU left, traced once");
	trace_system_enable("iommufd", false);
	free(recs);
	return tap_done();
}
