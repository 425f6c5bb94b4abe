// SPDX-License-Identifier: GPL-2.0-only
/*
 * event_durations - the duration_ns of the end events is the time between
 * the start and the end of the call, bounded from both sides by clocks
 * that share no code with it:
 *
 *  - below by the tracefs timestamps of its start and end events (with
 *    the buffer's clock set to "mono", the clock of ktime_get_ns()): the
 *    kernel reads the start time before the start event and computes the
 *    duration after the end event's timestamp;
 *  - above by the ioctl's own duration, read by this process with
 *    clock_gettime(CLOCK_MONOTONIC), the same clock, around the call;
 *  - for guest invalidations, below by the delay the mock sleeps in each
 *    (IOMMU_TEST_OP_VIOMMU_SET_INVAL_DELAY).
 *
 * The tracefs text has microseconds, so the lower bound allows 1 us, and
 * so does the upper (two reads of one clock, by two routes).
 * Runs in the test VM against the mock driver.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define NR		5
#define DELAY_US	2000
#define VIRT_ID		0x71
#define AREA_LEN	(64 * 1024)
#define SLACK_NS	1000

static struct trace_rec *recs;
static int nrecs;

static void collect(void)
{
	nrecs = trace_take(&recs);
	if (nrecs < 0)
		tap_bail("cannot read the trace buffer");
}

static uint64_t f(const struct trace_rec *r, const char *key)
{
	uint64_t v = 0;

	trace_field_u64(r, key, &v);
	return v;
}

static const struct trace_rec *nth(const char *event, int i)
{
	return trace_nth(recs, nrecs, event, i);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int count_ok(const char *event, int want)
{
	return trace_count(recs, nrecs, event) == want;
}

/* The ioctl windows [t0, t1] of the NR calls of one kind */
struct window {
	uint64_t t0, t1;
};

/*
 * Check the NR start/end pairs of one kind against the windows; with
 * min_ns, every duration must be at least that too. with_start: the start
 * events were enabled.
 */
static void check(const char *kind, const char *start_ev, const char *end_ev,
		  const struct window *win, bool with_start, uint64_t min_ns)
{
	int paired = 1, above_gap = 1, below_call = 1, in_window = 1, above_min = 1;

	tap_ok(count_ok(start_ev, with_start ? NR : 0) && count_ok(end_ev, NR),
	       "%s: %d end events%s", kind, NR, with_start ? " and their start events" : ", no start event");
	for (int i = 0; i < NR; i++) {
		const struct trace_rec *s = with_start ? nth(start_ev, i) : NULL;
		const struct trace_rec *e = nth(end_ev, i);
		uint64_t d = e ? f(e, "duration_ns") : 0, gap;

		if (!e || (with_start && (!s || f(s, "seq") != f(e, "seq")))) {
			paired = 0;
			continue;
		}
		tap_diag("%s %d: duration_ns %llu, tracefs gap %lld ns, ioctl %llu ns", kind, i,
			 (unsigned long long)d,
			 s ? (long long)(e->ts_ns - s->ts_ns) : -1LL,
			 (unsigned long long)(win[i].t1 - win[i].t0));
		if (s) {
			gap = e->ts_ns - s->ts_ns;
			above_gap &= d + SLACK_NS >= gap;
			in_window &= s->ts_ns + SLACK_NS >= win[i].t0 && e->ts_ns <= win[i].t1 + SLACK_NS;
		}
		in_window &= e->ts_ns + SLACK_NS >= win[i].t0 && e->ts_ns <= win[i].t1 + SLACK_NS;
		below_call &= d <= win[i].t1 - win[i].t0 + SLACK_NS;
		above_min &= d >= min_ns;
	}
	if (with_start) {
		tap_ok(paired, "%s: each end pairs with its start by seq", kind);
		tap_ok(paired && above_gap,
		       "%s: each duration_ns is at least the time between its start and end events in tracefs",
		       kind);
	}
	tap_ok(paired && in_window,
	       "%s: the tracefs timestamps (clock mono) lie within the ioctl's CLOCK_MONOTONIC window", kind);
	tap_ok(paired && below_call, "%s: each duration_ns is at most the ioctl's own duration", kind);
	if (min_ns)
		tap_ok(paired && above_min, "%s: each duration_ns is at least the mock's %d us delay",
		       kind, DELAY_US);
}

int main(void)
{
	uint32_t ioas, s2, viommu, vdev, done;
	struct window win[NR];
	struct mock_dev dev;
	uint64_t iova;
	int fd, rc = 0;
	void *buf;

	tap_plan(17);
	if (!trace_event_exists("iommufd", "iommufd_cache_invalidate_end"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_set_clock("mono"))
		tap_bail("cannot set the trace clock to mono");
	fd = mock_open();
	buf = mmap(NULL, AREA_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || buf == MAP_FAILED || mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu) ||
	    mock_vdevice_alloc(fd, viommu, dev.idev_id, VIRT_ID, &vdev) ||
	    mock_viommu_set_inval_delay(fd, viommu, DELAY_US))
		tap_bail("cannot set up a slow mock vIOMMU on an S2");
	if (trace_event_enable("iommufd", "iommufd_cache_invalidate_start", true) ||
	    trace_event_enable("iommufd", "iommufd_cache_invalidate_end", true) ||
	    trace_event_enable("iommufd", "iommufd_s2_invalidate_start", true) ||
	    trace_event_enable("iommufd", "iommufd_s2_invalidate_end", true))
		tap_bail("cannot enable the invalidation events");
	trace_clear();

	/* Guest invalidations, each sleeping DELAY_US in the mock */
	for (int i = 0; i < NR; i++) {
		win[i].t0 = now_ns();
		rc |= mock_viommu_invalidate(fd, viommu, VIRT_ID, 1, 0, &done);
		win[i].t1 = now_ns();
	}
	collect();
	tap_is(rc, 0, "%d slow guest invalidations succeed", NR);
	check("guest invalidation", "iommufd_cache_invalidate_start", "iommufd_cache_invalidate_end",
	      win, true, DELAY_US * 1000ULL);

	/* S2 unmaps of a mapping on the nesting parent */
	for (int i = 0; i < NR; i++) {
		if (mock_ioas_map(fd, ioas, buf, AREA_LEN, &iova))
			tap_bail("cannot map");
		win[i].t0 = now_ns();
		rc |= mock_ioas_unmap(fd, ioas, iova, AREA_LEN);
		win[i].t1 = now_ns();
	}
	collect();
	tap_is(rc, 0, "%d S2 unmaps succeed", NR);
	check("S2 invalidation", "iommufd_s2_invalidate_start", "iommufd_s2_invalidate_end",
	      win, true, 0);

	/* The end event alone: the kernel still times the call (a latency tool attaches only there) */
	trace_event_enable("iommufd", "iommufd_cache_invalidate_start", false);
	trace_clear();
	for (int i = 0; i < NR; i++) {
		win[i].t0 = now_ns();
		rc |= mock_viommu_invalidate(fd, viommu, VIRT_ID, 1, 0, &done);
		win[i].t1 = now_ns();
	}
	collect();
	check("guest invalidation, end event only", "iommufd_cache_invalidate_start",
	      "iommufd_cache_invalidate_end", win, false, DELAY_US * 1000ULL);

	close(fd);
	trace_system_enable("iommufd", false);
	trace_set_clock("local");
	free(recs);
	return tap_done();
}
