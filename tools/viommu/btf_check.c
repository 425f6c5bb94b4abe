// SPDX-License-Identifier: GPL-2.0-only
/*
 * btf_check.c - does this kernel's BTF have the tracepoint arguments and
 * the struct fields viommu.bpf.c reads? A kernel built from an older or
 * newer version of the series may differ; the programs would then fail to
 * load with a libbpf relocation error. Say instead which event and which
 * argument or field, before loading.
 */
#include <string.h>
#include <bpf/btf.h>
#include "viommu.h"

/*
 * The arguments each handler reads, by position after __data, with the
 * names the kernel gives them (the parameters of __bpf_trace_<func>, the
 * event's or its class's BPF stub, whose BTF keeps their names): from the
 * list of events the programs are built from (bpf/viommu.h).
 */
static const struct {
	const char *event, *func;
	const char *args[8];
} tp_args[] = {
#define TP_ARGS(KIND, name, tp, fn, flags, stub, args)	\
	{ #tp, stub, { VIOMMU_UNPAREN args } },
	VIOMMU_EVENT_KINDS(TP_ARGS)
#undef TP_ARGS
#define START_ARGS(tp, fn, KIND, stub, args) { #tp, stub, { VIOMMU_UNPAREN args } },
	VIOMMU_START_EVENTS(START_ARGS)
#undef START_ARGS
};

/*
 * The struct fields the programs read (viommu.bpf.c declares them with
 * preserve_access_index). Optional ones are read behind
 * bpf_core_field_exists(): without them the programs load and the value
 * is not shown.
 */
static const struct {
	const char *type, *field;
	bool optional;
	const char *what;	/* who reads it, for the message */
	const char *alt;	/* a field read instead when this one is absent */
} fields[] = {
	{ "iommufd_ctx", "id", false, "every event" },
	{ "iommufd_ctx", "owner_tgid", false, "every event" },
	{ "iommufd_object", "id", false, "every event" },
	{ "iommufd_hw_pagetable", "obj", false, "iommufd:iommufd_viommu_alloc" },
	{ "iommufd_hwpt_paging", "common", false, "iommufd:iommufd_viommu_alloc" },
	{ "iommufd_viommu", "obj", false, "iommufd:iommufd_viommu_alloc" },
	{ "iommufd_viommu", "ictx", false, "iommufd:iommufd_viommu_alloc" },
	{ "iommufd_viommu", "hwpt", false, "iommufd:iommufd_viommu_alloc" },
	{ "iommufd_viommu", "type", false, "iommufd:iommufd_viommu_alloc" },
	/* the VMM's process: vmm since the v2 series, kvm_pid before */
	{ "iommufd_viommu", "vmm", true,
	  "iommufd:iommufd_viommu_alloc: the VMM pid of VMs is not shown",
	  "kvm_pid" },
	{ "iommufd_device", "obj", false, "iommufd:iommufd_vdevice_alloc" },
	{ "iommufd_vdevice", "obj", false, "iommufd:iommufd_vdevice_alloc" },
	{ "iommufd_vdevice", "viommu", false, "iommufd:iommufd_vdevice_alloc" },
	{ "iommufd_vdevice", "idev", false, "iommufd:iommufd_vdevice_alloc" },
	{ "iommufd_vdevice", "virt_id", false, "iommufd:iommufd_vdevice_alloc" },
	{ "iommufd_hwpt_nested", "common", false, "iommufd:iommufd_hwpt_nested_alloc" },
	{ "iommufd_hwpt_nested", "parent", false, "iommufd:iommufd_hwpt_nested_alloc" },
	{ "iommufd_hwpt_nested", "viommu", false, "iommufd:iommufd_hwpt_nested_alloc" },
	{ "iommufd_hw_queue", "obj", false, "iommufd:iommufd_hw_queue_alloc" },
	{ "iommufd_hw_queue", "viommu", false, "iommufd:iommufd_hw_queue_alloc" },
	{ "iommufd_hw_queue", "base_addr", false, "iommufd:iommufd_hw_queue_alloc" },
	{ "iommufd_hw_queue", "type", false, "iommufd:iommufd_hw_queue_alloc" },
	{ "iommufd_hw_queue", "index", false, "iommufd:iommufd_hw_queue_alloc" },
	{ "iommufd_eventq", "obj", false, "iommufd:iommufd_veventq_alloc" },
	{ "iommufd_eventq", "ictx", false, "iommufd:iommufd_fault_deliver" },
	{ "iommufd_veventq", "common", false, "iommufd:iommufd_veventq_alloc" },
	{ "iommufd_veventq", "viommu", false, "iommufd:iommufd_veventq_alloc" },
	{ "iommufd_veventq", "type", false, "iommufd:iommufd_veventq_alloc" },
	{ "iommufd_veventq", "depth", false, "iommufd:iommufd_veventq_alloc" },
	{ "iommufd_fault", "common", false, "iommufd:iommufd_fault_deliver" },
	{ "iopf_group", "last_fault", false, "iommufd:iommufd_fault_deliver" },
	{ "iopf_fault", "fault", false, "iommufd:iommufd_fault_deliver" },
	{ "iommu_fault", "prm", false, "iommufd:iommufd_fault_deliver" },
	{ "iommu_fault_page_request", "grpid", false, "iommufd:iommufd_fault_deliver" },
	{ "iommu_fault_page_request", "pasid", false, "iommufd:iommufd_fault_deliver" },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof(*(a)))

/* Does struct/union type id have member name, directly or in an anonymous one? */
static bool has_member(const struct btf *btf, __u32 id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;

	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_composite(t))
		return false;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);

		if (n && *n ? !strcmp(n, name) : has_member(btf, m->type, name))
			return true;
	}
	return false;
}

