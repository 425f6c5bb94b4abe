// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm_attribution - who a vIOMMU belongs to, as the trace events and fdinfo
 * say it, and in whose pid numbers.
 *
 * A: as libvirt does, one process opens /dev/iommu and passes the file to
 *    another over a Unix socket (SCM_RIGHTS), which builds the vIOMMU: the
 *    events' owner is the opener and vmm the builder, and fdinfo says the
 *    same; once the builder has exited, fdinfo shows vmm_pid 0, not a
 *    number another process may have by now.
 * B: fdinfo prints pids in the reader's pid namespace: a reader in a new
 *    pid namespace sees 0 for processes outside it, and a VMM inside one
 *    sees its own pid 1 where the host sees its host pid.
 * C: context ids are unique and not a counter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define NR_CTX 8

/* Send fd over sock, or receive one (fd < 0); returns the fd or -1 */
static int pass_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	if (fd >= 0) {
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		return sendmsg(sock, &msg, 0) == 1 ? fd : -1;
	}
	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* A mock device, an S2 and a vIOMMU on fd; the vIOMMU id or 0 */
static uint32_t build_viommu(int fd)
{
	uint32_t ioas, s2, viommu;
	struct mock_dev dev;

	if (mock_s2_setup(fd, &ioas, &dev, &s2) ||
	    mock_viommu_alloc(fd, dev.idev_id, s2, &viommu))
		return 0;
	return viommu;
}

/* pid 0: our own, by /proc/self (our pid may not be procfs's number) */
static int64_t field(pid_t pid, int fd, uint32_t obj, const char *key)
{
	char path[64];
	int64_t v = -1;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return mock_fdinfo_field(path, obj, key, &v) ? -1 : v;
}

/* The one record of event naming vIOMMU id, or NULL */
static const struct trace_rec *event_of(struct trace_rec *recs, int n,
					const char *event, uint32_t id)
{
	const struct trace_rec *hit = NULL;
	uint64_t v;
	int count = 0;

	for (int i = 0; i < n; i++)
		if (!strcmp(recs[i].event, event) &&
		    trace_field_u64(&recs[i], "viommu", &v) && v == id) {
			hit = &recs[i];
			count++;
		}
	return count == 1 ? hit : NULL;
}

static int64_t s64_of(const struct trace_rec *r, const char *key)
{
	int64_t v = -1;

	return r && trace_field_s64(r, key, &v) ? v : -1;
}

