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
 * The largest latency in the reader's interval: slot (epoch & 1) holds the
 * maximum of epoch. The reader moves the programs' epoch on at the end of
 * an interval, then reads the slot of the epoch it closed, which no
 * program writes any more; the other slot restarts at the next epoch.
 */
struct viommu_interval_max {
	__u64 epoch[2];
	__u64 max_ns[2];
};

/*
 * Per VM (iommufd context): one copy shared by all CPUs, updated with
 * atomic adds (as BCC's libbpf-tools do), so its size does not multiply by
 * the number of CPUs. A VM is named by its context id; owner_tgid and
 * kvm_pid travel with the counters so a VM that has exited can still be
 * reported.
 */
struct viommu_vm_stats {
	__s32 owner_tgid;
	__s32 kvm_pid;
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
	__s32 owner_tgid;
	__u32 vmid;
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
	X(RINGBUF, "ringbuf")		/* a trace record */

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
 * The start time of a fault by its group, kept until the response. The
 * kernel answers some faults itself, untraced (auto-response, the fault
 * queue destroyed): their entries stay until the tool forgets their VM.
 */
struct viommu_start_key {
	__u64 id;
	__u32 kind;
	__u32 ictx_id;
};

/* Every event the trace ring buffer carries */
enum viommu_event_kind {
	VIOMMU_EV_VIOMMU_ALLOC,
	VIOMMU_EV_VIOMMU_DESTROY,
	VIOMMU_EV_VDEVICE_ALLOC,
	VIOMMU_EV_VDEVICE_DESTROY,
	VIOMMU_EV_NESTED_ALLOC,
	VIOMMU_EV_NESTED_DESTROY,
	VIOMMU_EV_HW_QUEUE_ALLOC,
	VIOMMU_EV_HW_QUEUE_DESTROY,
	VIOMMU_EV_VEVENTQ_ALLOC,
	VIOMMU_EV_VEVENTQ_DESTROY,
	VIOMMU_EV_GUEST_INVAL,		/* at the end, with the latency */
	VIOMMU_EV_S2_INVAL,		/* at the end, with the latency */
	VIOMMU_EV_VMID_ASSIGN,
	VIOMMU_EV_VMID_RELEASE,
	VIOMMU_EV_VMID_INVAL,
	VIOMMU_EV_VEVENT,
	VIOMMU_EV_FAULT,
	VIOMMU_EV_FAULT_RESPONSE,	/* with the fault-to-response time */
	VIOMMU_EV_KINDS,
};

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
	__s32 owner_tgid;
	__s32 tgid;
	__u32 viommu_id;
	__u32 obj_id;
	__s32 result;
	__u32 cpu;
	char comm[VIOMMU_COMM_LEN];
};

#endif /* VIOMMU_H */
