// SPDX-License-Identifier: GPL-2.0-only
/*
 * stress_races - VMMs racing each other, fdinfo readers and SIGKILL on the
 * iommufd mock driver (tests/vm/stress_races.sh runs it beside the viommu
 * tool and checks what the tool saw against the reports written here).
 *
 *   stress_races [-s SEED] [-d SECS] [-v VMMS] [-r READERS] -o REPORT
 *
 * For SECS seconds VMMS VMM processes run at once, each with its own
 * iommufd context: an IOAS, four mock devices and a nesting parent (S2),
 * then random steps on up to three vIOMMU slots: allocate a vIOMMU (with a
 * KVM VM or not), a vDEVICE, a nested HWPT on a fault queue (the device
 * attached to it), a vEVENTQ, a fault queue; guest invalidations, vEVENTs,
 * IO page faults read and answered, S2 map/unmap; tear one slot down in a
 * random order. Each VMM keeps a model of its objects: an ioctl answering
 * other than the model says is an error. A VMM is born "normal" (a random
 * number of steps, then it holds still while the parent reads its fdinfo
 * and compares it with the objects it says it has, then exits 0) or
 * "killed" (SIGKILL after a random time; its invalidations may sleep in
 * the mock, so kills land mid-ioctl). READERS processes read the fdinfo of
 * every /dev/iommu file in /proc in a loop and check its form.
 *
 * Every counter is kept in shared memory twice: started (before the
 * ioctl) and done (after it returned), so a killed VMM's figures are known
 * to lie between the two. REPORT gets one "vmm" line per VMM; stdout gets
 * "check 0|1 NAME" lines (1 = failed, a "#   " line after says why) and
 * "# " totals.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "../lib/seeded.h"

#define MAX_VMMS	2048	/* VMMs over the whole run */
#define MAX_READERS	8
#define SLOTS		3	/* vIOMMU slots per VMM */
#define NDEV		(SLOTS + 1)
#define MAX_FAULTQ	2
#define MAX_OBJS	64
#define VEVENT_CAP	32	/* per vEVENTQ, below its depth: none lost */
#define VEVENTQ_DEPTH	64
#define MAP_LEN		(64 * 1024)

enum ctr {
	C_VIOMMU, C_VDEV, C_NESTED, C_VEVENTQ, C_FAULTQ, C_DESTROY,
	C_INVAL, C_ENTRIES, C_S2, C_VMID, C_VEVENT, C_FAULT, C_RESP,
	C_IOCTL, NC
};
static const char *const ctr_name[NC] = {
	"viommus", "vdevices", "nested", "veventqs", "fault_queues", "destroys",
	"invals", "entries", "s2", "vmid_invals", "vevents", "faults",
	"responses", "ioctls",
};

enum fate { NORMAL, KILLED };
enum state { S_SETUP, S_RUN, S_PAUSED, S_RELEASED };

struct vmm_shared {
	volatile pid_t pid;
	volatile int fate, state, in_ioctl, fd, kvm;
	volatile uint32_t ctx;
	volatile uint64_t started[NC], done[NC];
	volatile int nobjs, eventq_busy;
	char objs[MAX_OBJS][48];	/* "id type" (+ " kvm=N" for vIOMMUs) */
	char error[256];
	/* the parent's side */
	int status, killed_mid_ioctl, fdinfo_checked;
	char fdinfo_diff[256];
	double kill_at;
	volatile bool reaped;	/* the readers skip reaped VMMs */
	bool kill_sent;
};

struct reader_shared {
	volatile uint64_t reads, objects, contexts, malformed, vanished;
	char first_bad[256];
};

struct shared {
	volatile int stop_readers;
	volatile int nvmm;	/* the VMMs started so far, for the readers */
	struct vmm_shared vmm[MAX_VMMS];
	struct reader_shared reader[MAX_READERS];
};

static struct shared *sh;

/* --- one VMM --- */

struct vslot {
	uint32_t viommu, vdev, nested, veventq, nested_fault;
	uint32_t attached_vdev;	/* the vDEVICE the mock took at attach time */
	uint64_t virt_id;
	int veventq_fd, nested_fault_fd, vevents, kvm;
};

