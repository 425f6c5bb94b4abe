// SPDX-License-Identifier: GPL-2.0-only
/*
 * lat.c - viommu lat: latency histograms per VM (or per vIOMMU) of guest
 * invalidation, S2 invalidation and fault-to-response latency.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"

struct lat_opts {
	double interval;
	long count;
	bool per_viommu;
	bool timestamp;
	bool kinds_given;	/* the first -k replaces the default */
	unsigned int kinds;	/* bit per enum viommu_lat_kind */
};
static const struct lat_opts opts_default = {
	.interval = 0, .kinds = (1u << VIOMMU_LAT_KINDS) - 1,
};
static struct lat_opts opts;

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
			return usage_error(state, "unknown kind: %s (guest_inval, s2_inval, fault)", arg);
		if (!opts.kinds_given)
			opts.kinds = 0;
		opts.kinds_given = true;
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
 * What lat knows of a VM (viommu_id 0) or a vIOMMU incarnation: what it
 * did since the last report (its last cumulative reading is in readings,
 * by the same key). The maps are
 * read every tick (at most a second), so a VM or vIOMMU that went away is
 * forgotten in the maps as soon as its last figures are read, even when
 * the report comes much later (lat without INTERVAL).
 */
struct entry {
	struct viommu_lat_key key;
	struct viommu_hist acc[VIOMMU_LAT_KINDS];
	int opener, vmm;	/* its processes; vmm 0: not known */
	unsigned int vmid;
	bool gone, forgotten;
	char comm[VIOMMU_COMM_LEN];	/* from when it was alive */
};
static struct entry *entries;
static int nr_entries, cap_entries;
/* The previous reading of each VM or vIOMMU (delta.c), by entry key */
static struct delta_set *readings;

static int cmp_lat_key(const void *a, const void *b)
{
	const struct viommu_lat_key *x = a, *y = b;

	if (x->ictx_id != y->ictx_id)
		return x->ictx_id > y->ictx_id ? 1 : -1;
	if (x->viommu_id != y->viommu_id)
		return x->viommu_id > y->viommu_id ? 1 : -1;
	return (x->alloc_ns > y->alloc_ns) - (x->alloc_ns < y->alloc_ns);
}

/*
 * The entry of key, made if new (sorted by key), with its processes and
 * name up to date; NULL without memory
 */
static struct entry *entry_of(struct viommu_bpf *vb, const struct viommu_lat_key *key,
			      int opener, int vmm)
{
	struct entry *e = nr_entries ? bsearch(key, entries, nr_entries, sizeof(*e), cmp_lat_key) : NULL;
	int at = 0;

	if (e) {
		/* the VMM of a VM first seen before its vIOMMU */
		if (vmm > 0 && e->vmm != vmm) {
			e->vmm = vmm;
			viommu_vm_name(vb, key->ictx_id, e->opener, vmm, e->comm, sizeof(e->comm));
		}
		return e;
	}
	if (nr_entries == cap_entries) {
		e = realloc(entries, (cap_entries = cap_entries ? cap_entries * 2 : 16) * sizeof(*e));
		if (!e)
			return NULL;
		entries = e;
	}
	while (at < nr_entries && cmp_lat_key(&entries[at].key, key) < 0)
		at++;
	memmove(&entries[at + 1], &entries[at], (nr_entries - at) * sizeof(*entries));
	nr_entries++;
	e = &entries[at];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->opener = opener;
	e->vmm = vmm;
	viommu_vm_name(vb, key->ictx_id, opener, vmm, e->comm, sizeof(e->comm));
	return e;
}

/* A VM or vIOMMU gone from the maps: a new one of that key starts from 0 */
static void forgotten(struct entry *e)
{
	delta_forget(readings, &e->key);
	e->forgotten = true;
}

