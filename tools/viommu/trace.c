// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace.c - viommu trace: every vIOMMU event as it happens, from a ring
 * buffer. Records the buffer had no room for are counted and reported,
 * never dropped silently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "viommu.h"

static struct trace_opts {
	struct viommu_events_opts events;	/* -i and -R, applied in BPF */
	long max_events;
	bool list;
} opts;

/* on_event's return value that stops the ring buffer's consumer at -c N */
#define STOP_CONSUMING	(-ECANCELED)

static uint64_t first_ts, seen, lost_reported;

static const char *const outcomes[] = { "queued", "lost_full", "lost_nomem", "no_queue" };

static const struct argp_option options[] = {
	{ "viommu", 'i', "ID", 0, "Only events of this vIOMMU id", 0 },
	{ "count", 'c', "N", 0, "Stop after N events", 0 },
	{ "ringbuf-pages", 'R', "N", 0, "Ring buffer size in pages, a power of 2 (default 4 MiB)", 0 },
	{ "list", 'l', NULL, 0, "List the events, their tracepoints and fields, and exit", 0 },
	{},
};

static const char doc[] =
"viommu trace: print every vIOMMU event as it happens.\n"
"\n"
"Latencies (lat_us) are printed on the end events: guest_inval, s2_inval and\n"
"fault_response. PID is the process the event fired in; viommu_alloc and\n"
"viommu_destroy name the VM's VMM (vmm_pid) and the opener of /dev/iommu\n"
"(opener_pid), which JSON lines carry on every event. Records lost to a full\n"
"ring buffer are reported as LOST.\n"
"\n"
"EXAMPLES:\n"
"  viommu trace                # everything\n"
"  viommu trace -p 1234 -i 2   # vIOMMU 2 of the VMs of pid 1234\n"
"  viommu trace --json -c 100  # 100 events as JSON lines\n"
"  viommu trace -l              # the events and their fields";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	char *end;

	errno = 0;
	switch (key) {
	case 'i':
		opts.events.viommu_id = strtoul(arg, &end, 10);
		if (errno || *end || !opts.events.viommu_id)
			return usage_error(state, "invalid vIOMMU id: %s", arg);
		break;
	case 'c':
		opts.max_events = strtol(arg, &end, 10);
		if (errno || *end || opts.max_events <= 0)
			return usage_error(state, "invalid count: %s", arg);
		break;
	case 'R':
		return parse_ringbuf_pages(state, arg, &opts.events.ringbuf_pages);
	case 'l':
		opts.list = true;
		break;
	default:
		/* argp itself rejects positional arguments nobody takes */
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* -R: a power of 2 pages, as the ring buffer map requires (trace, topo) */
error_t parse_ringbuf_pages(struct argp_state *state, const char *arg,
			    unsigned int *ringbuf_pages)
{
	unsigned long pages;
	char *end;

	errno = 0;
	pages = strtoul(arg, &end, 10);
	if (errno || *end || !pages || (pages & (pages - 1)) || pages > 65536)
		return usage_error(state, "invalid page count (a power of 2 up to 65536): %s", arg);
	*ringbuf_pages = pages;
	return 0;
}

/* How a field is printed: text and JSON */
enum field_kind {
	FIELD_INT,	/* signed decimal */
	FIELD_HEX,	/* addresses and sizes: 0x... in text, a number in JSON */
	FIELD_ID,	/* an unsigned id; all ones is "none" (JSON null) */
	FIELD_TYPE,	/* a uAPI type enum, by name */
};

struct field {
	const char *name;
	enum field_kind kind;
	enum iommufd_type_class type_class;	/* FIELD_TYPE */
	uint64_t v;
};

/* The kind-specific fields of a record */
static int fields(const struct viommu_event *e, struct field *f)
{
	int n = 0;

#define F(nm, k, val) do { f[n] = (struct field){ .name = nm, .kind = k, .v = (val) }; n++; } while (0)
#define T(nm, cls, val) do { f[n] = (struct field){ .name = nm, .kind = FIELD_TYPE, .type_class = cls, .v = (val) }; n++; } while (0)
	switch (e->kind) {
	case VIOMMU_EV_VIOMMU_ALLOC:
	case VIOMMU_EV_VIOMMU_DESTROY:
		F("hwpt", FIELD_INT, e->obj_id);
		T("viommu_type", IOMMUFD_TYPE_VIOMMU, e->arg[0]);
		break;
	case VIOMMU_EV_VDEVICE_ALLOC:
	case VIOMMU_EV_VDEVICE_DESTROY:
		F("vdev", FIELD_INT, e->obj_id); F("dev", FIELD_INT, e->arg[0]);
		F("virt_id", FIELD_ID, e->arg[1]);
		break;
	case VIOMMU_EV_NESTED_ALLOC:
	case VIOMMU_EV_NESTED_DESTROY:
		F("hwpt", FIELD_INT, e->obj_id); F("parent", FIELD_INT, e->arg[0]);
		break;
	case VIOMMU_EV_HW_QUEUE_ALLOC:
	case VIOMMU_EV_HW_QUEUE_DESTROY:
		F("hw_queue", FIELD_INT, e->obj_id);
		T("hw_queue_type", IOMMUFD_TYPE_HW_QUEUE, e->arg[0]);
		F("index", FIELD_INT, e->arg[1]); F("base_addr", FIELD_HEX, e->arg[2]);
		break;
	case VIOMMU_EV_VEVENTQ_ALLOC:
	case VIOMMU_EV_VEVENTQ_DESTROY:
		F("veventq", FIELD_INT, e->obj_id);
		T("veventq_type", IOMMUFD_TYPE_VEVENTQ, e->arg[0]);
		F("depth", FIELD_INT, e->arg[1]);
		break;
	case VIOMMU_EV_GUEST_INVAL:
		F("pt", FIELD_INT, e->obj_id); F("entries", FIELD_INT, e->arg[0]);
		F("done", FIELD_INT, e->arg[1]); F("seq", FIELD_INT, e->arg[2]);
		F("result", FIELD_INT, (int64_t)e->result);
		break;
	case VIOMMU_EV_S2_INVAL:
		F("hwpt", FIELD_INT, e->obj_id); F("unmapped", FIELD_HEX, e->arg[0]);
		F("seq", FIELD_INT, e->arg[1]); F("result", FIELD_INT, (int64_t)e->result);
		break;
	case VIOMMU_EV_VMID_ASSIGN:
	case VIOMMU_EV_VMID_RELEASE:
		F("vmid", FIELD_INT, e->obj_id); F("guest_id", FIELD_ID, e->arg[0]);
		break;
	case VIOMMU_EV_VMID_INVAL:
		F("vmid", FIELD_INT, e->obj_id); F("iova", FIELD_HEX, e->arg[0]);
		F("size", FIELD_HEX, e->arg[1]);
		break;
	case VIOMMU_EV_VEVENT:
		F("veventq", FIELD_INT, e->obj_id);
		T("veventq_type", IOMMUFD_TYPE_VEVENTQ, e->arg[0]);
		F("virt_id", FIELD_ID, e->arg[1]);
		break;
	case VIOMMU_EV_FAULT:
		F("dev", FIELD_INT, e->obj_id); F("virt_id", FIELD_ID, e->arg[0]);
		F("grpid", FIELD_INT, e->arg[1]); F("pasid", FIELD_INT, e->arg[2]);
		break;
	case VIOMMU_EV_FAULT_RESPONSE:
		F("dev", FIELD_INT, e->obj_id); F("code", FIELD_INT, e->arg[0]);
		F("grpid", FIELD_INT, e->arg[1]);
		break;
	}
#undef F
#undef T
	return n;
}

static void print_field(const struct field *f)
{
	char buf[24];

	switch (f->kind) {
	case FIELD_INT:
		printf(" %s=%lld", f->name, (long long)f->v);
		break;
	case FIELD_HEX:
		printf(" %s=0x%llx", f->name, (unsigned long long)f->v);
		break;
	case FIELD_ID:
		if (f->v == VIOMMU_ID_NONE)
			printf(" %s=none", f->name);
		else
			printf(" %s=0x%llx", f->name, (unsigned long long)f->v);
		break;
	case FIELD_TYPE:
		printf(" %s=%s", f->name, iommufd_type_name(f->type_class, f->v, buf, sizeof(buf)));
		break;
	}
}

static struct json_object *field_json(const struct field *f)
{
	char buf[24];

	switch (f->kind) {
	case FIELD_INT:
		return json_object_new_int64((int64_t)f->v);
	case FIELD_HEX:
		return json_object_new_uint64(f->v);
	case FIELD_ID:
		return json_id(f->v);
	case FIELD_TYPE:
		return json_object_new_string(iommufd_type_name(f->type_class, f->v,
								buf, sizeof(buf)));
	}
	return NULL;
}

static bool has_latency(unsigned int kind)
{
	return kind < VIOMMU_EV_KINDS && (viommu_events[kind].flags & VIOMMU_EVF_LATENCY);
}

/* The first keys of every JSON line of trace: schema, type, time */
struct json_object *trace_json_line(const char *type, double ts_unix_ms)
{
	struct json_object *o = json_object_new_object();
	char ms[32];

	json_object_object_add(o, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
	json_object_object_add(o, "type", json_object_new_string(type));
	/* to the microsecond, printed as such (not as %.17g) */
	snprintf(ms, sizeof(ms), "%.3f", ts_unix_ms);
	json_object_object_add(o, "ts_unix_ms", json_object_new_double_s(ts_unix_ms, ms));
	return o;
}

/* Wall-clock ms now, on the clock of the records */
double now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ktime_to_unix_ms(ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

static void report_lost(struct viommu_bpf *vb)
{
	struct viommu_drops d;
	struct json_object *drops = viommu_bpf_drops_json(vb, &d);
	uint64_t lost = d.n[VIOMMU_DROP_RINGBUF];

	if (lost == lost_reported) {
		json_object_put(drops);
		return;
	}
	if (common.json) {
		struct json_object *o = trace_json_line("viommu-trace", now_unix_ms());

		json_object_object_add(o, "event", json_object_new_string("LOST"));
		json_object_object_add(o, "lost", json_object_new_uint64(lost - lost_reported));
		json_object_object_add(o, "drops", drops);
		drops = NULL;
		json_emit(o);
		json_object_put(o);
	} else {
		printf("LOST %llu events (ring buffer full)\n",
		       (unsigned long long)(lost - lost_reported));
	}
	lost_reported = lost;
	json_object_put(drops);
}

/* ctx: the struct viommu_bpf * of the command (its drops go on JSON lines) */
static int on_event(void *ctx, void *data, size_t len)
{
	const struct viommu_event *e = data;
	struct viommu_bpf *vb = *(struct viommu_bpf **)ctx;
	struct field f[8];
	const char *kind;
	int n;

	/* -c N: the records after the Nth stay in the buffer, unprinted */
	if (opts.max_events && (long)seen >= opts.max_events)
		return STOP_CONSUMING;
	if (len < sizeof(*e) || e->kind >= VIOMMU_EV_KINDS)
		return 0;
	if (!first_ts)
		first_ts = e->ts_ns;
	kind = viommu_events[e->kind].name;
	n = fields(e, f);
	if (common.json) {
		struct json_object *o = trace_json_line("viommu-trace", ktime_to_unix_ms(e->ts_ns));

		json_object_object_add(o, "event", json_object_new_string(kind));
		json_object_object_add(o, "cpu", json_object_new_int(e->cpu));
		json_object_object_add(o, "tgid", json_object_new_int(e->tgid));
		json_object_object_add(o, "comm", json_object_new_string(e->comm));
		json_object_object_add(o, "vm", json_object_new_int64(e->ictx_id));
		json_object_object_add(o, "opener_pid", json_object_new_int(e->opener_pid));
		json_object_object_add(o, "vmm_pid", json_object_new_int(e->vmm_pid));
		if (e->viommu_id)
			json_object_object_add(o, "viommu", json_object_new_int64(e->viommu_id));
		for (int i = 0; i < n; i++)
			json_object_object_add(o, f[i].name, field_json(&f[i]));
		if (e->kind == VIOMMU_EV_VEVENT)
			json_object_object_add(o, "outcome", json_object_new_string(
				(unsigned int)e->result < 4 ? outcomes[e->result] : "?"));
		if (has_latency(e->kind) && e->lat_ns)
			json_object_object_add(o, "lat_ns", json_object_new_uint64(e->lat_ns));
		/* as of this line: every update not made, this record's included */
		json_object_object_add(o, "drops", viommu_bpf_drops_json(vb, NULL));
		json_emit(o);
		json_object_put(o);
	} else {
		/* PID is the tgid of the task the event fired in */
		printf("%-12.6f %-3u %-7d %-14.14s %-4u %-19s", (e->ts_ns - first_ts) / 1e9,
		       e->cpu, e->tgid, e->comm, e->ictx_id, kind);
		if (e->viommu_id)
			printf(" viommu=%u", e->viommu_id);
		for (int i = 0; i < n; i++)
			print_field(&f[i]);
		/* the VM's processes where it comes to be and goes */
		if (e->kind == VIOMMU_EV_VIOMMU_ALLOC || e->kind == VIOMMU_EV_VIOMMU_DESTROY)
			printf(" vmm_pid=%d opener_pid=%d", e->vmm_pid, e->opener_pid);
		if (e->kind == VIOMMU_EV_VEVENT)
			printf(" outcome=%s", (unsigned int)e->result < 4 ? outcomes[e->result] : "?");
		if (has_latency(e->kind) && e->lat_ns)
			printf(" lat_us=%.1f", e->lat_ns / 1e3);
		printf("\n");
	}
	seen++;
	if (opts.max_events && (long)seen >= opts.max_events) {
		exiting = 1;
		return STOP_CONSUMING;
	}
	return 0;
}

/*
 * -l: each kind of record, its tracepoint and the fields it prints after
 * the columns every record has (and viommu=, when it names a vIOMMU)
 */
static void list_events(void)
{
	if (!common.json)
		printf("%-19s %-38s %s\n", "EVENT", "TRACEPOINT", "FIELDS");
	for (unsigned int k = 0; k < VIOMMU_EV_KINDS; k++) {
		struct viommu_event e = { .kind = k };
		struct json_object *o = NULL, *a = NULL;
		char tp[64];
		struct field f[8];
		int n = fields(&e, f);

		snprintf(tp, sizeof(tp), "iommufd:%s", viommu_events[k].tracepoint);
		if (common.json) {
			o = trace_json_line("viommu-trace-events", now_unix_ms());
			a = json_object_new_array();
			json_object_object_add(o, "event", json_object_new_string(viommu_events[k].name));
			json_object_object_add(o, "tracepoint", json_object_new_string(tp));
			json_object_object_add(o, "fields", a);
		} else {
			printf("%-19s %-38s", viommu_events[k].name, tp);
		}
		for (int i = 0; i <= n + 1; i++) {
			const char *name = i < n ? f[i].name :
				i == n && k == VIOMMU_EV_VEVENT ? "outcome" :
				i == n + 1 && has_latency(k) ? "lat_us" : NULL;

			if (!name)
				continue;
			if (a)
				json_object_array_add(a, json_object_new_string(name));
			else
				printf(" %s", name);
		}
		if (o) {
			json_emit(o);
			json_object_put(o);
		} else {
			printf("\n");
		}
	}
}

int cmd_trace(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, NULL, doc, children };
	struct ring_buffer *rb;
	struct viommu_bpf *vb;
	int err = 0;

	memset(&opts, 0, sizeof(opts));
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	if (opts.list) {
		list_events();
		return 0;
	}
	vb = viommu_bpf_open_events(&opts.events, on_event, &vb, &rb);
	if (!vb)
		return 1;
	if (!common.json) {
		printf("Tracing vIOMMU events (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(vb));
		printf("%-12s %-3s %-7s %-14s %-4s %-19s %s\n", "TIME(s)", "CPU", "PID",
		       "COMM", "VM", "EVENT", "DETAILS");
	}
	fflush(stdout);
	while (!exiting) {
		err = ring_buffer__poll(rb, 100);
		if (err == STOP_CONSUMING)
			err = 0;
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "viommu: polling the ring buffer: %s\n", strerror(-err));
			break;
		}
		err = 0;
		report_lost(vb);
		fflush(stdout);
	}
	/* Whatever is still buffered is printed too */
	if (!err)
		ring_buffer__consume(rb);
	report_lost(vb);
	fflush(stdout);
	fprintf(stderr, "viommu trace: %llu events, %llu lost\n",
		(unsigned long long)seen, (unsigned long long)lost_reported);
	ring_buffer__free(rb);
	viommu_bpf_close(vb);
	return err ? 1 : 0;
}