struct vmm {
	struct vmm_shared *s;
	int fd, kvm_fd;
	uint32_t ioas, s2, auto_hwpt;
	struct mock_dev dev[NDEV];
	struct vslot v[SLOTS];
	uint32_t faultq[MAX_FAULTQ];
	int faultq_fd[MAX_FAULTQ];
	void *buf;
};

static void __attribute__((noreturn, format(printf, 2, 3)))
vmm_fail(struct vmm *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->s->error, sizeof(m->s->error), fmt, ap);
	va_end(ap);
	_exit(3);
}

/* Count an operation as started; the ioctl is in flight until done() */
static void start(struct vmm *m, enum ctr c, uint64_t n)
{
	m->s->started[c] += n;
	m->s->started[C_IOCTL]++;
	m->s->in_ioctl = 1;
}

static void done(struct vmm *m, enum ctr c, uint64_t n)
{
	m->s->in_ioctl = 0;
	m->s->done[c] += n;
	m->s->done[C_IOCTL]++;
}

/* An ioctl the model says succeeds */
#define MUST(m, c, n, call)						\
	do {								\
		int _rc;						\
		start(m, c, n);						\
		_rc = (call);						\
		if (_rc)						\
			vmm_fail(m, "%s: %s", #call, strerror(-_rc));	\
		done(m, c, n);						\
	} while (0)

static int alive_viommus(const struct vmm *m)
{
	int n = 0;

	for (int k = 0; k < SLOTS; k++)
		n += !!m->v[k].viommu;
	return n;
}

static void destroy_id(struct vmm *m, uint32_t id, const char *what)
{
	int rc;

	start(m, C_DESTROY, 1);
	rc = mock_destroy(m->fd, id);
	if (rc)
		vmm_fail(m, "IOMMU_DESTROY of %s %u: %s", what, id, strerror(-rc));
	done(m, C_DESTROY, 1);
}

/*
 * An event queue's file holds the object: IOMMU_DESTROY after close() is
 * EBUSY while another task still holds the file. The fdinfo readers do,
 * for a moment, when they readlink() /proc/PID/fd/N (as any /proc walker
 * does): retry then, and count it.
 */
static void destroy_eventq(struct vmm *m, int fd, uint32_t id, const char *what)
{
	int rc;

	close(fd);
	start(m, C_DESTROY, 1);
	for (int i = 0; (rc = mock_destroy(m->fd, id)) == -EBUSY && i < 1000; i++) {
		m->s->eventq_busy++;
		usleep(1000);
	}
	if (rc)
		vmm_fail(m, "IOMMU_DESTROY of %s %u after closing its fd: %s", what, id,
			 strerror(-rc));
	done(m, C_DESTROY, 1);
}

static void drop_veventq(struct vmm *m, struct vslot *v)
{
	destroy_eventq(m, v->veventq_fd, v->veventq, "a vEVENTQ");
	v->veventq = 0;
	v->vevents = 0;
}

static void drop_nested(struct vmm *m, int k)
{
	struct vslot *v = &m->v[k];

	/* the device leaves the nested HWPT for the S2 first */
	MUST(m, C_IOCTL, 0, mock_dev_replace(m->fd, m->dev[k + 1].stdev_id, m->s2));
	destroy_id(m, v->nested, "a nested HWPT");
	v->nested = v->nested_fault = 0;
}

static void teardown_slot(struct vmm *m, int k)
{
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	const int *order = orders[below(6)];
	struct vslot *v = &m->v[k];

	/* the children (vDEVICE, nested HWPT, vEVENTQ) in a random order */
	for (int i = 0; i < 3; i++) {
		if (order[i] == 0 && v->vdev) {
			destroy_id(m, v->vdev, "a vDEVICE");
			v->vdev = 0;
		} else if (order[i] == 1 && v->nested) {
			drop_nested(m, k);
		} else if (order[i] == 2 && v->veventq) {
			drop_veventq(m, v);
		}
	}
	destroy_id(m, v->viommu, "a vIOMMU");
	memset(v, 0, sizeof(*v));
}

/* An IO page fault on slot k's device: raised, read, answered */
static void iopf(struct vmm *m, int k)
{
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	struct vslot *v = &m->v[k];
	struct iommu_hwpt_pgfault msg;
	ssize_t n;

	MUST(m, C_FAULT, 1, mock_trigger_iopf(m->fd, m->dev[k + 1].idev_id, 0,
					      below(0x200)));
	m->s->in_ioctl = 1;
	n = read(v->nested_fault_fd, &msg, sizeof(msg));
	m->s->in_ioctl = 0;
	if (n != sizeof(msg))
		vmm_fail(m, "reading the fault: %zd (%s)", n, strerror(errno));
	if (!(msg.flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) != !v->vdev ||
	    (v->vdev && msg.virt_id != v->virt_id))
		vmm_fail(m, "fault message flags 0x%x virt_id 0x%x, vDEVICE %u virt_id 0x%llx",
			 msg.flags, msg.virt_id, v->vdev,
			 (unsigned long long)v->virt_id);
	resp.cookie = msg.cookie;
	start(m, C_RESP, 1);
	n = write(v->nested_fault_fd, &resp, sizeof(resp));
	if (n != sizeof(resp))
		vmm_fail(m, "answering the fault: %zd (%s)", n, strerror(errno));
	done(m, C_RESP, 1);
}

/* One random step on the model; each branch does only what is valid now */
static void vmm_step(struct vmm *m)
{
	int k = below(SLOTS), f;
	struct vslot *v = &m->v[k];
	struct mock_dev *dev = &m->dev[k + 1];
	uint32_t got;
	int rc;

	switch (below(13)) {
	case 0: case 1:	/* a vIOMMU */
		if (v->viommu)
			break;
		v->kvm = m->kvm_fd >= 0 && below(2);
		MUST(m, C_VIOMMU, 1, mock_viommu_alloc_kvm(m->fd, dev->idev_id, m->s2,
							  v->kvm ? m->kvm_fd : -1,
							  &v->viommu));
		/* a killed VMM's invalidations sleep in the mock: kills mid-ioctl */
		if (m->s->fate == KILLED && below(2))
			MUST(m, C_IOCTL, 0, mock_viommu_set_inval_delay(m->fd, v->viommu,
									1000 + below(4000)));
		break;
	case 2:	/* a vDEVICE */
		if (!v->viommu || v->vdev)
			break;
		v->virt_id = 0x100 + below(0x10000);
		MUST(m, C_VDEV, 1, mock_vdevice_alloc(m->fd, v->viommu, dev->idev_id,
						      v->virt_id, &v->vdev));
		break;
	case 3:	/* a nested HWPT on a fault queue, the device on it */
		/* the mock attaches a device there only with a vDEVICE on it */
		if (!v->vdev || v->nested)
			break;
		f = below(MAX_FAULTQ);
		if (!m->faultq[f])
			break;
		MUST(m, C_NESTED, 1, mock_nested_alloc(m->fd, dev->idev_id, v->viommu,
						       m->faultq[f], &v->nested));
		v->nested_fault = m->faultq[f];
		v->nested_fault_fd = m->faultq_fd[f];
		MUST(m, C_IOCTL, 0, mock_dev_replace(m->fd, dev->stdev_id, v->nested));
		v->attached_vdev = v->vdev;
		break;
	case 4:	/* a vEVENTQ */
		if (!v->viommu || v->veventq)
			break;
		MUST(m, C_VEVENTQ, 1, mock_veventq_alloc(m->fd, v->viommu, VEVENTQ_DEPTH,
							 &v->veventq, &v->veventq_fd));
		break;
	case 5:	/* a fault queue, or one no nested HWPT uses goes */
		f = below(MAX_FAULTQ);
		if (!m->faultq[f]) {
			MUST(m, C_FAULTQ, 1,
			     mock_fault_alloc_flags(m->fd, IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID,
						    &m->faultq[f], &m->faultq_fd[f]));
			break;
		}
		for (int i = 0; i < SLOTS; i++)
			if (m->v[i].nested && m->v[i].nested_fault == m->faultq[f])
				return;
		destroy_eventq(m, m->faultq_fd[f], m->faultq[f], "a fault queue");
		m->faultq[f] = 0;
		break;
	case 6: case 7: {	/* guest invalidations */
		uint32_t n = 1 + below(4);

		if (!v->vdev)
			break;
		start(m, C_INVAL, 1);
		m->s->started[C_ENTRIES] += n;
		rc = mock_viommu_invalidate(m->fd, v->viommu, v->virt_id, n, 0, &got);
		if (rc || got != n)
			vmm_fail(m, "IOMMU_HWPT_INVALIDATE of %u: %s, %u done", n,
				 strerror(-rc), got);
		done(m, C_INVAL, 1);
		m->s->done[C_ENTRIES] += n;
		break;
	}
	case 8:	/* a vEVENT, queued: the mock raises it for a device on a nested HWPT */
		if (!v->vdev || !v->nested || v->attached_vdev != v->vdev || !v->veventq ||
		    v->vevents >= VEVENT_CAP)
			break;
		MUST(m, C_VEVENT, 1, mock_trigger_vevent(m->fd, dev->idev_id));
		v->vevents++;
		break;
	case 9:	/* an IO page fault */
		if (v->nested)
			iopf(m, k);
		break;
	case 10: {	/* S2 map and unmap: one VMID invalidation per vIOMMU */
		uint64_t iova = 0;

		MUST(m, C_IOCTL, 0, mock_ioas_map(m->fd, m->ioas, m->buf, MAP_LEN, &iova));
		start(m, C_S2, 1);
		m->s->started[C_VMID] += alive_viommus(m);
		rc = mock_ioas_unmap(m->fd, m->ioas, iova, MAP_LEN);
		if (rc)
			vmm_fail(m, "IOMMU_IOAS_UNMAP: %s", strerror(-rc));
		done(m, C_S2, 1);
		m->s->done[C_VMID] += alive_viommus(m);
		break;
	}
	case 11:	/* a vIOMMU with children cannot go */
		if (v->viommu && (v->vdev || v->nested || v->veventq)) {
			start(m, C_IOCTL, 0);
			rc = mock_destroy(m->fd, v->viommu);
			if (rc != -EBUSY)
				vmm_fail(m, "IOMMU_DESTROY of vIOMMU %u with children: %s, want EBUSY",
					 v->viommu, strerror(-rc));
			done(m, C_IOCTL, 0);
		}
		break;
	case 12:
		if (v->viommu && !below(3))
			teardown_slot(m, k);
		break;
	}
}

/* What the VMM holds, as "id type" strings for the fdinfo check */
static void publish_objects(struct vmm *m)
{
	struct vmm_shared *s = m->s;
	int n = 0;

#define OBJ(id, fmt, ...) snprintf(s->objs[n++], sizeof(s->objs[0]), "%u " fmt, id, ##__VA_ARGS__)
	OBJ(m->ioas, "ioas");
	OBJ(m->auto_hwpt, "hwpt_paging");
	OBJ(m->s2, "hwpt_paging");
	for (int i = 0; i < NDEV; i++) {
		OBJ(m->dev[i].stdev_id, "selftest");
		OBJ(m->dev[i].idev_id, "device");
	}
	for (int f = 0; f < MAX_FAULTQ; f++)
		if (m->faultq[f])
			OBJ(m->faultq[f], "fault");
	for (int k = 0; k < SLOTS; k++) {
		struct vslot *v = &m->v[k];

		if (!v->viommu)
			continue;
		OBJ(v->viommu, "viommu kvm=%d", v->kvm);
		if (v->vdev)
			OBJ(v->vdev, "vdevice");
		if (v->nested)
			OBJ(v->nested, "hwpt_nested");
		if (v->veventq)
			OBJ(v->veventq, "veventq");
	}
#undef OBJ
	s->nobjs = n;
}

static void __attribute__((noreturn)) vmm_main(struct vmm_shared *s, uint64_t seed)
{
	struct vmm m = { .s = s, .kvm_fd = -1 };
	int64_t ctx;
	int steps, rc;
	char path[64];

	rng_state = seed;
	m.fd = mock_open();
	if (m.fd < 0)
		vmm_fail(&m, "open /dev/iommu: %s", strerror(-m.fd));
	s->fd = m.fd;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", m.fd);
	if ((rc = mock_fdinfo_field(path, 0, "iommufd-ctx", &ctx)))
		vmm_fail(&m, "iommufd-ctx in %s: %s", path, strerror(-rc));
	s->ctx = ctx;
	if (below(2)) {
		m.kvm_fd = kvm_vm_create();
		s->kvm = m.kvm_fd >= 0;
	}
	m.buf = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m.buf == MAP_FAILED)
		vmm_fail(&m, "mmap: %s", strerror(errno));
	MUST(&m, C_IOCTL, 0, mock_ioas_alloc(m.fd, &m.ioas));
	for (int i = 0; i < NDEV; i++)
		MUST(&m, C_IOCTL, 0, mock_dev_add(m.fd, m.ioas, 0, &m.dev[i]));
	m.auto_hwpt = m.dev[0].hwpt_id;
	MUST(&m, C_IOCTL, 0, mock_nest_parent_alloc(m.fd, m.dev[0].idev_id, m.ioas, &m.s2));
	/* device 0 keeps the IOAS's automatic domain; the others move to the S2 */
	for (int i = 1; i < NDEV; i++)
		MUST(&m, C_IOCTL, 0, mock_dev_replace(m.fd, m.dev[i].stdev_id, m.s2));
	s->state = S_RUN;

	steps = s->fate == KILLED ? 1 << 30 : 20 + below(200);
	for (int i = 0; i < steps; i++)
		vmm_step(&m);

	/* hold still while the parent compares fdinfo with this */
	publish_objects(&m);
	__atomic_store_n(&s->state, S_PAUSED, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) != S_RELEASED)
		usleep(1000);
	/* closing the context destroys all that is left, traced */
	close(m.fd);
	_exit(0);
}