/* Read the maps into the entries; forget what went away */
static void tick(struct viommu_bpf *vb)
{
	if (opts.per_viommu) {
		struct viommu_row *vr;
		int n = viommu_bpf_read_viommus(vb, &vr);

		for (int i = 0; i < n; i++) {
			struct viommu_lat_key key = { vr[i].key.ictx_id, vr[i].key.viommu_id,
						      vr[i].s.alloc_ns };
			struct entry *e = entry_of(vb, &key, vr[i].s.opener_pid, vr[i].s.vmm_pid);
			struct viommu_row d;

			if (!e || delta_take(readings, &key, &vr[i], &d) == DELTA_NONE)
				break;
			e->forgotten = false;
			/* what happened since the last reading, into the report's */
			hist_merge(&e->acc[VIOMMU_LAT_GUEST_INVAL], &d.guest_inval);
			e->vmid = vr[i].s.vmid;
			e->gone = vr[i].gone;
			if (vr[i].gone) {
				viommu_bpf_forget_viommu(vb, &vr[i]);
				forgotten(e);
			}
		}
		free(vr);
		return;
	}
	struct vm_row *vms;
	int n = viommu_bpf_read_vms(vb, &vms);

	for (int i = 0; i < n; i++) {
		struct viommu_lat_key key = { .ictx_id = vms[i].ictx_id };
		struct entry *e = entry_of(vb, &key, vms[i].s.opener_pid, vms[i].s.vmm_pid);
		struct viommu_vm_stats d;

		if (!e || delta_take(readings, &key, &vms[i].s, &d) == DELTA_NONE)
			break;
		e->forgotten = false;
		for (int k = 0; k < VIOMMU_LAT_KINDS; k++)
			hist_merge(&e->acc[k], &d.lat[k]);
		if (viommu_vm_gone(&vms[i].s) &&
		    viommu_bpf_forget_vm_seen(vb, vms[i].ictx_id, &vms[i].s) != -EAGAIN)
			forgotten(e);
	}
	free(vms);
}

/*
 * "pid VMM (COMM)", the opener's pid before the VM has a VMM; and
 * " opener PID" when another process opened /dev/iommu (libvirtd for QEMU)
 */
