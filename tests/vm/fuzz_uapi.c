// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_uapi - a randomized driver of the series' uAPI (issue 15 item 3),
 * with a fixed seed printed so any failure reproduces:
 *
 *   fuzz_uapi [-s SEED] [-d SECS] [-n MAXOPS]
 *
 * One iommufd context with an IOAS, three mock devices, a nesting parent
 * (S2) and a fault queue, then random steps against a model of the
 * context's objects:
 *  - IOMMU_VIOMMU_ALLOC with random values in every field: sizes below the
 *    minimum, at each field boundary, above it with zero and non-zero
 *    tails and running into an unmapped page; flags with and without
 *    IOMMU_VIOMMU_ALLOC_KVM_FD and beyond the defined bits; types; device
 *    and HWPT ids of every kind of object, absent and huge; kvm_fd a KVM
 *    VM, /dev/kvm itself, an iommufd, a pipe, a regular file, an event
 *    queue, a closed fd, negative and huge; data_len/data_uptr. The
 *    expected errno comes from docs/uapi.md's table and, where the table
 *    is silent, from the order of the checks in iommufd_viommu_alloc_ioctl()
 *    and the ioctl dispatcher;
 *  - vDEVICEs (virt_ids above U32_MAX too), nested HWPTs on a vIOMMU or on
 *    the S2, vEVENTQs, and destroys (EBUSY while children hold an object,
 *    ENOENT for ids not in the context);
 *  - IO page faults read with counts that are not a message's multiple
 *    (ESPIPE), zero (EINVAL), one or two messages: the message carries
 *    IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID and the virt_id exactly when the
 *    device has a vDEVICE whose virt_id fits 32 bits; responses with an
 *    unknown cookie or code (EINVAL);
 *  - a third of the allocating ioctls run with an allocation made to fail
 *    (/proc/self/task/TID/fail-nth, as iommufd_fail_nth does; this also
 *    arms the selftest's own fault point in iommufd_get_object(), which
 *    fails a lookup with ENOENT): the ioctl succeeds, or fails with ENOMEM
 *    or ENOENT (EINVAL from IOMMU_HWPT_ALLOC, its answer to a pt_id it
 *    cannot look up), and leaves nothing behind if it fails;
 *  - after every step the context's own fdinfo lists exactly the model's
 *    objects, while a child process reads the same fdinfo in a loop and
 *    checks its form (half-built contexts, objects being aborted).
 * At the end everything is destroyed: fdinfo lists no object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "../lib/seeded.h"
#include "../lib/tap.h"

#define NDEV		3
#define MAX_VIOMMUS	8
#define VIOMMU_MIN	24	/* offsetofend(struct iommu_viommu_alloc, out_viommu_id) */
#define FINDINGS_PER_AREA 4
#define CLOSED_FD	999	/* an fd number that was open and is closed */

/* --- what each area checked, and what disagreed --- */

enum area { A_VIOMMU, A_CHILD, A_DESTROY, A_FAULT_READ, A_FAULT_RESP, A_INJECT,
	    A_FDINFO, NAREA };
static unsigned long ops[NAREA], bad[NAREA];
static unsigned long injected, fdinfo_reads;

static void __attribute__((format(printf, 3, 4)))
expect(enum area a, bool pass, const char *fmt, ...)
{
	va_list ap;

	ops[a]++;
	if (pass)
		return;
	/* the first few of each area, enough to see what goes wrong */
	if (bad[a]++ >= FINDINGS_PER_AREA)
		return;
	printf("# finding: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *err_name(int rc)
{
	static char buf[32];

	switch (-rc) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case E2BIG: return "E2BIG";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ESPIPE: return "ESPIPE";
	}
	snprintf(buf, sizeof(buf), "errno %d", -rc);
	return buf;
}

/* --- fail-nth: the nth fault-injectable allocation of this task fails --- */

static int nth_fd = -1;

static void nth_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		tap_bail("cannot write fail-nth");
}

/* Disarm; true when the failure was injected (the count ran out) */
static bool nth_disarm(void)
{
	char buf[16] = "";
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	/* as iommufd_fail_nth: reading can itself be the failed call */
	if (n < 0 && errno == EFAULT)
		strcpy(buf, "0\n");
	while (pwrite(nth_fd, "0", 1, 0) != 1)
		if (errno != EFAULT)
			tap_bail("cannot disarm fail-nth");
	return !strcmp(buf, "0\n");
}

static bool setup_fault_injection(void)
{
	char path[64];
	int fd;

	/* GFP_KERNEL allocations too, and no stack dump for each failure */
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	};
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		fd = open(knobs[i][0], O_WRONLY);
		if (fd < 0 || write(fd, knobs[i][1], 1) != 1)
			return false;
		close(fd);
	}
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", syscall(SYS_gettid));
	nth_fd = open(path, O_RDWR);
	return nth_fd >= 0;
}