/* --- fdinfo readers --- */

static const char *const known_types[] = {
	"device", "hwpt_paging", "hwpt_nested", "ioas", "access", "fault",
	"viommu", "vdevice", "veventq", "hw_queue", "selftest",
};

/* Check one fdinfo read: the context lines, then objects in id order */
static const char *check_fdinfo(FILE *f, struct reader_shared *r)
{
	static char why[200];
	char line[512], type[32];
	bool ctx = false, owner = false;
	unsigned int id, last = 0;

	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "iommufd-ctx:\t", 13)) {
			ctx = true;
		} else if (!strncmp(line, "iommufd-owner-tgid:\t", 20)) {
			owner = true;
		} else if (!strncmp(line, "iommufd-object:", 15)) {
			bool known = false;

			if (!ctx || !owner)
				return "an object before the context lines";
			if (sscanf(line, "iommufd-object:\tid=%u type=%31s", &id, type) != 2) {
				snprintf(why, sizeof(why), "unparsed: %.100s", line);
				return why;
			}
			for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
				known |= !strcmp(type, known_types[i]);
			if (!known || id <= last) {
				snprintf(why, sizeof(why), "type %s id %u after %u", type, id, last);
				return why;
			}
			last = id;
			r->objects++;
		}
	}
	if (!ctx || !owner)
		return "no iommufd-ctx or iommufd-owner-tgid line";
	r->contexts++;
	return NULL;
}

