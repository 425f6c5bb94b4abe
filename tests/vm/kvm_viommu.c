// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_viommu - IOMMU_VIOMMU_ALLOC with IOMMU_VIOMMU_ALLOC_KVM_FD: a vIOMMU
 * tied to a real KVM VM, every error path, both teardown orders, the VM's
 * identity in the trace events and fdinfo. Runs in the test VM (/dev/kvm
 * works there with nested SVM).
 *
 * The events and fdinfo say whether a vIOMMU holds a VM (kvm=1) and name the
 * process that allocated the vIOMMU (vmm), never the VM's creator, which
 * KVM does not export. VMs are made here by the iommufd owner, by a child
 * process that hands the fd over and exits, and by a second thread: the vmm
 * is this process in every case.
 *
 * Whether a VM is alive is read from KVM's debugfs, which the code under
 * test does not touch: KVM_CREATE_VM makes kvm/<creator pid>-<fd> and
 * kvm_destroy_vm() removes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include "iommufd_test.h"
#include "iommufd_mock.h"
#include "tracefs.h"
#include "../lib/tap.h"

#define KVM_DEBUGFS	"/sys/kernel/debug/kvm"
/* The last fput of a VM may be deferred to a workqueue: wait up to 5 s */
#define GONE_POLLS	500
/* A VM that should live is watched for 300 ms */
#define STAY_POLLS	30
#define POLL_US		10000

struct ctx {
	int fd;
	uint32_t ioas, s2;
	struct mock_dev dev;
};

/* A KVM VM, and how KVM's debugfs names it */
struct vm {
	int fd;		/* this process's fd for it */
	pid_t creator;	/* the task that did KVM_CREATE_VM (pid or tid) */
	int creator_fd;	/* the fd KVM_CREATE_VM returned to that task */
};

static void ctx_open(struct ctx *c)
{
	c->fd = mock_open();
	if (c->fd < 0 || mock_s2_setup(c->fd, &c->ioas, &c->dev, &c->s2))
		tap_bail("cannot set up a mock device and nesting parent");
}

static int viommu_alloc(struct ctx *c, uint32_t flags, int kvm_fd,
			uint32_t *id)
{
	return mock_viommu_alloc_type(c->fd, c->dev.idev_id, c->s2,
				      IOMMU_VIOMMU_TYPE_SELFTEST, flags, kvm_fd,
				      id);
}

static bool vm_alive(const struct vm *v)
{
	char path[64];

	snprintf(path, sizeof(path), KVM_DEBUGFS "/%d-%d", v->creator,
		 v->creator_fd);
	return access(path, F_OK) == 0;
}

/* Whether the VM is destroyed within GONE_POLLS */
static bool vm_gone(const struct vm *v)
{
	for (int i = 0; i < GONE_POLLS; i++) {
		if (!vm_alive(v))
			return true;
		usleep(POLL_US);
	}
	return false;
}

/* Whether the VM is alive throughout STAY_POLLS */
static bool vm_stays(const struct vm *v)
{
	for (int i = 0; i < STAY_POLLS; i++) {
		if (!vm_alive(v))
			return false;
		usleep(POLL_US);
	}
	return vm_alive(v);
}

/* A VM made by this process's main thread */
static void vm_here(struct vm *v)
{
	v->fd = kvm_vm_create();
	if (v->fd < 0)
		tap_bail("KVM_CREATE_VM failed: is /dev/kvm usable (-cpu max)?");
	v->creator = getpid();
	v->creator_fd = v->fd;
}

/*
 * A VM made by a child process, which sends it here over a Unix socket
 * (SCM_RIGHTS) with the fd number it had, closes it and exits. Once the
 * child is reaped, v->fd is the only reference to the VM.
 */
static void vm_from_child(struct vm *v)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int creator_fd = -1, sv[2], status;
	struct iovec iov = { &creator_fd, sizeof(creator_fd) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cmsg;
	pid_t child;
	ssize_t n;

	memset(u.buf, 0, sizeof(u.buf));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		tap_bail("socketpair failed");
	child = fork();
	if (child < 0)
		tap_bail("fork failed");
	if (child == 0) {
		int vm = kvm_vm_create();

		close(sv[0]);
		if (vm < 0)
			_exit(1);
		creator_fd = vm;
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &vm, sizeof(int));
		n = sendmsg(sv[1], &msg, 0);
		close(vm);
		_exit(n == sizeof(creator_fd) ? 0 : 1);
	}
	close(sv[1]);
	n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
	close(sv[0]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		tap_bail("the child could not create and send a KVM VM");
	cmsg = CMSG_FIRSTHDR(&msg);
	if (n != sizeof(creator_fd) || !cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS)
		tap_bail("no VM fd received from the child");
	memcpy(&v->fd, CMSG_DATA(cmsg), sizeof(int));
	v->creator = child;
	v->creator_fd = creator_fd;
}

