// SPDX-License-Identifier: GPL-2.0-only
/*
 * topo.c - viommu topo: the object tree of every iommufd context, from
 * fdinfo (so objects made before the tool started are there), and with
 * --watch the changes as the trace events report them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "viommu.h"

struct topo_opts {
	bool watch;
	struct viommu_events_opts events;	/* --watch: only object changes */
};
static struct topo_opts opts;

static uint64_t lost_reported;

static const struct argp_option options[] = {
	{ "watch", 'w', NULL, 0, "After the tree, follow objects as they come and go", 0 },
	{ "ringbuf-pages", 'R', "N", 0, "--watch: ring buffer size in pages, a power of 2 (default 4 MiB)", 0 },
	{},
};

static const char doc[] =
"viommu topo: the iommufd objects of every VM, as a tree.\n"
"\n"
"VM (iommufd context: pid and name of its VMM, the opener of /dev/iommu\n"
"when another process) > IOAS > nesting parent HWPT > vIOMMU (type, VMID,\n"
"VMM) > vDEVICEs (device, vRID), nested HWPTs, vEVENTQs, HW queues. Read\n"
"from /proc/PID/fdinfo (needs this project's kernel). Changes the ring\n"
"buffer had no room for are reported as LOST lines: the tree may then miss\n"
"them.\n"
"\n"
"EXAMPLES:\n"
"  viommu topo                 # every VM on the machine\n"
"  viommu topo -p 1234 --json  # the VMs of pid 1234 (VMM or opener), as JSON\n"
"  viommu topo --watch         # the tree, then + and - lines live";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'w':
		opts.watch = true;
		break;
	case 'R':
		return parse_ringbuf_pages(state, arg, &opts.events.ringbuf_pages);
	default:
		/* argp itself rejects positional arguments nobody takes */
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct snap_object *find_obj(const struct snap_ctx *c, unsigned int id)
{
	for (int i = 0; i < c->nr_objects; i++)
		if (c->objects[i].id == id)
			return &c->objects[i];
	return NULL;
}

static void describe(char *buf, size_t len, const struct snap_ctx *c,
		     const struct snap_object *o)
{
	const struct snap_object *dev;
	char num[24];

	if (!strcmp(o->type, "device")) {
		snprintf(buf, len, "device %u %s", o->id, o->dev_name);
	} else if (!strcmp(o->type, "hwpt_paging")) {
		snprintf(buf, len, "hwpt_paging %u%s", o->id,
			 o->nest_parent ? " nest_parent" : "");
	} else if (!strcmp(o->type, "viommu")) {
		int n = snprintf(buf, len, "viommu %u type %s vmid %u", o->id,
				 iommufd_type_name(IOMMUFD_TYPE_VIOMMU, o->sub_type,
						   num, sizeof(num)), o->vmid);

		if (o->vmm_pid)
			snprintf(buf + n, len - n, " vmm_pid %d", o->vmm_pid);
	} else if (!strcmp(o->type, "vdevice")) {
		dev = find_obj(c, o->dev);
		snprintf(buf, len, "vdevice %u dev %u%s%s virt_id 0x%llx", o->id,
			 o->dev, dev ? " " : "", dev ? dev->dev_name : "",
			 (unsigned long long)o->virt_id);
	} else if (!strcmp(o->type, "hwpt_nested")) {
		snprintf(buf, len, "hwpt_nested %u parent %u", o->id, o->parent);
	} else if (!strcmp(o->type, "veventq")) {
		snprintf(buf, len, "veventq %u type %s depth %u", o->id,
			 iommufd_type_name(IOMMUFD_TYPE_VEVENTQ, o->sub_type,
					   num, sizeof(num)), o->depth);
	} else if (!strcmp(o->type, "hw_queue")) {
		snprintf(buf, len, "hw_queue %u type %s index %u base 0x%llx length %llu",
			 o->id, iommufd_type_name(IOMMUFD_TYPE_HW_QUEUE, o->sub_type,
						  num, sizeof(num)), o->index,
			 (unsigned long long)o->base_addr,
			 (unsigned long long)o->length);
	} else {
		snprintf(buf, len, "%s %u", o->type, o->id);
	}
}

