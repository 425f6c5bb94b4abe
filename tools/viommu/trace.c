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
	unsigned int viommu;
	long max_events;
} opts;

static uint64_t first_ts, seen, lost_reported;

static const char *const kind_names[VIOMMU_EV_KINDS] = {
	[VIOMMU_EV_VIOMMU_ALLOC] = "viommu_alloc",
	[VIOMMU_EV_VIOMMU_DESTROY] = "viommu_destroy",
	[VIOMMU_EV_VDEVICE_ALLOC] = "vdevice_alloc",
	[VIOMMU_EV_VDEVICE_DESTROY] = "vdevice_destroy",
	[VIOMMU_EV_NESTED_ALLOC] = "hwpt_nested_alloc",
	[VIOMMU_EV_NESTED_DESTROY] = "hwpt_nested_destroy",
	[VIOMMU_EV_HW_QUEUE_ALLOC] = "hw_queue_alloc",
	[VIOMMU_EV_HW_QUEUE_DESTROY] = "hw_queue_destroy",
	[VIOMMU_EV_VEVENTQ_ALLOC] = "veventq_alloc",
	[VIOMMU_EV_VEVENTQ_DESTROY] = "veventq_destroy",
	[VIOMMU_EV_GUEST_INVAL] = "guest_inval",
	[VIOMMU_EV_S2_INVAL] = "s2_inval",
	[VIOMMU_EV_VMID_ASSIGN] = "vmid_assign",
	[VIOMMU_EV_VMID_RELEASE] = "vmid_release",
	[VIOMMU_EV_VMID_INVAL] = "vmid_inval",
	[VIOMMU_EV_VEVENT] = "vevent",
	[VIOMMU_EV_FAULT] = "fault",
	[VIOMMU_EV_FAULT_RESPONSE] = "fault_response",
};

static const char *const outcomes[] = { "queued", "lost_full", "lost_nomem", "no_queue" };

static const struct argp_option options[] = {
	{ "viommu", 'i', "ID", 0, "Only events of this vIOMMU id", 0 },
	{ "count", 'c', "N", 0, "Stop after N events", 0 },
	{ "ringbuf-pages", 'R', "N", 0, "Ring buffer size in pages, a power of 2 (default 4 MiB)", 0 },
	{},
};

