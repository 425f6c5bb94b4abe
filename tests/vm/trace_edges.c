// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace_edges - the iommufd events on the paths the other suites do not
 * take, each checked field by field against what the test did:
 *
 *  A. a vEVENT whose allocation fails (fail-nth): outcome lost_nomem, and
 *     the VMM reads the loss, as a LOST_EVENTS header at the tail of the
 *     queue or as a gap in the sequence numbers;
 *  B. IO page faults with and without a PASID, and a group of several:
 *     pasid and nr_faults of the delivery and response events, and the
 *     messages read;
 *  C. unmap-all (iova 0, length U64_MAX): the S2 events and the VMID
 *     invalidations it fans out to; an empty unmap-all; a failed unmap;
 *  D. invalidations rejected before the driver (each errno, no event) and
 *     by the driver (each errno, one start and end with its result);
 *  E. vDEVICE virt_ids of 32 bits and more, in the IOPF message and in
 *     the events (the message carries only 32 bits, the events 64);
 *  F. HW queues: their fdinfo lines, as their alloc events announced.
 *
 * Runs in the test VM against the mock driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

#define VIRT_ID		0x61ULL
#define VIRT_ID_33BIT	0x100000061ULL	/* above U32_MAX */
#define VIRT_ID_U32_MAX	0xffffffffULL
#define VIRT_ID_BIT63	0x8000000000000061ULL	/* above S64_MAX */
#define PASID		0x2345
#define GROUP_LEN	3	/* page requests in one IOPF group */
#define GRPID		9
#define AREA_LEN	(64 * 1024)
#define VEVENTQ_DEPTH	4
/*
 * fail-nth for the vEVENT's allocation in IOMMU_TEST_OP_TRIGGER_VEVENT:
 * the first point that can be failed is the object lookup of the device
 * (iommufd_get_object(), the mock's fail_iommufd), the second the
 * GFP_NOWAIT allocation of the vEVENT (on the test kernel; the debug
 * kernel has allocations of its own between: trigger_vevent_nomem()).
 */
#define FAIL_VEVENT_ALLOC 2
/* reports whose injected failure another allocation took, at most */
#define MAX_ABSORBED	2
/* fail-nth points tried for the vEVENT's allocation, at most */
#define MAX_TRIES	8

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

static uint64_t f(const struct trace_rec *r, const char *key)
{
	uint64_t v = 0xbad0bad0bad0bad0ULL;

	trace_field_u64(r, key, &v);
	return v;
}

static int64_t fs(const struct trace_rec *r, const char *key)
{
	int64_t v = -99999;

	trace_field_s64(r, key, &v);
	return v;
}

/* The text of key in r, or "" */
static const char *ftext(const struct trace_rec *r, const char *key)
{
	for (int i = 0; i < r->nfields; i++)
		if (!strcmp(r->field[i].key, key))
			return r->field[i].val;
	return "";
}

static int count(const char *event)
{
	return trace_count(recs, nrecs, event);
}

/* The i-th record of event, or NULL */
static const struct trace_rec *nth(const char *event, int i)
{
	return trace_nth(recs, nrecs, event, i);
}

/*
 * Make the next allocation of this task that may fail fail (fail-nth, as
 * iommufd_fail_nth uses it): the kernel counts down n on each call that
 * could be failed and fails the one that reaches 0.
 */
static void fail_nth(int n)
{
	char s[16];
	int fd = open("/proc/thread-self/fail-nth", O_RDWR);

	if (fd < 0)
		tap_bail("no /proc/thread-self/fail-nth: CONFIG_FAULT_INJECTION is off");
	snprintf(s, sizeof(s), "%d", n);
	if (write(fd, s, strlen(s)) < 0)
		tap_bail("cannot write fail-nth");
	close(fd);
}

/* fail-nth left over (0: the failure was injected), after resetting it */
static int fail_nth_left(void)
{
	char s[16] = "";
	int fd = open("/proc/thread-self/fail-nth", O_RDWR), left = -1;

	if (fd >= 0) {
		if (read(fd, s, sizeof(s) - 1) > 0)
			left = atoi(s);
		if (write(fd, "0", 1) < 0)
			left = -2;
		close(fd);
	}
	return left;
}

