// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu.bpf.c - aggregate the iommufd vIOMMU trace events per VM and per
 * vIOMMU in the kernel, and optionally stream them to a ring buffer.
 *
 * Every handler is attached as tp_btf: it gets the tracepoint's arguments
 * as a u64 array, BTF-typed. (raw_tp twins were dropped: they need the same
 * kernel BTF for CO-RE, so no kernel runs them that cannot run tp_btf.)
 * Only the fields read here are declared, with
 * preserve_access_index, so this builds without the patched kernel's
 * headers and relocates against its BTF at load time.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "viommu.h"

typedef __u64 u64;
typedef __u32 u32;
typedef __s32 pid_t;

#define EEXIST	17

/* Enum fields must be declared as enums for CO-RE to match them */
enum iommu_viommu_type { IOMMU_VIOMMU_TYPE_DEFAULT };
enum iommu_hw_queue_type { IOMMU_HW_QUEUE_TYPE_DEFAULT };
enum iommu_veventq_type { IOMMU_VEVENTQ_TYPE_DEFAULT };

struct iommufd_ctx {
	u32 id;
	pid_t owner_tgid;
} __attribute__((preserve_access_index));

struct iommufd_object {
	unsigned int id;
} __attribute__((preserve_access_index));

struct iommufd_hw_pagetable {
	struct iommufd_object obj;
} __attribute__((preserve_access_index));

struct iommufd_hwpt_paging {
	struct iommufd_hw_pagetable common;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
} __attribute__((preserve_access_index));

struct pid {
	struct upid numbers[1];
} __attribute__((preserve_access_index));

/* vmm (the allocating process) and the older kvm_pid: either may be absent */
struct iommufd_viommu {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	struct iommufd_hwpt_paging *hwpt;
	enum iommu_viommu_type type;
	struct pid *vmm;
	pid_t kvm_pid;
} __attribute__((preserve_access_index));

struct iommufd_device {
	struct iommufd_object obj;
} __attribute__((preserve_access_index));

struct iommufd_vdevice {
	struct iommufd_object obj;
	struct iommufd_viommu *viommu;
	struct iommufd_device *idev;
	u64 virt_id;
} __attribute__((preserve_access_index));

struct iommufd_hwpt_nested {
	struct iommufd_hw_pagetable common;
	struct iommufd_hwpt_paging *parent;
	struct iommufd_viommu *viommu;
} __attribute__((preserve_access_index));

struct iommufd_hw_queue {
	struct iommufd_object obj;
	struct iommufd_viommu *viommu;
	u64 base_addr;
	enum iommu_hw_queue_type type;
	u32 index;
} __attribute__((preserve_access_index));

struct iommufd_eventq {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
} __attribute__((preserve_access_index));

struct iommufd_veventq {
	struct iommufd_eventq common;
	struct iommufd_viommu *viommu;
	enum iommu_veventq_type type;
	unsigned int depth;
} __attribute__((preserve_access_index));

struct iommufd_fault {
	struct iommufd_eventq common;
} __attribute__((preserve_access_index));

struct iommu_fault_page_request {
	u32 grpid;
	u32 pasid;
} __attribute__((preserve_access_index));

struct iommu_fault {
	struct iommu_fault_page_request prm;
} __attribute__((preserve_access_index));

struct iopf_fault {
	struct iommu_fault fault;
} __attribute__((preserve_access_index));

struct iopf_group {
	struct iopf_fault last_fault;
} __attribute__((preserve_access_index));

/* Set by the tool before load */
const volatile __s32 targ_tgid;		/* only VMs with this opener or VMM, 0 = all */
const volatile __u32 targ_ictx;		/* only this context, 0 = all */
const volatile bool emit_events;	/* stream records for viommu trace */
const volatile bool per_viommu_lat;	/* guest invalidations per vIOMMU too (lat -V) */
/* Ring buffer filters, so records nobody prints take no room in it */
const volatile __u32 emit_viommu;	/* only records of this vIOMMU id (trace -i), 0 = all */
const volatile __u32 emit_kinds;	/* bit per enum viommu_event_kind, 0 = all */
const volatile __u32 hist_unit_ns = 1000;	/* histogram grid: us, or ms for lat -m */