static void print_processes(const struct entry *e)
{
	int pid = e->vmm > 0 ? e->vmm : e->opener;

	printf("pid %d (%s)", pid, e->comm);
	if (e->opener > 0 && e->opener != pid)
		printf(" opener %d", e->opener);
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

/* Print what each VM or vIOMMU did since the last report, then clear it */
static void report(struct viommu_bpf *vb)
{
	struct json_object *out = NULL, *list = NULL;
	struct viommu_drops drops;
	time_t wall = time(NULL);
	char dropped[160];
	int kept = 0;

	tick(vb);
	viommu_bpf_read_drops(vb, &drops);
	drops_format(dropped, sizeof(dropped), &drops);
	if (common.json) {
		out = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(out, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
		json_object_object_add(out, "type", json_object_new_string("viommu-lat"));
		json_object_object_add(out, "ts_unix_ms", json_object_new_int64((int64_t)wall * 1000));
		json_object_object_add(out, "drops", drops_to_json(&drops));
	} else if (opts.timestamp) {
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
		printf("%s\n", stamp);
	}
	/* never silent: updates the programs could not make */
	if (!common.json && strcmp(dropped, "0"))
		printf("drops: %s\n", dropped);
	for (int i = 0; i < nr_entries; i++) {
		struct entry *e = &entries[i];
		struct json_object *o = NULL, *lat = NULL;
		bool header = false;

		for (int k = 0; k < VIOMMU_LAT_KINDS; k++) {
			const struct viommu_hist *h = &e->acc[k];

			if (!(opts.kinds & (1u << k)) || !h->count)
				continue;
			if (opts.per_viommu && list) {
				o = json_object_new_object();
				json_object_object_add(o, "vm", json_object_new_int64(e->key.ictx_id));
				json_object_object_add(o, "viommu", json_object_new_int64(e->key.viommu_id));
				json_object_object_add(o, "vmid", json_object_new_int64(e->vmid));
				json_object_object_add(o, "gone", json_object_new_boolean(e->gone));
				json_object_object_add(o, "opener_pid", json_object_new_int(e->opener));
				json_object_object_add(o, "vmm_pid", json_object_new_int(e->vmm));
				json_object_object_add(o, "comm", json_object_new_string(e->comm));
				json_object_object_add(o, "guest_inval", hist_to_json(h));
				json_object_array_add(list, o);
				continue;
			}
			if (opts.per_viommu) {
				printf("\nvm %u viommu %u%s vmid %u ", e->key.ictx_id,
				       e->key.viommu_id, e->gone ? " (destroyed)" : "", e->vmid);
				print_processes(e);
				printf(": guest_inval\n");
				hist_print(stdout, h);
				print_summary(h);
				continue;
			}
			if (list) {
				if (!o) {
					o = json_object_new_object();
					lat = json_object_new_object();
					json_object_object_add(o, "vm", json_object_new_int64(e->key.ictx_id));
					json_object_object_add(o, "opener_pid", json_object_new_int(e->opener));
					json_object_object_add(o, "vmm_pid", json_object_new_int(e->vmm));
					json_object_object_add(o, "comm", json_object_new_string(e->comm));
					json_object_object_add(o, "lat", lat);
					json_object_array_add(list, o);
				}
				json_object_object_add(lat, lat_kind_names[k], hist_to_json(h));
				continue;
			}
			if (!header) {
				printf("\nvm %u ", e->key.ictx_id);
				print_processes(e);
				printf("\n");
				header = true;
			}
			printf("%s:\n", lat_kind_names[k]);
			hist_print(stdout, h);
			print_summary(h);
		}
	}
	/* the next report starts afresh; what is gone was reported last */
	for (int i = 0; i < nr_entries; i++) {
		if (entries[i].forgotten)
			continue;
		memset(entries[i].acc, 0, sizeof(entries[i].acc));
		entries[kept++] = entries[i];
	}
	nr_entries = kept;
	if (out) {
		json_object_object_add(out, opts.per_viommu ? "viommus" : "vms", list);
		json_emit(out);
		json_object_put(out);
	}
	fflush(stdout);
}

/* Sleep until t (monotonic seconds), or until a signal */
static void sleep_until_s(double t)
{
	double left = t - monotonic_s();
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (left - ts.tv_sec) * 1e9;
	nanosleep(&ts, NULL);
}

int cmd_lat(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, "[INTERVAL] [COUNT]", doc, children };
	/* read the maps at least every second, whatever the interval */
	double tick_s, next_report, next_tick;
	struct viommu_bpf *vb;
	long n = 0;

	opts = opts_default;
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	/* the maps' counters start at 0: a key's first reading is what it did */
	readings = opts.per_viommu ?
		delta_set_new(sizeof(struct viommu_lat_key), &delta_viommu_layout, true) :
		delta_set_new(sizeof(struct viommu_lat_key), &delta_vm_layout, true);
	vb = readings ? viommu_bpf_open(false) : NULL;
	if (!vb) {
		delta_set_free(readings);
		return 1;
	}
	if (!common.json) {
		printf("Tracing vIOMMU latency (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(vb));
		fflush(stdout);
	}
	tick_s = opts.interval && opts.interval < 1 ? opts.interval : 1;
	next_tick = monotonic_s() + tick_s;
	next_report = opts.interval ? monotonic_s() + opts.interval : 0;
	while (!exiting) {
		double t = next_report && next_report < next_tick ? next_report : next_tick;

		sleep_until_s(t);
		if (exiting)
			break;
		if (next_report && monotonic_s() >= next_report) {
			report(vb);
			next_report += opts.interval;
			if (opts.count && ++n >= opts.count)
				break;
		} else if (monotonic_s() >= next_tick) {
			tick(vb);
		}
		while (next_tick <= monotonic_s())
			next_tick += tick_s;
	}
	if (!opts.interval)
		report(vb);
	viommu_bpf_close(vb);
	free(entries);
	delta_set_free(readings);
	return 0;
}