/*
 * Report a vEVENT with its allocation failed (fail-nth FAIL_VEVENT_ALLOC);
 * the report's result, *left the fail-nth left over, *fail_at the fail-nth
 * that failed it. fail-nth counts each point of the task that may fail,
 * and on the debug kernel there are points of its own on the way (seen
 * after iommufd_fail_nth: allocations of the kernel's own bookkeeping that
 * survive failing): the failure lands there, and the report goes on. So
 * fail-nth is tried one point later each time, until the vEVENT's
 * allocation takes it: a point before the lookup changes nothing, the
 * lookup fails the report (ENOENT), a point after it lets the vEVENT be
 * queued, counted in *absorbed (at most MAX_ABSORBED: the queue holds
 * VEVENTQ_DEPTH).
 */
static int trigger_vevent_nomem(int fd, uint32_t dev_id, int *left, int *absorbed, int *fail_at)
{
	int rc;

	*absorbed = 0;
	for (*fail_at = FAIL_VEVENT_ALLOC; *fail_at < FAIL_VEVENT_ALLOC + MAX_TRIES; ++*fail_at) {
		fail_nth(*fail_at);
		rc = mock_trigger_vevent(fd, dev_id);
		*left = fail_nth_left();
		if (rc == -ENOMEM || *left)
			break;
		if (!rc && ++*absorbed > MAX_ABSORBED)
			break;
	}
	if (*fail_at != FAIL_VEVENT_ALLOC)
		tap_diag("the vEVENT's allocation was fail-nth %d, not %d; %d report(s) queued before",
			 *fail_at, FAIL_VEVENT_ALLOC, *absorbed);
	return rc;
}

/* "0:SEQ:0x61" for each of n events queued from seq, comma-separated */
static void queued_text(char *out, size_t outlen, unsigned int seq, int n)
{
	*out = '\0';
	for (int i = 0; i < n; i++) {
		size_t used = strlen(out);

		snprintf(out + used, outlen - used, "%s0:%u:0x%x", used ? "," : "",
			 seq + i, (unsigned int)VIRT_ID);
	}
}

/* A vEVENT of the mock: the header, then its 32-bit virt_id */
struct mock_vevent {
	struct iommufd_vevent_header hdr;
	struct iommu_viommu_event_selftest data;
};

/*
 * The records in buf as "FLAGS:SEQ[:VIRT_ID]" (flags 1: lost events, no
 * data), comma separated, for one exact comparison
 */
static void vevent_text(const void *buf, ssize_t len, char *out, size_t outlen)
{
	const char *p = buf;

	*out = '\0';
	while (len >= (ssize_t)sizeof(struct iommufd_vevent_header)) {
		const struct iommufd_vevent_header *h = (const void *)p;
		size_t used = strlen(out);

		if (h->flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
			snprintf(out + used, outlen - used, "%s%u:%u", used ? "," : "",
				 h->flags, h->sequence);
			p += sizeof(*h);
			len -= sizeof(*h);
		} else {
			const struct mock_vevent *e = (const void *)p;

			snprintf(out + used, outlen - used, "%s%u:%u:0x%x", used ? "," : "",
				 h->flags, h->sequence, e->data.virt_id);
			p += sizeof(*e);
			len -= sizeof(*e);
		}
	}
}

/* IOMMU_HWPT_INVALIDATE as given; -errno or 0 */
static int invalidate(int fd, struct iommu_hwpt_invalidate *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_HWPT_INVALIDATE, cmd) ? -errno : 0;
}

/* Read one fault group, answer it; the number of messages read, or -1 */
/*
 * Read what the fault queue holds into msgs[room] and answer its last
 * group; returns the number of messages read, -1 on error
 */
static int fault_read_answer_all(int fault_fd, struct iommu_hwpt_pgfault *msgs,
				 int room)
{
	struct iommu_hwpt_page_response resp = {
		.code = IOMMUFD_PAGE_RESP_SUCCESS,
	};
	ssize_t n;

	memset(msgs, 0xa5, room * sizeof(*msgs));
	n = read(fault_fd, msgs, room * sizeof(*msgs));
	if (n <= 0 || n % sizeof(*msgs))
		return -1;
	resp.cookie = msgs[n / sizeof(*msgs) - 1].cookie;
	if (write(fault_fd, &resp, sizeof(resp)) != sizeof(resp))
		return -1;
	return n / sizeof(*msgs);
}

