// SPDX-License-Identifier: GPL-2.0-only
/*
 * top.c - viommu top: one row per VM, refreshed every interval. Counters
 * are summed in the kernel; this reads the maps once per interval, so its
 * cost does not grow with the event rate.
 *
 * One interval is collected into a frame (collect_frame), which one of the
 * outputs prints: the curses screen, the batch table, JSON, the log lines
 * or CSV. Intervals run on a fixed schedule (absolute sleeps), so a slow
 * read does not push every later interval back.
 */
#include <errno.h>
#include <stddef.h>
#include <ncurses.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "viommu.h"

#define MAX_VMIDS_SHOWN		8
#define MAX_VIOMMUS_PER_ROW	64
#define LOG_HEADER_EVERY	20	/* log mode repeats its header, as kvm_stat -l */
#define OPT_CSV			0x1100

enum sort_key { SORT_INVALS, SORT_P99, SORT_S2, SORT_FAULTS, SORT_VM, SORT_KEYS };
static const char *const sort_names[SORT_KEYS] = { "inv", "p99", "s2", "faults", "vm" };

enum top_output { OUT_SCREEN, OUT_BATCH, OUT_JSON, OUT_LOG, OUT_CSV };

/* The command's options, passed to whatever needs them */
struct top_params {
	double interval;
	long count;
	bool batch, log, csv;
	bool per_viommu;	/* a row per vIOMMU under each VM's */
	enum sort_key sort;
	enum top_output output;
};

/* A vIOMMU of a VM in one interval: the drill-down */
struct viommu_line {
	unsigned int ictx_id, id, vmid;
	uint64_t invals, lost;
	double inv_rate;
	struct viommu_hist inv;
};

/* One row of the table, for one interval */
struct top_row {
	unsigned int ictx_id;
	int opener, vmm;	/* its processes: opener of /dev/iommu, VMM (0: not known) */
	int viommus, nr_vmids;
	unsigned int vmids[MAX_VIOMMUS_PER_ROW];
	char comm[VIOMMU_COMM_LEN];	/* a copy: states[] moves as it grows */
	uint64_t invals, s2_invals, faults, errors, lost;	/* in the interval */
	double inv_rate, err_rate, entry_rate, s2_rate, fault_rate, fanout;
	struct viommu_hist inv;	/* the only histogram a row shows */
	uint64_t inv_max_ns;	/* the interval's largest, 0 if unknown */
	struct viommu_vm_stats total;	/* since the tool started */
	int first_line, nr_lines;	/* its vIOMMUs in frame.lines */
};

/* What the tool itself costs: its BPF programs and its own CPU time */
struct overhead {
	bool bpf_known;
	uint64_t runs;
	double runs_per_s, ns_per_run, bpf_cpu_pct, tool_cpu_pct;
};

struct frame {
	int64_t ts_ms;
	char stamp[16];
	struct viommu_drops drops;	/* updates the programs could not make */
	char dropped[160];
	double secs;
	struct top_row *rows;
	int nrows;
	struct viommu_line *lines;
	int nlines;
	struct overhead ov;
};

struct vm_state {
	unsigned int ictx_id;
	char comm[VIOMMU_COMM_LEN];
	bool used;
};

/* What the tool has cost since it started: bpf_stats and its CPU time */
struct cost_reading {
	uint64_t bpf_ns, bpf_runs, cpu_ns;
};

static const size_t cost_counters[] = {
	offsetof(struct cost_reading, bpf_ns),
	offsetof(struct cost_reading, bpf_runs),
	offsetof(struct cost_reading, cpu_ns),
};

static const struct delta_layout cost_layout = {
	.size = sizeof(struct cost_reading),
	.counters = cost_counters, .ncounters = 3,
};

struct top {
	const struct top_params *p;
	struct viommu_bpf *vb;
	struct snapshot start_snap;
	struct vm_state *states;
	int nr_states;
	/*
	 * The previous readings (delta.c): of each VM's counters and
	 * histograms, by context id; of each vIOMMU's, by (context, id,
	 * alloc time), so a vIOMMU that reuses an id starts afresh; of the
	 * tool's own cost. vdelta: this interval's change of each vIOMMU
	 * row read (parallel to the rows).
	 */
	struct delta_set *vm_deltas, *viommu_deltas, *cost;
	struct viommu_row *vdelta;
	double last;		/* time of the previous reading */
	int stats_fd;		/* bpf_enable_stats(), -1 if refused */
	/*
	 * VMs forgotten after their last row: an event of their teardown that
	 * comes later (a vIOMMU destroyed as the context closes) makes a new,
	 * empty map entry, which must not come back as a row of zeros
	 */
	unsigned int *forgotten;
	int nr_forgotten;
};

static const struct argp_option options[] = {
	{ "batch", 'b', NULL, 0, "Batch mode: print tables, no screen", 0 },
	{ "iterations", 'n', "COUNT", 0, "Stop after COUNT intervals", 0 },
	{ "delay", 'd', "SECS", 0, "Interval in seconds (default 1)", 0 },
	{ "sort", 's', "KEY", 0, "Sort by inv (default), p99, s2, faults or vm", 0 },
	{ "per-viommu", 'x', NULL, 0, "A row per vIOMMU under each VM: VMID, rate, p50/p99 "
	  "(counts per vIOMMU; always on the screen, where x expands a VM)", 0 },
	{ "log", 'l', NULL, 0, "Log mode: one line per VM per interval, for long captures", 0 },
	{ "csv", OPT_CSV, NULL, 0, "CSV: a header, then one line per VM per interval", 0 },
	{},
};

