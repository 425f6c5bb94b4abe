// SPDX-License-Identifier: GPL-2.0-only
/*
 * metrics.c - viommu export's metric families and their exposition in the
 * Prometheus text format (0.0.4) or OpenMetrics 1.0.0. A pure function of
 * the collected values: the unit tests render synthetic ones, and the
 * metric list of docs/prometheus.md is checked against metrics_list().
 *
 * Names follow the Prometheus conventions: base units (seconds, bytes),
 * counters end in _total, one family per quantity, labels for identity.
 * Histogram buckets come from hist.c's layout (hist_bucket_bound_ns()), so
 * they follow the tool's histograms when those change.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "export.h"

const char *const export_content_types[2] = {
	[EXPORT_TEXT] = "text/plain; version=0.0.4; charset=utf-8",
	[EXPORT_OPENMETRICS] = "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

enum scope { PER_VM, PER_VIOMMU, PER_DROP_REASON, EXPORTER };
enum mtype { COUNTER, GAUGE, HISTOGRAM };
enum vtype { U64, DOUBLE };

struct family {
	const char *name;	/* without _total; a histogram's base name */
	enum mtype type;
	enum scope scope;
	size_t off;		/* of the value (a struct viommu_hist for a
				 * histogram) in the scope's struct */
	enum vtype vt;
	const char *help;
};

#define VM(f)		PER_VM, offsetof(struct viommu_vm_stats, f)
#define VIOMMU(f)	PER_VIOMMU, offsetof(struct export_viommu_stats, c.f)
#define VIOMMU_HIST(f)	PER_VIOMMU, offsetof(struct export_viommu_stats, f)
#define SELF(f)		EXPORTER, offsetof(struct export_self, f)