static void *thread_create_vm(void *arg)
{
	struct vm *v = arg;

	v->creator = gettid();
	v->fd = kvm_vm_create();
	v->creator_fd = v->fd;
	return NULL;
}

/* A VM made by a second thread of this process, which then exits */
static void vm_from_thread(struct vm *v)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_create_vm, v) ||
	    pthread_join(t, NULL) || v->fd < 0)
		tap_bail("a thread could not create a KVM VM");
}

/*
 * The value of key in the one record of event for vIOMMU id (this test has
 * one iommufd context at a time), or -1 when there is not exactly one.
 */
static int64_t event_field(const struct trace_rec *recs, int n,
			   const char *event, uint32_t id, const char *key)
{
	int64_t val = -1, v = -1;
	int count = 0;
	uint64_t vid;

	for (int i = 0; i < n; i++) {
		if (strcmp(recs[i].event, event) ||
		    !trace_field_u64(&recs[i], "viommu", &vid) || vid != id)
			continue;
		count++;
		if (trace_field_s64(&recs[i], key, &v))
			val = v;
	}
	return count == 1 ? val : -1;
}

static int64_t fdinfo_field(struct ctx *c, uint32_t id, const char *key)
{
	int64_t v = -1;

	return mock_fdinfo_obj_field(c->fd, id, key, &v) ? -1 : v;
}

/*
 * A VM made elsewhere (by a child or a thread), given to a vIOMMU: the
 * events and fdinfo show a VM (kvm 1) and this process as the vmm; with
 * every VM fd closed the vIOMMU alone keeps it alive, and destroying the
 * vIOMMU destroys it.
 */
static void check_foreign_vm(struct ctx *c, struct vm *v, const char *who)
{
	struct trace_rec *recs;
	uint32_t id;
	int n;

	tap_ok(v->creator != getpid(),
	       "%s: the VM's creator (%d) is not the iommufd owner (%d)", who,
	       v->creator, getpid());
	tap_ok(vm_alive(v), "%s: KVM's debugfs shows the VM as %d-%d", who,
	       v->creator, v->creator_fd);
	trace_clear();
	tap_is(viommu_alloc(c, IOMMU_VIOMMU_ALLOC_KVM_FD, v->fd, &id), 0,
	       "%s: alloc with its VM fd", who);
	tap_ok(fdinfo_field(c, id, "kvm") == 1 &&
	       fdinfo_field(c, id, "vmm_pid") == getpid(),
	       "%s: fdinfo shows a VM (kvm 1) and this process as vmm_pid", who);
	close(v->fd);
	tap_ok(vm_stays(v),
	       "%s: with every fd of the VM closed, the vIOMMU keeps it alive",
	       who);
	tap_is(mock_destroy(c->fd, id), 0, "%s: vIOMMU destroyed", who);
	tap_ok(vm_gone(v), "%s: the VM is destroyed with the vIOMMU", who);

	n = trace_read(&recs);
	if (n < 0)
		tap_bail("cannot read the trace buffer");
	tap_is(event_field(recs, n, "iommufd_viommu_alloc", id, "owner"),
	       getpid(), "%s: the alloc event's owner is this process", who);
	tap_ok(event_field(recs, n, "iommufd_viommu_alloc", id, "kvm") == 1 &&
	       event_field(recs, n, "iommufd_viommu_alloc", id, "vmm") == getpid(),
	       "%s: the alloc event shows a VM and this process as vmm", who);
	tap_ok(event_field(recs, n, "iommufd_viommu_destroy", id, "kvm") == 1 &&
	       event_field(recs, n, "iommufd_viommu_destroy", id, "vmm") == getpid(),
	       "%s: so does the destroy event", who);
	free(recs);
}

