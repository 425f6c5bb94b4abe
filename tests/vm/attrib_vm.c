// SPDX-License-Identifier: GPL-2.0-only
/*
 * attrib_vm - a VM made of two processes, as under libvirt, driven by its
 * standard input, so that a test can start the viommu tools knowing both
 * pids before the vIOMMU exists (tests/vm/viommu_attrib.sh).
 *
 * usage: attrib_vm INVALIDATIONS UNMAPS
 *
 * This process, the opener (named attrib-opener), forks the VMM (named
 * attrib-vmm) and prints "pids opener=O vmm=V". Each line read on stdin is
 * a round. In the first, the opener opens /dev/iommu, passes it to the VMM
 * over a Unix socket (SCM_RIGHTS) and closes its own copy, as libvirtd
 * does for QEMU; the VMM builds an S2, a vIOMMU on it and a vDEVICE. In
 * every round the VMM then makes INVALIDATIONS guest invalidations (one
 * entry each) and UNMAPS S2 map/unmap cycles, and prints
 * "round R vm=CTX viommu=ID vmid=VMID opener=O vmm=V invalidations=N
 * unmaps=M".
 * At the end of input the opener closes the socket, the VMM closes the
 * file (the VM goes), and both exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iommufd_mock.h"

#define MAP_LEN		(64 * 1024)
#define VRID		0x100

static void die(const char *who, const char *what, int rc)
{
	fprintf(stderr, "attrib_vm: %s: %s: %s\n", who, what, strerror(-rc));
	exit(1);
}

/* One byte on sock, carrying fd when fd >= 0; 0 or -errno */
static int send_round(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 'r';
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (fd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* A round's byte: 1 (and *fd if one came with it), 0 at the end, or -errno */
static int recv_round(int sock, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n ? -errno : 0;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
	return 1;
}

static void vmm(int sock, pid_t opener, int invalidations, int unmaps)
{
	uint32_t ioas = 0, s2, viommu = 0, vdev, done, vmid = 0;
	struct mock_dev dev;
	int fd = -1, rc, round = 0;
	int64_t ctx = 0;
	char path[64];
	void *buf;

	buf = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("vmm", "mmap", -errno);
	while ((rc = recv_round(sock, &fd)) > 0) {
		if (fd < 0)
			die("vmm", "the first round brought no file", -EPROTO);
		if (!viommu) {
			if ((rc = mock_s2_setup(fd, &ioas, &dev, &s2)) ||
			    (rc = mock_viommu_alloc(fd, dev.idev_id, s2, &viommu)) ||
			    (rc = mock_vdevice_alloc(fd, viommu, dev.idev_id, VRID, &vdev)))
				die("vmm", "building the vIOMMU on the passed file", rc);
			snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
			if ((rc = mock_fdinfo_field(path, 0, "iommufd-ctx", &ctx)))
				die("vmm", "the context id in fdinfo", rc);
			if ((rc = mock_viommu_vmid(fd, viommu, &vmid)))
				die("vmm", "IOMMU_TEST_OP_VIOMMU_GET_VMID", rc);
		}
		for (int i = 0; i < invalidations; i++)
			if ((rc = mock_viommu_invalidate(fd, viommu, VRID, 1, 0, &done)))
				die("vmm", "IOMMU_HWPT_INVALIDATE", rc);
		for (int i = 0; i < unmaps; i++) {
			uint64_t iova = 0;

			if ((rc = mock_ioas_map(fd, ioas, buf, MAP_LEN, &iova)) ||
			    (rc = mock_ioas_unmap(fd, ioas, iova, MAP_LEN)))
				die("vmm", "IOAS map/unmap", rc);
		}
		printf("round %d vm=%lld viommu=%u vmid=%u opener=%d vmm=%d invalidations=%d unmaps=%d\n",
		       ++round, (long long)ctx, viommu, vmid, (int)opener, (int)getpid(),
		       invalidations, unmaps);
	}
	if (rc < 0)
		die("vmm", "reading the opener's socket", rc);
	if (fd >= 0)
		close(fd);
	exit(0);
}

int main(int argc, char **argv)
{
	int sv[2], invalidations, unmaps, fd, rc, status;
	bool first = true;
	char line[64];
	pid_t child;

	if (argc != 3 || (invalidations = atoi(argv[1])) < 0 || (unmaps = atoi(argv[2])) < 0) {
		fprintf(stderr, "usage: attrib_vm INVALIDATIONS UNMAPS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("opener", "socketpair", -errno);
	prctl(PR_SET_NAME, "attrib-opener");
	child = fork();
	if (child < 0)
		die("opener", "fork", -errno);
	if (!child) {
		close(sv[0]);
		prctl(PR_SET_NAME, "attrib-vmm");
		vmm(sv[1], getppid(), invalidations, unmaps);
	}
	close(sv[1]);
	printf("pids opener=%d vmm=%d\n", (int)getpid(), (int)child);
	while (fgets(line, sizeof(line), stdin)) {
		fd = -1;
		if (first) {
			fd = mock_open();
			if (fd < 0)
				die("opener", "open /dev/iommu", fd);
		}
		if ((rc = send_round(sv[0], fd)))
			die("opener", "passing a round to the VMM", rc);
		/* as libvirtd: the VMM has the file, the opener keeps none */
		if (first)
			close(fd);
		first = false;
	}
	close(sv[0]);
	if (waitpid(child, &status, 0) != child)
		die("opener", "waitpid", -errno);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