/*
 * Shared by all CPUs and updated with atomic adds: a per-CPU copy of the
 * histograms would cost their size times the CPUs. Entries are allocated
 * as VMs appear, not at load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct viommu_vm_stats);
} vm_stats SEC(".maps");

/* The reader's interval, for the per-interval maxima (struct viommu_interval_max) */
__u64 interval_epoch = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct viommu_key);
	__type(value, struct viommu_viommu_stats);
} viommu_stats SEC(".maps");

/*
 * Guest invalidation latency per vIOMMU, only with per_viommu_lat; keyed by
 * the alloc time too, so a vIOMMU that reuses an id starts afresh
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct viommu_lat_key);
	__type(value, struct viommu_hist);
} viommu_lat SEC(".maps");

/*
 * Who each VM is (struct viommu_vm_ident): its VMM and the VMM's name,
 * taken in the VMM, so a VM whose VMM exits before the tool reads the maps
 * is still named; -p finds a VM's VMM here. Not per CPU: a static fact.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct viommu_vm_ident);
} vm_idents SEC(".maps");

/* Zeroed values to insert new entries from: they exceed the BPF stack */
struct zero_values {
	struct viommu_vm_stats vm;
	struct viommu_viommu_stats viommu;
	struct viommu_hist hist;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct zero_values);
} zero SEC(".maps");

/*
 * Fault start times by group (struct viommu_start_key). Faults the kernel
 * answers itself leave entries behind until the tool forgets their VM; if
 * the map is full, that one latency is not measured and the drop counted.
 */
struct start_val {
	u64 ts_ns;
	u32 viommu_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct viommu_start_key);
	__type(value, struct start_val);
} starts SEC(".maps");

/*
 * The end events of guest and S2 invalidations carry their start time;
 * only when they do not (end enabled mid-call) does the start time this
 * task recorded at the start event count. A call starts and ends in the
 * same task, so task storage holds it: cheaper than a hash. Faults start
 * and end in different tasks and use the starts hash.
 */
struct task_starts {
	u64 ts_ns[2];	/* by VIOMMU_LAT_GUEST_INVAL, VIOMMU_LAT_S2_INVAL */
	u64 seq[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_starts);
} task_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Updates that could not be made, by reason, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct viommu_drops);
} drops SEC(".maps");

static __always_inline void drop(u32 reason)
{
	struct viommu_drops *d;
	u32 i = 0;

	d = bpf_map_lookup_elem(&drops, &i);
	if (d && reason < VIOMMU_DROPS)
		d->n[reason]++;
}

/* A VM's VMM, 0 if not known (no vIOMMU yet) */
static __always_inline pid_t vm_vmm(u32 ictx_id)
{
	struct viommu_vm_ident *id = bpf_map_lookup_elem(&vm_idents, &ictx_id);

	return id ? id->vmm_pid : 0;
}

/*
 * Is the VM of context ictx_id one the user asked for (-p, --vm)? -p PID
 * matches its opener or its VMM: with libvirt, libvirtd opens /dev/iommu
 * and QEMU, given the file, is the VMM.
 */
static __always_inline bool wanted(u32 ictx_id, pid_t opener)
{
	if (targ_ictx && ictx_id != targ_ictx)
		return false;
	if (!targ_tgid || opener == targ_tgid)
		return true;
	return vm_vmm(ictx_id) == targ_tgid;
}

/* The same, for an event that names a vIOMMU's own VMM (vmm, or 0) */
static __always_inline bool wanted_vmm(u32 ictx_id, pid_t opener, pid_t vmm)
{
	if (targ_tgid && vmm == targ_tgid)
		return !targ_ictx || ictx_id == targ_ictx;
	return wanted(ictx_id, opener);
}

/*
 * The name of a VM not yet known: the opener's, if this task is in it.
 * An IOMMU_VIOMMU_ALLOC later names it after its VMM (vm_ident_set).
 */