static const struct family families[] = {
	/* per VM: vm, opener_pid, comm, vmm_pid (when known) */
	{ "viommu_guest_invalidations", COUNTER, VM(guest_invals), U64,
	  "Guest cache invalidation requests on the VM's vIOMMUs" },
	{ "viommu_guest_invalidation_entries", COUNTER, VM(guest_inval_entries), U64,
	  "Entries the guest cache invalidation requests carried" },
	{ "viommu_guest_invalidation_errors", COUNTER, VM(guest_inval_errors), U64,
	  "Guest cache invalidation requests that failed" },
	{ "viommu_guest_invalidation_duration_seconds", HISTOGRAM,
	  VM(lat[VIOMMU_LAT_GUEST_INVAL]), U64,
	  "Time from the start to the end of a guest cache invalidation" },
	{ "viommu_s2_invalidations", COUNTER, VM(s2_invals), U64,
	  "Invalidations of the VM's stage-2 (nesting parent) page tables" },
	{ "viommu_s2_invalidation_duration_seconds", HISTOGRAM,
	  VM(lat[VIOMMU_LAT_S2_INVAL]), U64,
	  "Time from the start to the end of an S2 invalidation, all its VMIDs" },
	{ "viommu_vmid_invalidations", COUNTER, VM(vmid_invals), U64,
	  "Per-VMID invalidations the S2 invalidations caused (fan-out)" },
	{ "viommu_vevents_queued", COUNTER, VM(vevents_queued), U64,
	  "vEVENTs queued to the VM's vEVENTQs" },
	{ "viommu_vevents_lost", COUNTER, VM(vevents_lost), U64,
	  "vEVENTs lost: queue full, no memory, or no queue" },
	{ "viommu_faults", COUNTER, VM(faults), U64,
	  "IO page faults delivered to the VM's fault queues" },
	{ "viommu_fault_responses", COUNTER, VM(fault_responses), U64,
	  "Responses to IO page faults: the VMM's and the kernel's own" },
	{ "viommu_fault_response_duration_seconds", HISTOGRAM,
	  VM(lat[VIOMMU_LAT_FAULT]), U64,
	  "Time from an IO page fault's delivery to its response" },
	{ "viommu_viommus_allocated", COUNTER, VM(viommus_allocated), U64,
	  "vIOMMUs allocated (IOMMU_VIOMMU_ALLOC)" },
	{ "viommu_viommus_destroyed", COUNTER, VM(viommus_destroyed), U64,
	  "vIOMMUs destroyed" },
	/* per vIOMMU (--per-viommu): vm, viommu, vmid */
	{ "viommu_viommu_guest_invalidations", COUNTER, VIOMMU(guest_invals), U64,
	  "Guest cache invalidation requests on this vIOMMU" },
	{ "viommu_viommu_guest_invalidation_entries", COUNTER,
	  VIOMMU(guest_inval_entries), U64,
	  "Entries the guest cache invalidation requests on this vIOMMU carried" },
	{ "viommu_viommu_guest_invalidation_duration_seconds", HISTOGRAM,
	  VIOMMU_HIST(guest_inval), U64,
	  "Time from the start to the end of a guest cache invalidation on this vIOMMU" },
	{ "viommu_viommu_vmid_invalidations", COUNTER, VIOMMU(vmid_invals), U64,
	  "Invalidations of this vIOMMU's VMID caused by S2 invalidations" },
	{ "viommu_viommu_vevents_queued", COUNTER, VIOMMU(vevents_queued), U64,
	  "vEVENTs queued to this vIOMMU's vEVENTQ" },
	{ "viommu_viommu_vevents_lost", COUNTER, VIOMMU(vevents_lost), U64,
	  "vEVENTs of this vIOMMU lost" },
	/* drops of the BPF side: reason */
	{ "viommu_bpf_drops", COUNTER, PER_DROP_REASON, 0, U64,
	  "Events the BPF programs could not count or pass on, by reason" },
	/* the exporter itself */
	{ "viommu_exporter_bpf_run_seconds", COUNTER, SELF(bpf_run_s), DOUBLE,
	  "Run time of the exporter's BPF programs (counted while kernel.bpf_stats_enabled is on, see --bpf-stats)" },
	{ "viommu_exporter_bpf_runs", COUNTER, SELF(bpf_runs), U64,
	  "Runs of the exporter's BPF programs: events processed (counted while kernel.bpf_stats_enabled is on)" },
	{ "viommu_exporter_cpu_seconds", COUNTER, SELF(cpu_s), DOUBLE,
	  "User and system CPU time of the exporter process" },
	{ "viommu_exporter_resident_memory_bytes", GAUGE, SELF(rss_bytes), U64,
	  "Resident memory of the exporter process" },
	{ "viommu_exporter_collections", COUNTER, SELF(collections), U64,
	  "Collections: scrapes served and textfiles written" },
	{ "viommu_exporter_collect_duration_seconds", GAUGE, SELF(collect_s), DOUBLE,
	  "Time the previous collection took to read the maps and render" },
	{ "viommu_exporter_vms", GAUGE, EXPORTER, 0, U64,
	  "VMs exported" },
	{ "viommu_exporter_vms_dropped", COUNTER, SELF(vms_dropped), U64,
	  "VMs not exported because --max-vms VMs were (each counted once)" },
	{ "viommu_exporter_max_vms", GAUGE, SELF(max_vms), U64,
	  "The --max-vms limit" },
};
#define NR_FAMILIES (sizeof(families) / sizeof(families[0]))

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		size_t cap = b->cap ? b->cap : 65536;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/*
 * A float as the Go client libraries print one (strconv 'g', shortest):
 * the fewest digits that read back as the same double, so a bucket bound
 * is the same string at every scrape and no two bounds print alike.
 */
static void fmt_float(char *buf, size_t len, double v)
{
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* A label value: \ " and newline escaped; bytes that are not printable
 * ASCII (a comm is any 15 bytes) become '?', so the value is UTF-8 */
static void label_value(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 3 < len; src++) {
		unsigned char c = *src;

		if (c == '\\' || c == '"') {
			dst[o++] = '\\';
			dst[o++] = c;
		} else if (c == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			dst[o++] = c >= 0x20 && c < 0x7f ? c : '?';
		}
	}
	dst[o] = '\0';
}

static void vm_labels(char *buf, size_t len, const struct export_vm *vm)
{
	char comm[4 * VIOMMU_COMM_LEN];
	int n;

	label_value(comm, sizeof(comm), vm->comm);
	n = snprintf(buf, len, "vm=\"%u\",opener_pid=\"%d\",comm=\"%s\"", vm->ictx_id,
		     vm->opener_pid, comm);
	if (vm->vmm_pid > 0 && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, ",vmm_pid=\"%d\"", vm->vmm_pid);
}

static void viommu_labels(char *buf, size_t len, const struct export_viommu *v)
{
	snprintf(buf, len, "vm=\"%u\",viommu=\"%u\",vmid=\"%u\"", v->ictx_id,
		 v->viommu_id, v->vmid);
}

