// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu-load - play a fleet of VMs against the iommufd selftest (mock)
 * driver, so the vIOMMU tools can be shown, tested and benchmarked.
 *
 * Each VM is a process with its own iommufd context (and, with --kvm, a
 * KVM VM given to IOMMU_VIOMMU_ALLOC), one shared nesting parent (S2), and
 * per vIOMMU one mock device with a vDEVICE (vRID), a nested HWPT with a
 * fault queue, and a vEVENTQ. It then drives guest invalidations, S2
 * map/unmap, vEVENTs and IO page faults, and prints exactly what it did,
 * one line per vIOMMU and per VM, so tests can compare tools against it.
 *
 * With --opener-fork a VM is two processes, as under libvirt: an opener
 * (libvirtd's part) opens /dev/iommu and passes the file over a Unix
 * socket (SCM_RIGHTS) to the VM's process, the VMM (QEMU's part), which
 * allocates the vIOMMUs and does the work; the opener stays until the VMM
 * is done.
 */
#include <argp.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"

#define MAX_VIOMMUS	64
#define MAX_THREADS	64
#define VEVENTQ_DEPTH	64
#define MAP_LEN		(64 * 1024)

static struct plan {
	int vms;
	int viommus;		/* per VM */
	int invalidations;	/* per vIOMMU */
	int entries;		/* per invalidation */
	int unmaps;		/* S2 map/unmap cycles per VM */
	int vevents;		/* per vIOMMU */
	int iopfs;		/* per vIOMMU */
	int rate;		/* invalidations per second per vIOMMU, 0 = flat out */
	double hold;		/* seconds to keep the objects before teardown */
	unsigned int vrid_base;
	bool kvm;
	bool opener_fork;	/* another process opens /dev/iommu */
	int threads;		/* invalidation threads per VM */
	double duration;	/* invalidate for this long instead of a count */
	unsigned int delay_us;	/* injected into the mock's invalidations */
	int slow_vm;		/* only this VM gets the delay, -1 = all */
	int delay_count;	/* only the first N invalidations, 0 = all */
	int bad_invals;		/* per vIOMMU, with an unknown vRID: fail */
} plan = {
	.vms = 1, .viommus = 1, .invalidations = 100, .entries = 1,
	.unmaps = 10, .vevents = 0, .iopfs = 0, .vrid_base = 0x100,
	.threads = 1, .slow_vm = -1,
};

struct vm_viommu {
	uint32_t id, vmid, vdev, nested, veventq;
	struct mock_dev dev;
	int veventq_fd;
	unsigned long invalidations, entries, vevents, iopfs, inval_errors;
};

/* SIGINT/SIGTERM: stop the work, report what was done, tear down, exit 0 */
static volatile sig_atomic_t stopping;
static pid_t vm_pids[1024];

static const char doc[] =
"viommu-load: drive iommufd vIOMMUs of N VMs through the mock driver.\n"
"\n"
"EXAMPLES:\n"
"  viommu-load                      # 1 VM, 1 vIOMMU, 100 invalidations\n"
"  viommu-load -V 4 -i 2 -n 1000    # 4 VMs x 2 vIOMMUs, 1000 invalidations each\n"
"  viommu-load -V 2 --kvm -E 5 -F 3 # VMs with KVM, vEVENTs and IO page faults\n"
"  viommu-load --hold 10            # keep the objects 10 s (for viommu topo)\n"
"  viommu-load -V 4 -d 10 -r 500 -D 2000 -s 1   # VM 1's IOMMU 2 ms slower\n"
"  viommu-load -O -H 60              # opened by another process, as libvirt does\n"
"\n"
"SIGINT or SIGTERM stops the work early: each VM reports what it did and\n"
"exits 0, as when its plan is done.";