int main(void)
{
	struct trace_rec *recs;
	struct ctx c;
	struct vm vm, other;
	uint32_t id, id2, vdev, done, fault_id, hwpt;
	int null_fd, fault_fd, n;

	tap_plan(51);
	if (access(KVM_DEBUGFS, F_OK))
		tap_bail(KVM_DEBUGFS " missing: KVM not loaded or no debugfs");
	vm_here(&vm);
	trace_system_enable("iommufd", true);
	trace_clear();
	ctx_open(&c);

	tap_ok(vm_alive(&vm), "KVM's debugfs shows this process's VM as %d-%d",
	       vm.creator, vm.creator_fd);
	tap_is(viommu_alloc(&c, 0, 0, &id), 0, "alloc without a VM still works");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm.fd, &id2), 0,
	       "alloc with a KVM VM fd");
	n = trace_read(&recs);
	if (n < 0)
		tap_bail("cannot read the trace buffer");
	tap_ok(event_field(recs, n, "iommufd_viommu_alloc", id2, "kvm") == 1 &&
	       event_field(recs, n, "iommufd_viommu_alloc", id2, "vmm") == getpid(),
	       "the alloc event shows the VM (kvm 1) and this process as vmm");
	tap_is(event_field(recs, n, "iommufd_viommu_alloc", id, "kvm"), 0,
	       "a vIOMMU without a VM has kvm 0");
	free(recs);
	tap_ok(fdinfo_field(&c, id2, "kvm") == 1 &&
	       fdinfo_field(&c, id2, "vmm_pid") == getpid(),
	       "fdinfo: kvm 1 and vmm_pid of this process");
	tap_is(fdinfo_field(&c, id, "kvm"), 0, "fdinfo: kvm 0 without a VM");

	/* Errors */
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, -1, &id), -EBADF,
	       "a negative fd: EBADF");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, 1000, &id), -EBADF,
	       "a closed fd: EBADF");
	null_fd = open("/dev/null", O_RDONLY);
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, null_fd, &id),
	       -EINVAL, "an fd that is not a KVM VM: EINVAL");
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, c.fd, &id), -EINVAL,
	       "the iommufd itself: EINVAL");
	{
		int kvm = open("/dev/kvm", O_RDWR);

		tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, kvm, &id),
		       -EINVAL, "/dev/kvm (not a VM): EINVAL");
		close(kvm);
	}
	tap_is(viommu_alloc(&c, 1u << 1, 0, &id), -EOPNOTSUPP,
	       "an unknown flag: EOPNOTSUPP");
	tap_is(viommu_alloc(&c, 0, vm.fd, &id), -EINVAL,
	       "kvm_fd set without the flag: EINVAL");
	close(null_fd);

	/*
	 * The VM fd closed first: the vIOMMUs keep the VM alive and work, and
	 * the VM goes with the last of them.
	 */
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm.fd, &id), 0,
	       "a second vIOMMU on the same VM");
	close(vm.fd);
	tap_ok(vm_stays(&vm), "with its fd closed, the VM lives on in its vIOMMUs");
	tap_is(mock_vdevice_alloc(c.fd, id, c.dev.idev_id, 0x55, &vdev), 0,
	       "after the VM fd is closed, a vDEVICE can be added");
	tap_is(mock_viommu_invalidate(c.fd, id, 0x55, 2, 0, &done), 0,
	       "and the vIOMMU invalidates");
	tap_is(mock_destroy(c.fd, vdev), 0, "vDEVICE destroyed");
	tap_is(mock_destroy(c.fd, id), 0, "the vIOMMU outliving its VM fd is destroyed");
	tap_ok(vm_stays(&vm), "the VM lives on while another vIOMMU holds it");
	tap_is(mock_destroy(c.fd, id2), 0, "the last vIOMMU holding the VM is destroyed");
	tap_ok(vm_gone(&vm), "the VM is destroyed with its last vIOMMU");

	/* The vIOMMU destroyed first: the VM is untouched */
	vm_here(&vm);
	tap_is(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm.fd, &id), 0,
	       "alloc on a new VM");
	tap_is(mock_destroy(c.fd, id), 0, "vIOMMU destroyed before its VM");
	tap_ok(ioctl(vm.fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0,
	       "the VM still answers ioctls");
	tap_ok(vm_stays(&vm), "and is alive");
	close(vm.fd);
	tap_ok(vm_gone(&vm), "without vIOMMUs, the VM goes with its fd");

	/* A VM from another process, and one from another thread */
	vm_from_child(&other);
	check_foreign_vm(&c, &other, "child's VM");
	vm_from_thread(&other);
	check_foreign_vm(&c, &other, "thread's VM");

	/* The context closed with a VM-backed vIOMMU alive */
	vm_here(&vm);
	tap_ok(viommu_alloc(&c, IOMMU_VIOMMU_ALLOC_KVM_FD, vm.fd, &id) == 0 &&
	       mock_fault_alloc(c.fd, &fault_id, &fault_fd) == 0 &&
	       mock_nested_alloc(c.fd, c.dev.idev_id, id, fault_id, &hwpt) == 0,
	       "a VM-backed vIOMMU with a fault queue, left for close()");
	close(vm.fd);
	tap_ok(vm_stays(&vm), "the VM lives with its fd closed");
	close(fault_fd);
	close(c.fd);
	tap_ok(vm_gone(&vm), "closing the iommufd releases the VM");
	trace_system_enable("iommufd", false);
	return tap_done();
}