static const char *type_name(enum mtype t)
{
	return t == COUNTER ? "counter" : t == GAUGE ? "gauge" : "histogram";
}

static void header(struct mbuf *b, const struct family *f,
		   enum export_format fmt)
{
	/* OpenMetrics names a counter family without _total */
	const char *suffix = f->type == COUNTER && fmt == EXPORT_TEXT ? "_total" : "";

	mbuf_printf(b, "# HELP %s%s %s.\n", f->name, suffix, f->help);
	mbuf_printf(b, "# TYPE %s%s %s\n", f->name, suffix, type_name(f->type));
	if (fmt == EXPORT_OPENMETRICS) {
		size_t n = strlen(f->name);

		if (n > 8 && !strcmp(f->name + n - 8, "_seconds"))
			mbuf_printf(b, "# UNIT %s seconds\n", f->name);
		else if (n > 6 && !strcmp(f->name + n - 6, "_bytes"))
			mbuf_printf(b, "# UNIT %s bytes\n", f->name);
	}
}

static void sample_u64(struct mbuf *b, const struct family *f,
		       const char *labels, uint64_t v)
{
	mbuf_printf(b, "%s%s%s%s%s %" PRIu64 "\n", f->name,
		    f->type == COUNTER ? "_total" : "", *labels ? "{" : "",
		    labels, *labels ? "}" : "", v);
}

static void sample_double(struct mbuf *b, const struct family *f,
			  const char *labels, double v)
{
	char num[64];

	fmt_float(num, sizeof(num), v);
	mbuf_printf(b, "%s%s%s%s%s %s\n", f->name,
		    f->type == COUNTER ? "_total" : "", *labels ? "{" : "",
		    labels, *labels ? "}" : "", num);
}

/*
 * One histogram: cumulative buckets with bounds in seconds from the
 * tool's bucket layout, then _sum and _count. Unless fine, a bound is
 * kept only at twice the previous one or more, so a finer layout of the
 * tool (sub-buckets inside each power of two) does not multiply the
 * series; counts are cumulative, so a skipped bound loses nothing.
 * _count is the buckets' total, not the separately kept count: read from
 * live per-CPU counters, the two can differ by an event in flight, and
 * Prometheus wants the +Inf bucket and _count equal.
 */
static void histogram(struct mbuf *b, const struct family *f,
		      const char *labels, const struct viommu_hist *h, bool fine)
{
	uint64_t cum = 0, total = 0;
	double last = 0, low, high;
	int n = hist_nr_buckets();
	char le[64];

	for (int i = 0; i < n; i++)
		total += hist_bucket_count(h, i);
	for (int i = 0; i < n; i++) {
		cum += hist_bucket_count(h, i);
		hist_bucket_bounds_ns(h, i, &low, &high);
		if (isinf(high))
			break;
		if (!fine && last > 0 && high < 2 * last)
			continue;
		last = high;
		fmt_float(le, sizeof(le), high / 1e9);
		mbuf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", f->name,
			    labels, *labels ? "," : "", le, cum);
	}
	mbuf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", f->name,
		    labels, *labels ? "," : "", total);
	fmt_float(le, sizeof(le), h->sum_ns / 1e9);
	mbuf_printf(b, "%s_sum%s%s%s %s\n", f->name, *labels ? "{" : "", labels,
		    *labels ? "}" : "", le);
	mbuf_printf(b, "%s_count%s%s%s %" PRIu64 "\n", f->name, *labels ? "{" : "",
		    labels, *labels ? "}" : "", total);
}

static uint64_t hist_total(const struct viommu_hist *h)
{
	uint64_t total = 0;

	for (int i = 0; i < hist_nr_buckets(); i++)
		total += hist_bucket_count(h, i);
	return total;
}

static const void *stats_of(const struct family *f, const struct export_data *d,
			    int i)
{
	if (f->scope == PER_VM)
		return &d->vms[i].s;
	return &d->viommus[i].s;
}