static const struct argp_option options[] = {
	{ "vms", 'V', "N", 0, "Number of VMs (processes), default 1" },
	{ "viommus", 'i', "M", 0, "vIOMMUs per VM sharing one S2 (max 64), default 1" },
	{ "invalidations", 'n', "N", 0, "Guest invalidations per vIOMMU, default 100" },
	{ "entries", 'e', "N", 0, "Entries per invalidation (max 64), default 1" },
	{ "unmaps", 'u', "N", 0, "S2 map/unmap cycles per VM, default 10" },
	{ "vevents", 'E', "N", 0, "vEVENTs per vIOMMU (queue depth 64), default 0" },
	{ "iopfs", 'F', "N", 0, "IO page faults per vIOMMU, default 0" },
	{ "rate", 'r', "HZ", 0, "Invalidations per second per vIOMMU, default flat out" },
	{ "hold", 'H', "SECS", 0, "Keep the objects this long before teardown" },
	{ "vrid-base", 'b', "ID", 0, "First vRID; vIOMMU k of a VM gets base+k, default 0x100" },
	{ "kvm", 'k', NULL, 0, "Give each VM a KVM VM at IOMMU_VIOMMU_ALLOC" },
	{ "threads", 't', "N", 0, "Invalidation threads per VM (max 64), default 1" },
	{ "duration", 'd', "SECS", 0, "Invalidate for SECS seconds instead of -n times" },
	{ "delay-us", 'D', "US", 0, "Make the mock sleep US in every invalidation (max 1000000)" },
	{ "slow-vm", 's', "N", 0, "Only VM N gets --delay-us (default: every VM)" },
	{ "delay-count", 'c', "N", 0, "Only the first N invalidations of each vIOMMU get --delay-us" },
	{ "bad-invals", 'x', "N", 0, "Then N invalidations per vIOMMU with an unknown vRID, which fail" },
	{ "opener-fork", 'O', NULL, 0, "A child process named viommu-opener opens /dev/iommu and "
	  "passes it to the VM's process over a Unix socket (SCM_RIGHTS), as libvirtd does for QEMU" },
	{},
};