static const char doc[] =
"viommu top: a live table with one row per VM.\n"
"\n"
"Columns: VM (iommufd context), PID and COMM of its VMM (the process that\n"
"allocated its vIOMMUs; the opener's before it has one), OPENER (the pid\n"
"that opened /dev/iommu, as libvirtd does for QEMU; - when it is PID),\n"
"VIOMMUS, VMIDS, guest invalidations/s and the failed ones/s (ERR/s), their\n"
"p50/p99 latency and the interval's maximum in us, S2 invalidations/s and\n"
"their fan-out (per-VMID invalidations per S2 invalidation), IO page\n"
"faults/s, and vEVENTs lost in the interval. A line above the table gives\n"
"the tool's own cost: its BPF programs' runs/s, time per run and CPU share\n"
"(bpf_stats), and its own CPU share.\n"
"\n"
"Screen keys: q quit, s sort, j/k or arrows select, PgUp/PgDn/Home/End\n"
"scroll, x or Enter expand the selected VM into its vIOMMUs, X all.\n"
"\n"
"EXAMPLES:\n"
"  viommu top                  # full screen, refreshed every second\n"
"  viommu top -b -n 5          # five tables for a log\n"
"  viommu top -b -x 2          # with a row per vIOMMU, every 2 s\n"
"  viommu top -b --json 2 10   # JSON, every 2 s, ten times\n"
"  viommu top -l 10 > log      # one line per VM every 10 s (kvm_stat -l)\n"
"  viommu top --csv 1 3600     # an hour of CSV\n"
"  viommu-top -p 1234 -s p99   # the VMs of pid 1234 (VMM or opener), by p99";