/* Read and check one fdinfo if PID's FD is an iommufd */
static void read_fdinfo(struct reader_shared *r, const char *pid, const char *fd)
{
	char path[300], link[64];
	const char *bad;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n != 10 || memcmp(link, "/dev/iommu", 10))
		return;
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	f = fopen(path, "r");
	if (!f) {
		r->vanished++;	/* exited meanwhile */
		return;
	}
	bad = check_fdinfo(f, r);
	r->reads++;
	/* a file that went away mid-read reads empty */
	if (bad && ferror(f))
		r->vanished++, bad = NULL;
	if (bad && !r->malformed++)
		snprintf(r->first_bad, sizeof(r->first_bad), "%.100s: %.150s", path, bad);
	fclose(f);
}

/* Every iommufd of every process: the tool's, a VMM's not yet published */
static void read_all_fdinfo(struct reader_shared *r)
{
	char path[300];
	DIR *proc = opendir("/proc");
	struct dirent *p;

	if (!proc)
		_exit(4);
	while ((p = readdir(proc)) && !sh->stop_readers) {
		DIR *fds;
		struct dirent *e;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((e = readdir(fds)))
			if (e->d_name[0] != '.')
				read_fdinfo(r, p->d_name, e->d_name);
		closedir(fds);
	}
	closedir(proc);
}

