// SPDX-License-Identifier: GPL-2.0-only
/*
 * lat.c - viommu lat: log2 histograms per VM (or per vIOMMU) of guest
 * invalidation, S2 invalidation and fault-to-response latency.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"

static struct lat_opts {
	double interval;
	long count;
	bool per_viommu;
	bool timestamp;
	unsigned int kinds;	/* bit per enum viommu_lat_kind */
} opts = { .interval = 0, .kinds = (1u << VIOMMU_LAT_KINDS) - 1 };

static const struct argp_option options[] = {
	{ "milliseconds", 'm', NULL, 0, "Histograms in milliseconds", 0 },
	{ "per-viommu", OPT_PER_VIOMMU, NULL, 0, "Guest invalidations per vIOMMU, not per VM", 0 },
	{ "kind", 'k', "KIND", 0, "Only guest_inval, s2_inval or fault (repeatable)", 0 },
	{ "timestamp", 'T', NULL, 0, "Print a timestamp with each interval", 0 },
	{},
};

static const char doc[] =
"viommu lat: latency histograms per VM.\n"
"\n"
"guest_inval: IOMMU_HWPT_INVALIDATE from the VMM, start to end; s2_inval: an\n"
"IOAS unmap on a nesting parent, with the per-VMID invalidations it makes;\n"
"fault: an IO page fault delivered to the VMM until its response. Without\n"
"INTERVAL, one set of histograms is printed at Ctrl-C.\n"
"\n"
"EXAMPLES:\n"
"  viommu lat                  # until Ctrl-C, then per-VM histograms\n"
"  viommu lat 1 5              # every second, five times\n"
"  viommu lat --per-viommu -k guest_inval -p 1234   # one VMM, per vIOMMU\n"
"  viommu lat --json 10 1      # one JSON object after 10 s";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	static bool kinds_given;
	int k;

	switch (key) {
	case 'm':
		common.ms = true;
		break;
	case OPT_PER_VIOMMU:
		opts.per_viommu = true;
		common.per_viommu = true;
		break;
	case 'T':
		opts.timestamp = true;
		break;
	case 'k':
		for (k = 0; k < VIOMMU_LAT_KINDS; k++)
			if (!strcmp(arg, lat_kind_names[k]))
				break;
		if (k == VIOMMU_LAT_KINDS)
			argp_error(state, "unknown kind: %s (guest_inval, s2_inval, fault)", arg);
		if (!kinds_given)
			opts.kinds = 0;
		kinds_given = true;
		opts.kinds |= 1u << k;
		break;
	case ARGP_KEY_ARG:
		return parse_interval_count(state, arg, &opts.interval, &opts.count);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * Previous cumulative histograms, to print per-interval ones: per VM
 * (viommu_id 0) or per vIOMMU incarnation, sorted by key
 */
struct prev {
	struct viommu_lat_key key;
	struct viommu_hist h[VIOMMU_LAT_KINDS];
};
static struct prev *prevs;
static int nr_prevs, cap_prevs;

static int cmp_lat_key(const void *a, const void *b)
{
	const struct viommu_lat_key *x = a, *y = b;

	if (x->ictx_id != y->ictx_id)
		return x->ictx_id > y->ictx_id ? 1 : -1;
	if (x->viommu_id != y->viommu_id)
		return x->viommu_id > y->viommu_id ? 1 : -1;
	return (x->alloc_ns > y->alloc_ns) - (x->alloc_ns < y->alloc_ns);
}

static struct prev *prev_find(const struct viommu_lat_key *key)
{
	return nr_prevs ? bsearch(key, prevs, nr_prevs, sizeof(*prevs), cmp_lat_key) : NULL;
}

static struct viommu_hist *prev_of(const struct viommu_lat_key *key, int kind)
{
	struct prev *p = prev_find(key);
	int at = 0;

	if (p)
		return &p->h[kind];
	if (nr_prevs == cap_prevs) {
		p = realloc(prevs, (cap_prevs = cap_prevs ? cap_prevs * 2 : 16) * sizeof(*p));
		if (!p)
			return NULL;
		prevs = p;
	}
	while (at < nr_prevs && cmp_lat_key(&prevs[at].key, key) < 0)
		at++;
	memmove(&prevs[at + 1], &prevs[at], (nr_prevs - at) * sizeof(*prevs));
	nr_prevs++;
	memset(&prevs[at], 0, sizeof(*prevs));
	prevs[at].key = *key;
	return &prevs[at].h[kind];
}

static void prev_forget(const struct viommu_lat_key *key)
{
	struct prev *p = prev_find(key);

	if (!p)
		return;
	memmove(p, p + 1, (prevs + nr_prevs - (p + 1)) * sizeof(*p));
	nr_prevs--;
}

/* The interval's histogram from a cumulative one */
static void interval_hist(struct viommu_hist *out, const struct viommu_lat_key *key,
			  int kind, const struct viommu_hist *cum)
{
	struct viommu_hist *prev = prev_of(key, kind);

	if (!prev) {
		*out = *cum;
		return;
	}
	hist_sub(out, cum, prev);
	*prev = *cum;
}

static void print_summary(const struct viommu_hist *h)
{
	double scale = common.ms ? 1e6 : 1e3;

	printf("     count %llu  avg %.1f  p50 %.1f  p99 %.1f  max %.1f %s\n",
	       (unsigned long long)h->count, h->sum_ns / scale / h->count,
	       hist_percentile_us(h, 50) * 1e3 / scale,
	       hist_percentile_us(h, 99) * 1e3 / scale, h->max_ns / scale,
	       common.ms ? "ms" : "us");
}

static void report(struct viommu_bpf *vb)
{
	struct json_object *out = NULL, *list = NULL;
	char comm[VIOMMU_COMM_LEN];
	time_t wall = time(NULL);

	if (common.json) {
		out = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(out, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
		json_object_object_add(out, "type", json_object_new_string("viommu-lat"));
		json_object_object_add(out, "ts_unix_ms", json_object_new_int64((int64_t)wall * 1000));
	} else if (opts.timestamp) {
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
		printf("%s\n", stamp);
	}
	if (opts.per_viommu) {
		struct viommu_row *vr;
		int n = viommu_bpf_read_viommus(vb, &vr);

		for (int i = 0; i < n; i++) {
			struct viommu_lat_key key = { vr[i].key.ictx_id, vr[i].key.viommu_id,
						      vr[i].s.alloc_ns };
			struct viommu_hist h;

			interval_hist(&h, &key, VIOMMU_LAT_GUEST_INVAL, &vr[i].guest_inval);
			/* a destroyed vIOMMU's last figures are read: forget it */
			if (vr[i].gone) {
				viommu_bpf_forget_viommu(vb, &vr[i]);
				prev_forget(&key);
			}
			if (!h.count)
				continue;
			comm_of(vr[i].s.owner_tgid, comm, sizeof(comm));
			if (list) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "vm", json_object_new_int64(vr[i].key.ictx_id));
				json_object_object_add(o, "viommu", json_object_new_int64(vr[i].key.viommu_id));
				json_object_object_add(o, "vmid", json_object_new_int64(vr[i].s.vmid));
				json_object_object_add(o, "gone", json_object_new_boolean(vr[i].gone));
				json_object_object_add(o, "pid", json_object_new_int(vr[i].s.owner_tgid));
				json_object_object_add(o, "comm", json_object_new_string(comm));
				json_object_object_add(o, "guest_inval", hist_to_json(&h));
				json_object_array_add(list, o);
				continue;
			}
			printf("\nvm %u viommu %u%s vmid %u pid %d (%s): guest_inval\n",
			       vr[i].key.ictx_id, vr[i].key.viommu_id,
			       vr[i].gone ? " (destroyed)" : "", vr[i].s.vmid,
			       vr[i].s.owner_tgid, comm);
			hist_print(stdout, &h);
			print_summary(&h);
		}
		free(vr);
	} else {
		struct vm_row *vms;
		int n = viommu_bpf_read_vms(vb, &vms);

		for (int i = 0; i < n; i++) {
			struct viommu_lat_key key = { .ictx_id = vms[i].ictx_id };
			struct json_object *o = NULL, *lat = NULL;
			bool header = false;

			comm_of(vms[i].s.owner_tgid, comm, sizeof(comm));
			for (int k = 0; k < VIOMMU_LAT_KINDS; k++) {
				struct viommu_hist h;

				interval_hist(&h, &key, k, &vms[i].s.lat[k]);
				if (!(opts.kinds & (1u << k)) || !h.count)
					continue;
				if (list) {
					if (!o) {
						o = json_object_new_object();
						lat = json_object_new_object();
						json_object_object_add(o, "vm", json_object_new_int64(vms[i].ictx_id));
						json_object_object_add(o, "pid", json_object_new_int(vms[i].s.owner_tgid));
						json_object_object_add(o, "comm", json_object_new_string(comm));
						if (vms[i].s.kvm_pid)
							json_object_object_add(o, "kvm_pid", json_object_new_int(vms[i].s.kvm_pid));
						json_object_object_add(o, "lat", lat);
						json_object_array_add(list, o);
					}
					json_object_object_add(lat, lat_kind_names[k], hist_to_json(&h));
					continue;
				}
				if (!header) {
					printf("\nvm %u pid %d (%s)", vms[i].ictx_id,
					       vms[i].s.owner_tgid, comm);
					if (vms[i].s.kvm_pid)
						printf(" kvm %d", vms[i].s.kvm_pid);
					printf("\n");
					header = true;
				}
				printf("%s:\n", lat_kind_names[k]);
				hist_print(stdout, &h);
				print_summary(&h);
			}
		}
		free(vms);
	}
	if (out) {
		json_object_object_add(out, opts.per_viommu ? "viommus" : "vms", list);
		json_emit(out);
		json_object_put(out);
	}
	fflush(stdout);
}

int cmd_lat(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, "[INTERVAL] [COUNT]", doc, children };
	struct viommu_bpf *vb;
	long n = 0;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	vb = viommu_bpf_open(false);
	if (!vb)
		return 1;
	if (!common.json) {
		printf("Tracing vIOMMU latency (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(vb));
		fflush(stdout);
	}
	while (!exiting) {
		if (opts.interval) {
			struct timespec ts = { .tv_sec = (time_t)opts.interval,
				.tv_nsec = (opts.interval - (time_t)opts.interval) * 1e9 };

			nanosleep(&ts, NULL);
			report(vb);
			if (opts.count && ++n >= opts.count)
				break;
		} else {
			pause();
		}
	}
	if (!opts.interval)
		report(vb);
	viommu_bpf_close(vb);
	free(prevs);
	return 0;
}