/* The parameter names of __bpf_trace_<func>, after __data; NULL if absent */
static const struct btf_type *stub_proto(const struct btf *btf, const char *func)
{
	char name[128];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "__bpf_trace_%s", func);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);
	if (id <= 0)
		return NULL;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	return t && btf_is_func_proto(t) ? t : NULL;
}

int viommu_check_btf(const struct btf *btf, const char *release)
{
	int bad = 0;

	for (size_t e = 0; e < ARRAY_SIZE(tp_args); e++) {
		const struct btf_type *proto = stub_proto(btf, tp_args[e].func);
		const struct btf_param *p;
		int nargs;

		/* Without the stub's BTF (no names to compare) trust the event */
		if (!proto)
			continue;
		p = btf_params(proto);
		nargs = btf_vlen(proto) - 1;
		for (int a = 0; a < 8 && tp_args[e].args[a]; a++) {
			const char *want = tp_args[e].args[a];
			const char *got = a < nargs ?
				btf__name_by_offset(btf, p[a + 1].name_off) : NULL;

			if (got && !strcmp(got, want))
				continue;
			if (!bad++)
				fprintf(stderr,
					"viommu: this kernel's (%s) iommufd events differ from what the tool reads:\n",
					release);
			if (got)
				fprintf(stderr, "  iommufd:%s: argument %d is '%s', the tool reads '%s' there\n",
					tp_args[e].event, a + 1, got, want);
			else
				fprintf(stderr, "  iommufd:%s: no argument '%s' (argument %d; this kernel's has %d)\n",
					tp_args[e].event, want, a + 1, nargs);
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
		int id = btf__find_by_name_kind(btf, fields[f].type, BTF_KIND_STRUCT);

		if (id > 0 && (has_member(btf, id, fields[f].field) ||
			       (fields[f].alt && has_member(btf, id, fields[f].alt))))
			continue;
		if (fields[f].optional) {
			fprintf(stderr, "viommu: note: this kernel's struct %s has no field %s%s%s (%s)\n",
				fields[f].type, fields[f].field,
				fields[f].alt ? " nor " : "",
				fields[f].alt ?: "", fields[f].what);
			continue;
		}
		if (!bad++)
			fprintf(stderr,
				"viommu: this kernel's (%s) iommufd events differ from what the tool reads:\n",
				release);
		if (id <= 0)
			fprintf(stderr, "  struct %s is missing (read by %s)\n",
				fields[f].type, fields[f].what);
		else
			fprintf(stderr, "  struct %s has no field %s (read by %s)\n",
				fields[f].type, fields[f].field, fields[f].what);
	}
	if (bad)
		fprintf(stderr,
			"  %d difference%s. The tool reads the events of this project's kernel series\n"
			"  (kernel/patches, docs/tracepoints.md); run it on that kernel, or a tool built\n"
			"  for this one.\n", bad, bad == 1 ? "" : "s");
	return bad;
}
