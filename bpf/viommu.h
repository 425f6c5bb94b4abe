/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * viommu.h - what viommu.bpf.c and the viommu tool share: map keys and
 * values, and the record the trace ring buffer carries.
 */
#ifndef VIOMMU_H
#define VIOMMU_H

#define VIOMMU_HIST_SLOTS	32
#define VIOMMU_COMM_LEN		16

/* Latencies the programs measure, start event to end event */
enum viommu_lat_kind {
	VIOMMU_LAT_GUEST_INVAL,	/* iommufd_cache_invalidate_start -> _end */
	VIOMMU_LAT_S2_INVAL,	/* iommufd_s2_invalidate_start -> _end */
	VIOMMU_LAT_FAULT,	/* iommufd_fault_deliver -> _respond */
	VIOMMU_LAT_KINDS,
};

struct viommu_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u32 slots[VIOMMU_HIST_SLOTS];	/* log2 of microseconds */
};

/*
 * Per VM (iommufd context) counters, one copy per CPU. A VM is named by its
 * context id; owner_tgid and kvm_pid travel with the counters so a VM that
 * has exited can still be reported.
 */
struct viommu_vm_stats {
	__s32 owner_tgid;
	__s32 kvm_pid;
	__u64 guest_invals;
	__u64 guest_inval_entries;
	__u64 guest_inval_errors;
	__u64 s2_invals;
	__u64 vmid_invals;	/* per-VMID invalidations the S2 unmaps caused */
	__u64 vevents_queued;
	__u64 vevents_lost;	/* queue full, no memory, or no queue */
	__u64 faults;
	__u64 fault_responses;
	__u64 viommus_allocated;
	__u64 viommus_destroyed;
	struct viommu_hist lat[VIOMMU_LAT_KINDS];
};

struct viommu_key {
	__u32 ictx_id;
	__u32 viommu_id;
};

/* Per vIOMMU counters, one copy per CPU */
struct viommu_viommu_stats {
	__s32 owner_tgid;
	__u32 vmid;
	/* Last alloc and destroy times: gone if destroyed after the alloc */
	__u64 alloc_ns;
	__u64 destroy_ns;
	__u64 guest_invals;
	__u64 guest_inval_entries;
	__u64 vmid_invals;
	__u64 vevents_queued;
	__u64 vevents_lost;
	struct viommu_hist guest_inval;
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
