// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace_viommu - the iommufd_viommu_alloc/destroy tracepoints fire exactly
 * once per vIOMMU, with the ids userspace sees, and never for a failed
 * IOMMU_VIOMMU_ALLOC. Runs in the test VM against the mock driver.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define NR_VIOMMUS 3

struct ctx {
	int fd;
	uint32_t ioas_id, s2_id;
	struct mock_dev dev;
};

static void ctx_open(struct ctx *c)
{
	c->fd = mock_open();
	if (c->fd < 0)
		tap_bail("cannot open /dev/iommu");
	if (mock_s2_setup(c->fd, &c->ioas_id, &c->dev, &c->s2_id))
		tap_bail("cannot set up a mock device and nesting parent");
}

/*
 * The record of event for vIOMMU id in context ictx (object ids are per
 * context, so both are needed), or NULL; *count says how many matched.
 */
static const struct trace_rec *find(const struct trace_rec *recs, int n,
				    const char *event, uint64_t ictx,
				    uint64_t id, int *count)
{
	const struct trace_rec *hit = NULL;
	uint64_t v, c;

	*count = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(recs[i].event, event) ||
		    !trace_field_u64(&recs[i], "viommu", &v) || v != id ||
		    !trace_field_u64(&recs[i], "ictx", &c) || c != ictx)
			continue;
		(*count)++;
		hit = &recs[i];
	}
	return hit;
}

static uint64_t u64_of(const struct trace_rec *r, const char *key)
{
	uint64_t v = ~0ULL;

	if (r)
		trace_field_u64(r, key, &v);
	return v;
}

int main(void)
{
	uint32_t ids[NR_VIOMMUS], other_id, unused;
	const char *evs[] = { "iommufd_viommu_alloc", "iommufd_viommu_destroy" };
	struct trace_rec *recs;
	struct ctx a, b;
	uint64_t ictx_a, ictx_b;
	int n, count;

	tap_plan(5 + NR_VIOMMUS * 7 + 3);

	for (int i = 0; i < 2; i++) {
		if (!trace_event_exists("iommufd", evs[i]))
			tap_bail("iommufd tracepoints missing: not this project's kernel");
		if (trace_event_enable("iommufd", evs[i], true))
			tap_bail("cannot enable iommufd events");
	}
	trace_clear();

	ctx_open(&a);
	for (int i = 0; i < NR_VIOMMUS; i++)
		if (mock_viommu_alloc(a.fd, a.dev.idev_id, a.s2_id, &ids[i]))
			tap_bail("IOMMU_VIOMMU_ALLOC failed");

	/* Failed allocations must not fire anything */
	tap_is(mock_viommu_alloc(a.fd, a.dev.idev_id, a.dev.hwpt_id, &unused),
	       -EINVAL, "alloc on a non-nesting-parent HWPT fails with EINVAL");
	tap_is(mock_viommu_alloc_type(a.fd, a.dev.idev_id, a.s2_id, 0x1234, 0, 0,
				      &unused),
	       -EOPNOTSUPP, "alloc with an unknown type fails with EOPNOTSUPP");

	/* A second context: its events must carry another ictx */
	ctx_open(&b);
	if (mock_viommu_alloc(b.fd, b.dev.idev_id, b.s2_id, &other_id))
		tap_bail("IOMMU_VIOMMU_ALLOC failed in the second context");

	/* One destroyed by IOMMU_DESTROY, the rest by closing the fd */
	tap_is(mock_destroy(a.fd, ids[0]), 0, "IOMMU_DESTROY of a vIOMMU");
	close(a.fd);
	close(b.fd);

	n = trace_read(&recs);
	if (n < 0)
		tap_bail("cannot read the trace buffer");
	tap_is(trace_count(recs, n, "iommufd_viommu_alloc"), NR_VIOMMUS + 1,
	       "one alloc event per vIOMMU created, none for failures");
	tap_is(trace_count(recs, n, "iommufd_viommu_destroy"), NR_VIOMMUS + 1,
	       "one destroy event per vIOMMU freed");

	/* Context a allocated first, so the first event is one of its own */
	ictx_a = u64_of(n > 0 ? &recs[0] : NULL, "ictx");
	for (int i = 0; i < NR_VIOMMUS; i++) {
		const struct trace_rec *r;
		int64_t owner = -1;

		r = find(recs, n, "iommufd_viommu_alloc", ictx_a, ids[i],
			 &count);
		tap_is(count, 1, "viommu %u: exactly one alloc event", ids[i]);
		tap_is(u64_of(r, "type"), IOMMU_VIOMMU_TYPE_SELFTEST,
		       "viommu %u: alloc type", ids[i]);
		tap_is(u64_of(r, "hwpt"), a.s2_id,
		       "viommu %u: alloc names the nesting parent", ids[i]);
		if (r)
			trace_field_s64(r, "owner", &owner);
		tap_is(owner, getpid(), "viommu %u: alloc owner tgid", ids[i]);

		r = find(recs, n, "iommufd_viommu_destroy", ictx_a, ids[i],
			 &count);
		tap_is(count, 1, "viommu %u: exactly one destroy event", ids[i]);
		tap_is(u64_of(r, "hwpt"), a.s2_id,
		       "viommu %u: destroy names the nesting parent", ids[i]);
		owner = -1;
		if (r)
			trace_field_s64(r, "owner", &owner);
		tap_is(owner, getpid(), "viommu %u: destroy owner tgid", ids[i]);
	}

	/* Context b's one vIOMMU: the alloc event from another context */
	ictx_b = ~0ULL;
	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (!strcmp(recs[i].event, "iommufd_viommu_alloc") &&
		    trace_field_u64(&recs[i], "ictx", &v) && v != ictx_a)
			ictx_b = v;
	}
	find(recs, n, "iommufd_viommu_alloc", ictx_b, other_id, &count);
	tap_is(count, 1, "the second context's vIOMMU has its own alloc event");
	/* ids are random (not a counter), unique among open contexts */
	tap_ok(ictx_b != ~0ULL && ictx_b != ictx_a && ictx_b && ictx_a,
	       "the second context has an id of its own (%llu, %llu)",
	       (unsigned long long)ictx_b, (unsigned long long)ictx_a);
	free(recs);

	/* Disabled events record nothing */
	for (int i = 0; i < 2; i++)
		trace_event_enable("iommufd", evs[i], false);
	trace_clear();
	ctx_open(&a);
	if (mock_viommu_alloc(a.fd, a.dev.idev_id, a.s2_id, &ids[0]))
		tap_bail("IOMMU_VIOMMU_ALLOC failed with the events disabled");
	close(a.fd);
	n = trace_read(&recs);
	tap_is(n, 0, "no events recorded while disabled");
	free(recs);
	return tap_done();
}
