// SPDX-License-Identifier: GPL-2.0-only
/*
 * export_render - viommu export's exposition of synthetic values, without
 * a kernel, for tests/unit/prometheus.sh to check with promtool and an
 * OpenMetrics parser, and to compare with exact lines.
 *
 * usage: export_render text|openmetrics full|empty
 *        export_render negotiate ACCEPT-HEADER
 */
#include <stdlib.h>
#include <string.h>
#include "../../tools/viommu/export.h"

/* metrics.c and hist.c need these of the tool's main.c */
struct common_opts common;
volatile sig_atomic_t exiting;

/* samples[] is (latency in ns, count) pairs, binned as the BPF side bins */
static void fill_hist(struct viommu_hist *h, const uint64_t *samples, int n,
		      uint64_t sum_ns)
{
	memset(h, 0, sizeof(*h));
	h->unit_ns = VIOMMU_HIST_UNIT_US;
	for (int i = 0; i < n; i += 2) {
		h->slots[viommu_hist_bucket(samples[i], h->unit_ns)] += samples[i + 1];
		h->count += samples[i + 1];
	}
	h->sum_ns = sum_ns;
}

int main(int argc, char **argv)
{
	/* ns, count */
	static const uint64_t guest[] = { 1000, 1, 10000, 5, 5000000, 1 };
	static const uint64_t s2[] = { 40000, 4 };
	/* 100 s: beyond the last finite bound (about 67 s), open-ended */
	static const uint64_t fault[] = { 200000, 5, 100000000000ULL, 1 };
	struct export_vm vms[2] = {};
	struct export_viommu viommus[2] = {};
	struct export_data d = {};
	struct mbuf b = {};
	enum export_format fmt;

	if (argc == 3 && !strcmp(argv[1], "negotiate")) {
		puts(metrics_negotiate(argv[2]) == EXPORT_OPENMETRICS ? "openmetrics" : "text");
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "text") && strcmp(argv[1], "openmetrics")) ||
	    (strcmp(argv[2], "full") && strcmp(argv[2], "empty"))) {
		fprintf(stderr, "usage: export_render text|openmetrics full|empty\n"
				"       export_render negotiate ACCEPT-HEADER\n");
		return 2;
	}
	fmt = strcmp(argv[1], "text") ? EXPORT_OPENMETRICS : EXPORT_TEXT;

	/* VM 1: every counter distinct, every histogram with samples */
	vms[0].ictx_id = 1;
	vms[0].opener_pid = 100;
	vms[0].vmm_pid = 101;
	strcpy(vms[0].comm, "viommu-load");
	vms[0].s = (struct viommu_vm_stats){
		.guest_invals = 7, .guest_inval_entries = 21,
		.guest_inval_errors = 1, .s2_invals = 4, .vmid_invals = 12,
		.vevents_queued = 64, .vevents_lost = 6, .faults = 6,
		.fault_responses = 5, .viommus_allocated = 2,
		.viommus_destroyed = 1,
	};
	fill_hist(&vms[0].s.lat[VIOMMU_LAT_GUEST_INVAL], guest, 6, 4300000);
	fill_hist(&vms[0].s.lat[VIOMMU_LAT_S2_INVAL], s2, 2, 160000);
	fill_hist(&vms[0].s.lat[VIOMMU_LAT_FAULT], fault, 4, 3000000000ULL);
	/* VM 2: idle, no KVM, a comm that needs escaping */
	vms[1].ictx_id = 2;
	vms[1].opener_pid = 200;
	strcpy(vms[1].comm, "q\"e\\mu\n\xff");
	viommus[0] = (struct export_viommu){ .ictx_id = 1, .viommu_id = 3, .vmid = 10 };
	viommus[0].s.c.guest_invals = 4;
	viommus[0].s.c.guest_inval_entries = 12;
	viommus[0].s.c.vmid_invals = 4;
	viommus[0].s.c.vevents_queued = 64;
	viommus[0].s.c.vevents_lost = 6;
	fill_hist(&viommus[0].s.guest_inval, guest, 4, 1300000);
	viommus[1] = (struct export_viommu){ .ictx_id = 1, .viommu_id = 5, .vmid = 11 };
	viommus[1].s.c.guest_invals = 3;

	if (!strcmp(argv[2], "full")) {
		d.nr_vms = 2;
		d.vms = vms;
		d.per_viommu = true;
		d.nr_viommus = 2;
		d.viommus = viommus;
		d.drops[VIOMMU_DROP_RINGBUF] = 3;
		d.drops[VIOMMU_DROP_VM_STATS] = 2;
	}
	d.self = (struct export_self){
		.bpf_run_s = 0.25, .bpf_runs = 1000, .cpu_s = 1.5,
		.rss_bytes = 4096000, .collections = 9, .collect_s = 0.000125,
		.vms_dropped = 1, .max_vms = 4096,
	};
	if (metrics_render(&b, &d, fmt)) {
		fprintf(stderr, "export_render: out of memory\n");
		return 1;
	}
	fwrite(b.p, 1, b.len, stdout);
	free(b.p);
	return 0;
}
