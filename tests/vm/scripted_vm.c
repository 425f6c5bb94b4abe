// SPDX-License-Identifier: GPL-2.0-only
/*
 * scripted_vm - one VM (an iommufd context with vIOMMUs on a shared S2)
 * that does its work only when told, so a test knows its pid and context
 * id before any of its events: for tools started with -p PID or --vm ID.
 *
 * usage: scripted_vm [VIOMMUS]     (default 2)
 *
 * It opens /dev/iommu itself (the opener is the VMM) and sets up what a
 * viommu-load VM does: an IOAS, a nesting parent, a fault queue, and per
 * vIOMMU a mock device, the vIOMMU, a vDEVICE (vRID 0x100 + k), a nested
 * HWPT with the fault queue and a vEVENTQ. Then it prints
 *   ready pid=PID vm=CTX viommus=ID,ID... vmids=VMID,VMID...
 * and runs one command a line from stdin, printing "done CMD N" after each:
 *   inval N    N rounds of one guest invalidation (1 entry) per vIOMMU
 *   unmap N    N map + unmap of 64 KiB on the IOAS (one S2 invalidation
 *              each, one VMID invalidation per vIOMMU)
 *   fault N    N IO page faults per vIOMMU, each read and answered
 *   vevent N   N vEVENTs per vIOMMU (the queue is never read)
 *   quit 0     close the context (every object is destroyed) and exit 0
 * (a test's other children may hold the input pipe open, so the end of
 * input is not the way to stop it; it stops there too). On a failure it
 * says which step failed and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_mock.h"

#define MAX_VIOMMUS	16
#define VRID_BASE	0x100
#define AREA_LEN	(64 * 1024)

static void die(const char *step, int rc)
{
	fprintf(stderr, "scripted_vm: %s: %s\n", step, strerror(-rc));
	exit(1);
}

int main(int argc, char **argv)
{
	uint32_t ioas, s2, fault_id, viommu[MAX_VIOMMUS], vmid[MAX_VIOMMUS];
	struct mock_dev dev[MAX_VIOMMUS];
	int fd, fault_fd, n = argc > 1 ? atoi(argv[1]) : 2, rc;
	char path[64], line[128], cmd[16];
	int64_t ictx;
	void *buf;

	if (n < 1 || n > MAX_VIOMMUS) {
		fprintf(stderr, "usage: scripted_vm [VIOMMUS, 1 to %d]\n", MAX_VIOMMUS);
		return 2;
	}
	buf = mmap(NULL, AREA_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	fd = mock_open();
	if (fd < 0 || buf == MAP_FAILED)
		die("open /dev/iommu", fd < 0 ? fd : -ENOMEM);
	if ((rc = mock_s2_setup(fd, &ioas, &dev[0], &s2)) ||
	    (rc = mock_fault_alloc(fd, &fault_id, &fault_fd)))
		die("IOAS, device, nesting parent, fault queue", rc);
	for (int k = 0; k < n; k++) {
		uint32_t vdev, nested, veventq;
		int qfd;

		if ((k && (rc = mock_dev_add(fd, ioas, 0, &dev[k]))) ||
		    (rc = mock_viommu_alloc(fd, dev[k].idev_id, s2, &viommu[k])) ||
		    (rc = mock_viommu_vmid(fd, viommu[k], &vmid[k])) ||
		    (rc = mock_vdevice_alloc(fd, viommu[k], dev[k].idev_id, VRID_BASE + k, &vdev)) ||
		    (rc = mock_nested_alloc(fd, dev[k].idev_id, viommu[k], fault_id, &nested)) ||
		    (rc = mock_dev_replace(fd, dev[k].stdev_id, nested)) ||
		    (rc = mock_veventq_alloc(fd, viommu[k], 64, &veventq, &qfd)))
			die("vIOMMU setup", rc);
	}
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if ((rc = mock_fdinfo_field(path, 0, "iommufd-ctx", &ictx)))
		die("context id from fdinfo", rc);
	printf("ready pid=%d vm=%lld viommus=", getpid(), (long long)ictx);
	for (int k = 0; k < n; k++)
		printf("%s%u", k ? "," : "", viommu[k]);
	printf(" vmids=");
	for (int k = 0; k < n; k++)
		printf("%s%u", k ? "," : "", vmid[k]);
	printf("\n");
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		int count = 0;

		if (sscanf(line, "%15s %d", cmd, &count) != 2 || count < 0) {
			fprintf(stderr, "scripted_vm: not a command: %s", line);
			return 2;
		}
		if (!strcmp(cmd, "quit"))
			break;
		for (int i = 0; i < count; i++) {
			for (int k = 0; k < n; k++) {
				struct iommu_hwpt_pgfault msg;
				struct iommu_hwpt_page_response resp = {};
				uint32_t done;

				if (!strcmp(cmd, "inval")) {
					rc = mock_viommu_invalidate(fd, viommu[k], VRID_BASE + k, 1, 0, &done);
				} else if (!strcmp(cmd, "fault")) {
					rc = mock_trigger_iopf(fd, dev[k].idev_id, 0, i);
					if (!rc && read(fault_fd, &msg, sizeof(msg)) != sizeof(msg))
						rc = -errno ?: -EIO;
					resp.cookie = msg.cookie;
					if (!rc && write(fault_fd, &resp, sizeof(resp)) != sizeof(resp))
						rc = -errno ?: -EIO;
				} else if (!strcmp(cmd, "vevent")) {
					rc = mock_trigger_vevent(fd, dev[k].idev_id);
				} else if (!strcmp(cmd, "unmap")) {
					uint64_t iova = 0;

					if (k)
						break;
					rc = mock_ioas_map(fd, ioas, buf, AREA_LEN, &iova) ?:
					     mock_ioas_unmap(fd, ioas, iova, AREA_LEN);
				} else {
					fprintf(stderr, "scripted_vm: unknown command: %s\n", cmd);
					return 2;
				}
				if (rc)
					die(cmd, rc);
			}
		}
		printf("done %s %d\n", cmd, count);
		fflush(stdout);
	}
	close(fd);
	return 0;
}