static void test_passed_fd(void)
{
	int sv[2], fd, status, report[2], builder_fd;
	struct trace_rec *recs;
	uint32_t viommu = 0, got[2];
	pid_t builder;
	int n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(report))
		tap_bail("socketpair or pipe failed");
	trace_clear();
	builder = fork();
	if (builder == 0) {
		char go;

		uint32_t got[2];

		close(sv[0]);
		close(report[0]);
		fd = pass_fd(sv[1], -1);
		got[0] = fd >= 0 ? build_viommu(fd) : 0;
		got[1] = fd;
		/* report the id and fd, then stay alive until told to go */
		if (write(report[1], got, sizeof(got)) != sizeof(got) ||
		    read(sv[1], &go, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(sv[1]);
	close(report[1]);
	fd = mock_open();
	if (fd < 0 || pass_fd(sv[0], fd) < 0 ||
	    read(report[0], got, sizeof(got)) != sizeof(got) || !got[0])
		tap_bail("the builder could not make a vIOMMU on the passed fd");
	viommu = got[0];
	builder_fd = got[1];

	n = trace_read(&recs);
	if (n < 0)
		tap_bail("cannot read the trace buffer");
	{
		const struct trace_rec *r =
			event_of(recs, n, "iommufd_viommu_alloc", viommu);

		tap_is(s64_of(r, "owner"), getpid(),
		       "passed fd: the alloc event's owner is the opener");
		tap_is(s64_of(r, "vmm"), builder,
		       "passed fd: its vmm is the process that built the vIOMMU");
	}
	free(recs);
	tap_is(field(getpid(), fd, 0, "iommufd-owner-tgid"), getpid(),
	       "passed fd: fdinfo owner is the opener");
	tap_is(field(getpid(), fd, viommu, "vmm_pid"), builder,
	       "passed fd: fdinfo vmm_pid is the builder");
	tap_is(field(builder, builder_fd, viommu, "vmm_pid"), builder,
	       "passed fd: the builder's own fdinfo says the same");

	if (write(sv[0], "x", 1) != 1 || waitpid(builder, &status, 0) != builder ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		tap_bail("the builder did not exit cleanly");
	tap_is(field(getpid(), fd, viommu, "vmm_pid"), 0,
	       "passed fd: the builder gone, fdinfo vmm_pid is 0");
	close(fd);
	close(sv[0]);
	close(report[0]);
}

/*
 * In a new pid namespace: read the host process's fdinfo (host, fd, id),
 * then build a vIOMMU of our own and read our own fdinfo. The results go
 * back over out as six numbers.
 */
static void in_new_pidns(pid_t host, int fd, uint32_t id, int out)
{
	int64_t r[6];
	uint32_t own;
	int own_fd;

	r[0] = field(host, fd, 0, "iommufd-owner-tgid");
	r[1] = field(host, fd, id, "vmm_pid");
	own_fd = mock_open();
	own = own_fd >= 0 ? build_viommu(own_fd) : 0;
	r[2] = getpid();
	r[3] = field(0, own_fd, 0, "iommufd-owner-tgid");
	r[4] = field(0, own_fd, own, "vmm_pid");
	r[5] = own_fd;
	if (write(out, r, sizeof(r)) != sizeof(r))
		_exit(1);
	/* stay until the host has read our fdinfo too */
	if (read(out, r, 1) != 1)
		_exit(1);
	_exit(0);
}

static void test_pidns(void)
{
	pid_t host = getpid(), child, inner_host = -1;
	int sv[2], ip[2], fd, status;
	uint32_t id;
	int64_t r[6];

	fd = mock_open();
	id = fd >= 0 ? build_viommu(fd) : 0;
	if (!id || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(ip))
		tap_bail("cannot set up the pid namespace test");
	child = fork();
	if (child == 0) {
		pid_t inner;

		close(sv[0]);
		if (unshare(CLONE_NEWPID))
			_exit(2);
		inner = fork();
		if (inner == 0)
			in_new_pidns(host, fd, id, sv[1]);
		/* the first child's parent is the host process */
		close(sv[1]);
		/* fork() gave us its pid in our namespace: the host's */
		if (write(ip[1], &inner, sizeof(inner)) != sizeof(inner))
			_exit(4);
		_exit(waitpid(inner, &status, 0) == inner && WIFEXITED(status) ?
		      WEXITSTATUS(status) : 3);
	}
	close(sv[1]);
	if (read(sv[0], r, sizeof(r)) != sizeof(r)) {
		waitpid(child, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			tap_bail("unshare(CLONE_NEWPID) failed: a kernel without CONFIG_PID_NS?");
		tap_bail("the process in the new pid namespace did not report");
	}
	tap_is(r[0], 0, "pidns: the host opener is 0 to a reader inside");
	tap_is(r[1], 0, "pidns: the host vmm_pid is 0 to a reader inside");
	tap_is(r[2], 1, "pidns: the process inside is pid 1 there");
	tap_ok(r[3] == 1 && r[4] == 1,
	       "pidns: its own fdinfo shows owner 1 and vmm_pid 1 (%lld %lld)",
	       (long long)r[3], (long long)r[4]);
	/* the host sees its host pid, which our child learned from fork() */
	close(ip[1]);
	if (read(ip[0], &inner_host, sizeof(inner_host)) != sizeof(inner_host))
		inner_host = -1;
	close(ip[0]);
	tap_ok(inner_host > 1 &&
	       field(inner_host, r[5], 0, "iommufd-owner-tgid") == inner_host,
	       "pidns: the host reads the inner VMM's owner as its host pid %d",
	       inner_host);
	if (write(sv[0], "x", 1) != 1 || waitpid(child, &status, 0) != child ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		tap_diag("the pid namespace child exited with %d", status);
	close(fd);
	close(sv[0]);
}

static void test_ctx_ids(void)
{
	int64_t ids[NR_CTX];
	int fds[NR_CTX], consecutive = 0, unique = 1;

	for (int i = 0; i < NR_CTX; i++) {
		fds[i] = mock_open();
		ids[i] = fds[i] < 0 ? -1 : field(getpid(), fds[i], 0, "iommufd-ctx");
	}
	for (int i = 0; i < NR_CTX; i++) {
		for (int j = 0; j < i; j++)
			unique &= ids[i] != ids[j];
		if (i && ids[i] == ids[i - 1] + 1)
			consecutive++;
	}
	tap_ok(unique && ids[0] > 0, "%d contexts opened in a row have distinct ids",
	       NR_CTX);
	tap_ok(consecutive < NR_CTX - 1,
	       "their ids are not a counter (%d of %d steps were +1)", consecutive,
	       NR_CTX - 1);
	for (int i = 0; i < NR_CTX; i++)
		close(fds[i]);
}

int main(void)
{
	tap_plan(13);
	if (!trace_event_exists("iommufd", "iommufd_viommu_alloc"))
		tap_bail("iommufd tracepoints missing: not this project's kernel");
	if (trace_event_enable("iommufd", "iommufd_viommu_alloc", true))
		tap_bail("cannot enable iommufd_viommu_alloc");
	test_passed_fd();
	test_pidns();
	test_ctx_ids();
	trace_event_enable("iommufd", "iommufd_viommu_alloc", false);
	return tap_done();
}
