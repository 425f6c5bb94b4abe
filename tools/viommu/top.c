// SPDX-License-Identifier: GPL-2.0-only
/*
 * top.c - viommu top: one row per VM, refreshed every interval. Counters
 * are summed in the kernel; this reads the maps once per interval, so its
 * cost does not grow with the event rate.
 */
#include <errno.h>
#include <ncurses.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"

#define MAX_VMIDS_SHOWN	8
#define MAX_VIOMMUS_PER_ROW	64

enum sort_key { SORT_INVALS, SORT_P99, SORT_S2, SORT_FAULTS, SORT_VM, SORT_KEYS };
static const char *const sort_names[SORT_KEYS] = { "inv", "p99", "s2", "faults", "vm" };

static struct top_opts {
	double interval;
	long count;
	bool batch;
	enum sort_key sort;
} opts = { .interval = 1.0 };

struct vm_state {
	unsigned int ictx_id;
	struct viommu_vm_stats prev;
	char comm[VIOMMU_COMM_LEN];
	bool used;
};

/* One row of the table, for one interval */
struct top_row {
	unsigned int ictx_id;
	int owner, kvm_pid, viommus, nr_vmids;
	unsigned int vmids[MAX_VIOMMUS_PER_ROW];
	char comm[VIOMMU_COMM_LEN];	/* a copy: states[] moves as it grows */
	double inv_rate, entry_rate, s2_rate, fault_rate, fanout;
	struct viommu_hist inv, s2, fault;
	uint64_t lost, errors;
	const struct viommu_vm_stats *total;
};

static struct vm_state *states;
static int nr_states;
static struct snapshot start_snap;
static const struct viommu_vm_stats idle_totals;

static const struct argp_option options[] = {
	{ "batch", 'b', NULL, 0, "Batch mode: print tables, no screen", 0 },
	{ "iterations", 'n', "COUNT", 0, "Stop after COUNT intervals", 0 },
	{ "delay", 'd', "SECS", 0, "Interval in seconds (default 1)", 0 },
	{ "sort", 's', "KEY", 0, "Sort by inv (default), p99, s2, faults or vm", 0 },
	{},
};

static const char doc[] =
"viommu top: a live table with one row per VM.\n"
"\n"
"Columns: VM (iommufd context), PID and COMM of the VMM, KVM (pid that\n"
"created the KVM VM given at IOMMU_VIOMMU_ALLOC), VIOMMUS, VMIDS, guest\n"
"invalidations/s with their p50/p99/max latency in us, S2 invalidations/s\n"
"and their fan-out (per-VMID invalidations per S2 invalidation), IO page\n"
"faults/s, and vEVENTs lost in the interval.\n"
"\n"
"EXAMPLES:\n"
"  viommu top                  # full screen, refreshed every second\n"
"  viommu top -b -n 5          # five tables for a log\n"
"  viommu top -b --json 2 10   # JSON, every 2 s, ten times\n"
"  viommu-top -p 1234 -s p99   # one VMM, sorted by p99 latency";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'b':
		opts.batch = true;
		break;
	case 'n':
		errno = 0;
		opts.count = strtol(arg, &end, 10);
		if (errno || *end || opts.count <= 0)
			argp_error(state, "invalid count: %s", arg);
		break;
	case 'd':
		errno = 0;
		opts.interval = strtod(arg, &end);
		if (errno || *end || opts.interval <= 0 || opts.interval > 86400)
			argp_error(state, "invalid delay: %s", arg);
		break;
	case 's':
		for (opts.sort = 0; opts.sort < SORT_KEYS; opts.sort++)
			if (!strcmp(arg, sort_names[opts.sort]))
				break;
		if (opts.sort == SORT_KEYS)
			argp_error(state, "unknown sort key: %s", arg);
		break;
	case ARGP_KEY_ARG:
		return parse_interval_count(state, arg, &opts.interval, &opts.count);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct vm_state *state_find(unsigned int ictx_id)
{
	for (int i = 0; i < nr_states; i++)
		if (states[i].used && states[i].ictx_id == ictx_id)
			return &states[i];
	return NULL;
}

/*
 * A VM's state, made when it is first seen. Its name is the VMM's as the
 * BPF programs took it in the VMM, so a VMM that has exited since is still
 * named; else the live process's, else the start snapshot's.
 */
