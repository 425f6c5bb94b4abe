/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * viommu.h - what viommu.bpf.c and the viommu tool share: map keys and
 * values, and the record the trace ring buffer carries.
 */
#ifndef VIOMMU_H
#define VIOMMU_H

#define VIOMMU_COMM_LEN		16

/*
 * Latency histograms are log-linear (HdrHistogram style): each power of two
 * is split into VIOMMU_HIST_SUB linear sub-buckets, so a bucket is at most
 * 1/8 of its value wide and a 1.3x shift inside one power of two moves
 * samples across buckets. Values are binned in units of 1/1024 of the
 * histogram's unit (unit_ns: 1000 for us, 1000000 for ms), so that the
 * unit's powers of two (1, 2, 4 ... us) are bucket boundaries and the
 * coarse display rows of print_log2_hist are exact.
 *
 * With v = ns * 1024 / unit_ns: buckets 0..7 hold v = 0..7; above, a value
 * whose top bit is b (b >= 3) is in bucket (b - 2) * 8 + the next 3 bits.
 * Values from 2^(VIOMMU_HIST_GROUPS + 2) units/1024 up (about 67 s in us
 * units) are counted in the last bucket; max_ns stays exact.
 */
#define VIOMMU_HIST_SUB_BITS	3
#define VIOMMU_HIST_SUB		(1 << VIOMMU_HIST_SUB_BITS)
#define VIOMMU_HIST_GROUPS	34
#define VIOMMU_HIST_BUCKETS	(VIOMMU_HIST_GROUPS * VIOMMU_HIST_SUB)
#define VIOMMU_HIST_UNIT_SHIFT	10	/* v is in 1/1024 of the unit */
#define VIOMMU_HIST_UNIT_US	1000
#define VIOMMU_HIST_UNIT_MS	1000000