/*
 * Mostly the published VMMs' contexts, straight: a walk of all of /proc
 * takes seconds on a debug kernel (KASAN, lockdep), where it left the
 * readers a few reads a minute, so it is every eighth pass only.
 */
static void __attribute__((noreturn)) reader_main(struct reader_shared *r)
{
	char pid[16], fd[16];

	for (unsigned int pass = 0; !sh->stop_readers; pass++) {
		if (pass % 8 == 0) {
			read_all_fdinfo(r);
			continue;
		}
		for (int i = 0; i < sh->nvmm && !sh->stop_readers; i++) {
			struct vmm_shared *s = &sh->vmm[i];
			pid_t p = s->pid;
			int f = s->fd;

			if (p <= 0 || f < 0 || s->reaped)
				continue;
			snprintf(pid, sizeof(pid), "%d", p);
			snprintf(fd, sizeof(fd), "%d", f);
			read_fdinfo(r, pid, fd);
		}
	}
	_exit(0);
}

/* --- the parent --- */

/* fdinfo of a paused VMM against the objects it published */
static void check_paused(struct vmm_shared *s)
{
	char path[64], line[512], type[32], got[MAX_OBJS * 2][48];
	unsigned int id, kvm;
	int ngot = 0, missing = 0, extra = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", s->pid, s->fd);
	f = fopen(path, "r");
	if (!f) {
		snprintf(s->fdinfo_diff, sizeof(s->fdinfo_diff), "%s: %s", path,
			 strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) && ngot < MAX_OBJS * 2) {
		char *k;

		if (sscanf(line, "iommufd-object:\tid=%u type=%31s", &id, type) != 2)
			continue;
		if (!strcmp(type, "viommu") && (k = strstr(line, " kvm=")) &&
		    sscanf(k, " kvm=%u", &kvm) == 1)
			snprintf(got[ngot++], sizeof(got[0]), "%u viommu kvm=%u", id, kvm);
		else
			snprintf(got[ngot++], sizeof(got[0]), "%u %s", id, type);
	}
	fclose(f);
	for (int i = 0; i < s->nobjs; i++) {
		bool found = false;

		for (int j = 0; j < ngot && !found; j++)
			found = !strcmp(s->objs[i], got[j]);
		if (!found && !missing++)
			snprintf(s->fdinfo_diff, sizeof(s->fdinfo_diff),
				 "missing \"%.47s\"", s->objs[i]);
	}
	for (int j = 0; j < ngot; j++) {
		bool found = false;

		for (int i = 0; i < s->nobjs && !found; i++)
			found = !strcmp(s->objs[i], got[j]);
		if (!found && !extra++ && !missing)
			snprintf(s->fdinfo_diff, sizeof(s->fdinfo_diff),
				 "not the owner's: \"%.47s\"", got[j]);
	}
	s->fdinfo_checked = !missing && !extra ? 1 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: stress_races [-s SEED] [-d SECS] [-v VMMS] [-r READERS] -o REPORT\n");
	exit(2);
}