/* Does o hang below parent in the tree? */
static bool is_child(const struct snap_object *parent, const struct snap_object *o)
{
	if (!strcmp(parent->type, "ioas"))
		return !strcmp(o->type, "hwpt_paging") && o->ioas == parent->id;
	if (!strcmp(parent->type, "hwpt_paging"))
		return (!strcmp(o->type, "viommu") && o->hwpt == parent->id) ||
		       (!strcmp(o->type, "hwpt_nested") && !o->viommu &&
			o->parent == parent->id);
	if (!strcmp(parent->type, "viommu"))
		return o->viommu == parent->id &&
		       (!strcmp(o->type, "vdevice") || !strcmp(o->type, "hwpt_nested") ||
			!strcmp(o->type, "veventq") || !strcmp(o->type, "hw_queue"));
	return false;
}

static bool has_parent(const struct snap_ctx *c, const struct snap_object *o)
{
	for (int i = 0; i < c->nr_objects; i++)
		if (is_child(&c->objects[i], o))
			return true;
	return false;
}

/*
 * The objects of c that hang below parent (or, for NULL, the roots), in a
 * new array; as many as there are, never cut. NULL on no memory, with
 * *n the count it could not show.
 */
static const struct snap_object **children_of(const struct snap_ctx *c,
					      const struct snap_object *parent,
					      int *n)
{
	const struct snap_object **kids;

	*n = 0;
	kids = calloc(c->nr_objects ? c->nr_objects : 1, sizeof(*kids));
	for (int i = 0; i < c->nr_objects; i++) {
		const struct snap_object *o = &c->objects[i];

		if (parent ? !is_child(parent, o) : has_parent(c, o))
			continue;
		if (kids)
			kids[*n] = o;
		(*n)++;
	}
	return kids;
}

static void print_tree(const struct snap_ctx *c, const struct snap_object *o,
		       char *prefix, size_t plen, bool last)
{
	size_t at = strlen(prefix);
	const struct snap_object **kids;
	char line[256];
	int n;

	describe(line, sizeof(line), c, o);
	printf("%s%s %s\n", prefix, last ? "`-" : "|-", line);
	kids = children_of(c, o, &n);
	if (!kids || at + 4 >= plen) {
		/* no memory, or deeper than any tree of iommufd objects goes */
		if (n)
			printf("%s   (%d objects below not shown)\n", prefix, n);
		free(kids);
		return;
	}
	strcpy(prefix + at, last ? "   " : "|  ");
	for (int i = 0; i < n; i++)
		print_tree(c, kids[i], prefix, plen, i == n - 1);
	prefix[at] = '\0';
	free(kids);
}

static void print_ctx(const struct snap_ctx *c)
{
	const struct snap_object **roots;
	char prefix[128] = "";
	int n;

	int pid = c->vmm_pid > 0 ? c->vmm_pid : c->owner_tgid;

	/* pid: the VMM, or the opener before a vIOMMU names one */
	printf("vm %u  pid %d (%s)", c->ictx_id, pid, c->comm);
	if (c->owner_tgid > 0 && c->owner_tgid != pid)
		printf("  opener %d", c->owner_tgid);
	printf("  fd %d of pid %d  %d objects\n", c->fd, c->pid, c->nr_objects);
	roots = children_of(c, NULL, &n);
	if (!roots && n)
		printf("   (%d objects not shown: out of memory)\n", n);
	for (int i = 0; roots && i < n; i++)
		print_tree(c, roots[i], prefix, sizeof(prefix), i == n - 1);
	free(roots);
}

static struct json_object *type_json(enum iommufd_type_class cls, uint64_t type)
{
	char num[24];

	return json_object_new_string(iommufd_type_name(cls, type, num, sizeof(num)));
}

static struct json_object *ctx_json(const struct snap_ctx *c)
{
	struct json_object *o = json_object_new_object(), *objs = json_object_new_array();