static int fault_read_answer(int fault_fd, struct iommu_hwpt_pgfault *msg)
{
	struct iommu_hwpt_pgfault msgs[2];
	/* room for two: a group of one fault fills one */
	int n = fault_read_answer_all(fault_fd, msgs, 2);

	*msg = msgs[0];
	return n;
}

/* The fdinfo line of object id of fd, without "iommufd-object:\t" */
static void fdinfo_line(int fd, uint32_t id, char *out, size_t outlen)
{
	char path[64], *line = NULL, want[32];
	size_t cap = 0;
	FILE *fi;

	*out = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(want, sizeof(want), "iommufd-object:\tid=%u ", id);
	fi = fopen(path, "r");
	if (!fi)
		return;
	while (getline(&line, &cap, fi) > 0)
		if (!strncmp(line, want, strlen(want))) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "%s", line + strlen("iommufd-object:\t"));
		}
	free(line);
	fclose(fi);
}

/* A mock device with a vDEVICE of virt_id on viommu, behind a nested HWPT with the fault queue */
static void faulting_dev(int fd, uint32_t ioas, uint32_t viommu, uint32_t fault_id,
			 uint64_t virt_id, struct mock_dev *dev, uint32_t *vdev)
{
	uint32_t nested;

	if (mock_dev_add(fd, ioas, 0, dev) ||
	    mock_vdevice_alloc(fd, viommu, dev->idev_id, virt_id, vdev) ||
	    mock_nested_alloc(fd, dev->idev_id, viommu, fault_id, &nested) ||
	    mock_dev_replace(fd, dev->stdev_id, nested))
		tap_bail("cannot attach a device with a vDEVICE to a nested HWPT");
}