/* floor(log2(v)) for v > 0, branch-free (BPF has no clz) */
static inline __attribute__((always_inline)) __u32 viommu_log2(__u64 v)
{
	__u32 r, shift;

	shift = (v > 0xFFFFFFFF) << 5; v >>= shift; r = shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/*
 * The bucket of a latency of ns on a grid of unit_ns: the BPF programs bin
 * with it and the tool's tests check it, so both use this one copy.
 */
static inline __attribute__((always_inline)) __u32
viommu_hist_bucket(__u64 ns, __u32 unit_ns)
{
	__u64 v = (ns << VIOMMU_HIST_UNIT_SHIFT) / unit_ns;
	__u32 top;

	if (v < VIOMMU_HIST_SUB)
		return v;
	top = viommu_log2(v);
	if (top >= VIOMMU_HIST_GROUPS + VIOMMU_HIST_SUB_BITS - 1)
		return VIOMMU_HIST_BUCKETS - 1;
	return (top - VIOMMU_HIST_SUB_BITS + 1) * VIOMMU_HIST_SUB +
	       ((v >> (top - VIOMMU_HIST_SUB_BITS)) & (VIOMMU_HIST_SUB - 1));
}

/* Latencies the programs measure, start event to end event */
enum viommu_lat_kind {
	VIOMMU_LAT_GUEST_INVAL,	/* iommufd_cache_invalidate_start -> _end */
	VIOMMU_LAT_S2_INVAL,	/* iommufd_s2_invalidate_start -> _end */
	VIOMMU_LAT_FAULT,	/* iommufd_fault_deliver -> _respond */
	VIOMMU_LAT_KINDS,
};

struct viommu_hist {
	__u64 count;
	__u64 sum_ns;		/* the exact mean is sum_ns / count */
	__u64 max_ns;
	__u32 unit_ns;		/* 1000 (us grid) or 1000000 (ms grid) */
	__u32 pad;
	__u64 slots[VIOMMU_HIST_BUCKETS];
};

/* Counters per VM, in one list for the BPF side, the readers and JSON */
#define VIOMMU_VM_COUNTERS(X)						\
	X(guest_invals)							\
	X(guest_inval_entries)						\
	X(guest_inval_errors)						\
	X(s2_invals)							\
	X(vmid_invals)	/* per-VMID invalidations the S2 unmaps caused */ \
	X(vevents_queued)						\
	X(vevents_lost)	/* queue full, no memory, or no queue */	\
	X(faults)							\
	X(fault_responses)						\
	X(viommus_allocated)						\
	X(viommus_destroyed)

/*
 * The largest latency in the reader's interval. The reader moves the
 * programs' epoch on at the end of an interval, then reads the slot of the
 * epoch it closed (slot epoch & 1), which no program writes any more; the
 * other slot restarts at the next epoch.
 *
 * A slot is one word, the epoch's low VIOMMU_IMAX_EPOCH_BITS above the
 * maximum in ns, so that CPUs update it with one compare-and-swap: with
 * the epoch and the maximum in two words, a CPU that restarts the slot for
 * a new epoch could wipe out the maximum another CPU had just written, and
 * two CPUs could each keep their own smaller value.
 */
#define VIOMMU_IMAX_NS_BITS	40	/* up to about 18 minutes; larger is clamped */
#define VIOMMU_IMAX_EPOCH_BITS	24	/* the epoch modulo 2^24: intervals */
#define VIOMMU_IMAX_NS_MASK	((1ULL << VIOMMU_IMAX_NS_BITS) - 1)
#define VIOMMU_IMAX_EPOCH_MASK	((1ULL << VIOMMU_IMAX_EPOCH_BITS) - 1)
/*
 * A failed compare-and-swap means another CPU changed the word. Each such
 * change either raised this epoch's maximum or moved the slot to a newer
 * epoch; after VIOMMU_IMAX_TRIES of them in a row a larger value than
 * this one would have to have been written (BPF needs a bounded loop).
 */
#define VIOMMU_IMAX_TRIES	32

struct viommu_interval_max {
	__u64 slot[2];	/* epoch << VIOMMU_IMAX_NS_BITS | max_ns */
};

/* Tests replace it to run another CPU's update between load and swap */
#ifndef VIOMMU_CMPXCHG
#define VIOMMU_CMPXCHG(p, old, new)	__sync_val_compare_and_swap(p, old, new)
#endif

/* Is epoch tag a (a slot's) newer than b? Tags wrap at 2^24 */
static inline __attribute__((always_inline)) int
viommu_imax_newer(__u64 a, __u64 b)
{
	__u64 d = (a - b) & VIOMMU_IMAX_EPOCH_MASK;

	return d && d < (1ULL << (VIOMMU_IMAX_EPOCH_BITS - 1));
}

/* max(the slot of epoch, ns), atomically against the other CPUs */
static inline __attribute__((always_inline)) void
viommu_interval_max_update(struct viommu_interval_max *m, __u64 epoch, __u64 ns)
{
	__u64 *w = &m->slot[epoch & 1];
	__u64 tag = epoch & VIOMMU_IMAX_EPOCH_MASK;
	__u64 want, old, seen;

	if (ns > VIOMMU_IMAX_NS_MASK)
		ns = VIOMMU_IMAX_NS_MASK;
	want = tag << VIOMMU_IMAX_NS_BITS | ns;
	old = *(volatile __u64 *)w;
	for (int i = 0; i < VIOMMU_IMAX_TRIES; i++) {
		__u64 old_tag = old >> VIOMMU_IMAX_NS_BITS;

		/* a newer epoch's slot (this CPU read the epoch late): keep it */
		if (viommu_imax_newer(old_tag, tag))
			return;
		if (old_tag == tag && (old & VIOMMU_IMAX_NS_MASK) >= ns)
			return;
		seen = VIOMMU_CMPXCHG(w, old, want);
		if (seen == old)
			return;
		old = seen;
	}
}

/* The largest latency of the closed interval epoch, 0 if it had none */
static inline __attribute__((always_inline)) __u64
viommu_interval_max_read(const struct viommu_interval_max *m, __u64 epoch)
{
	__u64 w = m->slot[epoch & 1];

	return w >> VIOMMU_IMAX_NS_BITS == (epoch & VIOMMU_IMAX_EPOCH_MASK) ?
		w & VIOMMU_IMAX_NS_MASK : 0;
}

/*
 * Per VM (iommufd context): one copy shared by all CPUs, updated with
 * atomic adds (as BCC's libbpf-tools do), so its size does not multiply by
 * the number of CPUs. A VM is named by its context id; its two processes
 * travel with the counters so a VM that has exited can still be reported:
 * the opener of /dev/iommu (the context's owner_tgid) and the VMM, the
 * process that allocated its vIOMMU (0 until one is known). With libvirt
 * they differ: libvirtd opens the file and passes it to QEMU.
 */
struct viommu_vm_stats {
	__s32 opener_pid;
	__s32 vmm_pid;
#define VIOMMU_X_FIELD(name) __u64 name;
	VIOMMU_VM_COUNTERS(VIOMMU_X_FIELD)
#undef VIOMMU_X_FIELD
	struct viommu_hist lat[VIOMMU_LAT_KINDS];
	struct viommu_interval_max interval_max[VIOMMU_LAT_KINDS];
};

struct viommu_key {
	__u32 ictx_id;
	__u32 viommu_id;
};

/* A per-vIOMMU histogram: an id and its alloc time name one vIOMMU */
struct viommu_lat_key {
	__u32 ictx_id;
	__u32 viommu_id;
	__u64 alloc_ns;
};

/*
 * Per vIOMMU counters, shared by all CPUs; the histogram of its guest
 * invalidations is in a map of its own, filled only when asked (lat -V).
 */
struct viommu_viommu_stats {
	__s32 opener_pid;	/* of its VM's context */
	__s32 vmm_pid;		/* the process that allocated it, 0 if not known */
	__u32 vmid;
	__u32 pad;
	/*
	 * Last alloc and destroy times: gone if destroyed after the alloc;
	 * 0 for an alloc before the tool started. vmid_ns: last VMID assign.
	 */
	__u64 alloc_ns;
	__u64 destroy_ns;
	__u64 vmid_ns;
	__u64 guest_invals;
	__u64 guest_inval_entries;
	__u64 vmid_invals;
	__u64 vevents_queued;
	__u64 vevents_lost;
};

/*
 * Updates the programs could not make, by reason: the map was full (or the
 * kernel had no memory for an entry). Counted per CPU, never silent.
 */
#define VIOMMU_DROP_REASONS(X)						\
	X(VM_STATS, "vm_stats")		/* a VM's counters: not counted */ \
	X(VIOMMU_STATS, "viommu_stats")	/* a vIOMMU's counters */	\
	X(VIOMMU_LAT, "viommu_lat")	/* a per-vIOMMU latency sample */ \
	X(FAULT_STARTS, "fault_starts")	/* a fault's start: no latency */ \
	X(TASK_STORAGE, "task_storage")	/* an invalidation's start */	\
	X(RINGBUF, "ringbuf")		/* a trace record */		\
	X(VM_IDENTS, "vm_idents")	/* a VM's VMM: -p, names miss it */

enum viommu_drop_reason {
#define VIOMMU_X_ENUM(name, str) VIOMMU_DROP_##name,
	VIOMMU_DROP_REASONS(VIOMMU_X_ENUM)
#undef VIOMMU_X_ENUM
	VIOMMU_DROPS,
};

struct viommu_drops {
	__u64 n[VIOMMU_DROPS];
};

/*
 * Who a VM is, by context id: its VMM (the process that allocated a vIOMMU
 * of it) and that process's name, taken in it. Set by the programs at
 * IOMMU_VIOMMU_ALLOC and by the tool from fdinfo for VMs older than it;
 * -p matches a VM by its opener or this VMM. Before any vIOMMU, vmm_pid is
 * 0 and comm is the opener's, if the opener was seen at work.
 */
struct viommu_vm_ident {
	__s32 vmm_pid;
	__u32 pad;
	char comm[VIOMMU_COMM_LEN];
};

/*
 * The start time of a fault by its group, kept until the response. The
 * kernel answers some faults itself, untraced (auto-response, the fault
 * queue destroyed): their entries stay until the tool forgets their VM.
 */
struct viommu_start_key {
	__u64 id;
	__u32 kind;
	__u32 ictx_id;
};

/*
 * Every event the programs attach to, in one list for the BPF programs,
 * the tool's check of the kernel (required events, their BTF arguments),
 * trace's and topo's names and filters, and the docs (checked by
 * tests/unit/viommu_events.sh). An event that makes a record:
 *
 *   X(KIND, name, tracepoint, handler, flags, btf_stub, (args...))
 *
 * KIND: enum viommu_event_kind is VIOMMU_EV_<KIND>, in this order (its
 * bit in emit_kinds); name: trace's EVENT column and JSON "event";
 * handler: the BPF function that takes it (ctx, btf, kind); flags:
 * VIOMMU_EVF_*; btf_stub: the kernel's __bpf_trace_<stub> (the event's or
 * its class's), whose BTF names the arguments; args: the arguments the
 * handler reads, by position, as the kernel names them.
 */
#define VIOMMU_EVF_LATENCY	0x1	/* at the end of a call, with its latency */
#define VIOMMU_EVF_TOPO		0x2	/* an object comes or goes: topo --watch */

#define VIOMMU_EVENT_KINDS(X)						\
	X(VIOMMU_ALLOC, "viommu_alloc", iommufd_viommu_alloc, on_viommu,	\
	  VIOMMU_EVF_TOPO, "iommufd_viommu_class", ("viommu"))		\
	X(VIOMMU_DESTROY, "viommu_destroy", iommufd_viommu_destroy, on_viommu, \
	  VIOMMU_EVF_TOPO, "iommufd_viommu_class", ("viommu"))		\
	X(VDEVICE_ALLOC, "vdevice_alloc", iommufd_vdevice_alloc, on_vdevice, \
	  VIOMMU_EVF_TOPO, "iommufd_vdevice_class", ("vdev"))		\
	X(VDEVICE_DESTROY, "vdevice_destroy", iommufd_vdevice_destroy,	\
	  on_vdevice, VIOMMU_EVF_TOPO, "iommufd_vdevice_class", ("vdev"))	\
	X(NESTED_ALLOC, "hwpt_nested_alloc", iommufd_hwpt_nested_alloc,	\
	  on_nested, VIOMMU_EVF_TOPO, "iommufd_hwpt_nested_class", ("nested")) \
	X(NESTED_DESTROY, "hwpt_nested_destroy", iommufd_hwpt_nested_destroy, \
	  on_nested, VIOMMU_EVF_TOPO, "iommufd_hwpt_nested_class", ("nested")) \
	X(HW_QUEUE_ALLOC, "hw_queue_alloc", iommufd_hw_queue_alloc,		\
	  on_hw_queue, VIOMMU_EVF_TOPO, "iommufd_hw_queue_class", ("hw_queue")) \
	X(HW_QUEUE_DESTROY, "hw_queue_destroy", iommufd_hw_queue_destroy,	\
	  on_hw_queue, VIOMMU_EVF_TOPO, "iommufd_hw_queue_class", ("hw_queue")) \
	X(VEVENTQ_ALLOC, "veventq_alloc", iommufd_veventq_alloc, on_veventq, \
	  VIOMMU_EVF_TOPO, "iommufd_veventq_class", ("veventq"))		\
	X(VEVENTQ_DESTROY, "veventq_destroy", iommufd_veventq_destroy,	\
	  on_veventq, VIOMMU_EVF_TOPO, "iommufd_veventq_class", ("veventq")) \
	X(GUEST_INVAL, "guest_inval", iommufd_cache_invalidate_end,		\
	  on_inval_end, VIOMMU_EVF_LATENCY, "iommufd_cache_invalidate_end",	\
	  ("ictx", "pt_id", "viommu_id", "entry_num", "done_num", "result",	\
	   "seq", "start_ns"))						\
	X(S2_INVAL, "s2_inval", iommufd_s2_invalidate_end, on_s2_end,	\
	  VIOMMU_EVF_LATENCY, "iommufd_s2_invalidate_end",			\
	  ("ictx", "parent", "unmapped", "result", "seq", "start_ns"))	\
	X(VMID_ASSIGN, "vmid_assign", iommufd_viommu_vmid_assign, on_vmid,	\
	  VIOMMU_EVF_TOPO, "iommufd_viommu_vmid_class",			\
	  ("viommu", "vmid", "guest_id"))					\
	X(VMID_RELEASE, "vmid_release", iommufd_viommu_vmid_release, on_vmid, \
	  VIOMMU_EVF_TOPO, "iommufd_viommu_vmid_class",			\
	  ("viommu", "vmid", "guest_id"))					\
	X(VMID_INVAL, "vmid_inval", iommufd_viommu_vmid_invalidate, on_vmid, \
	  0, "iommufd_viommu_vmid_invalidate", ("viommu", "vmid", "iova", "size")) \
	X(VEVENT, "vevent", iommufd_vevent_report, on_vevent, 0,		\
	  "iommufd_vevent_report",						\
	  ("viommu", "type", "virt_id", "veventq", "outcome"))		\
	X(FAULT, "fault", iommufd_fault_deliver, on_fault, 0,		\
	  "iommufd_fault_deliver",						\
	  ("fault", "idev", "group", "virt_id", "virt_id_valid"))		\
	X(FAULT_RESPONSE, "fault_response", iommufd_fault_respond,		\
	  on_fault_response, VIOMMU_EVF_LATENCY, "iommufd_fault_respond",	\
	  ("fault", "idev", "group", "code"))

/*
 * Events that only time a call for the end event of KIND and make no
 * record of their own: X(tracepoint, handler, KIND, btf_stub, (args...)).
 * The end events carry their start time, so only trace loads these (for
 * an end event enabled mid-call).
 */
#define VIOMMU_START_EVENTS(X)						\
	X(iommufd_cache_invalidate_start, on_inval_start, GUEST_INVAL,	\
	  "iommufd_cache_invalidate_start",					\
	  ("ictx", "pt_id", "viommu_id", "data_type", "entry_num", "seq"))	\
	X(iommufd_s2_invalidate_start, on_s2_start, S2_INVAL,		\
	  "iommufd_s2_invalidate_start",					\
	  ("ictx", "parent", "iova", "length", "seq"))

/* (a, b) -> a, b: the args column of the lists above */
#define VIOMMU_UNPAREN(...)	__VA_ARGS__

/*
 * An id that is not there: all ones, as the kernel marks a vEVENT about
 * no single device; the BPF side also records a fault's virt_id this way
 * when the kernel says it has none (virt_id_valid 0)
 */
#define VIOMMU_ID_NONE	(~0ULL)

/* Every record the trace ring buffer carries */
enum viommu_event_kind {
#define VIOMMU_X_EV_ENUM(KIND, name, tp, fn, flags, stub, args) VIOMMU_EV_##KIND,
	VIOMMU_EVENT_KINDS(VIOMMU_X_EV_ENUM)
#undef VIOMMU_X_EV_ENUM
	VIOMMU_EV_KINDS,
};
_Static_assert(VIOMMU_EV_KINDS <= 32, "emit_kinds has a bit per kind");

/*
 * One trace record. obj_id and arg[] depend on the kind; see
 * viommu_event_format() in the tool for their names.
 */
struct viommu_event {
	__u64 ts_ns;
	__u64 lat_ns;
	__u64 arg[3];
	__u32 kind;
	__u32 ictx_id;
	__s32 opener_pid;	/* the VM's two processes (struct viommu_vm_stats) */
	__s32 vmm_pid;
	__s32 tgid;		/* the task the event fired in */
	__u32 viommu_id;
	__u32 obj_id;
	__s32 result;
	__u32 cpu;
	char comm[VIOMMU_COMM_LEN];
};

#endif /* VIOMMU_H */
