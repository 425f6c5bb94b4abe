// SPDX-License-Identifier: GPL-2.0-only
/*
 * s2_paths - the S2 invalidation events come from wherever the S2 of a
 * nesting parent is unmapped, once per parent, each start paired with its
 * end by a (ictx, seq) of its own: IOMMU_IOAS_UNMAP, VFIO_IOMMU_UNMAP_DMA
 * on the VFIO compat IOAS, a dma-buf revoked by its exporter, the parent
 * leaving its IOAS; and none for an unmap that unmaps nothing. Each pair
 * holds the driver's VMID invalidations of the vIOMMUs on that S2. Runs in
 * the test VM (mock driver).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "lib/tracefs.h"
#include "../lib/tap.h"

#define AREA_LEN	(64 * 1024)

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
	uint64_t v = 0xbad0bad0bad0bad0ULL;

	if (r)
		trace_field_u64(r, key, &v);
	return v;
}

static int count(const char *event)
{
	return trace_count(recs, nrecs, event);
}

static const struct trace_rec *nth(const char *event, int i)
{
	return trace_nth(recs, nrecs, event, i);
}

/*
 * The S2 events just collected are one start and one end for each of the
 * n parents in hwpt[], each end after its start with the same seq, all
 * seqs different, and nvmid VMID invalidations inside each pair. On
 * failure, why goes to the diagnostic.
 */
static bool s2_pairs(int n, const uint32_t *hwpt, uint64_t unmapped,
		     int nvmid, char *why, size_t len)
{
	uint64_t seqs[4];

	if (count("iommufd_s2_invalidate_start") != n ||
	    count("iommufd_s2_invalidate_end") != n) {
		snprintf(why, len, "%d starts, %d ends, want %d of each",
			 count("iommufd_s2_invalidate_start"),
			 count("iommufd_s2_invalidate_end"), n);
		return false;
	}
	for (int i = 0; i < n; i++) {
		const struct trace_rec *s = NULL, *e = NULL;
		int inside = 0;

		for (int k = 0; k < n; k++) {
			if (f(nth("iommufd_s2_invalidate_start", k), "hwpt") == hwpt[i])
				s = nth("iommufd_s2_invalidate_start", k);
			if (f(nth("iommufd_s2_invalidate_end", k), "hwpt") == hwpt[i])
				e = nth("iommufd_s2_invalidate_end", k);
		}
		if (!s || !e || e < s || f(s, "seq") != f(e, "seq") ||
		    f(e, "unmapped") != unmapped || f(e, "result") != 0) {
			snprintf(why, len, "parent %u: start %s, end %s, seq %llu/%llu, unmapped 0x%llx",
				 hwpt[i], s ? "seen" : "missing", e ? "seen" : "missing",
				 (unsigned long long)f(s, "seq"), (unsigned long long)f(e, "seq"),
				 (unsigned long long)f(e, "unmapped"));
			return false;
		}
		seqs[i] = f(s, "seq");
		for (int j = 0; j < i; j++)
			if (seqs[j] == seqs[i]) {
				snprintf(why, len, "parents %u and %u share seq %llu",
					 hwpt[j], hwpt[i], (unsigned long long)seqs[i]);
				return false;
			}
		for (int k = 0; k < count("iommufd_viommu_vmid_invalidate"); k++) {
			const struct trace_rec *r = nth("iommufd_viommu_vmid_invalidate", k);

			inside += r > s && r < e;
		}
		if (inside != nvmid) {
			snprintf(why, len, "parent %u: %d VMID invalidations inside its pair, want %d",
				 hwpt[i], inside, nvmid);
			return false;
		}
	}
	snprintf(why, len, "%d pair(s)", n);
	return true;
}

/* One context: an IOAS, a mock device, a nesting parent and 2 vIOMMUs on it */
struct ctx {
	int fd;
	uint32_t ioas, s2, viommu[2];
	struct mock_dev dev;
};