int main(void)
{
	uint32_t ioas, s2, viommu[2], vmid[2], vdev, fault_id, veventq, done;
	struct mock_dev dev;
	struct iommu_hwpt_pgfault msg;
	int fd, fault_fd, veventq_fd, rc, rc2, left, absorbed, fail_at;
	char text[512], want[512];
	unsigned int seq;
	uint8_t vbuf[256];
	ssize_t len;
	void *bufs;

	tap_plan(53);
	page_size = sysconf(_SC_PAGESIZE);
	if (!trace_event_exists("iommufd", "iommufd_vevent_report"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_system_enable("iommufd", true))
		tap_bail("cannot enable the iommufd events");

	fd = mock_open();
	bufs = mmap(NULL, 2 * AREA_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (fd < 0 || bufs == MAP_FAILED || mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu[0]) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu[1]) ||
	    mock_viommu_vmid(fd, viommu[0], &vmid[0]) ||
	    mock_viommu_vmid(fd, viommu[1], &vmid[1]) ||
	    mock_fault_alloc_flags(fd, IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID, &fault_id, &fault_fd))
		tap_bail("cannot set up a mock device, an S2 with two vIOMMUs and a fault queue");
	{
		uint32_t nested;

		if (mock_vdevice_alloc(fd, viommu[0], dev.idev_id, VIRT_ID, &vdev) ||
		    mock_nested_alloc(fd, dev.idev_id, viommu[0], fault_id, &nested) ||
		    mock_dev_replace(fd, dev.stdev_id, nested) ||
		    mock_veventq_alloc(fd, viommu[0], VEVENTQ_DEPTH, &veventq, &veventq_fd))
			tap_bail("cannot attach the device with a vDEVICE and a vEVENTQ");
	}
	collect();

	/* --- A: a vEVENT that cannot be allocated is lost, and the VMM sees it --- */
	/*
	 * Without the debug kernel's absorbed failures (n = 0): seq 0 queued,
	 * seq 1 lost; seq 2 queued; seq 3 lost, seq 4 queued. Each absorbed
	 * failure queues one more event before the lost one.
	 */
	rc = mock_trigger_vevent(fd, dev.idev_id);
	rc2 = trigger_vevent_nomem(fd, dev.idev_id, &left, &absorbed, &fail_at);
	collect();
	tap_is(rc, 0, "vEVENT: the first one is queued");
	tap_ok(rc2 == -ENOMEM && left == 0,
	       "vEVENT: with its allocation failed (fail-nth %d) the report returns ENOMEM (rc %d, fail-nth left %d)",
	       fail_at, rc2, left);
	{
		const struct trace_rec *q = nth("iommufd_vevent_report", 0);
		const struct trace_rec *l = nth("iommufd_vevent_report", 1 + absorbed);

		tap_ok(count("iommufd_vevent_report") == 2 + absorbed && q && l &&
		       !strcmp(ftext(q, "outcome"), "queued") &&
		       !strcmp(ftext(l, "outcome"), "lost_nomem"),
		       "vEVENT: traced as queued, then lost_nomem");
		tap_ok(l && f(l, "viommu") == viommu[0] && f(l, "veventq") == veventq &&
		       f(l, "virt_id") == VIRT_ID && f(l, "type") == IOMMU_VEVENTQ_TYPE_SELFTEST,
		       "vEVENT lost_nomem: names the vIOMMU, the vEVENTQ, the vDEVICE's virt_id and the type");
	}
	len = read(veventq_fd, vbuf, sizeof(vbuf));
	vevent_text(vbuf, len, text, sizeof(text));
	queued_text(want, sizeof(want), 0, 1 + absorbed);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), ",1:%d", 1 + absorbed);
	tap_ok(!strcmp(text, want),
	       "vEVENTQ read: the queued event (seq 0), then a LOST_EVENTS header with the next seq (want %s, got %s)",
	       want, text);
	seq = 2 + absorbed;
	rc = mock_trigger_vevent(fd, dev.idev_id);
	len = read(veventq_fd, vbuf, sizeof(vbuf));
	vevent_text(vbuf, len, text, sizeof(text));
	queued_text(want, sizeof(want), seq, 1);
	tap_ok(!rc && !strcmp(text, want),
	       "vEVENTQ read: the next event gets the seq after the header's, the header is gone (want %s, got %s)",
	       want, text);
	/* lost at the tail, then one more queued: the VMM sees a gap instead */
	rc2 = trigger_vevent_nomem(fd, dev.idev_id, &left, &absorbed, &fail_at);
	rc = mock_trigger_vevent(fd, dev.idev_id);
	len = read(veventq_fd, vbuf, sizeof(vbuf));
	vevent_text(vbuf, len, text, sizeof(text));
	queued_text(want, sizeof(want), seq + 1, absorbed);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s0:%u:0x%x",
		 absorbed ? "," : "", seq + 2 + absorbed, (unsigned int)VIRT_ID);
	tap_ok(rc2 == -ENOMEM && left == 0 && !rc && !strcmp(text, want),
	       "vEVENTQ read: an event lost before another shows as a gap of one seq (want %s, got %s)",
	       want, text);
	collect();
	tap_ok(count("iommufd_vevent_report") == 3 + absorbed &&
	       !strcmp(ftext(nth("iommufd_vevent_report", 1 + absorbed), "outcome"), "lost_nomem") &&
	       !strcmp(ftext(nth("iommufd_vevent_report", 2 + absorbed), "outcome"), "queued"),
	       "vEVENT: traced queued, lost_nomem, queued");

	/* --- B: IO page faults with and without a PASID --- */
	rc = mock_trigger_iopf(fd, dev.idev_id, PASID, GRPID);
	rc2 = fault_read_answer(fault_fd, &msg);
	collect();
	tap_ok(!rc && rc2 == 1, "IOPF with PASID 0x%x: one message read for its group (read %d)", PASID, rc2);
	tap_ok(msg.pasid == PASID && msg.grpid == GRPID && msg.dev_id == dev.idev_id &&
	       msg.flags == (IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE |
			     IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID),
	       "IOPF message: pasid, grpid, device and flags PASID_VALID|LAST_PAGE|VIRT_ID_VALID (flags 0x%x)",
	       msg.flags);
	{
		const struct trace_rec *d = nth("iommufd_fault_deliver", 0);
		const struct trace_rec *r = nth("iommufd_fault_respond", 0);

		tap_ok(count("iommufd_fault_deliver") == 1 && d && f(d, "pasid") == PASID &&
		       f(d, "faults") == 1 && f(d, "grpid") == GRPID && f(d, "fault") == fault_id,
		       "fault_deliver: pasid 0x%x and 1 fault in the group, as raised", PASID);
		tap_ok(count("iommufd_fault_respond") == 1 && r && f(r, "pasid") == PASID &&
		       f(r, "grpid") == GRPID && f(r, "cookie") == msg.cookie &&
		       !strcmp(ftext(r, "reason"), "user"),
		       "fault_respond: the same pasid, group and cookie, reason user");
	}
	rc = mock_trigger_iopf(fd, dev.idev_id, 0, GRPID + 1);
	rc2 = fault_read_answer(fault_fd, &msg);
	collect();
	tap_ok(!rc && rc2 == 1 && msg.pasid == 0 &&
	       msg.flags == (IOMMU_PGFAULT_FLAGS_LAST_PAGE | IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID),
	       "IOPF without a PASID: one message, pasid 0, no PASID_VALID (flags 0x%x)", msg.flags);
	tap_ok(count("iommufd_fault_deliver") == 1 && f(nth("iommufd_fault_deliver", 0), "pasid") == 0 &&
	       f(nth("iommufd_fault_deliver", 0), "faults") == 1 &&
	       count("iommufd_fault_respond") == 1 && f(nth("iommufd_fault_respond", 0), "pasid") == 0,
	       "fault_deliver and fault_respond: pasid 0, 1 fault");

	/* a group of GROUP_LEN page requests: delivered and answered as one */
	{
		struct iommu_hwpt_pgfault msgs[GROUP_LEN + 1];
		const struct trace_rec *d, *r;
		bool each = true;

		rc = mock_trigger_iopf_group(fd, dev.idev_id, PASID, GRPID + 2, GROUP_LEN);
		rc2 = fault_read_answer_all(fault_fd, msgs, GROUP_LEN + 1);
		collect();
		for (int i = 0; i < GROUP_LEN && rc2 == GROUP_LEN; i++)
			each &= msgs[i].grpid == GRPID + 2 && msgs[i].pasid == PASID &&
				msgs[i].cookie == msgs[0].cookie &&
				msgs[i].addr == MOCK_IOPF_ADDR + (uint64_t)i * page_size &&
				!!(msgs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) ==
				(i == GROUP_LEN - 1);
		tap_ok(!rc && rc2 == GROUP_LEN && each,
		       "IOPF group of %d: %d messages, one cookie, consecutive pages, LAST_PAGE on the last only (rc %d)",
		       GROUP_LEN, rc2, rc);
		d = nth("iommufd_fault_deliver", 0);
		r = nth("iommufd_fault_respond", 0);
		tap_ok(count("iommufd_fault_deliver") == 1 && f(d, "faults") == GROUP_LEN &&
		       f(d, "pasid") == PASID && f(d, "grpid") == GRPID + 2 &&
		       count("iommufd_fault_respond") == 1 && f(r, "cookie") == msgs[0].cookie &&
		       f(r, "grpid") == GRPID + 2,
		       "fault_deliver once with faults=%d, fault_respond once with the group's cookie (faults %lld)",
		       GROUP_LEN, (long long)f(d, "faults"));
	}

	/* --- C: unmap-all --- */
	{
		uint64_t iova[2] = { 0, 0 };
		int seen[2][2] = {}, other = 0;

		if (mock_ioas_map(fd, ioas, bufs, AREA_LEN, &iova[0]) ||
		    mock_ioas_map(fd, ioas, (char *)bufs + AREA_LEN, AREA_LEN, &iova[1]))
			tap_bail("cannot map two areas");
		collect();
		rc = mock_ioas_unmap(fd, ioas, 0, UINT64_MAX);
		collect();
		tap_is(rc, 0, "unmap-all of two areas succeeds");
		{
			const struct trace_rec *s = nth("iommufd_s2_invalidate_start", 0);
			const struct trace_rec *e = nth("iommufd_s2_invalidate_end", 0);

			tap_ok(count("iommufd_s2_invalidate_start") == 1 && s && f(s, "hwpt") == s2 &&
			       f(s, "iova") == 0 && f(s, "length") == UINT64_MAX,
			       "S2 start: iova 0, length 0xffffffffffffffff (unmap-all, as asked)");
			tap_ok(count("iommufd_s2_invalidate_end") == 1 && e &&
			       f(e, "unmapped") == 2 * AREA_LEN && fs(e, "result") == 0 &&
			       f(e, "seq") == f(s, "seq"),
			       "S2 end: unmapped 0x%x (both areas), result 0, same seq", 2 * AREA_LEN);
		}
		for (int k = 0; k < count("iommufd_viommu_vmid_invalidate"); k++) {
			const struct trace_rec *r = nth("iommufd_viommu_vmid_invalidate", k);
			int v = f(r, "viommu") == viommu[0] && f(r, "vmid") == vmid[0] ? 0 :
				f(r, "viommu") == viommu[1] && f(r, "vmid") == vmid[1] ? 1 : -1;
			int a = f(r, "iova") == iova[0] ? 0 : f(r, "iova") == iova[1] ? 1 : -1;

			if (v < 0 || a < 0 || f(r, "size") != AREA_LEN)
				other++;
			else
				seen[v][a]++;
		}
		tap_ok(count("iommufd_viommu_vmid_invalidate") == 4 && !other &&
		       seen[0][0] == 1 && seen[0][1] == 1 && seen[1][0] == 1 && seen[1][1] == 1,
		       "VMID invalidations: each VMID once per area, iova and size of that area (not size 0: the mock names the ranges)");
		rc = mock_ioas_unmap(fd, ioas, 0, UINT64_MAX);
		collect();
		/* the S2 events fire where the S2 is unmapped: here it is not */
		tap_ok(rc == 0 && count("iommufd_s2_invalidate_start") == 0 &&
		       count("iommufd_s2_invalidate_end") == 0 &&
		       count("iommufd_viommu_vmid_invalidate") == 0,
		       "unmap-all of an empty IOAS: succeeds, no S2 event, no VMID invalidation");
		rc = mock_ioas_unmap(fd, ioas, iova[0], AREA_LEN);
		collect();
		tap_ok(rc == -ENOENT && count("iommufd_s2_invalidate_start") == 0 &&
		       count("iommufd_s2_invalidate_end") == 0 &&
		       count("iommufd_viommu_vmid_invalidate") == 0,
		       "unmap of nothing: ENOENT, no S2 event, no VMID invalidation (rc %d)", rc);
	}

	/* --- D: rejected invalidations --- */
	{
		struct iommu_viommu_invalidate_selftest inv[3] = {
			{ .vdev_id = VIRT_ID }, { .vdev_id = VIRT_ID }, { .vdev_id = VIRT_ID },
		};
		const struct iommu_hwpt_invalidate good = {
			.hwpt_id = viommu[0],
			.data_uptr = (uintptr_t)inv,
			.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
			.entry_len = sizeof(inv[0]),
			.entry_num = 1,
		};
		struct {
			const char *what;
			struct iommu_hwpt_invalidate cmd;
			int err;
		} early[] = {
			{ "__reserved set", good, -EOPNOTSUPP },
			{ "entry_len above a page", good, -EINVAL },
			{ "entry_num above the maximum (2^19)", good, -EINVAL },
			{ "no data_uptr", good, -EINVAL },
			{ "an unknown hwpt_id", good, -ENOENT },
			{ "an IOAS as hwpt_id", good, -EINVAL },
			{ "a paging HWPT (the S2) as hwpt_id", good, -EINVAL },
		};

		early[0].cmd.__reserved = 1;
		early[1].cmd.entry_len = page_size + 1;
		early[2].cmd.entry_num = (1U << 19) + 1;
		early[3].cmd.data_uptr = 0;
		early[4].cmd.hwpt_id = 0xfffff;
		early[5].cmd.hwpt_id = ioas;
		early[6].cmd.hwpt_id = s2;
		for (unsigned int i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
			rc = invalidate(fd, &early[i].cmd);
			collect();
			tap_ok(rc == early[i].err && count("iommufd_cache_invalidate_start") == 0 &&
			       count("iommufd_cache_invalidate_end") == 0,
			       "invalidation with %s: errno %d, no event (rc %d, %d start, %d end)",
			       early[i].what, -early[i].err, rc,
			       count("iommufd_cache_invalidate_start"),
			       count("iommufd_cache_invalidate_end"));
		}

		/* Refused by the driver: it saw the request, so it is traced with the result */
		{
			struct iommu_hwpt_invalidate cmd = good;
			const struct trace_rec *s, *e;

			cmd.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID;
			rc = invalidate(fd, &cmd);
			collect();
			s = nth("iommufd_cache_invalidate_start", 0);
			e = nth("iommufd_cache_invalidate_end", 0);
			tap_ok(rc == -EINVAL && count("iommufd_cache_invalidate_start") == 1 &&
			       count("iommufd_cache_invalidate_end") == 1 && s && e &&
			       f(s, "data_type") == IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID &&
			       f(s, "entries") == 1 && f(e, "done") == 0 && fs(e, "result") == -EINVAL &&
			       f(s, "seq") == f(e, "seq"),
			       "a data type the driver refuses: EINVAL, one start naming the type, one end with done 0, result -22");
			tap_is(cmd.entry_num, 0, "... and entry_num comes back 0");
		}
		{
			struct iommu_hwpt_invalidate cmd = good;
			const struct trace_rec *e;

			inv[2].vdev_id = VIRT_ID + 1;	/* no such vDEVICE */
			cmd.entry_num = 3;
			rc = invalidate(fd, &cmd);
			collect();
			e = nth("iommufd_cache_invalidate_end", 0);
			tap_ok(rc == -EINVAL && count("iommufd_cache_invalidate_start") == 1 &&
			       count("iommufd_cache_invalidate_end") == 1 && e && f(e, "entries") == 3 &&
			       f(e, "done") == 2 && fs(e, "result") == -EINVAL && cmd.entry_num == 2,
			       "3 entries, the third for an unknown vDEVICE: EINVAL, end with entries 3, done 2, result -22");
			inv[2].vdev_id = VIRT_ID;
		}
		{
			struct iommu_hwpt_invalidate cmd = good;
			const struct trace_rec *e;

			inv[0].flags = 1U << 31;	/* a flag the mock does not know */
			rc = invalidate(fd, &cmd);
			collect();
			e = nth("iommufd_cache_invalidate_end", 0);
			tap_ok(rc == -EOPNOTSUPP && count("iommufd_cache_invalidate_end") == 1 && e &&
			       f(e, "done") == 0 && fs(e, "result") == -EOPNOTSUPP,
			       "an entry with an unknown flag: EOPNOTSUPP, end with done 0, result -95");
			inv[0].flags = 0;
		}
		rc = mock_viommu_invalidate(fd, viommu[0], VIRT_ID, 3, 0, &done);
		collect();
		tap_ok(!rc && done == 3 && count("iommufd_cache_invalidate_end") == 1 &&
		       f(nth("iommufd_cache_invalidate_end", 0), "done") == 3 &&
		       fs(nth("iommufd_cache_invalidate_end", 0), "result") == 0,
		       "control: a good request of 3 entries, done 3, result 0");
	}

	/* --- E: virt_ids of 32 bits and more --- */
	{
		static const struct {
			uint64_t virt_id;
			const char *what;
			bool in_msg;	/* fits the message's 32-bit virt_id */
		} ids[] = {
			{ VIRT_ID_U32_MAX, "U32_MAX", true },
			{ VIRT_ID_33BIT, "U32_MAX + 0x62", false },
			{ VIRT_ID_BIT63, "2^63 + 0x61", false },
		};

		for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			struct mock_dev d;
			uint32_t vd;
			char want[40];
			const struct trace_rec *r;
			bool ok;

			faulting_dev(fd, ioas, viommu[1], fault_id, ids[i].virt_id, &d, &vd);
			collect();
			r = nth("iommufd_vdevice_alloc", 0);
			snprintf(want, sizeof(want), "0x%llx", (unsigned long long)ids[i].virt_id);
			tap_ok(count("iommufd_vdevice_alloc") == 1 && r && !strcmp(ftext(r, "virt_id"), want),
			       "virt_id %s: vdevice_alloc shows %s (got %s)", ids[i].what, want,
			       r ? ftext(r, "virt_id") : "nothing");
			fdinfo_line(fd, vd, text, sizeof(text));
			snprintf(want, sizeof(want), " virt_id=0x%llx", (unsigned long long)ids[i].virt_id);
			tap_ok(strlen(text) > strlen(want) &&
			       !strcmp(text + strlen(text) - strlen(want), want),
			       "virt_id %s: fdinfo shows it (%s)", ids[i].what, text);
			rc = mock_trigger_iopf(fd, d.idev_id, 0, GRPID + 2 + i);
			rc2 = fault_read_answer(fault_fd, &msg);
			collect();
			if (ids[i].in_msg)
				tap_ok(!rc && rc2 == 1 && msg.virt_id == (uint32_t)ids[i].virt_id &&
				       msg.flags == (IOMMU_PGFAULT_FLAGS_LAST_PAGE |
						     IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID),
				       "virt_id %s: the IOPF message carries it, VIRT_ID_VALID (flags 0x%x virt_id 0x%x)",
				       ids[i].what, msg.flags, msg.virt_id);
			else
				tap_ok(!rc && rc2 == 1 && msg.virt_id == 0 &&
				       msg.flags == IOMMU_PGFAULT_FLAGS_LAST_PAGE && msg.dev_id == d.idev_id,
				       "virt_id %s: too wide for the message: virt_id 0, no VIRT_ID_VALID, dev_id to map (flags 0x%x virt_id 0x%x)",
				       ids[i].what, msg.flags, msg.virt_id);
			/* compared as text: all 64 bits, past S64_MAX too */
			r = nth("iommufd_fault_deliver", 0);
			snprintf(want, sizeof(want), "0x%llx", (unsigned long long)ids[i].virt_id);
			ok = count("iommufd_fault_deliver") == 1 && r &&
			     !strcmp(ftext(r, "virt_id"), want) && fs(r, "virt_id_valid") == 1;
			tap_ok(ok, "virt_id %s: fault_deliver carries all 64 bits, virt_id_valid 1 (got %s, valid %s)",
			       ids[i].what, r ? ftext(r, "virt_id") : "nothing",
			       r ? ftext(r, "virt_id_valid") : "-");
		}
	}

	/* --- F: HW queues in fdinfo --- */
	{
		uint64_t iova[2] = { 0, 0 };
		uint32_t hwq[2];
		char want[256];

		if (mock_ioas_map(fd, ioas, bufs, page_size, &iova[0]) ||
		    mock_ioas_map(fd, ioas, (char *)bufs + AREA_LEN, page_size, &iova[1]))
			tap_bail("cannot map the HW queues' memory");
		collect();
		rc = mock_hw_queue_alloc(fd, viommu[0], 0, iova[0], page_size, &hwq[0]);
		/* one page each: a HW queue's memory must be physically contiguous */
		rc2 = mock_hw_queue_alloc(fd, viommu[0], 1, iova[1], page_size, &hwq[1]);
		collect();
		tap_ok(!rc && !rc2 && count("iommufd_hw_queue_alloc") == 2,
		       "two HW queues allocated, two alloc events (rc %d %d)", rc, rc2);
		for (int i = 0; i < 2; i++) {
			const struct trace_rec *r = nth("iommufd_hw_queue_alloc", i);

			snprintf(want, sizeof(want),
				 "id=%u type=hw_queue viommu=%u hw_queue_type=%u index=%d base_addr=0x%llx length=%ld",
				 hwq[i], viommu[0], IOMMU_HW_QUEUE_TYPE_SELFTEST, i,
				 (unsigned long long)iova[i], page_size);
			fdinfo_line(fd, hwq[i], text, sizeof(text));
			tap_ok(!strcmp(text, want), "HW queue %d: fdinfo line \"%s\" (got \"%s\")", i, want, text);
			tap_ok(r && f(r, "hw_queue") == hwq[i] && f(r, "viommu") == viommu[0] &&
			       f(r, "index") == (uint64_t)i && f(r, "base") == iova[i] &&
			       f(r, "length") == (uint64_t)page_size &&
			       f(r, "type") == IOMMU_HW_QUEUE_TYPE_SELFTEST,
			       "HW queue %d: its alloc event announced the same id, index, base and length", i);
		}
		rc = mock_destroy(fd, hwq[1]);
		fdinfo_line(fd, hwq[1], text, sizeof(text));
		collect();
		tap_ok(!rc && !*text && count("iommufd_hw_queue_destroy") == 1 &&
		       f(nth("iommufd_hw_queue_destroy", 0), "hw_queue") == hwq[1],
		       "HW queue 1 destroyed: its fdinfo line is gone, one destroy event");
		fdinfo_line(fd, hwq[0], text, sizeof(text));
		tap_ok(!strncmp(text, "id=", 3), "HW queue 0 is still in fdinfo");
	}

	close(veventq_fd);
	close(fault_fd);
	close(fd);
	trace_system_enable("iommufd", false);
	free(recs);
	return tap_done();
}
