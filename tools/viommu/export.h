/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * export.h - viommu export: the values one scrape exposes, and their
 * rendering (metrics.c, no BPF: the unit tests render synthetic values).
 */
#ifndef VIOMMU_EXPORT_H
#define VIOMMU_EXPORT_H

#include <stdarg.h>
#include <stddef.h>
#include "viommu.h"

#define EXPORT_DEFAULT_PORT	9750

/* A growing text buffer; failed is set (and stays) when memory ran out */
struct mbuf {
	char *p;
	size_t len, cap;
	bool failed;
};
void mbuf_printf(struct mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));


struct export_vm {
	unsigned int ictx_id;
	int opener_pid;			/* opened /dev/iommu */
	int vmm_pid;			/* allocated its vIOMMU; 0: not known */
	char comm[VIOMMU_COMM_LEN];
	struct viommu_vm_stats s;
};

struct export_viommu {
	unsigned int ictx_id, viommu_id, vmid;
	/* its counters, and its histogram (kept only with --per-viommu) */
	struct export_viommu_stats {
		struct viommu_viommu_stats c;
		struct viommu_hist guest_inval;
	} s;
};

/* The exporter's own figures */
struct export_self {
	double bpf_run_s;		/* run time of the BPF programs */
	uint64_t bpf_runs;		/* their runs: events processed */
	double cpu_s;			/* the exporter's user + system CPU */
	uint64_t rss_bytes;
	uint64_t collections;		/* scrapes served and textfiles written */
	double collect_s;		/* the last one: maps read and rendered */
	uint64_t vms_dropped;		/* VMs not exported: --max-vms reached */
	uint64_t max_vms;		/* the --max-vms limit */
};

struct export_data {
	int nr_vms;
	const struct export_vm *vms;
	bool per_viommu;
	int nr_viommus;
	const struct export_viommu *viommus;
	/* every drop the BPF side counts, by reason (VIOMMU_DROP_REASONS) */
	uint64_t drops[VIOMMU_DROPS];
	struct export_self self;
	bool fine_buckets;		/* every bucket of the tool's layout */
};

enum export_format {
	EXPORT_TEXT,		/* text/plain; version=0.0.4 */
	EXPORT_OPENMETRICS,	/* application/openmetrics-text; version=1.0.0 */
};

extern const char *const export_content_types[2];

int metrics_render(struct mbuf *b, const struct export_data *d,
		   enum export_format fmt);
enum export_format metrics_negotiate(const char *accept);
void metrics_list(FILE *out);

int cmd_export(int argc, char **argv);

#endif /* VIOMMU_EXPORT_H */