static __always_inline void vm_ident_note(u32 ictx_id, pid_t opener)
{
	struct viommu_vm_ident id = {};
	long err;

	if (bpf_get_current_pid_tgid() >> 32 != (u32)opener)
		return;
	bpf_get_current_comm(id.comm, sizeof(id.comm));
	err = bpf_map_update_elem(&vm_idents, &ictx_id, &id, BPF_NOEXIST);
	if (err && err != -EEXIST)	/* known already: fine */
		drop(VIOMMU_DROP_VM_IDENTS);
}

/* A VM's VMM, and its name when this task is in it (at IOMMU_VIOMMU_ALLOC) */
static __always_inline void vm_ident_set(u32 ictx_id, pid_t vmm)
{
	struct viommu_vm_ident id = { .vmm_pid = vmm };

	if (bpf_get_current_pid_tgid() >> 32 == (u32)vmm)
		bpf_get_current_comm(id.comm, sizeof(id.comm));
	if (bpf_map_update_elem(&vm_idents, &ictx_id, &id, BPF_ANY))
		drop(VIOMMU_DROP_VM_IDENTS);
}

static __always_inline struct viommu_vm_stats *vm_get(u32 ictx_id, pid_t opener)
{
	struct viommu_vm_stats *s = bpf_map_lookup_elem(&vm_stats, &ictx_id);
	struct zero_values *z;
	u32 i = 0;

	if (s)
		return s;
	z = bpf_map_lookup_elem(&zero, &i);
	if (!z)
		return NULL;
	bpf_map_update_elem(&vm_stats, &ictx_id, &z->vm, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&vm_stats, &ictx_id);
	if (!s)
		drop(VIOMMU_DROP_VM_STATS);
	if (s) {
		/* racing creators write the same values */
		s->opener_pid = opener;
		s->vmm_pid = vm_vmm(ictx_id);
		for (int k = 0; k < VIOMMU_LAT_KINDS; k++)
			s->lat[k].unit_ns = hist_unit_ns;
	}
	vm_ident_note(ictx_id, opener);
	return s;
}

static __always_inline struct viommu_viommu_stats *
viommu_get(u32 ictx_id, u32 viommu_id, pid_t opener)
{
	struct viommu_key key = { .ictx_id = ictx_id, .viommu_id = viommu_id };
	struct viommu_viommu_stats *s = bpf_map_lookup_elem(&viommu_stats, &key);
	struct zero_values *z;
	u32 i = 0;

	if (s)
		return s;
	z = bpf_map_lookup_elem(&zero, &i);
	if (!z)
		return NULL;
	bpf_map_update_elem(&viommu_stats, &key, &z->viommu, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&viommu_stats, &key);
	if (s) {
		s->opener_pid = opener;
		s->vmm_pid = vm_vmm(ictx_id);
	} else
		drop(VIOMMU_DROP_VIOMMU_STATS);
	return s;
}

static __always_inline struct viommu_hist *viommu_lat_get(u32 ictx_id, u32 viommu_id,
							 u64 alloc_ns)
{
	struct viommu_lat_key key = { .ictx_id = ictx_id, .viommu_id = viommu_id,
				      .alloc_ns = alloc_ns };
	struct viommu_hist *h = bpf_map_lookup_elem(&viommu_lat, &key);
	struct zero_values *z;
	u32 i = 0;

	if (h)
		return h;
	z = bpf_map_lookup_elem(&zero, &i);
	if (!z)
		return NULL;
	bpf_map_update_elem(&viommu_lat, &key, &z->hist, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&viommu_lat, &key);
	if (h)
		h->unit_ns = hist_unit_ns;
	else
		drop(VIOMMU_DROP_VIOMMU_LAT);
	return h;
}

/* *p = max(*p, v) against other CPUs doing the same */
static __always_inline void atomic_max(u64 *p, u64 v)
{
	u64 old = *p, seen;

	for (int i = 0; i < 8 && v > old; i++) {
		seen = __sync_val_compare_and_swap(p, old, v);
		if (seen == old)
			break;
		old = seen;
	}
}