static struct vm_state *state_of(struct viommu_bpf *vb, unsigned int ictx_id, int owner)
{
	const struct snap_ctx *ctx;
	struct vm_state *st = NULL;
	char comm[VIOMMU_COMM_LEN];

	for (int i = 0; i < nr_states; i++) {
		if (states[i].used && states[i].ictx_id == ictx_id)
			return &states[i];
		if (!states[i].used && !st)
			st = &states[i];
	}
	if (!st) {
		struct vm_state *more = realloc(states, (nr_states + 16) * sizeof(*more));

		if (!more)
			return NULL;
		memset(more + nr_states, 0, 16 * sizeof(*more));
		states = more;
		st = &states[nr_states];
		nr_states += 16;
	}
	memset(st, 0, sizeof(*st));
	st->used = true;
	st->ictx_id = ictx_id;
	if (viommu_bpf_vm_comm(vb, ictx_id, comm, sizeof(comm))) {
		comm_of(owner, comm, sizeof(comm));
		ctx = snapshot_find(&start_snap, ictx_id);
		if (!strcmp(comm, "?") && ctx)
			snprintf(comm, sizeof(comm), "%s", ctx->comm);
	}
	name_sanitize(st->comm, sizeof(st->comm), comm);
	return st;
}

static void add_vmid(struct top_row *r, unsigned int vmid)
{
	if (!vmid)
		return;
	for (int i = 0; i < r->nr_vmids; i++)
		if (r->vmids[i] == vmid)
			return;
	if (r->nr_vmids < MAX_VIOMMUS_PER_ROW)
		r->vmids[r->nr_vmids++] = vmid;
}

static bool viommu_seen(const struct viommu_row *vr, int n, unsigned int ictx,
			unsigned int id)
{
	for (int i = 0; i < n; i++)
		if (vr[i].key.ictx_id == ictx && vr[i].key.viommu_id == id)
			return true;
	return false;
}

/* The live vIOMMUs and their VMIDs: those seen at start, then the events */
static void fill_viommus(struct top_row *r, const struct viommu_row *vr, int nvr)
{
	const struct snap_ctx *ctx = snapshot_find(&start_snap, r->ictx_id);

	for (int i = 0; ctx && i < ctx->nr_objects; i++) {
		const struct snap_object *o = &ctx->objects[i];

		if (strcmp(o->type, "viommu") || viommu_seen(vr, nvr, r->ictx_id, o->id))
			continue;
		r->viommus++;
		add_vmid(r, o->vmid);
	}
	for (int i = 0; i < nvr; i++) {
		unsigned int vmid = vr[i].s.vmid;

		if (vr[i].key.ictx_id != r->ictx_id || vr[i].gone)
			continue;
		r->viommus++;
		/* a VMID assigned before the tool started is in the snapshot */
		for (int j = 0; !vmid && ctx && j < ctx->nr_objects; j++)
			if (ctx->objects[j].id == vr[i].key.viommu_id &&
			    !strcmp(ctx->objects[j].type, "viommu"))
				vmid = ctx->objects[j].vmid;
		add_vmid(r, vmid);
	}
	/* likewise the KVM VM given at an alloc the tool did not see */
	for (int j = 0; !r->kvm_pid && ctx && j < ctx->nr_objects; j++)
		if (!strcmp(ctx->objects[j].type, "viommu"))
			r->kvm_pid = ctx->objects[j].kvm_pid;
}

static double sort_value(const struct top_row *r)
{
	switch (opts.sort) {
	case SORT_P99:
		return r->inv.count ? hist_percentile_us(&r->inv, 99) : -1;
	case SORT_S2:
		return r->s2_rate;
	case SORT_FAULTS:
		return r->fault_rate;
	case SORT_VM:
		return -(double)r->ictx_id;
	default:
		return r->inv_rate;
	}
}

static int cmp_rows(const void *a, const void *b)
{
	double x = sort_value(a), y = sort_value(b);

	if (x != y)
		return x < y ? 1 : -1;
	return ((const struct top_row *)a)->ictx_id > ((const struct top_row *)b)->ictx_id ? 1 : -1;
}

static bool process_gone(int pid)
{
	return pid > 0 && kill(pid, 0) && errno == ESRCH;
}