/* --- the context and its model --- */

struct viommu_m {
	uint32_t id, vdev, nested, veventq;
	int vdev_dev, nested_dev, veventq_fd, kvm, data;
	uint64_t virt_id;
};

static struct {
	int fd, fault_fd, vm_fd, kvm_dev_fd, pipe_fd[2], file_fd;
	uint32_t ioas, auto_hwpt, s2, fault;
	bool fault_virt_id;		/* the queue has IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID */
	struct mock_dev dev[NDEV];
	/* what each device is attached to (0: the S2) and its vDEVICE */
	uint32_t attached[NDEV];
	int attached_viommu[NDEV];	/* index of the nested HWPT's vIOMMU, -1: on the S2 */
	uint32_t s2_nested[NDEV];	/* a nested HWPT on the S2 itself */
	struct viommu_m v[MAX_VIOMMUS];
	int nv;
	char *guard_page;		/* a page followed by an unmapped one */
} c;

static void model_objects(char (*out)[40], int *n)
{
	int k = 0;

#define OBJ(id, type) snprintf(out[k++], 40, "%u %s", (id), (type))
	OBJ(c.ioas, "ioas");
	OBJ(c.auto_hwpt, "hwpt_paging");
	OBJ(c.s2, "hwpt_paging");
	OBJ(c.fault, "fault");
	for (int i = 0; i < NDEV; i++) {
		OBJ(c.dev[i].stdev_id, "selftest");
		OBJ(c.dev[i].idev_id, "device");
		if (c.s2_nested[i])
			OBJ(c.s2_nested[i], "hwpt_nested");
	}
	for (int i = 0; i < c.nv; i++) {
		struct viommu_m *v = &c.v[i];

		OBJ(v->id, "viommu");
		if (v->vdev)
			OBJ(v->vdev, "vdevice");
		if (v->nested)
			OBJ(v->nested, "hwpt_nested");
		if (v->veventq)
			OBJ(v->veventq, "veventq");
	}
#undef OBJ
	*n = k;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The context's fdinfo lists exactly the model's objects */
static void check_fdinfo(const char *when)
{
	char want[64][40], got[64][40], path[64], line[256], type[32];
	int nwant, ngot = 0, i;
	unsigned int id;
	FILE *f;

	model_objects(want, &nwant);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", c.fd);
	f = fopen(path, "r");
	if (!f)
		tap_bail("cannot read the context's fdinfo");
	while (fgets(line, sizeof(line), f) && ngot < 64)
		if (sscanf(line, "iommufd-object:\tid=%u type=%31s", &id, type) == 2)
			snprintf(got[ngot++], 40, "%u %s", id, type);
	fclose(f);
	fdinfo_reads++;
	qsort(want, nwant, sizeof(want[0]), cmp_str);
	qsort(got, ngot, sizeof(got[0]), cmp_str);
	for (i = 0; i < nwant && i < ngot && !strcmp(want[i], got[i]); i++)
		;
	expect(A_FDINFO, nwant == ngot && i == nwant,
	       "fdinfo after %s: %d objects, the model %d; first difference: fdinfo \"%s\", model \"%s\"",
	       when, ngot, nwant, i < ngot ? got[i] : "-", i < nwant ? want[i] : "-");
}

/* --- IOMMU_VIOMMU_ALLOC, fuzzed --- */

enum id_kind { ID_DEV, ID_STDEV, ID_IOAS, ID_S2, ID_AUTO, ID_NESTED, ID_VIOMMU,
	       ID_ABSENT, ID_ZERO, ID_HUGE, NID };

static uint32_t pick_id(enum id_kind k)
{
	switch (k) {
	case ID_DEV: return c.dev[below(NDEV)].idev_id;
	case ID_STDEV: return c.dev[below(NDEV)].stdev_id;
	case ID_IOAS: return c.ioas;
	case ID_S2: return c.s2;
	case ID_AUTO: return c.auto_hwpt;
	case ID_NESTED:
		for (int i = 0; i < c.nv; i++)
			if (c.v[i].nested)
				return c.v[i].nested;
		return c.s2_nested[0] ? c.s2_nested[0] : 100000;
	case ID_VIOMMU: return c.nv ? c.v[below(c.nv)].id : 100001;
	case ID_ABSENT: return 100000 + below(1000);
	case ID_ZERO: return 0;
	default: return below(2) ? UINT32_MAX : 0x80000000u + below(0x7fffffff);
	}
}

static bool is_device_id(uint32_t id)
{
	for (int i = 0; i < NDEV; i++)
		if (c.dev[i].idev_id == id)
			return true;
	return false;
}

enum kvm_kind { K_VM, K_DEVKVM, K_IOMMUFD, K_PIPE, K_FILE, K_EVENTQ, K_CLOSED,
		K_MINUS1, K_INTMIN, K_INTMAX, K_ZERO, NKVM };

static int32_t pick_kvm_fd(enum kvm_kind k)
{
	switch (k) {
	case K_VM: return c.vm_fd;
	case K_DEVKVM: return c.kvm_dev_fd;
	case K_IOMMUFD: return c.fd;
	case K_PIPE: return c.pipe_fd[below(2)];
	case K_FILE: return c.file_fd;
	case K_EVENTQ: return c.fault_fd;
	case K_CLOSED: return CLOSED_FD;
	case K_MINUS1: return -1;
	case K_INTMIN: return INT32_MIN;
	case K_INTMAX: return INT32_MAX;
	default: return 0;
	}
}

static void fuzz_viommu_alloc(bool inject)
{
	struct iommu_viommu_selftest data = { .in_data = (uint32_t)rnd() };
	struct iommu_viommu_alloc cmd = { };
	enum kvm_kind kk = below(NKVM);
	uint32_t size, tail = 0, want_size;
	int want = 0, rc, dk, hk;
	char *at, desc[256];
	bool nonzero_tail = false, runs_off = false, nth_hit = false;

	/* size: the struct, a field boundary below, under the minimum, or more */
	switch (below(8)) {
	case 0: size = below(VIOMMU_MIN); break;
	case 1: size = VIOMMU_MIN; break;
	case 2: size = 28 + 4 * below(2); break;		/* after data_len, kvm_fd */
	case 3: size = sizeof(cmd) + 8; tail = 8; nonzero_tail = below(2); break;
	case 4: size = below(2) ? UINT32_MAX : sizeof(cmd) + 4096 + below(100000);
		runs_off = true; break;
	default: size = sizeof(cmd);
	}
	cmd.size = size;
	switch (below(6)) {
	case 0: cmd.flags = 1u << (1 + below(31)); break;
	case 1: cmd.flags = (uint32_t)rnd() | 2; break;
	case 2: case 3: cmd.flags = 0; break;
	default: cmd.flags = IOMMU_VIOMMU_ALLOC_KVM_FD;
	}
	switch (below(8)) {
	case 0: cmd.type = IOMMU_VIOMMU_TYPE_DEFAULT; break;
	case 1: cmd.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3; break;
	case 2: cmd.type = (uint32_t)rnd(); break;
	default: cmd.type = IOMMU_VIOMMU_TYPE_SELFTEST;
	}
	dk = below(3) ? ID_DEV : below(NID);
	hk = below(3) ? ID_S2 : below(NID);
	/* an output field: what the caller leaves in it is ignored */
	cmd.out_viommu_id = below(2) ? (uint32_t)rnd() : 0;
	cmd.dev_id = pick_id(dk);
	cmd.hwpt_id = pick_id(hk);
	cmd.kvm_fd = !(cmd.flags & IOMMU_VIOMMU_ALLOC_KVM_FD) && below(3) ? 0 : pick_kvm_fd(kk);
	switch (below(10)) {
	case 0: cmd.data_len = 1 + below(7); cmd.data_uptr = (uintptr_t)&data; break;
	case 1: cmd.data_len = sizeof(data); cmd.data_uptr = below(2) ? 16 : UINT64_MAX - 7; break;
	case 2: cmd.data_len = sizeof(data); cmd.data_uptr = (uintptr_t)&data; break;
	case 3: cmd.data_len = 0; cmd.data_uptr = rnd(); break;
	default: break;
	}
	/* the command ends where an unmapped page begins */
	at = c.guard_page + 4096 - sizeof(cmd) - tail;
	memcpy(at, &cmd, sizeof(cmd));
	memset(at + sizeof(cmd), 0, tail);
	if (nonzero_tail)
		at[sizeof(cmd) + below(tail)] = 1 + below(255);

	/* a truncated command is zero after its size */
	if (size < sizeof(cmd) && size >= VIOMMU_MIN) {
		if (size < 28)
			cmd.data_len = 0;
		if (size < 32)
			cmd.kvm_fd = 0;
		cmd.data_uptr = 0;
	}

	/* the kernel's order of checks; docs/uapi.md's table for kvm_fd */
	want_size = sizeof(cmd);
	if (size < VIOMMU_MIN)
		want = -EINVAL;
	else if (runs_off)
		want = -EFAULT;
	else if (size > want_size && nonzero_tail)
		want = -E2BIG;
	else if (cmd.flags & ~IOMMU_VIOMMU_ALLOC_KVM_FD ||
		 cmd.type == IOMMU_VIOMMU_TYPE_DEFAULT)
		want = -EOPNOTSUPP;		/* "an unknown flag" */
	else if (!(cmd.flags & IOMMU_VIOMMU_ALLOC_KVM_FD) && cmd.kvm_fd)
		want = -EINVAL;			/* "the word must stay 0" */
	else if (!is_device_id(cmd.dev_id))
		want = -ENOENT;
	else if (cmd.type != IOMMU_VIOMMU_TYPE_SELFTEST)
		want = -EOPNOTSUPP;
	else if (cmd.hwpt_id != c.s2 && cmd.hwpt_id != c.auto_hwpt)
		want = -ENOENT;
	else if (cmd.hwpt_id == c.auto_hwpt)
		want = -EINVAL;			/* not a nesting parent */
	else if (cmd.flags & IOMMU_VIOMMU_ALLOC_KVM_FD && cmd.kvm_fd != c.vm_fd)
		/* "not an open fd": EBADF; "not a KVM VM": EINVAL */
		want = fcntl(cmd.kvm_fd, F_GETFD) < 0 ? -EBADF : -EINVAL;
	else if (cmd.data_len && cmd.data_len < 8)
		want = -EINVAL;
	else if (cmd.data_len && cmd.data_uptr != (uintptr_t)&data)
		want = -EFAULT;

	snprintf(desc, sizeof(desc),
		 "IOMMU_VIOMMU_ALLOC size=%u%s flags=0x%x type=0x%x dev_id=%u hwpt_id=%u kvm_fd=%d (kind %d) data_len=%u data_uptr=0x%llx",
		 size, nonzero_tail ? " (non-zero tail)" : "", cmd.flags, cmd.type,
		 cmd.dev_id, cmd.hwpt_id, cmd.kvm_fd, kk, cmd.data_len,
		 (unsigned long long)cmd.data_uptr);
	if (inject)
		nth_arm(1 + below(12));
	rc = ioctl(c.fd, IOMMU_VIOMMU_ALLOC, at) ? -errno : 0;
	if (inject)
		nth_hit = nth_disarm();
	if (nth_hit) {
		injected++;
		/* an injected failure only where the call would have worked */
		expect(A_INJECT, rc == want || rc == -ENOMEM || rc == -ENOENT,
		       "%s with an allocation failed: %s, want %s, ENOMEM or ENOENT", desc,
		       err_name(rc), err_name(want));
	} else {
		expect(A_VIOMMU, rc == want, "%s: %s, want %s", desc, err_name(rc),
		       err_name(want));
	}
	if (!rc) {
		struct iommu_viommu_alloc *out = (void *)at;

		if (c.nv == MAX_VIOMMUS) {
			/* keep the model small: destroy it at once */
			expect(A_DESTROY, mock_destroy(c.fd, out->out_viommu_id) == 0,
			       "IOMMU_DESTROY of a new vIOMMU");
			return;
		}
		c.v[c.nv++] = (struct viommu_m){
			.id = out->out_viommu_id, .kvm = !!(cmd.flags & IOMMU_VIOMMU_ALLOC_KVM_FD),
			.data = !!cmd.data_len, .vdev_dev = -1, .nested_dev = -1,
		};
		if (cmd.data_len)
			expect(A_VIOMMU, data.out_data == data.in_data,
			       "vIOMMU data: out_data 0x%x, in_data 0x%x", data.out_data,
			       data.in_data);
	}
}

/* --- children, faults, destroys --- */

/*
 * An allocating call, maybe with an allocation failed; 0 when it worked.
 * lookup_errno: what the ioctl answers when its lookup of an id fails,
 * which the selftest's fault point in iommufd_get_object() can make happen
 * (IOMMU_HWPT_ALLOC answers EINVAL for any pt_id it cannot look up).
 */
static int alloc_call(const char *what, bool inject, int lookup_errno,
		      int (*call)(void *), void *arg)
{
	bool hit = false;
	int rc;

	if (inject)
		nth_arm(1 + below(12));
	rc = call(arg);
	if (inject)
		hit = nth_disarm();
	if (hit) {
		injected++;
		expect(A_INJECT, rc == 0 || rc == -ENOMEM || rc == -ENOENT || rc == lookup_errno,
		       "%s with an allocation failed: %s, want 0, ENOMEM, ENOENT or %s", what,
		       err_name(rc), err_name(lookup_errno));
	} else {
		expect(A_CHILD, rc == 0, "%s: %s", what, err_name(rc));
	}
	return rc;
}

struct child_args {
	struct viommu_m *v;
	int dev;
	uint32_t out;
	int out_fd;
};

static int do_vdev(void *p)
{
	struct child_args *a = p;

	return mock_vdevice_alloc(c.fd, a->v->id, c.dev[a->dev].idev_id, a->v->virt_id,
				  &a->out);
}

static int do_nested(void *p)
{
	struct child_args *a = p;

	return mock_nested_alloc(c.fd, c.dev[a->dev].idev_id, a->v ? a->v->id : c.s2,
				 c.fault, &a->out);
}

static int do_veventq(void *p)
{
	struct child_args *a = p;

	return mock_veventq_alloc(c.fd, a->v->id, 1 + below(64), &a->out, &a->out_fd);
}

static bool dev_has_vdev(int d)
{
	for (int i = 0; i < c.nv; i++)
		if (c.v[i].vdev && c.v[i].vdev_dev == d)
			return true;
	return false;
}

static void attach(int d, uint32_t pt, int viommu_index)
{
	int rc = mock_dev_replace(c.fd, c.dev[d].stdev_id, pt);

	expect(A_CHILD, rc == 0, "attaching device %d to %u: %s", d, pt, err_name(rc));
	if (rc)
		return;
	c.attached[d] = pt == c.s2 ? 0 : pt;
	c.attached_viommu[d] = viommu_index;
}

static void step_child(bool inject)
{
	struct child_args a = { .v = c.nv ? &c.v[below(c.nv)] : NULL };
	int d = below(NDEV);

	switch (below(4)) {
	case 0:	/* a vDEVICE; its virt_id above U32_MAX at times */
		if (!a.v || a.v->vdev || dev_has_vdev(d))
			return;
		a.v->virt_id = below(3) ? below(0x10000) : (rnd() | (1ULL << 32));
		a.dev = d;
		if (!alloc_call("IOMMU_VDEVICE_ALLOC", inject, -ENOENT, do_vdev, &a)) {
			a.v->vdev = a.out;
			a.v->vdev_dev = d;
		}
		break;
	case 1:	/* a nested HWPT on the vIOMMU, the device on it */
		/* the mock attaches a device there only with a vDEVICE on it */
		if (!a.v || a.v->nested || c.attached[d] || !a.v->vdev || a.v->vdev_dev != d)
			return;
		a.dev = d;
		if (!alloc_call("IOMMU_HWPT_ALLOC nested on a vIOMMU", inject, -EINVAL, do_nested, &a)) {
			a.v->nested = a.out;
			a.v->nested_dev = d;
			attach(d, a.out, a.v - c.v);
		}
		break;
	case 2:	/* a nested HWPT on the S2 itself: its faults have no vIOMMU */
		if (c.attached[d] || c.s2_nested[d])
			return;
		a.v = NULL;
		a.dev = d;
		if (!alloc_call("IOMMU_HWPT_ALLOC nested on the S2", inject, -EINVAL, do_nested, &a)) {
			c.s2_nested[d] = a.out;
			attach(d, a.out, -1);
		}
		break;
	case 3:
		if (!a.v || a.v->veventq)
			return;
		if (!alloc_call("IOMMU_VEVENTQ_ALLOC", inject, -ENOENT, do_veventq, &a)) {
			a.v->veventq = a.out;
			a.v->veventq_fd = a.out_fd;
		}
		break;
	}
}

static void destroy_expect(uint32_t id, int want, const char *what)
{
	int rc = mock_destroy(c.fd, id);

	expect(A_DESTROY, rc == want, "IOMMU_DESTROY of %s %u: %s, want %s", what, id,
	       err_name(rc), err_name(want));
}

static void detach(int d)
{
	if (c.attached[d])
		attach(d, c.s2, -1);
}

static void step_destroy(void)
{
	struct viommu_m *v;
	int i, d = below(NDEV);

	switch (below(6)) {
	case 0:	/* an id no object has */
		destroy_expect(100000 + below(100000), -ENOENT, "an absent id");
		return;
	case 1:	/* a nested HWPT on the S2: busy while the device is on it */
		if (!c.s2_nested[d])
			return;
		if (c.attached[d] == c.s2_nested[d]) {
			destroy_expect(c.s2_nested[d], -EBUSY, "an attached nested HWPT");
			detach(d);
		}
		destroy_expect(c.s2_nested[d], 0, "a nested HWPT on the S2");
		c.s2_nested[d] = 0;
		return;
	}
	if (!c.nv)
		return;
	i = below(c.nv);
	v = &c.v[i];
	switch (below(4)) {
	case 0:
		if (v->vdev) {
			destroy_expect(v->vdev, 0, "a vDEVICE");
			v->vdev = 0;
			v->vdev_dev = -1;
		}
		break;
	case 1:
		if (v->nested) {
			if (c.attached[v->nested_dev] == v->nested) {
				destroy_expect(v->nested, -EBUSY, "an attached nested HWPT");
				detach(v->nested_dev);
			}
			destroy_expect(v->nested, 0, "a nested HWPT");
			v->nested = 0;
		}
		break;
	case 2:
		if (v->veventq) {
			/* its file holds it */
			if (below(2))
				destroy_expect(v->veventq, -EBUSY, "a vEVENTQ whose fd is open");
			close(v->veventq_fd);
			destroy_expect(v->veventq, 0, "a vEVENTQ");
			v->veventq = 0;
		}
		break;
	case 3:
		if (v->vdev || v->nested || v->veventq) {
			destroy_expect(v->id, -EBUSY, "a vIOMMU with children");
		} else {
			destroy_expect(v->id, 0, "a vIOMMU");
			c.v[i] = c.v[--c.nv];
		}
		break;
	}
}

/* An IO page fault on an attached device, read and answered variously */
static void step_fault(void)
{
	const size_t msz = sizeof(struct iommu_hwpt_pgfault);
	struct iommu_hwpt_pgfault msg[2];
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	int d = below(NDEV), rc;
	size_t count;
	ssize_t n;
	bool want_virt = false;
	uint64_t virt_id = 0;

	/* device 0 stays on the automatic domain, which has no fault queue */
	if (!d || !c.attached[d])
		return;
	/*
	 * On a queue that asked for it, when the device faults through the
	 * nested HWPT of the vIOMMU that holds its vDEVICE
	 */
	for (int i = 0; i < c.nv; i++)
		if (c.fault_virt_id && c.v[i].vdev && c.v[i].vdev_dev == d &&
		    c.v[i].nested && c.attached[d] == c.v[i].nested &&
		    c.v[i].virt_id <= UINT32_MAX) {
			want_virt = true;
			virt_id = c.v[i].virt_id;
		}
	rc = mock_trigger_iopf(c.fd, c.dev[d].idev_id, 0, below(0x200));
	expect(A_FAULT_READ, rc == 0, "IOMMU_TEST_OP_TRIGGER_IOPF: %s", err_name(rc));
	if (rc)
		return;
	/* a count that is no multiple of a message, or zero, first */
	switch (below(4)) {
	case 0:
		count = msz + (below(2) ? 1 : -1);
		n = read(c.fault_fd, msg, count);
		expect(A_FAULT_READ, n < 0 && errno == ESPIPE,
		       "reading %zu bytes of a fault queue: %zd (%s), want ESPIPE", count, n,
		       n < 0 ? strerror(errno) : "-");
		break;
	case 1:
		n = read(c.fault_fd, msg, 0);
		expect(A_FAULT_READ, n < 0 && errno == EINVAL,
		       "reading 0 bytes of a fault queue with a fault pending: %zd (%s), want EINVAL",
		       n, n < 0 ? strerror(errno) : "-");
		break;
	}
	count = below(2) ? 2 * msz : msz;
	memset(msg, 0xa5, sizeof(msg));
	n = read(c.fault_fd, msg, count);
	expect(A_FAULT_READ, n == (ssize_t)msz, "reading %zu bytes for one fault: %zd", count, n);
	if (n != (ssize_t)msz)
		return;
	expect(A_FAULT_READ,
	       !!(msg[0].flags & IOMMU_PGFAULT_FLAGS_VIRT_ID_VALID) == want_virt &&
	       msg[0].virt_id == (want_virt ? virt_id : 0) && msg[0].dev_id == c.dev[d].idev_id,
	       "fault message of device %d: flags 0x%x virt_id 0x%x dev_id %u, want the flag %s, virt_id 0x%llx, dev_id %u",
	       d, msg[0].flags, msg[0].virt_id, msg[0].dev_id, want_virt ? "set" : "clear",
	       (unsigned long long)virt_id, c.dev[d].idev_id);
	/* answers the kernel refuses, then the right one */
	if (below(2)) {
		struct iommu_hwpt_page_response wrong = resp;

		if (below(2))
			wrong.cookie = msg[0].cookie + 1 + below(1000);
		else
			wrong.cookie = msg[0].cookie, wrong.code = 2 + below(1000);
		n = write(c.fault_fd, &wrong, sizeof(wrong));
		expect(A_FAULT_RESP, n < 0 && errno == EINVAL,
		       "answering with cookie %u code %u (fault cookie %u): %zd (%s), want EINVAL",
		       wrong.cookie, wrong.code, msg[0].cookie, n, n < 0 ? strerror(errno) : "-");
	}
	resp.cookie = msg[0].cookie;
	n = write(c.fault_fd, &resp, sizeof(resp));
	expect(A_FAULT_RESP, n == sizeof(resp), "answering the fault: %zd (%s)", n,
	       n < 0 ? strerror(errno) : "-");
}

/* --- a reader of this context's fdinfo, in a child process --- */

static pid_t start_reader(int *pipe_out)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		tap_bail("pipe");
	pid = fork();
	if (pid)
		return close(p[1]), *pipe_out = p[0], pid;
	/* no file of the context in here: its destroys must not be EBUSY */
	close(p[0]);
	close(c.fd);
	close(c.fault_fd);
	{
		char path[64], line[256], type[32];
		unsigned long reads = 0, bad = 0;
		unsigned int id, last;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", getppid(), c.fd);
		for (;;) {
			FILE *f = fopen(path, "r");
			bool ctx = false;

			if (!f)
				break;	/* the fd was closed: the end */
			last = 0;
			while (fgets(line, sizeof(line), f)) {
				if (!strncmp(line, "iommufd-ctx:\t", 13))
					ctx = true;
				if (strncmp(line, "iommufd-object:", 15))
					continue;
				if (sscanf(line, "iommufd-object:\tid=%u type=%31s", &id, type) != 2 ||
				    id <= last || !ctx)
					bad++;
				last = id;
			}
			fclose(f);
			reads++;
		}
		dprintf(p[1], "%lu %lu\n", reads, bad);
		_exit(0);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = 15;
	int secs = 45, maxops = 1000000, opt, rc, reader_pipe;
	unsigned long steps = 0, reader_reads = 0, reader_bad = 0;
	bool fi;
	pid_t reader;
	FILE *rp;
	double start, end, ran;
	char when[64];

	while ((opt = getopt(argc, argv, "s:d:n:")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': secs = atoi(optarg); break;
		case 'n': maxops = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: fuzz_uapi [-s SEED] [-d SECS] [-n MAXOPS]\n");
			return 2;
		}
	}
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	tap_plan(9);
	printf("# seed %llu (fuzz_uapi -s %llu reproduces it), up to %d s\n",
	       (unsigned long long)seed, (unsigned long long)seed, secs);

	/* the seed decides whether the fault queue asks for virt_ids */
	c.fault_virt_id = below(2);
	printf("# fault queue %s IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID\n",
	       c.fault_virt_id ? "with" : "without");
	/* the context, and fds of every other kind for kvm_fd */
	c.fd = mock_open();
	c.vm_fd = kvm_vm_create();
	c.kvm_dev_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	c.file_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	/* fd 0 open, so kvm_fd 0 is "not a KVM VM", and CLOSED_FD closed */
	if (fcntl(0, F_GETFD) < 0 && open("/dev/null", O_RDONLY) != 0)
		tap_bail("cannot open fd 0");
	if (dup2(0, CLOSED_FD) != CLOSED_FD || close(CLOSED_FD))
		tap_bail("cannot make a closed fd");
	c.guard_page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fi = setup_fault_injection();
	if (c.fd < 0 || c.vm_fd < 0 || c.kvm_dev_fd < 0 || c.file_fd < 0 ||
	    pipe(c.pipe_fd) || c.guard_page == MAP_FAILED ||
	    mprotect(c.guard_page + 4096, 4096, PROT_NONE) ||
	    mock_ioas_alloc(c.fd, &c.ioas))
		tap_bail("cannot open /dev/iommu, make a KVM VM or the fds (is kvm loaded?)");
	for (int i = 0; i < NDEV; i++)
		if (mock_dev_add(c.fd, c.ioas, 0, &c.dev[i]))
			tap_bail("cannot add a mock device");
	c.auto_hwpt = c.dev[0].hwpt_id;
	if ((rc = mock_nest_parent_alloc(c.fd, c.dev[0].idev_id, c.ioas, &c.s2)) ||
	    (rc = mock_fault_alloc_flags(c.fd, c.fault_virt_id ?
					 IOMMU_FAULT_QUEUE_ALLOC_VIRT_ID : 0,
					 &c.fault, &c.fault_fd)))
		tap_bail("cannot make the S2 and the fault queue");
	/* device 0 keeps the automatic domain, the others go to the S2 */
	for (int i = 0; i < NDEV; i++)
		c.attached_viommu[i] = -1;
	for (int i = 1; i < NDEV; i++)
		if (mock_dev_replace(c.fd, c.dev[i].stdev_id, c.s2))
			tap_bail("cannot attach a device to the S2");
	c.attached[0] = c.auto_hwpt;	/* never a fault target: no fault queue */
	tap_ok(fi, "fault injection set up (failslab, fail_page_alloc, %s)",
	       "/proc/self/task/TID/fail-nth");
	check_fdinfo("setting up");
	reader = start_reader(&reader_pipe);

	start = now();
	end = start + secs;
	while (now() < end && (int)steps < maxops) {
		bool inject = fi && !below(3);
		int what = below(10);

		steps++;
		if (what < 4) {
			fuzz_viommu_alloc(inject);
			strcpy(when, "IOMMU_VIOMMU_ALLOC");
		} else if (what < 7) {
			step_child(inject);
			strcpy(when, "a child's allocation");
		} else if (what < 9) {
			step_destroy();
			strcpy(when, "a destroy");
		} else {
			step_fault();
			strcpy(when, "a fault");
		}
		check_fdinfo(when);
	}
	ran = now() - start;

	/* everything goes; the context is then empty of what the steps made */
	for (int i = 0; i < NDEV; i++) {
		if (c.attached[i] && i)
			detach(i);
		if (c.s2_nested[i])
			destroy_expect(c.s2_nested[i], 0, "a nested HWPT on the S2"), c.s2_nested[i] = 0;
	}
	while (c.nv) {
		struct viommu_m *v = &c.v[c.nv - 1];

		if (v->vdev)
			destroy_expect(v->vdev, 0, "a vDEVICE");
		if (v->nested)
			destroy_expect(v->nested, 0, "a nested HWPT");
		if (v->veventq)
			close(v->veventq_fd), destroy_expect(v->veventq, 0, "a vEVENTQ");
		destroy_expect(v->id, 0, "a vIOMMU");
		c.nv--;
	}
	check_fdinfo("destroying what the steps made");
	{
		char path[64], line[256];
		int objects = 0;
		FILE *f;

		/* and once the base objects go too, fdinfo lists nothing */
		close(c.fault_fd);
		destroy_expect(c.fault, 0, "the fault queue");
		for (int i = 0; i < NDEV; i++)
			destroy_expect(c.dev[i].stdev_id, 0, "a mock device");
		destroy_expect(c.s2, 0, "the S2");
		destroy_expect(c.ioas, 0, "the IOAS");
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", c.fd);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			objects += !strncmp(line, "iommufd-object:", 15);
		if (f)
			fclose(f);
		tap_is(objects, 0, "after destroying everything, the context's fdinfo lists no object");
	}
	close(c.fd);
	rp = fdopen(reader_pipe, "r");
	if (!rp || fscanf(rp, "%lu %lu", &reader_reads, &reader_bad) != 2)
		reader_bad = 1;
	waitpid(reader, NULL, 0);

	printf("# %lu steps in %.0f s: %lu IOMMU_VIOMMU_ALLOC, %lu child allocations, %lu destroys, "
	       "%lu fault reads, %lu fault answers, %lu allocations failed on purpose, "
	       "%lu fdinfo checks, %lu fdinfo reads by the other process\n",
	       steps, ran, ops[A_VIOMMU] + injected, ops[A_CHILD], ops[A_DESTROY],
	       ops[A_FAULT_READ], ops[A_FAULT_RESP], injected, fdinfo_reads, reader_reads);
	tap_ok(!bad[A_VIOMMU] && ops[A_VIOMMU],
	       "IOMMU_VIOMMU_ALLOC: the documented errno each time (%lu of %lu differ)",
	       bad[A_VIOMMU], ops[A_VIOMMU]);
	tap_ok(!bad[A_CHILD] && ops[A_CHILD],
	       "vDEVICE, nested HWPT, vEVENTQ allocations and attaches succeed (%lu of %lu failed)",
	       bad[A_CHILD], ops[A_CHILD]);
	tap_ok(!bad[A_DESTROY] && ops[A_DESTROY],
	       "IOMMU_DESTROY: 0, EBUSY while children hold it, ENOENT for absent ids (%lu of %lu differ)",
	       bad[A_DESTROY], ops[A_DESTROY]);
	tap_ok(!bad[A_FAULT_READ] && ops[A_FAULT_READ],
	       "fault reads: ESPIPE, EINVAL, one message with the virt_id flag exactly when documented (%lu of %lu differ)",
	       bad[A_FAULT_READ], ops[A_FAULT_READ]);
	tap_ok(!bad[A_FAULT_RESP] && ops[A_FAULT_RESP],
	       "fault answers: EINVAL for an unknown cookie or code, then accepted (%lu of %lu differ)",
	       bad[A_FAULT_RESP], ops[A_FAULT_RESP]);
	tap_ok(!bad[A_INJECT] && injected,
	       "with an allocation failed: success, ENOMEM or ENOENT, nothing left behind (%lu of %lu differ)",
	       bad[A_INJECT], injected);
	tap_ok(!bad[A_FDINFO] && !reader_bad && reader_reads,
	       "fdinfo after every step lists exactly the model's objects (%lu of %lu differ); %lu concurrent reads, %lu malformed",
	       bad[A_FDINFO], ops[A_FDINFO], reader_reads, reader_bad);
	return tap_done();
}