static __always_inline void hist_add(struct viommu_hist *h, u64 ns)
{
	u32 b = viommu_hist_bucket(ns, hist_unit_ns);

	if (b >= VIOMMU_HIST_BUCKETS)
		b = VIOMMU_HIST_BUCKETS - 1;
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
	__sync_fetch_and_add(&h->slots[b], 1);
	atomic_max(&h->max_ns, ns);
}

/* Counters shared by all CPUs */
#define INC(field)	__sync_fetch_and_add(&(field), 1)
#define ADD(field, n)	__sync_fetch_and_add(&(field), (n))

static __always_inline void interval_max_add(struct viommu_interval_max *m, u64 ns)
{
	viommu_interval_max_update(m, *(volatile u64 *)&interval_epoch, ns);
}

/* A VM's latency of one kind: its histogram and its interval's maximum */
static __always_inline void vm_lat_add(struct viommu_vm_stats *s, u32 kind, u64 ns)
{
	if (kind >= VIOMMU_LAT_KINDS)
		return;
	hist_add(&s->lat[kind], ns);
	interval_max_add(&s->interval_max[kind], ns);
}

static __always_inline void start_put(u32 kind, u32 ictx_id, u64 id,
				      u32 viommu_id)
{
	struct viommu_start_key key = { .id = id, .kind = kind, .ictx_id = ictx_id };
	struct start_val val = { .ts_ns = bpf_ktime_get_ns(),
				 .viommu_id = viommu_id };

	if (bpf_map_update_elem(&starts, &key, &val, BPF_ANY))
		drop(VIOMMU_DROP_FAULT_STARTS);
}

/* The time since the matching start, or 0 if it was not seen */
static __always_inline u64 start_take(u32 kind, u32 ictx_id, u64 id)
{
	struct viommu_start_key key = { .id = id, .kind = kind, .ictx_id = ictx_id };
	struct start_val *val = bpf_map_lookup_elem(&starts, &key);
	u64 ns;

	if (!val)
		return 0;
	ns = bpf_ktime_get_ns() - val->ts_ns;
	bpf_map_delete_elem(&starts, &key);
	return ns;
}

/* kind is VIOMMU_LAT_GUEST_INVAL or VIOMMU_LAT_S2_INVAL */
static __always_inline void task_start_put(u32 kind, u64 seq)
{
	struct task_starts *t;

	t = bpf_task_storage_get(&task_starts, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		drop(VIOMMU_DROP_TASK_STORAGE);
		return;
	}
	t->ts_ns[kind & 1] = bpf_ktime_get_ns();
	t->seq[kind & 1] = seq;
}

/* The time since this task's start of the same seq, or 0 */
static __always_inline u64 task_start_take(u32 kind, u64 seq)
{
	struct task_starts *t;
	u64 ts;

	t = bpf_task_storage_get(&task_starts, bpf_get_current_task_btf(), 0, 0);
	if (!t)
		return 0;
	ts = t->ts_ns[kind & 1];
	if (!ts || t->seq[kind & 1] != seq)
		return 0;
	t->ts_ns[kind & 1] = 0;
	return bpf_ktime_get_ns() - ts;
}