static void check(bool pass, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("check %d %s\n", pass ? 0 : 1, name);
	if (!pass && fmt) {
		printf("#   ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = 15, total[NC] = {};
	int secs = 40, live_target = 4, readers = 2, nvmm = 0, opt;
	int normal = 0, killed = 0, mid_ioctl = 0, bad_exit = 0, checked = 0;
	int fdinfo_bad = 0, errors = 0, eventq_busy = 0;
	const char *report = NULL, *first_error = NULL, *first_exit = NULL;
	const char *first_diff = NULL;
	pid_t reader_pid[MAX_READERS];
	uint64_t reads = 0, objects = 0, malformed = 0, vanished = 0;
	static char exit_why[300];
	double end;
	FILE *out;

	while ((opt = getopt(argc, argv, "s:d:v:r:o:")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': secs = atoi(optarg); break;
		case 'v': live_target = atoi(optarg); break;
		case 'r': readers = atoi(optarg); break;
		case 'o': report = optarg; break;
		default: usage();
		}
	}
	if (!report || secs < 1 || live_target < 1 || live_target > 64 ||
	    readers < 0 || readers > MAX_READERS)
		usage();
	out = fopen(report, "w");
	if (!out) {
		fprintf(stderr, "stress_races: %s: %s\n", report, strerror(errno));
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	printf("# seed %llu: %d s, %d VMMs at once, %d fdinfo readers\n",
	       (unsigned long long)seed, secs, live_target, readers);
	fflush(stdout);

	for (int i = 0; i < readers; i++) {
		reader_pid[i] = fork();
		if (!reader_pid[i])
			reader_main(&sh->reader[i]);
	}

	end = now() + secs;
	for (;;) {
		int live = 0;
		bool spawning = now() < end && nvmm < MAX_VMMS;

		for (int i = 0; i < nvmm; i++) {
			struct vmm_shared *s = &sh->vmm[i];
			int st;

			if (s->reaped)
				continue;
			live++;
			if (s->pid <= 0)
				abort();
			if (s->fate == KILLED && !s->kill_sent &&
			    (now() >= s->kill_at || !spawning)) {
				s->killed_mid_ioctl = s->in_ioctl;
				kill(s->pid, SIGKILL);
				s->kill_sent = true;
			}
			if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == S_PAUSED) {
				check_paused(s);
				__atomic_store_n(&s->state, S_RELEASED, __ATOMIC_SEQ_CST);
			}
			if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
				s->reaped = true;
				s->status = st;
				live--;
			}
		}
		if (!spawning && !live)
			break;
		while (spawning && live < live_target) {
			struct vmm_shared *s = &sh->vmm[nvmm];
			uint64_t child_seed = rnd();

			s->fate = below(5) < 2 ? KILLED : NORMAL;
			/* some die setting up, most in their loop */
			s->kill_at = now() + (below(4) ? 0.05 + below(1500) / 1000.0 :
						       below(50) / 1000.0);
			pid_t pid;

			s->fd = -1;
			/* the child must not write the shared pid: kill(0) is everyone */
			pid = fork();
			if (pid < 0) {
				perror("fork");
				return 2;
			}
			if (!pid)
				vmm_main(s, child_seed);
			s->pid = pid;
			sh->nvmm = ++nvmm;
			live++;
		}
		usleep(2000);
	}
	sh->stop_readers = 1;
	for (int i = 0; i < readers; i++) {
		struct reader_shared *r = &sh->reader[i];
		int st;

		waitpid(reader_pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad_exit++;
		reads += r->reads;
		objects += r->objects;
		malformed += r->malformed;
		vanished += r->vanished;
		if (r->malformed && !first_diff)
			first_diff = r->first_bad;
	}

	for (int i = 0; i < nvmm; i++) {
		struct vmm_shared *s = &sh->vmm[i];
		bool by_kill = WIFSIGNALED(s->status) && WTERMSIG(s->status) == SIGKILL;

		eventq_busy += s->eventq_busy;
		if (s->error[0] && !errors++)
			first_error = s->error;
		if (s->fate == NORMAL) {
			normal++;
			if (!WIFEXITED(s->status) || WEXITSTATUS(s->status)) {
				snprintf(exit_why, sizeof(exit_why), "normal VMM %d: status 0x%x",
					 s->pid, s->status);
				if (!bad_exit++)
					first_exit = exit_why;
			}
			if (s->fdinfo_checked) {
				checked++;
				if (s->fdinfo_checked < 0 && !fdinfo_bad++ && !first_diff)
					first_diff = s->fdinfo_diff;
			} else if (!s->error[0] && !fdinfo_bad++) {
				first_diff = s->fdinfo_diff[0] ? s->fdinfo_diff : "never held still";
			}
		} else {
			killed++;
			mid_ioctl += s->killed_mid_ioctl;
			/* a VMM that failed an ioctl exits 3 before its kill */
			if (!by_kill && !s->error[0]) {
				snprintf(exit_why, sizeof(exit_why), "killed VMM %d: status 0x%x",
					 s->pid, s->status);
				if (!bad_exit++)
					first_exit = exit_why;
			}
		}
		fprintf(out, "vmm pid=%d vm=%u fate=%s kvm=%d", s->pid, s->ctx,
			s->fate == NORMAL ? "normal" : "killed", s->kvm);
		for (int c = 0; c < NC; c++) {
			fprintf(out, " %s=%llu", ctr_name[c], (unsigned long long)s->done[c]);
			total[c] += s->done[c];
		}
		for (int c = 0; c < NC; c++)
			fprintf(out, " started_%s=%llu", ctr_name[c],
				(unsigned long long)s->started[c]);
		fprintf(out, "\n");
	}
	fclose(out);

	printf("# %d VMMs: %d exited normally, %d killed (%d mid-ioctl)\n",
	       nvmm, normal, killed, mid_ioctl);
	printf("# %llu ioctls: %llu vIOMMUs, %llu vDEVICEs, %llu nested HWPTs, %llu vEVENTQs, "
	       "%llu fault queues, %llu destroys; %llu invalidations, %llu S2 unmaps, "
	       "%llu vEVENTs, %llu IO page faults\n",
	       (unsigned long long)total[C_IOCTL], (unsigned long long)total[C_VIOMMU],
	       (unsigned long long)total[C_VDEV], (unsigned long long)total[C_NESTED],
	       (unsigned long long)total[C_VEVENTQ], (unsigned long long)total[C_FAULTQ],
	       (unsigned long long)total[C_DESTROY], (unsigned long long)total[C_INVAL],
	       (unsigned long long)total[C_S2], (unsigned long long)total[C_VEVENT],
	       (unsigned long long)total[C_FAULT]);
	printf("# %llu fdinfo reads (%llu objects seen, %llu contexts gone mid-read)\n",
	       (unsigned long long)reads, (unsigned long long)objects,
	       (unsigned long long)vanished);
	printf("# %d IOMMU_DESTROYs of a just-closed event queue answered EBUSY "
	       "(a /proc reader held its file), retried\n", eventq_busy);

	check(!errors, "every VMM's ioctls answered as its model of its objects says",
	      "%d VMMs failed; first: %s", errors, first_error);
	check(!bad_exit, "normal VMMs exited 0, the others died of SIGKILL, readers exited 0",
	      "%d; first: %s", bad_exit, first_exit ? first_exit : "a reader");
	check(checked && !fdinfo_bad,
	      "fdinfo of each surviving context lists exactly the objects its VMM holds",
	      "%d of %d normal VMMs differ; first: %s", fdinfo_bad, normal,
	      first_diff ? first_diff : "none checked");
	check(reads > 0 && !malformed,
	      "every fdinfo read well-formed (context lines, then objects of known types in id order)",
	      "%llu of %llu reads malformed; first: %s", (unsigned long long)malformed,
	      (unsigned long long)reads, first_diff ? first_diff : "no reads");
	check(normal > 0 && killed > 0 && mid_ioctl > 0 && total[C_VIOMMU] > 0 &&
	      total[C_FAULT] > 0 && total[C_VEVENT] > 0,
	      "the run raced what it should (normal exits, kills and some mid-ioctl, vIOMMUs, faults, vEVENTs)",
	      "%d normal, %d killed, %d mid-ioctl", normal, killed, mid_ioctl);
	return 0;
}