static void fmt_lat(char *buf, size_t len, const struct viommu_hist *h, double pct)
{
	if (!h->count)
		snprintf(buf, len, "-");
	else if (pct > 100)
		snprintf(buf, len, "%.0f", h->max_ns / 1000.0);
	else
		snprintf(buf, len, "%.0f", hist_percentile_us(h, pct));
}

static void fmt_vmids(char *buf, size_t len, const struct top_row *r)
{
	size_t off = 0;

	buf[0] = '\0';
	if (!r->nr_vmids) {
		snprintf(buf, len, "-");
		return;
	}
	for (int i = 0; i < r->nr_vmids && i < MAX_VMIDS_SHOWN && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->vmids[i]);
	if (r->nr_vmids > MAX_VMIDS_SHOWN && off < len)
		snprintf(buf + off, len - off, ",+%d", r->nr_vmids - MAX_VMIDS_SHOWN);
}

#define HEADER_FMT "%6s %7s %-12s %7s %4s %-14s %9s %7s %7s %7s %8s %6s %8s %6s\n"
#define ROW_FMT    "%6u %7d %-12.12s %7s %4d %-14.14s %9.1f %7s %7s %7s %8.1f %6s %8.1f %6lu\n"

static void format_row(char *line, size_t len, const struct top_row *r)
{
	char kvm[16], vmids[64], p50[16], p99[16], max[16], fan[16];

	if (r->kvm_pid)
		snprintf(kvm, sizeof(kvm), "%d", r->kvm_pid);
	else
		snprintf(kvm, sizeof(kvm), "-");
	fmt_vmids(vmids, sizeof(vmids), r);
	fmt_lat(p50, sizeof(p50), &r->inv, 50);
	fmt_lat(p99, sizeof(p99), &r->inv, 99);
	fmt_lat(max, sizeof(max), &r->inv, 101);
	if (r->fanout >= 0)
		snprintf(fan, sizeof(fan), "%.1f", r->fanout);
	else
		snprintf(fan, sizeof(fan), "-");
	snprintf(line, len, ROW_FMT, r->ictx_id, r->owner, r->comm, kvm,
		 r->viommus, vmids, r->inv_rate, p50, p99, max, r->s2_rate, fan,
		 r->fault_rate, (unsigned long)r->lost);
}

static struct json_object *row_json(const struct top_row *r)
{
	struct json_object *o = json_object_new_object(), *v = json_object_new_array();
	const struct viommu_vm_stats *t = r->total;

	json_object_object_add(o, "vm", json_object_new_int64(r->ictx_id));
	json_object_object_add(o, "pid", json_object_new_int(r->owner));
	json_object_object_add(o, "comm", json_object_new_string(r->comm));
	if (r->kvm_pid)
		json_object_object_add(o, "kvm_pid", json_object_new_int(r->kvm_pid));
	json_object_object_add(o, "viommus", json_object_new_int(r->viommus));
	for (int i = 0; i < r->nr_vmids; i++)
		json_object_array_add(v, json_object_new_int64(r->vmids[i]));
	json_object_object_add(o, "vmids", v);
	json_object_object_add(o, "guest_invals_per_s", json_object_new_double(r->inv_rate));
	json_object_object_add(o, "guest_inval_entries_per_s", json_object_new_double(r->entry_rate));
	if (r->inv.count) {
		json_object_object_add(o, "guest_inval_lat_us_p50", json_object_new_double(hist_percentile_us(&r->inv, 50)));
		json_object_object_add(o, "guest_inval_lat_us_p99", json_object_new_double(hist_percentile_us(&r->inv, 99)));
		json_object_object_add(o, "guest_inval_lat_us_max", json_object_new_double(r->inv.max_ns / 1000.0));
	}
	json_object_object_add(o, "s2_invals_per_s", json_object_new_double(r->s2_rate));
	if (r->fanout >= 0)
		json_object_object_add(o, "s2_fanout", json_object_new_double(r->fanout));
	json_object_object_add(o, "faults_per_s", json_object_new_double(r->fault_rate));
	json_object_object_add(o, "vevents_lost", json_object_new_uint64(r->lost));
	json_object_object_add(o, "guest_inval_errors", json_object_new_uint64(r->errors));
	/* Totals since the tool started, for logs that outlive the VM */
	json_object_object_add(o, "guest_invals_total", json_object_new_uint64(t->guest_invals));
	json_object_object_add(o, "guest_inval_entries_total", json_object_new_uint64(t->guest_inval_entries));
	json_object_object_add(o, "s2_invals_total", json_object_new_uint64(t->s2_invals));
	json_object_object_add(o, "vmid_invals_total", json_object_new_uint64(t->vmid_invals));
	json_object_object_add(o, "vevents_queued_total", json_object_new_uint64(t->vevents_queued));
	json_object_object_add(o, "vevents_lost_total", json_object_new_uint64(t->vevents_lost));
	json_object_object_add(o, "faults_total", json_object_new_uint64(t->faults));
	json_object_object_add(o, "fault_responses_total", json_object_new_uint64(t->fault_responses));
	return o;
}