	json_object_object_add(o, "vm", json_object_new_int64(c->ictx_id));
	json_object_object_add(o, "opener_pid", json_object_new_int(c->owner_tgid));
	json_object_object_add(o, "vmm_pid", json_object_new_int(c->vmm_pid));
	json_object_object_add(o, "comm", json_object_new_string(c->comm));
	for (int i = 0; i < c->nr_objects; i++) {
		const struct snap_object *s = &c->objects[i];
		struct json_object *j = json_object_new_object();

#define ADD(k, v) json_object_object_add(j, k, json_object_new_int64(v))
		ADD("id", s->id);
		json_object_object_add(j, "type", json_object_new_string(s->type));
		if (!strcmp(s->type, "device"))
			json_object_object_add(j, "dev_name", json_object_new_string(s->dev_name));
		if (!strcmp(s->type, "hwpt_paging")) {
			ADD("ioas", s->ioas);
			json_object_object_add(j, "nest_parent", json_object_new_boolean(s->nest_parent));
		}
		if (!strcmp(s->type, "viommu")) {
			ADD("hwpt", s->hwpt);
			json_object_object_add(j, "viommu_type",
					       type_json(IOMMUFD_TYPE_VIOMMU, s->sub_type));
			ADD("vmid", s->vmid); ADD("vmm_pid", s->vmm_pid);
		}
		if (!strcmp(s->type, "hwpt_nested")) {
			ADD("parent", s->parent); ADD("viommu", s->viommu);
		}
		if (!strcmp(s->type, "vdevice")) {
			ADD("viommu", s->viommu); ADD("dev", s->dev);
			json_object_object_add(j, "virt_id", json_id(s->virt_id));
		}
		if (!strcmp(s->type, "veventq")) {
			ADD("viommu", s->viommu);
			json_object_object_add(j, "veventq_type",
					       type_json(IOMMUFD_TYPE_VEVENTQ, s->sub_type));
			ADD("depth", s->depth);
		}
		if (!strcmp(s->type, "hw_queue")) {
			ADD("viommu", s->viommu);
			json_object_object_add(j, "hw_queue_type",
					       type_json(IOMMUFD_TYPE_HW_QUEUE, s->sub_type));
			ADD("index", s->index);
			json_object_object_add(j, "base_addr", json_object_new_uint64(s->base_addr));
			json_object_object_add(j, "length", json_object_new_uint64(s->length));
		}
#undef ADD
		json_object_array_add(objs, j);
	}
	json_object_object_add(o, "objects", objs);
	return o;
}

/* --watch: one line per object that comes (+) or goes (-) */
/* ctx: the struct viommu_bpf * of the command (its drops go on JSON lines) */
static int on_event(void *ctx, void *data, size_t len)
{
	const struct viommu_event *e = data;
	struct viommu_bpf *vb = *(struct viommu_bpf **)ctx;
	const char *sign = "+", *what = NULL;
	char extra[128] = "", num[24];

	if (len < sizeof(*e))
		return 0;
	switch (e->kind) {
	case VIOMMU_EV_VIOMMU_DESTROY:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_VIOMMU_ALLOC:
		what = "viommu";
		snprintf(extra, sizeof(extra), " hwpt %u type %s vmm_pid %d", e->obj_id,
			 iommufd_type_name(IOMMUFD_TYPE_VIOMMU, e->arg[0], num, sizeof(num)),
			 e->vmm_pid);
		break;
	case VIOMMU_EV_VDEVICE_DESTROY:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_VDEVICE_ALLOC:
		what = "vdevice";
		snprintf(extra, sizeof(extra), " on viommu %u dev %llu virt_id 0x%llx",
			 e->viommu_id, (unsigned long long)e->arg[0],
			 (unsigned long long)e->arg[1]);
		if (e->arg[1] == VIOMMU_ID_NONE)
			snprintf(extra, sizeof(extra), " on viommu %u dev %llu virt_id none",
				 e->viommu_id, (unsigned long long)e->arg[0]);
		break;
	case VIOMMU_EV_NESTED_DESTROY:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_NESTED_ALLOC:
		what = "hwpt_nested";
		snprintf(extra, sizeof(extra), " on viommu %u parent %llu", e->viommu_id,
			 (unsigned long long)e->arg[0]);
		break;
	case VIOMMU_EV_VEVENTQ_DESTROY:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_VEVENTQ_ALLOC:
		what = "veventq";
		snprintf(extra, sizeof(extra), " on viommu %u type %s depth %llu",
			 e->viommu_id,
			 iommufd_type_name(IOMMUFD_TYPE_VEVENTQ, e->arg[0], num, sizeof(num)),
			 (unsigned long long)e->arg[1]);
		break;
	case VIOMMU_EV_HW_QUEUE_DESTROY:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_HW_QUEUE_ALLOC:
		what = "hw_queue";
		snprintf(extra, sizeof(extra), " on viommu %u type %s index %llu",
			 e->viommu_id,
			 iommufd_type_name(IOMMUFD_TYPE_HW_QUEUE, e->arg[0], num, sizeof(num)),
			 (unsigned long long)e->arg[1]);
		break;
	case VIOMMU_EV_VMID_RELEASE:
		sign = "-";
		/* fallthrough */
	case VIOMMU_EV_VMID_ASSIGN:
		what = "vmid";
		snprintf(extra, sizeof(extra), " of viommu %u", e->viommu_id);
		break;
	default:
		return 0;
	}
	if (common.json) {
		struct json_object *o = trace_json_line("viommu-topo-change",
							ktime_to_unix_ms(e->ts_ns));

		json_object_object_add(o, "change", json_object_new_string(*sign == '+' ? "add" : "remove"));
		json_object_object_add(o, "object", json_object_new_string(what));
		json_object_object_add(o, "vm", json_object_new_int64(e->ictx_id));
		json_object_object_add(o, "opener_pid", json_object_new_int(e->opener_pid));
		json_object_object_add(o, "vmm_pid", json_object_new_int(e->vmm_pid));
		json_object_object_add(o, "id", json_object_new_int64(
			e->kind == VIOMMU_EV_VIOMMU_ALLOC || e->kind == VIOMMU_EV_VIOMMU_DESTROY ?
			e->viommu_id : e->obj_id));
		if (e->viommu_id)
			json_object_object_add(o, "viommu", json_object_new_int64(e->viommu_id));
		json_object_object_add(o, "drops", viommu_bpf_drops_json(vb, NULL));
		json_emit(o);
		json_object_put(o);
		return 0;
	}
	printf("%s vm %u pid %d: %s %u%s\n", sign, e->ictx_id,
	       e->vmm_pid > 0 ? e->vmm_pid : e->opener_pid, what,
	       e->kind == VIOMMU_EV_VIOMMU_ALLOC || e->kind == VIOMMU_EV_VIOMMU_DESTROY ?
	       e->viommu_id : e->obj_id, extra);
	fflush(stdout);
	return 0;
}