static int parse_int(const char *arg, int min, int max, struct argp_state *state)
{
	char *end;
	long v = strtol(arg, &end, 0);

	if (*end || v < min || v > max)
		argp_error(state, "'%s' is not a number from %d to %d", arg, min, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'V': plan.vms = parse_int(arg, 1, 1024, state); break;
	case 'i': plan.viommus = parse_int(arg, 1, MAX_VIOMMUS, state); break;
	case 'n': plan.invalidations = parse_int(arg, 0, 100000000, state); break;
	case 'e': plan.entries = parse_int(arg, 1, 64, state); break;
	case 'u': plan.unmaps = parse_int(arg, 0, 100000000, state); break;
	case 'E': plan.vevents = parse_int(arg, 0, 100000000, state); break;
	case 'F': plan.iopfs = parse_int(arg, 0, 100000000, state); break;
	case 'r': plan.rate = parse_int(arg, 0, 100000000, state); break;
	case 'b': plan.vrid_base = parse_int(arg, 0, 0x7fffffff, state); break;
	case 'k': plan.kvm = true; break;
	case 'O': plan.opener_fork = true; break;
	case 't': plan.threads = parse_int(arg, 1, MAX_THREADS, state); break;
	case 'D': plan.delay_us = parse_int(arg, 0, 1000000, state); break;
	case 's': plan.slow_vm = parse_int(arg, 0, 1023, state); break;
	case 'c': plan.delay_count = parse_int(arg, 0, 100000000, state); break;
	case 'x': plan.bad_invals = parse_int(arg, 0, 100000000, state); break;
	case 'd': {
		char *end;

		plan.duration = strtod(arg, &end);
		if (*end || plan.duration <= 0)
			argp_error(state, "'%s' is not a number of seconds", arg);
		break;
	}
	case 'H': {
		char *end;

		plan.hold = strtod(arg, &end);
		if (*end || plan.hold < 0)
			argp_error(state, "'%s' is not a number of seconds", arg);
		break;
	}
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void die(int vm, const char *what, int rc)
{
	fprintf(stderr, "viommu-load: vm %d: %s: %s\n", vm, what, strerror(-rc));
	exit(1);
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (t - (time_t)t) * 1e9 };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pass fd over a Unix socket (SCM_RIGHTS); 0 or -errno */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* The fd passed over sock, or -errno */
static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EPROTO;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/*
 * --opener-fork: a child opens /dev/iommu and passes it to this process,
 * the VMM, then waits until *sock (our end) closes: when this VM is done
 * or dies. Returns the fd, the opener's pid in *opener.
 */
static int open_passed(int vm, pid_t *opener, int *sock)
{
	int sv[2], fd, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die(vm, "socketpair", -errno);
	*opener = fork();
	if (*opener < 0)
		die(vm, "fork the opener", -errno);
	if (!*opener) {
		char c;
		ssize_t n;

		close(sv[0]);
		prctl(PR_SET_NAME, "viommu-opener");
		fd = mock_open();
		if (fd < 0)
			die(vm, "open /dev/iommu in the opener", fd);
		if ((rc = send_fd(sv[1], fd)))
			die(vm, "pass /dev/iommu to the VMM", rc);
		close(fd);
		/* as libvirtd: alive, without the file, until the VMM is done */
		while ((n = read(sv[1], &c, 1)) > 0 || (n < 0 && errno == EINTR))
			;
		_exit(0);
	}
	close(sv[1]);
	*sock = sv[0];
	fd = recv_fd(sv[0]);
	if (fd < 0)
		die(vm, "receive /dev/iommu from the opener (SCM_RIGHTS)", fd);
	return fd;
}

/* One IO page fault: raise, read the message, answer it */
static int iopf(int fd, int fault_fd, uint32_t idev_id, uint32_t grpid)
{
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	struct iommu_hwpt_pgfault msg;
	int rc = mock_trigger_iopf(fd, idev_id, 0, grpid);

	if (rc)
		return rc;
	if (read(fault_fd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	resp.cookie = msg.cookie;
	return write(fault_fd, &resp, sizeof(resp)) == sizeof(resp) ? 0 : -EIO;
}

/* One invalidation thread: iterations index, index + threads, ... */
struct inval_thread {
	int fd, index, rc;
	bool delayed;	/* this thread ends the delay after delay_count calls */
	const struct vm_viommu *v;
	unsigned long invalidations[MAX_VIOMMUS], entries[MAX_VIOMMUS];
};

static void *inval_worker(void *arg)
{
	struct inval_thread *t = arg;
	double start = now(), next = start;
	double step = plan.rate ? (double)plan.threads / plan.rate : 0;
	uint32_t done;

	for (long n = t->index; !stopping; n += plan.threads) {
		if (plan.duration > 0 ? now() - start >= plan.duration :
					n >= plan.invalidations)
			break;
		/* the first delay_count calls were slow: the mock is fast again */
		if (t->delayed && n == plan.delay_count)
			for (int k = 0; k < plan.viommus; k++)
				if ((t->rc = mock_viommu_set_inval_delay(t->fd, t->v[k].id, 0)))
					return NULL;
		for (int k = 0; k < plan.viommus; k++) {
			t->rc = mock_viommu_invalidate(t->fd, t->v[k].id,
						       plan.vrid_base + k,
						       plan.entries, 0, &done);
			if (t->rc)
				return NULL;
			t->invalidations[k]++;
			t->entries[k] += done;
		}
		if (step) {
			next += step;
			sleep_until(next);
		}
	}
	return NULL;
}

static int run_vm(int vm)
{
	struct vm_viommu v[MAX_VIOMMUS] = {};
	uint32_t ioas, s2, fault_id;
	unsigned long unmaps = 0;
	double t0, s2_secs, iopf_secs = 0;
	int fd, fault_fd, kvm_fd = -1, rc, opener_sock = -1;
	pid_t opener = getpid();
	bool delayed;
	uint64_t iova;
	void *buf;

	fd = plan.opener_fork ? open_passed(vm, &opener, &opener_sock) : mock_open();
	if (fd < 0)
		die(vm, "open /dev/iommu (is this the project's kernel with the iommufd mock driver?)", fd);
	if (plan.kvm) {
		kvm_fd = kvm_vm_create();
		if (kvm_fd < 0)
			die(vm, "KVM_CREATE_VM", kvm_fd);
	}
	buf = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die(vm, "mmap", -errno);
	if ((rc = mock_ioas_alloc(fd, &ioas)) ||
	    (rc = mock_dev_add(fd, ioas, 0, &v[0].dev)) ||
	    (rc = mock_nest_parent_alloc(fd, v[0].dev.idev_id, ioas, &s2)) ||
	    (rc = mock_fault_alloc(fd, &fault_id, &fault_fd)))
		die(vm, "setting up the IOAS, S2 and fault queue", rc);

	for (int k = 0; k < plan.viommus; k++) {
		struct vm_viommu *p = &v[k];

		if ((k && (rc = mock_dev_add(fd, ioas, 0, &p->dev))) ||
		    (rc = mock_viommu_alloc_kvm(fd, p->dev.idev_id, s2, kvm_fd, &p->id)) ||
		    (rc = mock_vdevice_alloc(fd, p->id, p->dev.idev_id,
					     plan.vrid_base + k, &p->vdev)) ||
		    (rc = mock_nested_alloc(fd, p->dev.idev_id, p->id, fault_id,
					    &p->nested)) ||
		    (rc = mock_dev_replace(fd, p->dev.stdev_id, p->nested)) ||
		    (rc = mock_veventq_alloc(fd, p->id, VEVENTQ_DEPTH, &p->veventq,
					     &p->veventq_fd)))
			die(vm, "setting up a vIOMMU", rc);
		if (mock_viommu_vmid(fd, p->id, &p->vmid))
			p->vmid = 0;	/* a kernel without the VMID test op */
	}

	delayed = plan.delay_us && (plan.slow_vm < 0 || plan.slow_vm == vm);
	if (delayed)
		for (int k = 0; k < plan.viommus; k++)
			if ((rc = mock_viommu_set_inval_delay(fd, v[k].id, plan.delay_us)))
				die(vm, "IOMMU_TEST_OP_VIOMMU_SET_INVAL_DELAY", rc);

	/* Guest invalidations, round robin over the vIOMMUs, in threads */
	{
		struct inval_thread t[MAX_THREADS] = {};
		pthread_t tid[MAX_THREADS];

		for (int i = 0; i < plan.threads; i++) {
			t[i] = (struct inval_thread){ .fd = fd, .index = i, .v = v,
				.delayed = delayed && plan.delay_count &&
					   i == plan.delay_count % plan.threads };
			if ((rc = -pthread_create(&tid[i], NULL, inval_worker, &t[i])))
				die(vm, "pthread_create", rc);
		}
		for (int i = 0; i < plan.threads; i++) {
			pthread_join(tid[i], NULL);
			if (t[i].rc)
				die(vm, "IOMMU_HWPT_INVALIDATE", t[i].rc);
			for (int k = 0; k < plan.viommus; k++) {
				v[k].invalidations += t[i].invalidations[k];
				v[k].entries += t[i].entries[k];
			}
		}
	}
	/* Guest invalidations the mock refuses: an unknown vRID */
	for (int k = 0; k < plan.viommus; k++)
		for (int n = 0; n < plan.bad_invals && !stopping; n++) {
			if (!mock_viommu_invalidate(fd, v[k].id, plan.vrid_base + 0x10000 + k,
						    1, 0, NULL))
				die(vm, "IOMMU_HWPT_INVALIDATE with an unknown vRID succeeded", -EINVAL);
			v[k].inval_errors++;
		}
	/* S2 invalidations: each unmap fans out to every vIOMMU's VMID */
	t0 = now();
	for (int n = 0; n < plan.unmaps && !stopping; n++) {
		if ((rc = mock_ioas_map(fd, ioas, buf, MAP_LEN, &iova)) ||
		    (rc = mock_ioas_unmap(fd, ioas, iova, MAP_LEN)))
			die(vm, "IOAS map/unmap", rc);
		unmaps++;
	}
	s2_secs = now() - t0;
	for (int k = 0; k < plan.viommus; k++) {
		for (int n = 0; n < plan.vevents && !stopping; n++) {
			if ((rc = mock_trigger_vevent(fd, v[k].dev.idev_id)))
				die(vm, "vEVENT", rc);
			v[k].vevents++;
		}
		t0 = now();
		for (int n = 0; n < plan.iopfs && !stopping; n++) {
			if ((rc = iopf(fd, fault_fd, v[k].dev.idev_id, n & 0x1ff)))
				die(vm, "IO page fault", rc);
			v[k].iopfs++;
		}
		iopf_secs += now() - t0;
	}

	for (int k = 0; k < plan.viommus; k++)
		printf("viommu vm=%d pid=%d viommu=%u vmid=%u vrid=0x%x dev=%u "
		       "invalidations=%lu entries=%lu vevents=%lu "
		       "vevents_lost=%lu iopfs=%lu inval_errors=%lu\n",
		       vm, getpid(), v[k].id, v[k].vmid, plan.vrid_base + k,
		       v[k].dev.idev_id, v[k].invalidations, v[k].entries,
		       v[k].vevents,
		       v[k].vevents > VEVENTQ_DEPTH ? v[k].vevents - VEVENTQ_DEPTH : 0,
		       v[k].iopfs, v[k].inval_errors);
	/* Phase times let a benchmark divide by the events it caused */
	printf("vm vm=%d pid=%d kvm=%d viommus=%d s2=%u s2_unmaps=%lu delay_us=%u "
	       "s2_ns=%.0f iopf_ns=%.0f opener=%d\n",
	       vm, getpid(), plan.kvm, plan.viommus, s2, unmaps,
	       plan.slow_vm < 0 || plan.slow_vm == vm ? plan.delay_us : 0,
	       s2_secs * 1e9, iopf_secs * 1e9, (int)opener);
	fflush(stdout);
	if (plan.hold > 0 && !stopping)
		sleep_until(now() + plan.hold);
	/* Closing the context destroys every object; then the VM goes */
	close(fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
	if (opener_sock >= 0) {
		/* the opener sees the socket close and exits */
		close(opener_sock);
		while (waitpid(opener, NULL, 0) < 0 && errno == EINTR)
			;
	}
	return 0;
}

/* In a VM: stop. In the parent: pass it on to the VMs, which stop. */
static void on_stop(int sig)
{
	int saved = errno;

	stopping = 1;
	for (int vm = 0; vm < plan.vms; vm++)
		if (vm_pids[vm] > 0)
			kill(vm_pids[vm], sig);
	errno = saved;
}

int main(int argc, char **argv)
{
	const struct argp argp = { options, parse_opt, NULL, doc };
	/* SA_RESTART: a read or wait goes on; sleeps end (they always do) */
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	sigset_t block, old;
	int failed = 0;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a VM forgets its siblings; none is signalled before it is known */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	for (int vm = 0; vm < plan.vms; vm++) {
		pid_t pid;

		sigprocmask(SIG_BLOCK, &block, &old);
		pid = fork();
		if (!pid) {
			memset(vm_pids, 0, sizeof(vm_pids));
			sigprocmask(SIG_SETMASK, &old, NULL);
			exit(run_vm(vm));
		}
		vm_pids[vm] = pid;
		if (pid > 0 && stopping)
			kill(pid, SIGTERM);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid < 0) {
			perror("viommu-load: fork");
			return 1;
		}
	}
	for (int vm = 0; vm < plan.vms; vm++) {
		int status;
		pid_t pid;

		while ((pid = wait(&status)) < 0 && errno == EINTR)
			;
		if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	if (failed)
		fprintf(stderr, "viommu-load: %d of %d VMs failed\n", failed, plan.vms);
	return failed ? 1 : 0;
}