static void delta(struct top_row *r, const struct viommu_vm_stats *now,
		  const struct viommu_vm_stats *prev, double secs)
{
	r->inv_rate = (now->guest_invals - prev->guest_invals) / secs;
	r->entry_rate = (now->guest_inval_entries - prev->guest_inval_entries) / secs;
	r->s2_rate = (now->s2_invals - prev->s2_invals) / secs;
	r->fault_rate = (now->faults - prev->faults) / secs;
	r->fanout = now->s2_invals == prev->s2_invals ? -1 :
		(double)(now->vmid_invals - prev->vmid_invals) /
		(now->s2_invals - prev->s2_invals);
	r->lost = now->vevents_lost - prev->vevents_lost;
	r->errors = now->guest_inval_errors - prev->guest_inval_errors;
	hist_sub(&r->inv, &now->lat[VIOMMU_LAT_GUEST_INVAL], &prev->lat[VIOMMU_LAT_GUEST_INVAL]);
	hist_sub(&r->s2, &now->lat[VIOMMU_LAT_S2_INVAL], &prev->lat[VIOMMU_LAT_S2_INVAL]);
	hist_sub(&r->fault, &now->lat[VIOMMU_LAT_FAULT], &prev->lat[VIOMMU_LAT_FAULT]);
}

/* Wait for the interval; on the screen, keys: q quits, s changes the sort */
static void wait_interval(double until, bool screen)
{
	while (!exiting) {
		double left = until - monotonic_s();

		if (left <= 0)
			return;
		if (!screen) {
			usleep(left > 0.2 ? 200000 : (useconds_t)(left * 1e6));
			continue;
		}
		timeout(left > 0.2 ? 200 : (int)(left * 1000) + 1);
		switch (getch()) {
		case 'q':
			exiting = 1;
			return;
		case 's':
			opts.sort = (opts.sort + 1) % SORT_KEYS;
			return;
		}
	}
}