static void setup(struct ctx *c)
{
	c->fd = mock_open();
	if (c->fd < 0 || mock_s2_setup(c->fd, &c->ioas, &c->dev, &c->s2) ||
	    mock_viommu_alloc(c->fd, c->dev.idev_id, c->s2, &c->viommu[0]) ||
	    mock_viommu_alloc(c->fd, c->dev.idev_id, c->s2, &c->viommu[1]))
		tap_bail("cannot set up an S2 with two vIOMMUs");
}

static int dmabuf_get(int fd, uint32_t len)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DMABUF_GET,
		.dmabuf_get = { .length = len, .open_flags = O_CLOEXEC },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int dmabuf_revoke(int fd, int dmabuf_fd, bool revoked)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DMABUF_REVOKE,
		.dmabuf_revoke = { .dmabuf_fd = dmabuf_fd, .revoked = revoked },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

static int map_file(int fd, uint32_t ioas, int mfd, uint32_t len, uint64_t *iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE,
		.ioas_id = ioas,
		.fd = mfd,
		.length = len,
	};
	int rc = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd) ? -errno : 0;

	*iova = cmd.iova;
	return rc;
}

int main(void)
{
	struct ctx c;
	uint64_t iova, iova2 = 0;
	uint32_t parents[2], s2b;
	char why[256];
	void *buf;
	int rc, dfd;

	tap_plan(12);
	if (!trace_event_exists("iommufd", "iommufd_s2_invalidate_start"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_system_enable("iommufd", true))
		tap_bail("cannot enable the iommufd events");
	buf = mmap(NULL, 2 * AREA_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		tap_bail("cannot map a buffer");

	/* --- IOMMU_IOAS_UNMAP: one pair, two VMIDs inside --- */
	setup(&c);
	if (mock_ioas_map(c.fd, c.ioas, buf, AREA_LEN, &iova))
		tap_bail("cannot map an area");
	collect();
	rc = mock_ioas_unmap(c.fd, c.ioas, iova, AREA_LEN);
	collect();
	tap_ok(!rc && s2_pairs(1, &c.s2, AREA_LEN, 2, why, sizeof(why)),
	       "IOMMU_IOAS_UNMAP: one start and end for the parent, its 2 VMIDs invalidated in between (rc %d: %s)",
	       rc, why);
	tap_ok(f(nth("iommufd_s2_invalidate_start", 0), "iova") == iova &&
	       f(nth("iommufd_s2_invalidate_start", 0), "length") == AREA_LEN,
	       "... the start carries the range asked for (iova 0x%llx, length 0x%x)",
	       (unsigned long long)iova, AREA_LEN);

	/* --- unmaps that unmap nothing send nothing --- */
	rc = mock_ioas_unmap(c.fd, c.ioas, iova, AREA_LEN);
	collect();
	tap_ok(rc == -ENOENT && count("iommufd_s2_invalidate_start") == 0 &&
	       count("iommufd_s2_invalidate_end") == 0,
	       "an unmap of nothing (ENOENT): no S2 event (rc %d, %d starts, %d ends)", rc,
	       count("iommufd_s2_invalidate_start"), count("iommufd_s2_invalidate_end"));
	rc = mock_ioas_unmap(c.fd, c.ioas, UINT64_MAX, 0x1000);
	collect();
	tap_ok(rc == -EOVERFLOW && count("iommufd_s2_invalidate_start") == 0 &&
	       count("iommufd_s2_invalidate_end") == 0,
	       "an unmap the kernel refuses (EOVERFLOW): no S2 event (rc %d)", rc);

	/* --- two parents on one IOAS: a pair each, each its own seq --- */
	if (mock_nest_parent_alloc(c.fd, c.dev.idev_id, c.ioas, &s2b) ||
	    mock_ioas_map(c.fd, c.ioas, buf, AREA_LEN, &iova))
		tap_bail("cannot add a second nesting parent");
	collect();
	rc = mock_ioas_unmap(c.fd, c.ioas, 0, UINT64_MAX);
	collect();
	parents[0] = c.s2;
	parents[1] = s2b;
	tap_ok(!rc && s2_pairs(2, parents, AREA_LEN, 2, why, sizeof(why)),
	       "unmap-all with two parents on the IOAS: a pair for each, seqs differ (%s)", why);

	/* --- the parent leaves the IOAS while it maps something --- */
	if (mock_ioas_map(c.fd, c.ioas, buf, 2 * AREA_LEN, &iova))
		tap_bail("cannot map again");
	collect();
	rc = mock_destroy(c.fd, s2b);
	collect();
	tap_ok(!rc && s2_pairs(1, &s2b, 2 * AREA_LEN, 0, why, sizeof(why)) &&
	       f(nth("iommufd_s2_invalidate_start", 0), "length") == UINT64_MAX,
	       "a parent destroyed with 0x%x mapped: one pair for it, its whole S2 (%s)",
	       2 * AREA_LEN, why);
	rc = mock_ioas_unmap(c.fd, c.ioas, iova, 2 * AREA_LEN);
	collect();
	tap_ok(!rc && s2_pairs(1, &c.s2, 2 * AREA_LEN, 2, why, sizeof(why)),
	       "... and the next unmap reaches only the parent left (%s)", why);

	/* --- a dma-buf revoked by its exporter --- */
	dfd = dmabuf_get(c.fd, AREA_LEN);
	rc = dfd < 0 ? -errno : map_file(c.fd, c.ioas, dfd, AREA_LEN, &iova2);
	collect();
	tap_ok(!rc && count("iommufd_s2_invalidate_start") == 0,
	       "a dma-buf mapped into the IOAS: no S2 event (rc %d)", rc);
	rc = dmabuf_revoke(c.fd, dfd, true);
	collect();
	tap_ok(!rc && s2_pairs(1, &c.s2, AREA_LEN, 2, why, sizeof(why)) &&
	       f(nth("iommufd_s2_invalidate_start", 0), "iova") == iova2,
	       "the exporter revokes it: one pair for the parent over its area (rc %d: %s)",
	       rc, why);
	rc = mock_ioas_unmap(c.fd, c.ioas, iova2, AREA_LEN);
	collect();
	tap_ok(!rc && count("iommufd_s2_invalidate_start") == 0 &&
	       count("iommufd_viommu_vmid_invalidate") == 0,
	       "... unmapping the revoked area, no longer in the S2: no S2 event (rc %d, %d starts)",
	       rc, count("iommufd_s2_invalidate_start"));
	close(dfd);
	close(c.fd);

	/* --- VFIO_IOMMU_UNMAP_DMA on the VFIO compat IOAS --- */
	setup(&c);
	{
		struct iommu_vfio_ioas set = {
			.size = sizeof(set),
			.op = IOMMU_VFIO_IOAS_SET,
			.ioas_id = c.ioas,
		};
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.size = AREA_LEN,
		};

		if (ioctl(c.fd, IOMMU_VFIO_IOAS, &set) ||
		    ioctl(c.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) ||
		    mock_ioas_map(c.fd, c.ioas, buf, AREA_LEN, &iova))
			tap_bail("cannot set up the VFIO compat container");
		unmap.iova = iova;
		collect();
		rc = ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : 0;
		collect();
		tap_ok(!rc && unmap.size == AREA_LEN &&
		       s2_pairs(1, &c.s2, AREA_LEN, 2, why, sizeof(why)),
		       "VFIO_IOMMU_UNMAP_DMA: one pair, 2 VMIDs in between (rc %d: %s)", rc, why);
		unmap.size = AREA_LEN;
		rc = ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : 0;
		collect();
		tap_ok((rc == 0 || rc == -ENOENT) && count("iommufd_s2_invalidate_start") == 0 &&
		       count("iommufd_s2_invalidate_end") == 0,
		       "VFIO_IOMMU_UNMAP_DMA of nothing: no S2 event (rc %d)", rc);
	}
	close(c.fd);
	trace_system_enable("iommufd", false);
	free(recs);
	return tap_done();
}