/* A family with no sample is left out, as the client libraries do */
static void render_family(struct mbuf *b, const struct family *f,
			  const struct export_data *d, enum export_format fmt)
{
	char labels[256];
	bool any = false;
	int n;

	switch (f->scope) {
	case PER_VM:
	case PER_VIOMMU:
		n = f->scope == PER_VM ? d->nr_vms : d->per_viommu ? d->nr_viommus : 0;
		for (int i = 0; i < n; i++) {
			const char *s = stats_of(f, d, i);

			/* a histogram appears with its first sample */
			if (f->type == HISTOGRAM &&
			    !hist_total((const struct viommu_hist *)(s + f->off)))
				continue;
			if (!any)
				header(b, f, fmt);
			any = true;
			if (f->scope == PER_VM)
				vm_labels(labels, sizeof(labels), &d->vms[i]);
			else
				viommu_labels(labels, sizeof(labels), &d->viommus[i]);
			if (f->type == HISTOGRAM)
				histogram(b, f, labels,
					  (const struct viommu_hist *)(s + f->off),
					  d->fine_buckets);
			else
				sample_u64(b, f, labels, *(const uint64_t *)(s + f->off));
		}
		break;
	case PER_DROP_REASON:
		header(b, f, fmt);
		for (int r = 0; r < VIOMMU_DROPS; r++) {
			snprintf(labels, sizeof(labels), "reason=\"%s\"",
				 viommu_drop_names[r]);
			sample_u64(b, f, labels, d->drops[r]);
		}
		break;
	case EXPORTER:
		header(b, f, fmt);
		if (!strcmp(f->name, "viommu_exporter_vms"))
			sample_u64(b, f, "", d->nr_vms);
		else if (f->vt == DOUBLE)
			sample_double(b, f, "", *(const double *)((const char *)&d->self + f->off));
		else
			sample_u64(b, f, "", *(const uint64_t *)((const char *)&d->self + f->off));
		break;
	}
}

/* The exposition of d, appended to b; -1 when memory ran out */
int metrics_render(struct mbuf *b, const struct export_data *d,
		   enum export_format fmt)
{
	for (size_t i = 0; i < NR_FAMILIES; i++)
		render_family(b, &families[i], d, fmt);
	if (fmt == EXPORT_OPENMETRICS)
		mbuf_printf(b, "# EOF\n");
	return b->failed ? -1 : 0;
}

/*
 * The format an Accept header asks for: OpenMetrics when it accepts it at
 * a quality not below the text format's, else the text format (also for
 * no header, and for any type).
 */
enum export_format metrics_negotiate(const char *accept)
{
	double q_om = 0, q_text = 0;
	char *copy, *save = NULL, *range;

	if (!accept || !(copy = strdup(accept)))
		return EXPORT_TEXT;
	for (range = strtok_r(copy, ",", &save); range;
	     range = strtok_r(NULL, ",", &save)) {
		char *param, *psave = NULL, *type;
		double q = 1;

		type = strtok_r(range, ";", &psave);
		if (!type)
			continue;
		while (*type == ' ' || *type == '\t')
			type++;
		type[strcspn(type, " \t")] = '\0';
		while ((param = strtok_r(NULL, ";", &psave))) {
			while (*param == ' ' || *param == '\t')
				param++;
			if (!strncasecmp(param, "q=", 2))
				q = strtod(param + 2, NULL);
		}
		if (!strcasecmp(type, "application/openmetrics-text"))
			q_om = q > q_om ? q : q_om;
		else if (!strcasecmp(type, "text/plain") || !strcmp(type, "*/*") ||
			 !strcasecmp(type, "text/*"))
			q_text = q > q_text ? q : q_text;
	}
	free(copy);
	return q_om > 0 && q_om >= q_text ? EXPORT_OPENMETRICS : EXPORT_TEXT;
}

static const char *labels_doc(enum scope s)
{
	switch (s) {
	case PER_VM:
		return "vm, opener_pid, comm, vmm_pid";
	case PER_VIOMMU:
		return "vm, viommu, vmid";
	case PER_DROP_REASON:
		return "reason";
	default:
		return "-";
	}
}

/* The metric list of docs/prometheus.md, a Markdown table (--list-metrics) */
void metrics_list(FILE *out)
{
	fprintf(out, "| metric | type | labels | what |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < NR_FAMILIES; i++) {
		const struct family *f = &families[i];

		fprintf(out, "| `%s%s` | %s | %s | %s%s |\n", f->name,
			f->type == COUNTER ? "_total" : "", type_name(f->type),
			labels_doc(f->scope), f->help,
			f->scope == PER_VIOMMU ? " (with --per-viommu)" : "");
	}
	fprintf(out, "\nDrop reasons (`reason`):");
	for (int r = 0; r < VIOMMU_DROPS; r++)
		fprintf(out, "%s `%s`", r ? "," : "", viommu_drop_names[r]);
	fprintf(out, ".\n");
}