int cmd_top(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, "[INTERVAL] [COUNT]", doc, children };
	struct viommu_bpf *vb;
	double last, t;
	bool screen;
	long n = 0;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	vb = viommu_bpf_open(false);
	if (!vb)
		return 1;
	if (snapshot_take(&start_snap, common.pid))
		fprintf(stderr, "viommu: cannot read /proc: VMs idle since before the start are not shown\n");
	else if (common.verbose)
		fprintf(stderr, "viommu: %d iommufd contexts at start\n", start_snap.nr_ctxs);
	screen = !opts.batch && !common.json && isatty(STDOUT_FILENO);
	if (screen) {
		initscr();
		cbreak();
		noecho();
		curs_set(0);
	} else if (!common.json) {
		printf("Tracing iommufd vIOMMUs (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(vb));
		fflush(stdout);
	}
	last = monotonic_s();
	while (!exiting && (!opts.count || n < opts.count)) {
		struct viommu_row *vr = NULL;
		struct top_row *rows = NULL;
		struct vm_row *vms = NULL;
		int nvm, nvr, nrows = 0;
		struct json_object *jvms = NULL;
		char line[256], stamp[32];
		time_t wall;

		wait_interval(last + opts.interval, screen);
		if (exiting && n)
			break;
		t = monotonic_s();
		nvm = viommu_bpf_read_vms(vb, &vms);
		nvr = viommu_bpf_read_viommus(vb, &vr);
		rows = calloc((nvm > 0 ? nvm : 0) + start_snap.nr_ctxs + 1, sizeof(*rows));
		for (int i = 0; rows && i < nvm; i++) {
			struct vm_state *st = state_of(vb, vms[i].ictx_id, vms[i].s.owner_tgid);
			struct top_row *r = &rows[nrows];

			if (!st)
				continue;
			r->ictx_id = vms[i].ictx_id;
			r->owner = vms[i].s.owner_tgid;
			r->kvm_pid = vms[i].s.kvm_pid;
			memcpy(r->comm, st->comm, sizeof(r->comm));
			r->total = &vms[i].s;
			delta(r, &vms[i].s, &st->prev, t - last);
			fill_viommus(r, vr, nvr);
			st->prev = vms[i].s;
			nrows++;
		}
		/* VMs that existed before the tool and have been idle since */
		for (int i = 0; rows && i < start_snap.nr_ctxs; i++) {
			const struct snap_ctx *c = &start_snap.ctxs[i];
			struct top_row *r = &rows[nrows];
			bool listed = false;

			for (int j = 0; j < nrows; j++)
				listed |= rows[j].ictx_id == c->ictx_id;
			if (listed || (common.vm && c->ictx_id != common.vm) ||
			    process_gone(c->owner_tgid))
				continue;
			r->ictx_id = c->ictx_id;
			r->owner = c->owner_tgid;
			name_sanitize(r->comm, sizeof(r->comm), c->comm);
			r->total = &idle_totals;
			r->fanout = -1;
			for (int j = 0; j < c->nr_objects; j++)
				if (!strcmp(c->objects[j].type, "viommu") && c->objects[j].kvm_pid)
					r->kvm_pid = c->objects[j].kvm_pid;
			fill_viommus(r, vr, nvr);
			nrows++;
		}
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
		wall = time(NULL);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
		if (screen) {
			erase();
			mvprintw(0, 0, "viommu top - %s  VMs: %d  interval %.1fs  sort: %s  (q quit, s sort)",
				 stamp, nrows, opts.interval, sort_names[opts.sort]);
			snprintf(line, sizeof(line), HEADER_FMT, "VM", "PID", "COMM", "KVM",
				 "VIOM", "VMIDS", "INV/s", "P50us", "P99us", "MAXus", "S2/s",
				 "FANOUT", "FLT/s", "LOST");
			attron(A_REVERSE);
			mvprintw(2, 0, "%s", line);
			attroff(A_REVERSE);
		} else if (common.json) {
			jvms = json_object_new_array();
		} else {
			printf("\n%s\n", stamp);
			printf(HEADER_FMT, "VM", "PID", "COMM", "KVM", "VIOM", "VMIDS",
			       "INV/s", "P50us", "P99us", "MAXus", "S2/s", "FANOUT",
			       "FLT/s", "LOST");
		}
		for (int i = 0; i < nrows; i++) {
			if (jvms) {
				json_object_array_add(jvms, row_json(&rows[i]));
				continue;
			}
			format_row(line, sizeof(line), &rows[i]);
			if (screen)
				mvprintw(3 + i, 0, "%s", line);
			else
				fputs(line, stdout);
		}
		if (jvms) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
			json_object_object_add(o, "type", json_object_new_string("viommu-top"));
			json_object_object_add(o, "ts_unix_ms", json_object_new_int64((int64_t)wall * 1000));
			json_object_object_add(o, "interval_s", json_object_new_double(t - last));
			json_object_object_add(o, "vms", jvms);
			json_emit(o);
			json_object_put(o);
		} else if (screen) {
			refresh();
		} else {
			fflush(stdout);
		}
		/*
		 * A VM whose VMM exited and that did nothing this interval
		 * has been shown for the last time: drop its state.
		 */
		for (int i = 0; i < nrows; i++) {
			struct top_row *r = &rows[i];

			struct vm_state *st;

			if (!r->inv_rate && !r->s2_rate && !r->fault_rate && !r->viommus &&
			    process_gone(r->owner)) {
				viommu_bpf_forget_vm(vb, r->ictx_id);
				st = state_find(r->ictx_id);
				if (st)
					st->used = false;
			}
		}
		free(rows);
		free(vms);
		free(vr);
		last = t;
		n++;
	}
	if (screen)
		endwin();
	snapshot_free(&start_snap);
	viommu_bpf_close(vb);
	free(states);
	return 0;
}