static const struct top_params params_default = { .interval = 1.0 };
static struct top_params params;

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct top_params *p = &params;
	char *end;

	switch (key) {
	case 'b':
		p->batch = true;
		break;
	case 'n':
		errno = 0;
		p->count = strtol(arg, &end, 10);
		if (errno || *end || p->count <= 0)
			return usage_error(state, "invalid count: %s", arg);
		break;
	case 'd':
		errno = 0;
		p->interval = strtod(arg, &end);
		if (errno || *end || p->interval <= 0 || p->interval > 86400)
			return usage_error(state, "invalid delay: %s", arg);
		break;
	case 's':
		for (p->sort = 0; p->sort < SORT_KEYS; p->sort++)
			if (!strcmp(arg, sort_names[p->sort]))
				break;
		if (p->sort == SORT_KEYS)
			return usage_error(state, "unknown sort key: %s", arg);
		break;
	case 'x':
		p->per_viommu = true;
		break;
	case 'l':
		p->log = true;
		break;
	case OPT_CSV:
		p->csv = true;
		break;
	case ARGP_KEY_ARG:
		return parse_interval_count(state, arg, &p->interval, &p->count);
	case ARGP_KEY_END:
		if (p->log + p->csv + common.json > 1)
			return usage_error(state, "--log, --csv and --json are exclusive: choose one");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* --- collecting one interval --- */

static struct vm_state *state_find(struct top *t, unsigned int ictx_id)
{
	for (int i = 0; i < t->nr_states; i++)
		if (t->states[i].used && t->states[i].ictx_id == ictx_id)
			return &t->states[i];
	return NULL;
}

static bool was_forgotten(const struct top *t, unsigned int ictx_id)
{
	for (int i = 0; i < t->nr_forgotten; i++)
		if (t->forgotten[i] == ictx_id)
			return true;
	return false;
}

/*
 * A VM's state, made when it is first seen. Its name is the VMM's as the
 * BPF programs took it in the VMM, so a VMM that has exited since is still
 * named; else the live process's, else the start snapshot's.
 */
static struct vm_state *state_of(struct top *t, unsigned int ictx_id, int opener,
				 int vmm)
{
	struct vm_state *st = state_find(t, ictx_id);
	const struct snap_ctx *ctx;
	char comm[VIOMMU_COMM_LEN];

	if (st)
		return st;
	for (int i = 0; i < t->nr_states && !st; i++)
		if (!t->states[i].used)
			st = &t->states[i];
	if (!st) {
		struct vm_state *more = realloc(t->states, (t->nr_states + 16) * sizeof(*more));

		if (!more)
			return NULL;
		memset(more + t->nr_states, 0, 16 * sizeof(*more));
		t->states = more;
		st = &t->states[t->nr_states];
		t->nr_states += 16;
	}
	memset(st, 0, sizeof(*st));
	st->used = true;
	st->ictx_id = ictx_id;
	if (viommu_vm_name(t->vb, ictx_id, opener, vmm, comm, sizeof(comm))) {
		ctx = snapshot_find(&t->start_snap, ictx_id);
		if (ctx)
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

static int cmp_key(const struct viommu_key *a, const struct viommu_key *b)
{
	if (a->ictx_id != b->ictx_id)
		return a->ictx_id < b->ictx_id ? -1 : 1;
	return (a->viommu_id > b->viommu_id) - (a->viommu_id < b->viommu_id);
}

static int cmp_viommu_row(const void *a, const void *b)
{
	return cmp_key(&((const struct viommu_row *)a)->key, &((const struct viommu_row *)b)->key);
}

static const struct viommu_row *viommu_find(const struct viommu_row *vr, int n,
					    unsigned int ictx, unsigned int id)
{
	struct viommu_row k = { .key = { .ictx_id = ictx, .viommu_id = id } };

	return n > 0 ? bsearch(&k, vr, n, sizeof(*vr), cmp_viommu_row) : NULL;
}

/* One vIOMMU's line of the drill-down; d: what it did in the interval */
static void add_line(struct frame *f, const struct viommu_row *d,
		     unsigned int ictx, unsigned int id, unsigned int vmid)
{
	struct viommu_line *l = &f->lines[f->nlines++];

	memset(l, 0, sizeof(*l));
	l->ictx_id = ictx;
	l->id = id;
	l->vmid = vmid;
	if (d) {
		l->invals = d->s.guest_invals;
		l->lost = d->s.vevents_lost;
		l->inv = d->guest_inval;
	}
	l->inv_rate = l->invals / f->secs;
}

/* What one vIOMMU row of this reading did in the interval */
static const struct viommu_row *viommu_delta(const struct top *t, const struct viommu_row *vr,
					     const struct viommu_row *v)
{
	return t->vdelta ? &t->vdelta[v - vr] : NULL;
}

/*
 * The live vIOMMUs and their VMIDs: those seen at start, then the events
 * (vr sorted by key). With lines, one drill-down line each.
 */
static void fill_viommus(struct frame *f, const struct top *t, struct top_row *r,
			 const struct viommu_row *vr, int nvr, bool lines)
{
	const struct snap_ctx *ctx = snapshot_find(&t->start_snap, r->ictx_id);

	r->first_line = f->nlines;
	for (int i = 0; ctx && i < ctx->nr_objects; i++) {
		const struct snap_object *o = &ctx->objects[i];

		if (strcmp(o->type, "viommu") || viommu_find(vr, nvr, r->ictx_id, o->id))
			continue;
		r->viommus++;
		add_vmid(r, o->vmid);
		if (lines)
			add_line(f, NULL, r->ictx_id, o->id, o->vmid);
	}
	for (int i = 0; i < nvr; i++) {
		unsigned int vmid = vr[i].s.vmid;

		if (vr[i].key.ictx_id != r->ictx_id)
			continue;
		if (vr[i].gone) {
			/* destroyed: a last line if it worked in the interval */
			const struct viommu_row *d = viommu_delta(t, vr, &vr[i]);

			if (lines && d && d->s.guest_invals + d->s.vevents_lost)
				add_line(f, d, r->ictx_id, vr[i].key.viommu_id, vmid);
			continue;
		}
		r->viommus++;
		/* a VMID assigned before the tool started is in the snapshot */
		for (int j = 0; !vmid && ctx && j < ctx->nr_objects; j++)
			if (ctx->objects[j].id == vr[i].key.viommu_id &&
			    !strcmp(ctx->objects[j].type, "viommu"))
				vmid = ctx->objects[j].vmid;
		add_vmid(r, vmid);
		if (lines)
			add_line(f, viommu_delta(t, vr, &vr[i]), r->ictx_id, vr[i].key.viommu_id, vmid);
	}
	r->nr_lines = f->nlines - r->first_line;
	/* likewise the VMM of an alloc the tool did not see */
	if (!r->vmm && ctx)
		r->vmm = ctx->vmm_pid;
}

/*
 * A VM's row from this reading: what changed since the previous one (a
 * VM's counters start at 0 in the maps, so its first reading is all it
 * did; a VM whose entry was made again starts afresh, see delta.c)
 */
static void delta(struct top *t, struct top_row *r, const struct viommu_vm_stats *now,
		  double secs, uint64_t epoch)
{
	struct viommu_vm_stats d;

	if (delta_take(t->vm_deltas, &r->ictx_id, now, &d) == DELTA_NONE)
		memset(&d, 0, sizeof(d));
	r->invals = d.guest_invals;
	r->s2_invals = d.s2_invals;
	r->faults = d.faults;
	r->errors = d.guest_inval_errors;
	r->lost = d.vevents_lost;
	r->inv_rate = r->invals / secs;
	r->err_rate = r->errors / secs;
	r->entry_rate = d.guest_inval_entries / secs;
	r->s2_rate = r->s2_invals / secs;
	r->fault_rate = r->faults / secs;
	r->fanout = !r->s2_invals ? -1 : (double)d.vmid_invals / r->s2_invals;
	r->inv = d.lat[VIOMMU_LAT_GUEST_INVAL];
	/* the interval's own maximum; it also bounds the percentiles */
	r->inv_max_ns = viommu_interval_max_ns(now, VIOMMU_LAT_GUEST_INVAL, epoch);
	if (r->inv_max_ns)
		r->inv.max_ns = r->inv_max_ns;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * The tool's cost in the interval: its programs (bpf_stats) and itself.
 * Both count from before the first reading (taken at start), so a reading
 * with no previous one has no rate.
 */
static void measure_overhead(struct top *t, struct overhead *ov, double secs)
{
	struct cost_reading now = { .cpu_ns = cpu_seconds() * 1e9 }, d;
	bool bpf = t->stats_fd >= 0 && !viommu_bpf_prog_stats(t->vb, &now.bpf_ns, &now.bpf_runs);
	enum delta_status st;
	int key = 0;

	st = delta_take(t->cost, &key, &now, &d);
	if (!delta_has_rate(t->cost, st))
		return;
	ov->tool_cpu_pct = d.cpu_ns / (secs * 1e9) * 100;
	if (!bpf)
		return;
	ov->bpf_known = true;
	ov->runs = d.bpf_runs;
	ov->runs_per_s = ov->runs / secs;
	ov->ns_per_run = ov->runs ? (double)d.bpf_ns / ov->runs : 0;
	ov->bpf_cpu_pct = d.bpf_ns / (secs * 1e9) * 100;
}

static double sort_value(const struct top_row *r, enum sort_key sort)
{
	switch (sort) {
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

static enum sort_key sort_by;

static int cmp_rows(const void *a, const void *b)
{
	double x = sort_value(a, sort_by), y = sort_value(b, sort_by);

	if (x != y)
		return x < y ? 1 : -1;
	return ((const struct top_row *)a)->ictx_id > ((const struct top_row *)b)->ictx_id ? 1 : -1;
}

static void sort_rows(struct frame *f, enum sort_key sort)
{
	sort_by = sort;
	if (f->nrows > 1)
		qsort(f->rows, f->nrows, sizeof(*f->rows), cmp_rows);
}

/*
 * What each vIOMMU row of this reading did since the previous one (into
 * t->vdelta); the vIOMMUs not in this reading are forgotten
 */
static void viommu_deltas(struct top *t, const struct viommu_row *vr, int nvr)
{
	free(t->vdelta);
	t->vdelta = nvr > 0 ? calloc(nvr, sizeof(*t->vdelta)) : NULL;
	for (int i = 0; t->vdelta && i < nvr; i++) {
		struct viommu_lat_key key = { vr[i].key.ictx_id, vr[i].key.viommu_id,
					      vr[i].s.alloc_ns };

		if (delta_take(t->viommu_deltas, &key, &vr[i], &t->vdelta[i]) == DELTA_NONE)
			memset(&t->vdelta[i], 0, sizeof(t->vdelta[i]));
	}
	delta_sweep(t->viommu_deltas);
}

/*
 * Read the maps once and turn the readings into the interval's rows: VMs
 * with events, then VMs that existed before the tool and have been idle.
 */
static int collect_frame(struct top *t, struct frame *f, bool lines)
{
	struct viommu_row *vr = NULL;
	struct vm_row *vms = NULL;
	uint64_t epoch;
	int nvm, nvr, nrows_max, nlines_max = 0;
	double now;

	memset(f, 0, sizeof(*f));
	/* close the interval for the maxima first: the rows then hold them */
	epoch = viommu_bpf_end_interval(t->vb);
	now = monotonic_s();
	f->secs = now - t->last;
	t->last = now;
	/*
	 * The cost over the same window as secs: read later, after the maps,
	 * a slow read of this frame's maps would count in this interval and
	 * a slow read of the last frame's would not (a CPU% above 100 per
	 * CPU on a debug kernel)
	 */
	measure_overhead(t, &f->ov, f->secs);
	f->ts_ms = realtime_ms();
	{
		time_t wall = f->ts_ms / 1000;

		strftime(f->stamp, sizeof(f->stamp), "%H:%M:%S", localtime(&wall));
	}
	viommu_bpf_read_drops(t->vb, &f->drops);
	drops_format(f->dropped, sizeof(f->dropped), &f->drops);
	nvm = viommu_bpf_read_vms(t->vb, &vms);
	nvr = viommu_bpf_read_viommus(t->vb, &vr);
	if (nvm < 0 || nvr < 0) {
		free(vms);
		free(vr);
		return -ENOMEM;
	}
	if (nvr > 1)
		qsort(vr, nvr, sizeof(*vr), cmp_viommu_row);
	viommu_deltas(t, vr, nvr);
	nrows_max = nvm + t->start_snap.nr_ctxs + 1;
	if (lines) {
		nlines_max = nvr + 1;
		for (int i = 0; i < t->start_snap.nr_ctxs; i++)
			nlines_max += t->start_snap.ctxs[i].nr_objects;
	}
	f->rows = calloc(nrows_max, sizeof(*f->rows));
	f->lines = calloc(nlines_max + 1, sizeof(*f->lines));
	if (!f->rows || !f->lines) {
		free(vms);
		free(vr);
		return -ENOMEM;
	}
	for (int i = 0; i < nvm; i++) {
		struct vm_state *st;
		struct top_row *r = &f->rows[f->nrows];

		/* a late event of a forgotten VM's teardown: forget it again */
		if (was_forgotten(t, vms[i].ictx_id) &&
		    viommu_vm_processes_gone(vms[i].s.opener_pid, vms[i].s.vmm_pid)) {
			viommu_bpf_forget_vm_seen(t->vb, vms[i].ictx_id, &vms[i].s);
			continue;
		}
		st = state_of(t, vms[i].ictx_id, vms[i].s.opener_pid, vms[i].s.vmm_pid);
		if (!st)
			continue;
		r->ictx_id = vms[i].ictx_id;
		r->opener = vms[i].s.opener_pid;
		r->vmm = vms[i].s.vmm_pid;
		memcpy(r->comm, st->comm, sizeof(r->comm));
		r->total = vms[i].s;
		delta(t, r, &vms[i].s, f->secs, epoch);
		fill_viommus(f, t, r, vr, nvr, lines);
		f->nrows++;
	}
	for (int i = 0; i < t->start_snap.nr_ctxs; i++) {
		const struct snap_ctx *c = &t->start_snap.ctxs[i];
		struct top_row *r = &f->rows[f->nrows];
		struct vm_state *st;
		bool listed = false;

		for (int j = 0; j < f->nrows; j++)
			listed |= f->rows[j].ictx_id == c->ictx_id;
		if (listed || (common.vm && c->ictx_id != common.vm) ||
		    viommu_vm_processes_gone(c->owner_tgid, c->vmm_pid))
			continue;
		r->ictx_id = c->ictx_id;
		r->opener = c->owner_tgid;
		r->vmm = c->vmm_pid;
		name_sanitize(r->comm, sizeof(r->comm), c->comm);
		r->fanout = -1;
		/*
		 * A VM read before but not in this read of the map (a batch read
		 * can miss an entry while others are deleted): its totals are
		 * the last ones read, not zeros, and nothing changed
		 */
		st = state_find(t, c->ictx_id);
		if (st) {
			const struct viommu_vm_stats *last = delta_last(t->vm_deltas, &c->ictx_id);

			memcpy(r->comm, st->comm, sizeof(r->comm));
			if (last)
				r->total = *last;
		}
		fill_viommus(f, t, r, vr, nvr, lines);
		f->nrows++;
	}
	free(vms);
	free(vr);
	return 0;
}

/*
 * A VM whose VMM exited and that did nothing this interval has been shown
 * for the last time: drop it from the maps and from the tool.
 */
static void forget_gone(struct top *t, const struct frame *f)
{
	for (int i = 0; i < f->nrows; i++) {
		const struct top_row *r = &f->rows[i];
		struct vm_state *st;

		if (r->invals || r->s2_invals || r->faults || r->viommus ||
		    !viommu_vm_processes_gone(r->opener, r->vmm))
			continue;
		/* it may have worked since the read: show that first */
		if (viommu_bpf_forget_vm_seen(t->vb, r->ictx_id, &r->total) == -EAGAIN)
			continue;
		delta_forget(t->vm_deltas, &r->ictx_id);
		st = state_find(t, r->ictx_id);
		if (st)
			st->used = false;
		if (!was_forgotten(t, r->ictx_id)) {
			unsigned int *more = realloc(t->forgotten,
				(t->nr_forgotten + 1) * sizeof(*more));

			if (more) {
				more[t->nr_forgotten++] = r->ictx_id;
				t->forgotten = more;
			}
		}
	}
}

static void frame_free(struct frame *f)
{
	free(f->rows);
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

/* --- text: the table of the screen and of batch mode --- */

static void fmt_us(char *buf, size_t len, double us)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", us);
}

static double pct_us(const struct viommu_hist *h, double pct)
{
	return h->count ? hist_percentile_us(h, pct) : -1;
}

static double max_us(const struct top_row *r)
{
	return r->inv.count && r->inv_max_ns ? r->inv_max_ns / 1000.0 : -1;
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

#define HEADER_FMT "%6s %7s %-12s %7s %4s %-14s %9s %6s %7s %7s %7s %8s %6s %8s %6s\n"
#define ROW_FMT    "%6u %7d %-12.12s %7s %4d %-14.14s %9.1f %6.1f %7s %7s %7s %8.1f %6s %8.1f %6lu\n"
#define LINE_FMT   "%6s %7s   viommu %-3u %7s %4s %-14u %9.1f %6s %7s %7s %7s %8s %6s %8s %6lu\n"

static void format_header(char *line, size_t len)
{
	snprintf(line, len, HEADER_FMT, "VM", "PID", "COMM", "OPENER", "VIOM", "VMIDS",
		 "INV/s", "ERR/s", "P50us", "P99us", "MAXus", "S2/s", "FANOUT",
		 "FLT/s", "LOST");
}

/* PID: the VM's VMM, or its opener before it has one */
static int row_pid(const struct top_row *r)
{
	return r->vmm > 0 ? r->vmm : r->opener;
}

/* OPENER: the opener's pid where it is not the VMM, else - */
static void fmt_opener(char *buf, size_t len, const struct top_row *r)
{
	if (r->opener > 0 && r->opener != row_pid(r))
		snprintf(buf, len, "%d", r->opener);
	else
		snprintf(buf, len, "-");
}

/* The text cells a VM's row shares between the screen and the log */
struct row_cells {
	char opener[16], p50[16], p99[16], max[16], fan[16];
};

static void fmt_cells(struct row_cells *c, const struct top_row *r)
{
	fmt_opener(c->opener, sizeof(c->opener), r);
	fmt_us(c->p50, sizeof(c->p50), pct_us(&r->inv, 50));
	fmt_us(c->p99, sizeof(c->p99), pct_us(&r->inv, 99));
	fmt_us(c->max, sizeof(c->max), max_us(r));
	if (r->fanout >= 0)
		snprintf(c->fan, sizeof(c->fan), "%.1f", r->fanout);
	else
		snprintf(c->fan, sizeof(c->fan), "-");
}

static void format_row(char *line, size_t len, const struct top_row *r)
{
	struct row_cells c;
	char vmids[64];

	fmt_cells(&c, r);
	fmt_vmids(vmids, sizeof(vmids), r);
	snprintf(line, len, ROW_FMT, r->ictx_id, row_pid(r), r->comm, c.opener,
		 r->viommus, vmids, r->inv_rate, r->err_rate, c.p50, c.p99, c.max,
		 r->s2_rate, c.fan, r->fault_rate, (unsigned long)r->lost);
}

/* A vIOMMU under its VM: its id, VMID, rate, p50/p99, vEVENTs lost */
static void format_line(char *line, size_t len, const struct viommu_line *l)
{
	char p50[16], p99[16];

	fmt_us(p50, sizeof(p50), pct_us(&l->inv, 50));
	fmt_us(p99, sizeof(p99), pct_us(&l->inv, 99));
	snprintf(line, len, LINE_FMT, "", "", l->id, "", "", l->vmid, l->inv_rate,
		 "-", p50, p99, "-", "-", "-", "-", (unsigned long)l->lost);
}

static void format_overhead(char *line, size_t len, const struct overhead *ov)
{
	if (ov->bpf_known)
		snprintf(line, len,
			 "overhead: BPF %.0f runs/s, %.0f ns/run, %.3f%% CPU; viommu %.2f%% CPU",
			 ov->runs_per_s, ov->ns_per_run, ov->bpf_cpu_pct,
			 ov->tool_cpu_pct);
	else
		snprintf(line, len,
			 "overhead: BPF run time unknown (bpf_stats refused); viommu %.2f%% CPU",
			 ov->tool_cpu_pct);
}

static void print_batch(const struct frame *f, const struct top_params *p)
{
	char line[256];

	printf("\n%s  drops: %s\n", f->stamp, f->dropped);
	format_overhead(line, sizeof(line), &f->ov);
	printf("%s\n", line);
	format_header(line, sizeof(line));
	fputs(line, stdout);
	for (int i = 0; i < f->nrows; i++) {
		format_row(line, sizeof(line), &f->rows[i]);
		fputs(line, stdout);
		for (int j = 0; p->per_viommu && j < f->rows[i].nr_lines; j++) {
			format_line(line, sizeof(line), &f->lines[f->rows[i].first_line + j]);
			fputs(line, stdout);
		}
	}
	fflush(stdout);
}

/* --- log mode (kvm_stat -l) and CSV: one line per VM per interval --- */

#define LOG_HEADER_FMT "%-8s %6s %7s %-12s %7s %9s %7s %7s %7s %7s %8s %6s %8s %6s\n"
#define LOG_ROW_FMT    "%-8s %6u %7d %-12.12s %7s %9.1f %7.1f %7s %7s %7s %8.1f %6s %8.1f %6lu\n"

static void print_log(const struct frame *f, long n)
{
	struct row_cells c;

	if (n % LOG_HEADER_EVERY == 0)
		printf(LOG_HEADER_FMT, "TIME", "VM", "PID", "COMM", "OPENER", "INV/s", "ERR/s",
		       "P50us", "P99us", "MAXus", "S2/s", "FANOUT", "FLT/s", "LOST");
	for (int i = 0; i < f->nrows; i++) {
		const struct top_row *r = &f->rows[i];

		fmt_cells(&c, r);
		printf(LOG_ROW_FMT, f->stamp, r->ictx_id, row_pid(r), r->comm, c.opener,
		       r->inv_rate, r->err_rate, c.p50, c.p99, c.max, r->s2_rate, c.fan,
		       r->fault_rate, (unsigned long)r->lost);
	}
	fflush(stdout);
}

static const char csv_header[] =
	"ts_unix_ms,interval_s,vm,opener_pid,vmm_pid,comm,viommus,guest_invals,guest_invals_per_s,"
	"guest_inval_errors,guest_inval_lat_us_p50,guest_inval_lat_us_p99,guest_inval_lat_us_max,"
	"s2_invals,s2_invals_per_s,s2_fanout,faults,faults_per_s,vevents_lost";

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or newline */
static void csv_string(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* A number, or an empty field when there is none */
static void csv_num(FILE *out, double v, const char *fmt)
{
	fputc(',', out);
	if (v >= 0)
		fprintf(out, fmt, v);
}

static void csv_row(FILE *out, int64_t ts_ms, double secs, unsigned int vm, int opener,
		 int vmm, const char *comm, int viommus, uint64_t invals,
		 double inv_rate, uint64_t errors, double p50, double p99, double max,
		 uint64_t s2, double s2_rate, double fanout, uint64_t faults,
		 double fault_rate, uint64_t lost)
{
	fprintf(out, "%lld,%.3f,%u,%d,", (long long)ts_ms, secs, vm, opener);
	/* the VMM: empty when not known */
	if (vmm > 0)
		fprintf(out, "%d", vmm);
	fputc(',', out);
	csv_string(out, comm);
	fprintf(out, ",%d,%llu,%.1f,%llu", viommus, (unsigned long long)invals, inv_rate,
		(unsigned long long)errors);
	csv_num(out, p50, "%.1f");
	csv_num(out, p99, "%.1f");
	csv_num(out, max, "%.1f");
	fprintf(out, ",%llu,%.1f", (unsigned long long)s2, s2_rate);
	csv_num(out, fanout, "%.2f");
	fprintf(out, ",%llu,%.1f,%llu\n", (unsigned long long)faults, fault_rate,
		(unsigned long long)lost);
}

static void print_csv(const struct frame *f, long n)
{
	if (!n)
		printf("%s\n", csv_header);
	for (int i = 0; i < f->nrows; i++) {
		const struct top_row *r = &f->rows[i];

		csv_row(stdout, f->ts_ms, f->secs, r->ictx_id, r->opener, r->vmm,
			    r->comm, r->viommus, r->invals, r->inv_rate, r->errors,
			    pct_us(&r->inv, 50), pct_us(&r->inv, 99), max_us(r),
			    r->s2_invals, r->s2_rate, r->fanout, r->faults, r->fault_rate,
			    r->lost);
	}
	fflush(stdout);
}

/* --- JSON: one object per interval --- */

static struct json_object *row_json(const struct frame *f, const struct top_row *r,
				    bool per_viommu)
{
	struct json_object *o = json_object_new_object(), *v = json_object_new_array();
	const struct viommu_vm_stats *t = &r->total;

	json_object_object_add(o, "vm", json_object_new_int64(r->ictx_id));
	json_object_object_add(o, "opener_pid", json_object_new_int(r->opener));
	json_object_object_add(o, "vmm_pid", json_object_new_int(r->vmm));
	json_object_object_add(o, "comm", json_object_new_string(r->comm));
	json_object_object_add(o, "viommus", json_object_new_int(r->viommus));
	for (int i = 0; i < r->nr_vmids; i++)
		json_object_array_add(v, json_object_new_int64(r->vmids[i]));
	json_object_object_add(o, "vmids", v);
	json_object_object_add(o, "guest_invals_per_s", json_object_new_double(r->inv_rate));
	json_object_object_add(o, "guest_inval_entries_per_s", json_object_new_double(r->entry_rate));
	if (r->inv.count) {
		json_object_object_add(o, "guest_inval_lat_us_p50", json_object_new_double(pct_us(&r->inv, 50)));
		json_object_object_add(o, "guest_inval_lat_us_p99", json_object_new_double(pct_us(&r->inv, 99)));
	}
	/* the interval's maximum, not the lifetime's */
	if (max_us(r) >= 0)
		json_object_object_add(o, "guest_inval_lat_us_max", json_object_new_double(max_us(r)));
	json_object_object_add(o, "s2_invals_per_s", json_object_new_double(r->s2_rate));
	if (r->fanout >= 0)
		json_object_object_add(o, "s2_fanout", json_object_new_double(r->fanout));
	json_object_object_add(o, "faults_per_s", json_object_new_double(r->fault_rate));
	json_object_object_add(o, "vevents_lost", json_object_new_uint64(r->lost));
	json_object_object_add(o, "guest_inval_errors", json_object_new_uint64(r->errors));
	/* Totals since the tool started, for logs that outlive the VM */
	json_object_object_add(o, "guest_invals_total", json_object_new_uint64(t->guest_invals));
	json_object_object_add(o, "guest_inval_entries_total", json_object_new_uint64(t->guest_inval_entries));
	json_object_object_add(o, "guest_inval_errors_total", json_object_new_uint64(t->guest_inval_errors));
	json_object_object_add(o, "s2_invals_total", json_object_new_uint64(t->s2_invals));
	json_object_object_add(o, "vmid_invals_total", json_object_new_uint64(t->vmid_invals));
	json_object_object_add(o, "vevents_queued_total", json_object_new_uint64(t->vevents_queued));
	json_object_object_add(o, "vevents_lost_total", json_object_new_uint64(t->vevents_lost));
	json_object_object_add(o, "faults_total", json_object_new_uint64(t->faults));
	json_object_object_add(o, "fault_responses_total", json_object_new_uint64(t->fault_responses));
	if (per_viommu) {
		struct json_object *a = json_object_new_array();

		for (int i = 0; i < r->nr_lines; i++) {
			const struct viommu_line *l = &f->lines[r->first_line + i];
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "viommu", json_object_new_int64(l->id));
			json_object_object_add(j, "vmid", json_object_new_int64(l->vmid));
			json_object_object_add(j, "guest_invals", json_object_new_uint64(l->invals));
			json_object_object_add(j, "guest_invals_per_s", json_object_new_double(l->inv_rate));
			if (l->inv.count) {
				json_object_object_add(j, "guest_inval_lat_us_p50", json_object_new_double(pct_us(&l->inv, 50)));
				json_object_object_add(j, "guest_inval_lat_us_p99", json_object_new_double(pct_us(&l->inv, 99)));
			}
			json_object_object_add(j, "vevents_lost", json_object_new_uint64(l->lost));
			json_object_array_add(a, j);
		}
		json_object_object_add(o, "viommu_detail", a);
	}
	return o;
}

static void print_json(const struct frame *f, const struct top_params *p)
{
	struct json_object *o = json_object_new_object(), *vms = json_object_new_array();
	struct json_object *ov = json_object_new_object();

	for (int i = 0; i < f->nrows; i++)
		json_object_array_add(vms, row_json(f, &f->rows[i], p->per_viommu));
	json_object_object_add(o, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
	json_object_object_add(o, "type", json_object_new_string("viommu-top"));
	json_object_object_add(o, "ts_unix_ms", json_object_new_int64(f->ts_ms));
	json_object_object_add(o, "interval_s", json_object_new_double(f->secs));
	if (f->ov.bpf_known) {
		json_object_object_add(ov, "bpf_runs", json_object_new_uint64(f->ov.runs));
		json_object_object_add(ov, "bpf_ns_per_run", json_object_new_double(f->ov.ns_per_run));
		json_object_object_add(ov, "bpf_cpu_pct", json_object_new_double(f->ov.bpf_cpu_pct));
	}
	json_object_object_add(ov, "tool_cpu_pct", json_object_new_double(f->ov.tool_cpu_pct));
	json_object_object_add(o, "overhead", ov);
	json_object_object_add(o, "drops", drops_to_json(&f->drops));
	json_object_object_add(o, "vms", vms);
	json_emit(o);
	json_object_put(o);
}

/* --- the curses screen: selection, scrolling, drill-down, resize --- */

struct screen {
	unsigned int selected_vm;	/* stays on its VM across intervals */
	int first;			/* first table line shown */
	bool expand_all;
	unsigned int *expanded;		/* VMs shown with their vIOMMUs */
	int nr_expanded;
};

static bool is_expanded(const struct screen *s, unsigned int vm)
{
	if (s->expand_all)
		return true;
	for (int i = 0; i < s->nr_expanded; i++)
		if (s->expanded[i] == vm)
			return true;
	return false;
}

static void toggle_expanded(struct screen *s, unsigned int vm)
{
	unsigned int *more;

	for (int i = 0; i < s->nr_expanded; i++) {
		if (s->expanded[i] != vm)
			continue;
		s->expanded[i] = s->expanded[--s->nr_expanded];
		return;
	}
	more = realloc(s->expanded, (s->nr_expanded + 1) * sizeof(*more));
	if (!more)
		return;
	s->expanded = more;
	s->expanded[s->nr_expanded++] = vm;
}

static int selected_row(const struct screen *s, const struct frame *f)
{
	for (int i = 0; i < f->nrows; i++)
		if (f->rows[i].ictx_id == s->selected_vm)
			return i;
	return f->nrows ? 0 : -1;
}

/* The table's line of row i: rows above it and their expanded vIOMMUs */
static int line_of_row(const struct screen *s, const struct frame *f, int row)
{
	int line = 0;

	for (int i = 0; i < row; i++)
		line += 1 + (is_expanded(s, f->rows[i].ictx_id) ? f->rows[i].nr_lines : 0);
	return line;
}

static void draw_screen(struct screen *s, const struct frame *f, const struct top_params *p,
			enum sort_key sort)
{
	int sel = selected_row(s, f), height = LINES - 3, line = 0, y = 3;
	char text[256];

	if (sel >= 0)
		s->selected_vm = f->rows[sel].ictx_id;
	/* scroll so that the selected row is in view */
	if (sel >= 0 && height > 0) {
		int at = line_of_row(s, f, sel), end = at;

		/* and its vIOMMUs, when expanded, as far as they fit */
		if (is_expanded(s, f->rows[sel].ictx_id))
			end += f->rows[sel].nr_lines;
		if (at < s->first)
			s->first = at;
		else if (end >= s->first + height)
			s->first = end - height + 1 < at ? end - height + 1 : at;
	}
	/* no blank lines below the table when it fits (a taller terminal) */
	if (height > 0 && s->first > line_of_row(s, f, f->nrows) - height)
		s->first = line_of_row(s, f, f->nrows) - height;
	if (s->first < 0)
		s->first = 0;
	erase();
	mvprintw(0, 0, "viommu top - %s  VMs: %d  interval %.1fs  sort: %s  drops: %s  "
		 "(q quit, s sort, j/k select, x expand)",
		 f->stamp, f->nrows, p->interval, sort_names[sort], f->dropped);
	format_overhead(text, sizeof(text), &f->ov);
	mvprintw(1, 0, "%s", text);
	format_header(text, sizeof(text));
	attron(A_REVERSE);
	mvprintw(2, 0, "%.*s", COLS, text);
	attroff(A_REVERSE);
	for (int i = 0; i < f->nrows && y < LINES; i++) {
		const struct top_row *r = &f->rows[i];

		if (line++ >= s->first) {
			format_row(text, sizeof(text), r);
			if (i == sel)
				attron(A_BOLD);
			mvprintw(y++, 0, "%.*s", COLS, text);
			attroff(A_BOLD);
		}
		if (!is_expanded(s, r->ictx_id))
			continue;
		for (int j = 0; j < r->nr_lines && y < LINES; j++)
			if (line++ >= s->first) {
				format_line(text, sizeof(text), &f->lines[r->first_line + j]);
				mvprintw(y++, 0, "%.*s", COLS, text);
			}
	}
	refresh();
}

/*
 * One key on the screen; returns true if the screen needs drawing again.
 * The interval schedule is not touched: keys only redraw.
 */
static bool screen_key(struct screen *s, const struct frame *f, int key, enum sort_key *sort)
{
	int sel = selected_row(s, f), page = LINES - 3 > 1 ? LINES - 3 : 1, to = sel;

	switch (key) {
	case 'q':
		exiting = 1;
		return false;
	case 's':
		*sort = (*sort + 1) % SORT_KEYS;
		sort_rows((struct frame *)f, *sort);
		return true;
	case 'j':
	case KEY_DOWN:
		to = sel + 1;
		break;
	case 'k':
	case KEY_UP:
		to = sel - 1;
		break;
	case KEY_NPAGE:
		to = sel + page;
		break;
	case KEY_PPAGE:
		to = sel - page;
		break;
	case KEY_HOME:
	case 'g':
		to = 0;
		break;
	case KEY_END:
	case 'G':
		to = f->nrows - 1;
		break;
	case 'x':
	case '\n':
	case KEY_ENTER:
		if (sel >= 0)
			toggle_expanded(s, f->rows[sel].ictx_id);
		return true;
	case 'X':
		s->expand_all = !s->expand_all;
		return true;
	case KEY_RESIZE:
		return true;
	default:
		return false;
	}
	if (to >= f->nrows)
		to = f->nrows - 1;
	if (to < 0)
		to = 0;
	if (f->nrows)
		s->selected_vm = f->rows[to].ictx_id;
	return true;
}

/* --- the schedule and the command --- */

/*
 * Sleep until the absolute time deadline (CLOCK_MONOTONIC seconds). On the
 * screen, keys are handled meanwhile and redraw the last frame.
 */
static void wait_until_deadline(double deadline, struct screen *s, struct frame *f,
				const struct top_params *p, enum sort_key *sort)
{
	while (!exiting) {
		double left = deadline - monotonic_s();

		if (left <= 0)
			return;
		if (!s) {
			struct timespec ts = {
				.tv_sec = (time_t)deadline,
				.tv_nsec = (long)((deadline - (time_t)deadline) * 1e9),
			};

			/* EINTR: a signal, then exiting says whether to go on */
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			continue;
		}
		timeout(left > 0.2 ? 200 : (int)(left * 1000) + 1);
		if (screen_key(s, f, getch(), sort) && f->rows)
			draw_screen(s, f, p, *sort);
	}
}

/* The next deadline on the grid start + k * interval after now */
static double next_deadline(double start, double interval, long *k)
{
	double now = monotonic_s();

	(*k)++;
	/* behind by a whole interval or more (a stopped process): skip ahead */
	if (start + *k * interval < now - interval)
		*k = (long)((now - start) / interval) + 1;
	return start + *k * interval;
}

int cmd_top(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, "[INTERVAL] [COUNT]", doc, children };
	struct top t = { .p = &params, .stats_fd = -1 };
	struct screen scr = {}, *screen = NULL;
	struct frame f = {};
	enum sort_key sort;
	double start;
	long n = 0, k = 0;

	params = params_default;
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	if (params.log)
		params.output = OUT_LOG;
	else if (params.csv)
		params.output = OUT_CSV;
	else if (common.json)
		params.output = OUT_JSON;
	else if (params.batch || !isatty(STDOUT_FILENO))
		params.output = OUT_BATCH;
	else
		params.output = OUT_SCREEN;
	sort = params.sort;
	/* per-vIOMMU counts: asked for, or for the screen's drill-down */
	common.per_viommu = params.per_viommu || params.output == OUT_SCREEN;
	t.vm_deltas = delta_set_new(sizeof(unsigned int), &delta_vm_layout, true);
	t.viommu_deltas = delta_set_new(sizeof(struct viommu_lat_key), &delta_viommu_layout, true);
	t.cost = delta_set_new(sizeof(int), &cost_layout, false);
	if (!t.vm_deltas || !t.viommu_deltas || !t.cost)
		fprintf(stderr, "viommu top: out of memory\n");
	t.vb = t.vm_deltas && t.viommu_deltas && t.cost ? viommu_bpf_open(false) : NULL;
	if (!t.vb) {
		delta_set_free(t.vm_deltas);
		delta_set_free(t.viommu_deltas);
		delta_set_free(t.cost);
		return 1;
	}
	/* BPF run time and count, as bpftop reads them; on while the fd is open */
	t.stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (t.stats_fd < 0 && common.verbose)
		fprintf(stderr, "viommu: bpf_enable_stats: %s: no BPF run time\n",
			strerror(errno));
	if (snapshot_take(&t.start_snap, common.pid))
		fprintf(stderr, "viommu: cannot read /proc: VMs idle since before the start are not shown\n");
	else if (common.verbose)
		fprintf(stderr, "viommu: %d iommufd contexts at start\n", t.start_snap.nr_ctxs);
	if (params.output == OUT_SCREEN) {
		screen = &scr;
		initscr();
		cbreak();
		noecho();
		keypad(stdscr, TRUE);
		curs_set(0);
	} else if (params.output == OUT_BATCH) {
		/* the ready line: attached from here on */
		printf("Tracing iommufd vIOMMUs (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(t.vb));
		fflush(stdout);
	} else {
		fprintf(stderr, "viommu top: attached (%s)\n", viommu_bpf_attach_mode(t.vb));
	}
	/*
	 * The first reading of the tool's cost, which the first interval's is
	 * from: taken with the interval's start, after the /proc snapshot
	 * (seconds of CPU on a debug kernel, which are not the interval's)
	 */
	measure_overhead(&t, &(struct overhead){}, 1);
	start = t.last = monotonic_s();
	while (!exiting && (!params.count || n < params.count)) {
		wait_until_deadline(next_deadline(start, params.interval, &k), screen, &f,
				    &params, &sort);
		/* an unloaded iommufd ends the run after one last interval */
		if (exiting && n && !viommu_bpf_module_gone(t.vb))
			break;
		frame_free(&f);
		if (collect_frame(&t, &f, common.per_viommu)) {
			fprintf(stderr, "viommu top: out of memory\n");
			break;
		}
		sort_rows(&f, sort);
		switch (params.output) {
		case OUT_SCREEN:
			draw_screen(&scr, &f, &params, sort);
			break;
		case OUT_BATCH:
			print_batch(&f, &params);
			break;
		case OUT_JSON:
			print_json(&f, &params);
			break;
		case OUT_LOG:
			print_log(&f, n);
			break;
		case OUT_CSV:
			print_csv(&f, n);
			break;
		}
		forget_gone(&t, &f);
		n++;
	}
	if (screen)
		endwin();
	frame_free(&f);
	free(scr.expanded);
	if (t.stats_fd >= 0)
		close(t.stats_fd);
	snapshot_free(&t.start_snap);
	viommu_bpf_close(t.vb);
	free(t.states);
	free(t.forgotten);
	free(t.vdelta);
	delta_set_free(t.vm_deltas);
	delta_set_free(t.viommu_deltas);
	delta_set_free(t.cost);
	return 0;
}