/* --watch: changes the ring buffer had no room for, never silent */
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
		struct json_object *o = trace_json_line("viommu-topo-change", now_unix_ms());

		json_object_object_add(o, "change", json_object_new_string("lost"));
		json_object_object_add(o, "lost", json_object_new_uint64(lost - lost_reported));
		json_object_object_add(o, "drops", drops);
		drops = NULL;
		json_emit(o);
		json_object_put(o);
	} else {
		printf("LOST %llu changes (ring buffer full): the tree may miss them\n",
		       (unsigned long long)(lost - lost_reported));
	}
	fflush(stdout);
	lost_reported = lost;
	json_object_put(drops);
}

int cmd_topo(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, NULL, doc, children };
	struct viommu_bpf *vb = NULL;
	struct ring_buffer *rb = NULL;
	struct snapshot snap;
	int shown = 0, rc = 0;

	memset(&opts, 0, sizeof(opts));
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	if (access("/proc/self/fdinfo", R_OK)) {
		fprintf(stderr, "viommu: /proc is not mounted\n");
		return 1;
	}
	/* Attach before the snapshot, so no change falls between the two */
	if (opts.watch) {
		/* only the records of objects that come and go enter the buffer */
		opts.events.kinds = viommu_event_mask(VIOMMU_EVF_TOPO);
		vb = viommu_bpf_open_events(&opts.events, on_event, &vb, &rb);
		if (!vb)
			return 1;
	}
	if (snapshot_take(&snap, common.pid)) {
		fprintf(stderr, "viommu: cannot read /proc: %s\n", strerror(errno));
		if (rb)
			ring_buffer__free(rb);
		viommu_bpf_close(vb);
		return 1;
	}
	if (common.json) {
		struct json_object *o = trace_json_line("viommu-topo", now_unix_ms());
		struct json_object *vms = json_object_new_array();

		for (int i = 0; i < snap.nr_ctxs; i++)
			if (!common.vm || snap.ctxs[i].ictx_id == common.vm)
				json_object_array_add(vms, ctx_json(&snap.ctxs[i]));
		json_object_object_add(o, "vms", vms);
		/* with --watch the programs are loaded: what they could not do */
		if (vb)
			json_object_object_add(o, "drops", viommu_bpf_drops_json(vb, NULL));
		json_emit(o);
		json_object_put(o);
	} else {
		for (int i = 0; i < snap.nr_ctxs; i++) {
			if (common.vm && snap.ctxs[i].ictx_id != common.vm)
				continue;
			print_ctx(&snap.ctxs[i]);
			shown++;
		}
		if (!shown)
			printf("no iommufd contexts%s\n",
			       snap.denied ? " visible (see the warning above)" : "");
	}
	snapshot_free(&snap);
	fflush(stdout);
	if (opts.watch) {
		if (!common.json)
			printf("watching... Hit Ctrl-C to end.\n");
		fflush(stdout);
		while (!exiting) {
			int err = ring_buffer__poll(rb, 100);

			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "viommu: polling the ring buffer: %s\n", strerror(-err));
				rc = 1;
				break;
			}
			report_lost(vb);
		}
		ring_buffer__consume(rb);
		report_lost(vb);
		ring_buffer__free(rb);
		viommu_bpf_close(vb);
	}
	return rc;
}