static __always_inline struct viommu_event *
event_new(u32 kind, u32 ictx_id, pid_t opener, u32 viommu_id, u32 obj_id)
{
	struct viommu_event *e;

	if (!emit_events)
		return NULL;
	if (emit_viommu && viommu_id != emit_viommu)
		return NULL;
	if (emit_kinds && !(emit_kinds & (1u << kind)))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		drop(VIOMMU_DROP_RINGBUF);
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->lat_ns = 0;
	e->arg[0] = e->arg[1] = e->arg[2] = 0;
	e->kind = kind;
	e->ictx_id = ictx_id;
	e->opener_pid = opener;
	e->vmm_pid = vm_vmm(ictx_id);
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->viommu_id = viommu_id;
	e->obj_id = obj_id;
	e->result = 0;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

#define CTX_ARG(ctx, n)	((void *)(ctx)[n])

/*
 * READ(btf, p, a, b): p->a->b. tp_btf programs load it directly, which the
 * verifier allows for their BTF-typed arguments; raw_tp programs must use
 * probe reads. btf is a constant in each program, so only one is built.
 */
#define DEREF1(p, a)		((p)->a)
#define DEREF2(p, a, b)		((p)->a->b)
#define DEREF3(p, a, b, c)	((p)->a->b->c)
#define PICK_DEREF(_1, _2, _3, name, ...) name
#define DEREF(p, ...) PICK_DEREF(__VA_ARGS__, DEREF3, DEREF2, DEREF1)(p, __VA_ARGS__)
#define READ(btf, p, ...) ((btf) ? DEREF(p, __VA_ARGS__) : BPF_CORE_READ(p, __VA_ARGS__))

/*
 * The VM's process as the kernel names it: the tgid that allocated the
 * vIOMMU (vmm) on kernels that record it, the VM creator's (kvm_pid) on
 * the first version of the series, else 0. Probe reads: CO-RE can drop the
 * branch a kernel lacks, which a direct tp_btf access cannot.
 */
static __always_inline pid_t viommu_vmm_pid(struct iommufd_viommu *viommu)
{
	struct pid *vmm;

	if (bpf_core_field_exists(viommu->vmm)) {
		vmm = BPF_CORE_READ(viommu, vmm);
		return vmm ? BPF_CORE_READ(vmm, numbers[0].nr) : 0;
	}
	if (bpf_core_field_exists(viommu->kvm_pid))
		return BPF_CORE_READ(viommu, kvm_pid);
	return 0;
}

static __always_inline int on_viommu(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_viommu *viommu = CTX_ARG(ctx, 0);
	u32 ictx_id = READ(btf, viommu, ictx, id);
	pid_t opener = READ(btf, viommu, ictx, owner_tgid);
	u32 id = READ(btf, viommu, obj.id);
	pid_t vmm = viommu_vmm_pid(viommu);
	struct viommu_viommu_stats *vs;
	struct viommu_vm_stats *s;
	struct viommu_event *e;

	/* this vIOMMU's own VMM counts for -p even before vm_idents has it */
	if (!wanted_vmm(ictx_id, opener, vmm))
		return 0;
	if (kind == VIOMMU_EV_VIOMMU_ALLOC && vmm)
		vm_ident_set(ictx_id, vmm);
	s = vm_get(ictx_id, opener);
	if (s) {
		if (vmm)
			s->vmm_pid = vmm;
		if (kind == VIOMMU_EV_VIOMMU_ALLOC)
			INC(s->viommus_allocated);
		else
			INC(s->viommus_destroyed);
	}
	vs = viommu_get(ictx_id, id, opener);
	if (vs && vmm)
		vs->vmm_pid = vmm;
	if (vs && kind == VIOMMU_EV_VIOMMU_ALLOC) {
		/*
		 * The xarray hands a destroyed vIOMMU's id to the next one:
		 * its counters start from zero, and its histogram is keyed by
		 * this alloc time, so it inherits nothing. The driver assigned
		 * its VMID just before this event.
		 */
		if (vs->vmid_ns < vs->destroy_ns)
			vs->vmid = 0;
		vs->guest_invals = vs->guest_inval_entries = vs->vmid_invals = 0;
		vs->vevents_queued = vs->vevents_lost = 0;
		vs->destroy_ns = 0;
		vs->alloc_ns = bpf_ktime_get_ns();
	} else if (vs) {
		vs->destroy_ns = bpf_ktime_get_ns();
	}
	e = event_new(kind, ictx_id, opener, id,
		      READ(btf, viommu, hwpt, common.obj.id));
	if (e) {
		e->arg[0] = READ(btf, viommu, type);
		/* this vIOMMU's own, whatever vm_idents holds */
		e->vmm_pid = vmm;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/*
 * The record for an object hanging off a vIOMMU (vDEVICE, nested HWPT, HW
 * queue, vEVENTQ), or NULL when not tracing or filtered out. These events
 * only feed trace and topo --watch.
 */
static __always_inline struct viommu_event *
object_event(bool btf, u32 kind, struct iommufd_viommu *viommu, u32 obj_id)
{
	u32 ictx_id;
	pid_t opener;

	if (!emit_events)
		return NULL;
	ictx_id = READ(btf, viommu, ictx, id);
	opener = READ(btf, viommu, ictx, owner_tgid);
	if (!wanted(ictx_id, opener))
		return NULL;
	return event_new(kind, ictx_id, opener, READ(btf, viommu, obj.id),
			 obj_id);
}

static __always_inline int on_vdevice(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_vdevice *vdev = CTX_ARG(ctx, 0);
	struct viommu_event *e = object_event(btf, kind, READ(btf, vdev, viommu),
					      READ(btf, vdev, obj.id));

	if (e) {
		e->arg[0] = READ(btf, vdev, idev, obj.id);
		e->arg[1] = READ(btf, vdev, virt_id);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

static __always_inline int on_nested(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_hwpt_nested *nested = CTX_ARG(ctx, 0);
	struct viommu_event *e = object_event(btf, kind, READ(btf, nested, viommu),
					      READ(btf, nested, common.obj.id));

	if (e) {
		e->arg[0] = READ(btf, nested, parent, common.obj.id);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

static __always_inline int on_hw_queue(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_hw_queue *q = CTX_ARG(ctx, 0);
	struct viommu_event *e = object_event(btf, kind, READ(btf, q, viommu),
					      READ(btf, q, obj.id));

	if (e) {
		e->arg[0] = READ(btf, q, type);
		e->arg[1] = READ(btf, q, index);
		e->arg[2] = READ(btf, q, base_addr);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

static __always_inline int on_veventq(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_veventq *q = CTX_ARG(ctx, 0);
	struct viommu_event *e = object_event(btf, kind, READ(btf, q, viommu),
					      READ(btf, q, common.obj.id));

	if (e) {
		e->arg[0] = READ(btf, q, type);
		e->arg[1] = READ(btf, q, depth);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (ictx, pt_id, viommu_id, data_type, entry_num, seq) */
static __always_inline int on_inval_start(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_ctx *ictx = CTX_ARG(ctx, 0);
	u32 ictx_id = READ(btf, ictx, id);

	if (!wanted(ictx_id, READ(btf, ictx, owner_tgid)))
		return 0;
	task_start_put(VIOMMU_LAT_GUEST_INVAL, ctx[5]);
	return 0;
}

/*
 * The time since start_ns, the kernel's ktime_get_ns() at the start of the
 * call that the end event passes; if it is 0 (the end event was enabled
 * mid-call), the start this task recorded, if any.
 */
static __always_inline u64 since(u64 start_ns, u32 kind, u64 seq)
{
	if (start_ns)
		return bpf_ktime_get_ns() - start_ns;
	return task_start_take(kind, seq);
}

/* (ictx, pt_id, viommu_id, entry_num, done_num, result, seq, start_ns) */
static __always_inline int on_inval_end(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_ctx *ictx = CTX_ARG(ctx, 0);
	u32 ictx_id = READ(btf, ictx, id);
	pid_t opener = READ(btf, ictx, owner_tgid);
	u32 viommu_id = ctx[2], done = ctx[4];
	int result = ctx[5];
	struct viommu_viommu_stats *vs;
	struct viommu_vm_stats *s;
	struct viommu_hist *h;
	struct viommu_event *e;
	u64 ns;

	if (!wanted(ictx_id, opener))
		return 0;
	ns = since(ctx[7], VIOMMU_LAT_GUEST_INVAL, ctx[6]);
	s = vm_get(ictx_id, opener);
	if (s) {
		INC(s->guest_invals);
		ADD(s->guest_inval_entries, done);
		if (result)
			INC(s->guest_inval_errors);
		if (ns)
			vm_lat_add(s, VIOMMU_LAT_GUEST_INVAL, ns);
	}
	/* per vIOMMU only when asked: it doubles the map work per call */
	if (per_viommu_lat && viommu_id) {
		vs = viommu_get(ictx_id, viommu_id, opener);
		if (vs) {
			INC(vs->guest_invals);
			ADD(vs->guest_inval_entries, done);
		}
		h = ns ? viommu_lat_get(ictx_id, viommu_id, vs ? vs->alloc_ns : 0) : NULL;
		if (h)
			hist_add(h, ns);
	}
	e = event_new(VIOMMU_EV_GUEST_INVAL, ictx_id, opener, viommu_id, ctx[1]);
	if (e) {
		e->lat_ns = ns;
		e->arg[0] = ctx[3];
		e->arg[1] = done;
		e->arg[2] = ctx[6];
		e->result = result;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (viommu, vmid, guest_id) */
static __always_inline int on_vmid(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_viommu *viommu = CTX_ARG(ctx, 0);
	u32 ictx_id = READ(btf, viommu, ictx, id);
	pid_t opener = READ(btf, viommu, ictx, owner_tgid);
	u32 id = READ(btf, viommu, obj.id), vmid = ctx[1];
	struct viommu_viommu_stats *vs;
	struct viommu_vm_stats *s;
	struct viommu_event *e;
	pid_t vmm = 0;

	/*
	 * The driver assigns the VMID before the alloc event names the VMM in
	 * vm_idents: read it from the vIOMMU (only then: invalidations are many)
	 */
	if (kind == VIOMMU_EV_VMID_ASSIGN)
		vmm = viommu_vmm_pid(viommu);
	if (!wanted_vmm(ictx_id, opener, vmm))
		return 0;
	vs = viommu_get(ictx_id, id, opener);
	if (vs) {
		if (vmm)
			vs->vmm_pid = vmm;
		/* kept after release: reports name the VMID it had */
		vs->vmid = vmid;
		if (kind == VIOMMU_EV_VMID_ASSIGN)
			vs->vmid_ns = bpf_ktime_get_ns();
		if (kind == VIOMMU_EV_VMID_INVAL)
			INC(vs->vmid_invals);
	}
	if (kind == VIOMMU_EV_VMID_INVAL) {
		s = vm_get(ictx_id, opener);
		if (s)
			INC(s->vmid_invals);
	}
	e = event_new(kind, ictx_id, opener, id, vmid);
	if (e) {
		if (vmm)
			e->vmm_pid = vmm;
		/* guest_id for assign/release, iova and size for invalidate */
		e->arg[0] = ctx[2];
		if (kind == VIOMMU_EV_VMID_INVAL)
			e->arg[1] = ctx[3];
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (ictx, parent, iova, length, seq) */
static __always_inline int on_s2_start(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_ctx *ictx = CTX_ARG(ctx, 0);
	u32 ictx_id = READ(btf, ictx, id);

	if (!wanted(ictx_id, READ(btf, ictx, owner_tgid)))
		return 0;
	task_start_put(VIOMMU_LAT_S2_INVAL, ctx[4]);
	return 0;
}

/* (ictx, parent, unmapped, result, seq, start_ns) */
static __always_inline int on_s2_end(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_ctx *ictx = CTX_ARG(ctx, 0);
	struct iommufd_hwpt_paging *parent = CTX_ARG(ctx, 1);
	u32 ictx_id = READ(btf, ictx, id);
	pid_t opener = READ(btf, ictx, owner_tgid);
	struct viommu_vm_stats *s;
	struct viommu_event *e;
	u64 ns;

	if (!wanted(ictx_id, opener))
		return 0;
	ns = since(ctx[5], VIOMMU_LAT_S2_INVAL, ctx[4]);
	s = vm_get(ictx_id, opener);
	if (s) {
		INC(s->s2_invals);
		if (ns)
			vm_lat_add(s, VIOMMU_LAT_S2_INVAL, ns);
	}
	e = event_new(VIOMMU_EV_S2_INVAL, ictx_id, opener, 0,
		      READ(btf, parent, common.obj.id));
	if (e) {
		e->lat_ns = ns;
		e->arg[0] = ctx[2];
		e->arg[1] = ctx[4];
		e->result = (int)ctx[3];
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (viommu, type, virt_id, veventq, outcome) */
static __always_inline int on_vevent(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_viommu *viommu = CTX_ARG(ctx, 0);
	struct iommufd_veventq *q = CTX_ARG(ctx, 3);
	u32 ictx_id = READ(btf, viommu, ictx, id);
	pid_t opener = READ(btf, viommu, ictx, owner_tgid);
	u32 id = READ(btf, viommu, obj.id);
	bool queued = (int)ctx[4] == 0;
	struct viommu_viommu_stats *vs;
	struct viommu_vm_stats *s;
	struct viommu_event *e;

	if (!wanted(ictx_id, opener))
		return 0;
	s = vm_get(ictx_id, opener);
	if (s) {
		if (queued)
			INC(s->vevents_queued);
		else
			INC(s->vevents_lost);
	}
	vs = viommu_get(ictx_id, id, opener);
	if (vs) {
		if (queued)
			INC(vs->vevents_queued);
		else
			INC(vs->vevents_lost);
	}
	e = event_new(VIOMMU_EV_VEVENT, ictx_id, opener, id,
		      q ? READ(btf, q, common.obj.id) : 0);
	if (e) {
		e->arg[0] = ctx[1];
		e->arg[1] = ctx[2];
		e->result = (int)ctx[4];
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (fault, idev, group, virt_id) */
static __always_inline int on_fault(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_fault *fault = CTX_ARG(ctx, 0);
	struct iommufd_device *idev = CTX_ARG(ctx, 1);
	struct iopf_group *group = CTX_ARG(ctx, 2);
	u32 ictx_id = READ(btf, fault, common.ictx, id);
	pid_t opener = READ(btf, fault, common.ictx, owner_tgid);
	struct viommu_vm_stats *s;
	struct viommu_event *e;

	if (!wanted(ictx_id, opener))
		return 0;
	start_put(VIOMMU_LAT_FAULT, ictx_id, (u64)group, 0);
	s = vm_get(ictx_id, opener);
	if (s)
		INC(s->faults);
	e = event_new(VIOMMU_EV_FAULT, ictx_id, opener, 0,
		      READ(btf, idev, obj.id));
	if (e) {
		/* the guest's ID of the device, when the kernel knows one */
		e->arg[0] = ctx[4] ? ctx[3] : VIOMMU_ID_NONE;
		e->arg[1] = READ(btf, group, last_fault.fault.prm.grpid);
		e->arg[2] = READ(btf, group, last_fault.fault.prm.pasid);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* (fault, idev, group, code) */
static __always_inline int on_fault_response(u64 *ctx, bool btf, u32 kind)
{
	struct iommufd_fault *fault = CTX_ARG(ctx, 0);
	struct iommufd_device *idev = CTX_ARG(ctx, 1);
	struct iopf_group *group = CTX_ARG(ctx, 2);
	u32 ictx_id = READ(btf, fault, common.ictx, id);
	pid_t opener = READ(btf, fault, common.ictx, owner_tgid);
	struct viommu_vm_stats *s;
	struct viommu_event *e;
	u64 ns;

	if (!wanted(ictx_id, opener))
		return 0;
	ns = start_take(VIOMMU_LAT_FAULT, ictx_id, (u64)group);
	s = vm_get(ictx_id, opener);
	if (s) {
		INC(s->fault_responses);
		if (ns)
			vm_lat_add(s, VIOMMU_LAT_FAULT, ns);
	}
	e = event_new(VIOMMU_EV_FAULT_RESPONSE, ictx_id, opener, 0,
		      READ(btf, idev, obj.id));
	if (e) {
		e->lat_ns = ns;
		e->arg[0] = ctx[3];
		e->arg[1] = READ(btf, group, last_fault.fault.prm.grpid);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

/* Each handler as a tp_btf program, from the list of events (viommu.h) */
#define VIOMMU_TP(KIND, name, tp, fn, flags, stub, args)			\
	SEC("tp_btf/" #tp) int btf_##tp(u64 *ctx) { return fn(ctx, true, VIOMMU_EV_##KIND); }
VIOMMU_EVENT_KINDS(VIOMMU_TP)

#define VIOMMU_START_TP(tp, fn, KIND, stub, args)			\
	SEC("tp_btf/" #tp) int btf_##tp(u64 *ctx) { return fn(ctx, true, VIOMMU_EV_##KIND); }
VIOMMU_START_EVENTS(VIOMMU_START_TP)

char LICENSE[] SEC("license") = "GPL";
