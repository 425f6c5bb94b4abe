// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace_events - every iommufd trace event fires as often as the uAPI calls
 * made and with their values: VMIDs per vIOMMU on a shared S2, the S2
 * invalidation fan-out of one unmap, paired guest invalidations, vEVENT
 * outcomes, IOPF delivery and response, and object teardown. Runs in the
 * test VM against the mock driver.
 *
 * The VMIDs are checked three ways that do not share code: the assign and
 * release events, the mock's IOMMU_TEST_OP_VIOMMU_GET_VMID, and fdinfo.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define NR_VIOMMUS	3
#define NR_INVS		5
#define NR_VEVENTS	5
#define VEVENTQ_DEPTH	2
#define VIRT_ID		0x42
#define VIRT_ID2	0x43
#define IOPF_GRPID	7
#define BUF_LEN		(64 * 1024)

static struct trace_rec *recs;
static int nrecs;

/* Read the buffer anew and empty it, so each step sees its own events */
static void collect(void)
{
	nrecs = trace_take(&recs);
	if (nrecs < 0)
		tap_bail("cannot read the trace buffer");
}

static uint64_t f(const struct trace_rec *r, const char *key)
{
	uint64_t v = ~0ULL;

	trace_field_u64(r, key, &v);
	return v;
}

static int64_t fs(const struct trace_rec *r, const char *key)
{
	int64_t v = -99999;

	trace_field_s64(r, key, &v);
	return v;
}

/* The i-th record of event, or NULL */
static const struct trace_rec *nth(const char *event, int i)
{
	return trace_nth(recs, nrecs, event, i);
}

/* The one record of event for vIOMMU id, or NULL if not exactly one */
static const struct trace_rec *of_viommu(const char *event, uint32_t id)
{
	const struct trace_rec *hit = NULL;
	int n = 0;

	for (int k = 0; k < nrecs; k++)
		if (!strcmp(recs[k].event, event) && f(&recs[k], "viommu") == id) {
			hit = &recs[k];
			n++;
		}
	return n == 1 ? hit : NULL;
}

/* Whether the mock driver and fdinfo both give vIOMMU id the VMID vmid */
static bool driver_vmid_is(int fd, uint32_t id, uint32_t vmid)
{
	uint32_t got = 0;
	int64_t shown = -1;
	int rc = mock_viommu_vmid(fd, id, &got);

	if (rc || got != vmid)
		tap_diag("viommu %u: GET_VMID rc %d vmid %u, want %u", id, rc,
			 got, vmid);
	if (mock_fdinfo_obj_field(fd, id, "vmid", &shown) || shown != vmid)
		tap_diag("viommu %u: fdinfo vmid %lld, want %u", id,
			 (long long)shown, vmid);
	return !rc && got == vmid && shown == vmid;
}

static int count(const char *event)
{
	return trace_count(recs, nrecs, event);
}

static int count_field(const char *event, const char *key, const char *val)
{
	int c = 0;

	for (int k = 0; k < nrecs; k++) {
		if (strcmp(recs[k].event, event))
			continue;
		for (int i = 0; i < recs[k].nfields; i++)
			if (!strcmp(recs[k].field[i].key, key) &&
			    !strcmp(recs[k].field[i].val, val))
				c++;
	}
	return c;
}