static const char doc[] =
"viommu trace: print every vIOMMU event as it happens.\n"
"\n"
"Latencies (lat_us) are printed on the end events: guest_inval, s2_inval and\n"
"fault_response. Records lost to a full ring buffer are reported as LOST.\n"
"\n"
"EXAMPLES:\n"
"  viommu trace                # everything\n"
"  viommu trace -p 1234 -i 2   # one VMM's vIOMMU 2\n"
"  viommu trace --json -c 100  # 100 events as JSON lines";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	char *end;

	errno = 0;
	switch (key) {
	case 'i':
		opts.viommu = strtoul(arg, &end, 10);
		if (errno || *end || !opts.viommu)
			argp_error(state, "invalid vIOMMU id: %s", arg);
		break;
	case 'c':
		opts.max_events = strtol(arg, &end, 10);
		if (errno || *end || opts.max_events <= 0)
			argp_error(state, "invalid count: %s", arg);
		break;
	case 'R':
		common.ringbuf_pages = strtoul(arg, &end, 10);
		if (errno || *end || !common.ringbuf_pages ||
		    (common.ringbuf_pages & (common.ringbuf_pages - 1)) ||
		    common.ringbuf_pages > 65536)
			argp_error(state, "invalid page count (a power of 2 up to 65536): %s", arg);
		break;
	default:
		/* argp itself rejects positional arguments nobody takes */
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The kind-specific fields as name/value pairs */
static int fields(const struct viommu_event *e, const char **names,
		  long long *vals)
{
	int n = 0;

#define F(name, v) do { names[n] = name; vals[n] = (long long)(v); n++; } while (0)
	switch (e->kind) {
	case VIOMMU_EV_VIOMMU_ALLOC:
	case VIOMMU_EV_VIOMMU_DESTROY:
		F("hwpt", e->obj_id); F("type", e->arg[0]); F("kvm_pid", e->arg[1]);
		break;
	case VIOMMU_EV_VDEVICE_ALLOC:
	case VIOMMU_EV_VDEVICE_DESTROY:
		F("vdev", e->obj_id); F("dev", e->arg[0]); F("virt_id", e->arg[1]);
		break;
	case VIOMMU_EV_NESTED_ALLOC:
	case VIOMMU_EV_NESTED_DESTROY:
		F("hwpt", e->obj_id); F("parent", e->arg[0]);
		break;
	case VIOMMU_EV_HW_QUEUE_ALLOC:
	case VIOMMU_EV_HW_QUEUE_DESTROY:
		F("hw_queue", e->obj_id); F("type", e->arg[0]); F("index", e->arg[1]);
		F("base_addr", e->arg[2]);
		break;
	case VIOMMU_EV_VEVENTQ_ALLOC:
	case VIOMMU_EV_VEVENTQ_DESTROY:
		F("veventq", e->obj_id); F("type", e->arg[0]); F("depth", e->arg[1]);
		break;
	case VIOMMU_EV_GUEST_INVAL:
		F("pt", e->obj_id); F("entries", e->arg[0]); F("done", e->arg[1]);
		F("seq", e->arg[2]); F("result", e->result);
		break;
	case VIOMMU_EV_S2_INVAL:
		F("hwpt", e->obj_id); F("unmapped", e->arg[0]); F("seq", e->arg[1]);
		F("result", e->result);
		break;
	case VIOMMU_EV_VMID_ASSIGN:
	case VIOMMU_EV_VMID_RELEASE:
		F("vmid", e->obj_id); F("guest_id", (int64_t)e->arg[0]);
		break;
	case VIOMMU_EV_VMID_INVAL:
		F("vmid", e->obj_id); F("iova", e->arg[0]); F("size", e->arg[1]);
		break;
	case VIOMMU_EV_VEVENT:
		F("veventq", e->obj_id); F("type", e->arg[0]); F("virt_id", e->arg[1]);
		break;
	case VIOMMU_EV_FAULT:
		F("dev", e->obj_id); F("virt_id", (int64_t)e->arg[0]);
		F("grpid", e->arg[1]); F("pasid", e->arg[2]);
		break;
	case VIOMMU_EV_FAULT_RESPONSE:
		F("dev", e->obj_id); F("code", e->arg[0]); F("grpid", e->arg[1]);
		break;
	}
#undef F
	return n;
}

static bool is_hex(const char *name)
{
	return !strcmp(name, "virt_id") || !strcmp(name, "iova") ||
	       !strcmp(name, "size") || !strcmp(name, "unmapped") ||
	       !strcmp(name, "base_addr");
}

static bool has_latency(unsigned int kind)
{
	return kind == VIOMMU_EV_GUEST_INVAL || kind == VIOMMU_EV_S2_INVAL ||
	       kind == VIOMMU_EV_FAULT_RESPONSE;
}

static void report_lost(struct viommu_bpf *vb)
{
	uint64_t lost = viommu_bpf_events_lost(vb);

	if (lost == lost_reported)
		return;
	if (common.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string("LOST"));
		json_object_object_add(o, "lost", json_object_new_uint64(lost - lost_reported));
		json_emit(o);
		json_object_put(o);
	} else {
		printf("LOST %llu events (ring buffer full)\n",
		       (unsigned long long)(lost - lost_reported));
	}
	lost_reported = lost;
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct viommu_event *e = data;
	const char *names[8];
	long long vals[8];
	const char *kind;
	int n;

	(void)ctx;
	if (len < sizeof(*e) || e->kind >= VIOMMU_EV_KINDS)
		return 0;
	if (opts.viommu && e->viommu_id != opts.viommu)
		return 0;
	if (!first_ts)
		first_ts = e->ts_ns;
	kind = kind_names[e->kind];
	n = fields(e, names, vals);
	if (common.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ts_ns", json_object_new_uint64(e->ts_ns));
		json_object_object_add(o, "event", json_object_new_string(kind));
		json_object_object_add(o, "cpu", json_object_new_int(e->cpu));
		json_object_object_add(o, "tgid", json_object_new_int(e->tgid));
		json_object_object_add(o, "comm", json_object_new_string(e->comm));
		json_object_object_add(o, "vm", json_object_new_int64(e->ictx_id));
		json_object_object_add(o, "pid", json_object_new_int(e->owner_tgid));
		if (e->viommu_id)
			json_object_object_add(o, "viommu", json_object_new_int64(e->viommu_id));
		for (int i = 0; i < n; i++)
			json_object_object_add(o, names[i], json_object_new_int64(vals[i]));
		if (e->kind == VIOMMU_EV_VEVENT)
			json_object_object_add(o, "outcome", json_object_new_string(
				(unsigned int)e->result < 4 ? outcomes[e->result] : "?"));
		if (has_latency(e->kind) && e->lat_ns)
			json_object_object_add(o, "lat_ns", json_object_new_uint64(e->lat_ns));
		json_emit(o);
		json_object_put(o);
	} else {
		printf("%-12.6f %-3u %-7d %-14.14s %-4u %-19s", (e->ts_ns - first_ts) / 1e9,
		       e->cpu, e->tgid, e->comm, e->ictx_id, kind);
		if (e->viommu_id)
			printf(" viommu=%u", e->viommu_id);
		for (int i = 0; i < n; i++)
			printf(is_hex(names[i]) ? " %s=0x%llx" : " %s=%lld", names[i], vals[i]);
		if (e->kind == VIOMMU_EV_VEVENT)
			printf(" outcome=%s", (unsigned int)e->result < 4 ? outcomes[e->result] : "?");
		if (has_latency(e->kind) && e->lat_ns)
			printf(" lat_us=%.1f", e->lat_ns / 1e3);
		printf("\n");
	}
	seen++;
	if (opts.max_events && (long)seen >= opts.max_events)
		exiting = 1;
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, NULL, doc, children };
	struct ring_buffer *rb;
	struct viommu_bpf *vb;
	int err = 0;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
	vb = viommu_bpf_open_events(on_event, &rb);
	if (!vb)
		return 1;
	if (!common.json) {
		printf("Tracing vIOMMU events (%s)... Hit Ctrl-C to end.\n",
		       viommu_bpf_attach_mode(vb));
		printf("%-12s %-3s %-7s %-14s %-4s %-19s %s\n", "TIME(s)", "CPU", "TID",
		       "COMM", "VM", "EVENT", "DETAILS");
	}
	fflush(stdout);
	while (!exiting) {
		err = ring_buffer__poll(rb, 100);
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
	if (!err && !(opts.max_events && (long)seen >= opts.max_events))
		ring_buffer__consume(rb);
	report_lost(vb);
	fflush(stdout);
	fprintf(stderr, "viommu trace: %llu events, %llu lost\n",
		(unsigned long long)seen, (unsigned long long)lost_reported);
	ring_buffer__free(rb);
	viommu_bpf_close(vb);
	return err ? 1 : 0;
}