int main(void)
{
	uint32_t ioas, s2, viommu[NR_VIOMMUS], vmid[NR_VIOMMUS];
	uint32_t vdev, vdev2, veventq, fault_id, nested, nested2, done;
	uint32_t extra, extra_vmid;
	struct mock_dev dev, dev2;
	struct iommu_hwpt_pgfault pgfault = {};
	struct iommu_hwpt_page_response resp = {};
	uint64_t iova = 0;
	int fd, veventq_fd, fault_fd, rc, ok;
	void *buf;

	tap_plan(50);
	if (!trace_event_exists("iommufd", "iommufd_viommu_vmid_assign"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_system_enable("iommufd", true))
		tap_bail("cannot enable the iommufd events");
	trace_clear();

	fd = mock_open();
	buf = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || buf == MAP_FAILED || mock_ioas_alloc(fd, &ioas) ||
	    mock_dev_add(fd, ioas, 0, &dev) || mock_dev_add(fd, ioas, 0, &dev2) ||
	    mock_nest_parent_alloc(fd, dev.idev_id, ioas, &s2) ||
	    mock_ioas_map(fd, ioas, buf, BUF_LEN, &iova))
		tap_bail("cannot set up mock devices, a nesting parent and a mapping");

	/* A: three vIOMMUs on one S2 get three distinct VMIDs */
	for (int i = 0; i < NR_VIOMMUS; i++)
		if (mock_viommu_alloc(fd, dev.idev_id, s2, &viommu[i]))
			tap_bail("IOMMU_VIOMMU_ALLOC failed");
	collect();
	tap_is(count("iommufd_viommu_vmid_assign"), NR_VIOMMUS,
	       "one VMID assigned per vIOMMU");
	ok = 1;
	for (int i = 0; i < NR_VIOMMUS; i++) {
		const struct trace_rec *r = nth("iommufd_viommu_vmid_assign", i);

		ok &= r && f(r, "viommu") == viommu[i] && fs(r, "guest_id") == -1;
		r = of_viommu("iommufd_viommu_vmid_assign", viommu[i]);
		vmid[i] = r ? f(r, "vmid") : 0;
	}
	tap_ok(ok, "VMID events name each vIOMMU in order, no guest id");
	tap_ok(vmid[0] && vmid[0] != vmid[1] && vmid[1] != vmid[2] &&
	       vmid[0] != vmid[2], "the VMIDs are distinct and non-zero (%u %u %u)",
	       vmid[0], vmid[1], vmid[2]);
	ok = 1;
	for (int i = 0; i < NR_VIOMMUS; i++)
		ok &= driver_vmid_is(fd, viommu[i], vmid[i]);
	tap_ok(ok, "GET_VMID and fdinfo give each vIOMMU the VMID its assign event announced");

	/*
	 * A': a fourth vIOMMU on the S2, destroyed at once: a VMID none of
	 * the others has, and the release event gives back that one.
	 */
	if (mock_viommu_alloc(fd, dev.idev_id, s2, &extra))
		tap_bail("IOMMU_VIOMMU_ALLOC failed");
	collect();
	{
		const struct trace_rec *r =
			of_viommu("iommufd_viommu_vmid_assign", extra);

		extra_vmid = r ? f(r, "vmid") : 0;
		tap_ok(r && extra_vmid && extra_vmid != vmid[0] &&
		       extra_vmid != vmid[1] && extra_vmid != vmid[2] &&
		       driver_vmid_is(fd, extra, extra_vmid),
		       "a fourth vIOMMU gets a VMID (%u) of its own, as announced",
		       extra_vmid);
	}
	tap_is(mock_destroy(fd, extra), 0, "the fourth vIOMMU destroyed");
	collect();
	{
		const struct trace_rec *r =
			of_viommu("iommufd_viommu_vmid_release", extra);

		tap_ok(count("iommufd_viommu_vmid_release") == 1 && r &&
		       f(r, "vmid") == extra_vmid,
		       "its release event gives back its VMID");
	}
	tap_ok(driver_vmid_is(fd, viommu[0], vmid[0]) &&
	       driver_vmid_is(fd, viommu[1], vmid[1]) &&
	       driver_vmid_is(fd, viommu[2], vmid[2]),
	       "the other vIOMMUs keep their VMIDs");

	/* B: one unmap of the S2 invalidates once per VMID */
	rc = mock_ioas_unmap(fd, ioas, iova, BUF_LEN);
	collect();
	{
		const struct trace_rec *s = nth("iommufd_s2_invalidate_start", 0);
		const struct trace_rec *e = nth("iommufd_s2_invalidate_end", 0);
		int seen[NR_VIOMMUS] = {}, ranges = 1;

		tap_is(count("iommufd_s2_invalidate_start"), 1,
		       "one S2 start for the one nesting parent (unmap rc %d)", rc);
		tap_is(s ? f(s, "hwpt") : 0, s2, "S2 start names the nesting parent");
		tap_is(s ? f(s, "iova") : 0, iova, "S2 start iova");
		tap_is(s ? f(s, "length") : 0, BUF_LEN, "S2 start length");
		tap_is(count("iommufd_s2_invalidate_end"), 1, "one S2 end");
		tap_ok(s && e && f(s, "seq") == f(e, "seq") && f(s, "seq") != 0,
		       "S2 start and end share a sequence number");
		tap_is(e ? f(e, "unmapped") : 0, BUF_LEN, "S2 end unmapped length");
		tap_is(e ? fs(e, "result") : -1, 0, "S2 end result");
		tap_is(count("iommufd_viommu_vmid_invalidate"), NR_VIOMMUS,
		       "one VMID invalidation per vIOMMU");
		for (int i = 0; i < count("iommufd_viommu_vmid_invalidate"); i++) {
			const struct trace_rec *r =
				nth("iommufd_viommu_vmid_invalidate", i);

			for (int k = 0; k < NR_VIOMMUS; k++)
				if (f(r, "vmid") == vmid[k] &&
				    f(r, "viommu") == viommu[k])
					seen[k]++;
			ranges &= f(r, "iova") == iova && f(r, "size") == BUF_LEN;
		}
		tap_ok(seen[0] == 1 && seen[1] == 1 && seen[2] == 1,
		       "each VMID invalidated exactly once, with its vIOMMU");
		/* the driver's truth of the fan-out lies inside the S2 pair */
		{
			int inside = 0;

			for (int i = 0; i < count("iommufd_viommu_vmid_invalidate"); i++) {
				const struct trace_rec *r =
					nth("iommufd_viommu_vmid_invalidate", i);

				inside += s && e && r > s && r < e;
			}
			tap_is(inside, NR_VIOMMUS,
			       "the VMID invalidations come between the S2 start and its end");
		}
		tap_ok(ranges, "each VMID invalidation covers exactly the unmap");
	}

	/* C: guest invalidations pair start and end with entry counts */
	if (mock_vdevice_alloc(fd, viommu[0], dev.idev_id, VIRT_ID, &vdev) ||
	    mock_vdevice_alloc(fd, viommu[1], dev2.idev_id, VIRT_ID2, &vdev2))
		tap_bail("IOMMU_VDEVICE_ALLOC failed");
	collect();
	ok = 1;
	for (int i = 0; i < NR_INVS; i++)
		ok &= !mock_viommu_invalidate(fd, viommu[0], VIRT_ID, i + 1, 0,
					      &done) && done == (uint32_t)i + 1;
	tap_ok(ok, "%d guest invalidations succeed", NR_INVS);
	tap_is(mock_viommu_invalidate(fd, viommu[0], VIRT_ID, 1,
				      MOCK_DEV_CACHE_ID_MAX + 1, &done),
	       -EINVAL, "an invalid entry fails with EINVAL");
	collect();
	tap_is(count("iommufd_cache_invalidate_start"), NR_INVS + 1,
	       "one start per IOMMU_HWPT_INVALIDATE");
	tap_is(count("iommufd_cache_invalidate_end"), NR_INVS + 1,
	       "one end per IOMMU_HWPT_INVALIDATE");
	{
		int paired = 1, counts = 1, viommu_ok = 1;

		for (int i = 0; i < NR_INVS + 1; i++) {
			const struct trace_rec *s =
				nth("iommufd_cache_invalidate_start", i);
			const struct trace_rec *e =
				nth("iommufd_cache_invalidate_end", i);

			if (!s || !e) {
				paired = 0;
				break;
			}
			paired &= f(s, "seq") == f(e, "seq") &&
				  (i == 0 || f(s, "seq") > f(nth("iommufd_cache_invalidate_start", i - 1), "seq"));
			viommu_ok &= f(s, "viommu") == viommu[0] &&
				     f(s, "pt") == viommu[0] &&
				     f(e, "viommu") == viommu[0];
			if (i < NR_INVS)
				counts &= f(s, "entries") == (uint64_t)i + 1 &&
					  f(e, "entries") == (uint64_t)i + 1 &&
					  f(e, "done") == (uint64_t)i + 1 &&
					  fs(e, "result") == 0;
		}
		tap_ok(paired, "each start pairs with its end by a unique seq");
		tap_ok(counts, "entries requested and done, result 0");
		{
			const struct trace_rec *e =
				nth("iommufd_cache_invalidate_end", NR_INVS);

			tap_ok(e && f(e, "entries") == 1 && f(e, "done") == 0 &&
			       fs(e, "result") == -EINVAL,
			       "the failed request ends with done 0, result -EINVAL");
		}
		tap_ok(viommu_ok, "every event names the vIOMMU");
	}

	/*
	 * Attach both devices to nested HWPTs on their vIOMMUs, the first
	 * with a fault queue: the mock reports vEVENTs and IOPFs only then.
	 */
	if (mock_fault_alloc(fd, &fault_id, &fault_fd) ||
	    mock_nested_alloc(fd, dev.idev_id, viommu[0], fault_id, &nested) ||
	    mock_dev_replace(fd, dev.stdev_id, nested) ||
	    mock_nested_alloc(fd, dev2.idev_id, viommu[1], 0, &nested2) ||
	    mock_dev_replace(fd, dev2.stdev_id, nested2))
		tap_bail("cannot attach the devices to nested HWPTs");
	collect();
	{
		const struct trace_rec *r = nth("iommufd_hwpt_nested_alloc", 0);

		tap_ok(count("iommufd_hwpt_nested_alloc") == 2 && r &&
		       f(r, "hwpt") == nested && f(r, "viommu") == viommu[0] &&
		       f(r, "parent") == s2,
		       "nested HWPT alloc names its vIOMMU and parent");
	}

	/* D: a full vEVENTQ loses events, and says so */
	if (mock_veventq_alloc(fd, viommu[0], VEVENTQ_DEPTH, &veventq,
			       &veventq_fd))
		tap_bail("IOMMU_VEVENTQ_ALLOC failed");
	collect();
	ok = 1;
	for (int i = 0; i < NR_VEVENTS; i++)
		ok &= !mock_trigger_vevent(fd, dev.idev_id);
	tap_ok(ok, "%d vEVENTs reported", NR_VEVENTS);
	tap_is(mock_trigger_vevent(fd, dev2.idev_id), -EOPNOTSUPP,
	       "a vEVENT on a vIOMMU without a vEVENTQ fails with EOPNOTSUPP");
	collect();
	tap_is(count_field("iommufd_vevent_report", "outcome", "queued"),
	       VEVENTQ_DEPTH, "as many queued as the queue holds");
	tap_is(count_field("iommufd_vevent_report", "outcome", "lost_full"),
	       NR_VEVENTS - VEVENTQ_DEPTH, "the rest lost because it was full");
	tap_is(count_field("iommufd_vevent_report", "virt_id", "0x42"),
	       NR_VEVENTS, "each names the vDEVICE's virt_id");
	{
		char id[16];

		snprintf(id, sizeof(id), "%u", veventq);
		tap_is(count_field("iommufd_vevent_report", "veventq", id),
		       NR_VEVENTS, "each names the vEVENTQ");
	}
	tap_ok(count_field("iommufd_vevent_report", "outcome", "no_queue") == 1 &&
	       count_field("iommufd_vevent_report", "virt_id", "0x43") == 1 &&
	       count_field("iommufd_vevent_report", "veventq", "0") == 1,
	       "the one without a queue is traced as no_queue, veventq 0");

	/* E: an IO page fault is delivered with the vRID, then answered */
	tap_is(mock_trigger_iopf(fd, dev.idev_id, 0, IOPF_GRPID), 0,
	       "IOPF triggered");
	tap_is(read(fault_fd, &pgfault, sizeof(pgfault)), sizeof(pgfault),
	       "the fault is read from the fault queue");
	resp.cookie = pgfault.cookie;
	resp.code = IOMMUFD_PAGE_RESP_SUCCESS;
	tap_is(write(fault_fd, &resp, sizeof(resp)), sizeof(resp),
	       "the response is written");
	collect();
	{
		const struct trace_rec *d = nth("iommufd_fault_deliver", 0);
		const struct trace_rec *r = nth("iommufd_fault_respond", 0);

		tap_is(count("iommufd_fault_deliver"), 1, "one fault delivered");
		tap_ok(d && f(d, "dev") == dev.idev_id && fs(d, "virt_id") == VIRT_ID &&
		       f(d, "grpid") == IOPF_GRPID && f(d, "fault") == fault_id,
		       "delivery names the device, its vRID, the group and queue");
		tap_ok(count("iommufd_fault_respond") == 1 && r &&
		       f(r, "cookie") == pgfault.cookie && f(r, "code") == 0 &&
		       f(r, "grpid") == IOPF_GRPID && f(r, "dev") == dev.idev_id &&
		       count_field("iommufd_fault_respond", "reason", "user") == 1,
		       "the response is traced with its cookie, code and reason user");
	}

	/*
	 * F: a fault the VMM read but never answered is answered by the
	 * kernel ("invalid") when the device leaves the HWPT, and traced so
	 */
	tap_is(mock_trigger_iopf(fd, dev.idev_id, 0, IOPF_GRPID + 1), 0,
	       "a second IOPF triggered");
	tap_is(read(fault_fd, &pgfault, sizeof(pgfault)), sizeof(pgfault),
	       "it is read and left unanswered");
	if (mock_dev_replace(fd, dev.stdev_id, ioas) ||
	    mock_dev_replace(fd, dev2.stdev_id, ioas))
		tap_bail("cannot detach the devices from the nested HWPTs");
	collect();
	{
		const struct trace_rec *r = nth("iommufd_fault_respond", 0);

		tap_ok(count("iommufd_fault_respond") == 1 && r &&
		       f(r, "cookie") == pgfault.cookie && f(r, "code") == 1 &&
		       f(r, "grpid") == IOPF_GRPID + 1 &&
		       f(r, "dev") == dev.idev_id &&
		       count_field("iommufd_fault_respond", "reason", "auto") == 1,
		       "detaching answers it: traced with code 1 (invalid), reason auto");
	}

	/* G: closing the context tears everything down, each traced once */
	close(veventq_fd);
	close(fault_fd);
	close(fd);
	collect();
	tap_is(count("iommufd_viommu_destroy"), NR_VIOMMUS, "vIOMMUs destroyed");
	ok = count("iommufd_viommu_vmid_release") == NR_VIOMMUS;
	for (int i = 0; ok && i < NR_VIOMMUS; i++) {
		const struct trace_rec *r =
			of_viommu("iommufd_viommu_vmid_release", viommu[i]);

		ok &= r && f(r, "vmid") == vmid[i];
	}
	tap_ok(ok, "each vIOMMU releases once the VMID it was assigned");
	tap_ok(count("iommufd_vdevice_destroy") == 2 &&
	       count_field("iommufd_vdevice_destroy", "virt_id", "0x42") == 1 &&
	       count_field("iommufd_vdevice_destroy", "virt_id", "0x43") == 1,
	       "both vDEVICEs destroyed with their virt_ids");
	tap_is(count("iommufd_veventq_destroy"), 1, "the vEVENTQ destroyed");
	tap_is(count("iommufd_hwpt_nested_destroy"), 2, "the nested HWPTs destroyed");

	trace_system_enable("iommufd", false);
	free(recs);
	return tap_done();
}
