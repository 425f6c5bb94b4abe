/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Declarations shared by the viommu tool's commands.
 */
#ifndef VIOMMU_TOOL_H
#define VIOMMU_TOOL_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "../../bpf/viommu.h"

/*
 * 2: log-linear histograms (schema 1 had log2 ones); 3: a VM's processes
 * are opener_pid and vmm_pid (2 had pid, the opener, and kvm_pid, the VMM)
 */
#define VIOMMU_SCHEMA_VERSION	3
#define RECORD_TYPE		"viommu-record"
#define VIOMMU_VERSION		"2.0"

/* Exit codes: 1 for a runtime failure, 2 for bad usage or bad input */
#define EXIT_USAGE	2

/* Options every command takes */
struct common_opts {
	int pid;		/* -p: only VMs whose opener or VMM has this tgid */
	unsigned int vm;	/* --vm: only this iommufd context */
	bool verbose;		/* -v: libbpf debug output */
	bool json;		/* --json */
	bool ms;		/* -m: milliseconds */
	bool per_viommu;	/* count guest invalidations per vIOMMU too */
	unsigned int max_vms;	/* --max-vms: map sizes, 0 = default */
};

/* Map sizes: VMs, and vIOMMUs (and pending faults) per VM on average */
#define VIOMMU_DEFAULT_MAX_VMS	4096
#define VIOMMU_PER_VM		4

extern struct common_opts common;
extern volatile sig_atomic_t exiting;

/* Common argp options (ids >= 0x1000 are long-only) */
#define OPT_VM		0x1000
#define OPT_JSON	0x1001
#define OPT_PER_VIOMMU	0x1002
#define OPT_MAX_VMS	0x1003
/*
 * glibc's argp has a hidden --HANG[=SECS] that sleeps (an hour by default,
 * for debugging argp): "viommu top --HA" hung. A long option of the same
 * name declared by the command comes first, so each command declares this
 * one and refuses it (found by tests/fuzz/fuzz_cli.c).
 */
#define OPT_NO_HANG	0x1004
#define NO_HANG_OPTION	{ "HANG", OPT_NO_HANG, "SECS", OPTION_HIDDEN | OPTION_ARG_OPTIONAL, NULL, 0 }
extern const struct argp common_argp;
/*
 * argp_error() for option parsers, as "return usage_error(...)": it exits
 * with EXIT_USAGE, or under ARGP_NO_EXIT (cli_argp_flags, for the fuzzer)
 * returns EINVAL so argp_parse() stops there.
 */
error_t usage_error(const struct argp_state *state, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
extern unsigned int cli_argp_flags;	/* given to every argp_parse() */
extern bool cli_parse_only;		/* commands return after parsing */
int parse_interval_count(struct argp_state *state, const char *arg,
			 double *interval, long *count);

/* --- hist.c: log-linear latency histograms (bpf/viommu.h) --- */
double hist_mean_us(const struct viommu_hist *h);
void hist_merge(struct viommu_hist *dst, const struct viommu_hist *src);
void hist_sub(struct viommu_hist *dst, const struct viommu_hist *a,
	      const struct viommu_hist *b);
double hist_percentile_us(const struct viommu_hist *h, double pct);
void hist_print(FILE *out, const struct viommu_hist *h);
struct json_object *hist_to_json(const struct viommu_hist *h);
int hist_from_json(struct json_object *obj, struct viommu_hist *h,
		   char *err, size_t errlen);
/*
 * What bucket b (0 <= b < hist_nr_buckets()) of h holds: samples from
 * *low_ns up to, not including, *high_ns (INFINITY for the last bucket).
 */
void hist_bucket_bounds_ns(const struct viommu_hist *h, unsigned int b,
			   double *low_ns, double *high_ns);
int hist_nr_buckets(void);	/* VIOMMU_HIST_BUCKETS */
uint64_t hist_bucket_count(const struct viommu_hist *h, int b);

/* Drop reasons' names, and the drops as JSON / one line of text */
extern const char *const viommu_drop_names[VIOMMU_DROPS];
struct json_object *drops_to_json(const struct viommu_drops *d);
void drops_format(char *buf, size_t len, const struct viommu_drops *d);

/* --- snapshot.c: iommufd objects from /proc/PID/fdinfo --- */
struct snap_object {
	unsigned int id;
	char type[16];
	/* links and attributes; absent ones are 0 */
	unsigned int hwpt, ioas, parent, viommu, dev, vmid, depth, index;
	unsigned int nest_parent, sub_type;
	int vmm_pid;		/* vIOMMU: the process that allocated it */
	uint64_t virt_id, base_addr, length;
	char dev_name[64];
};

struct snap_ctx {
	unsigned int ictx_id;
	int owner_tgid;		/* the opener of /dev/iommu */
	int vmm_pid;		/* its first vIOMMU's VMM, 0 if none */
	int pid;		/* a process holding the file */
	int fd;
	char comm[VIOMMU_COMM_LEN];	/* the VMM's, else the opener's, else the holder's */
	int nr_objects;
	struct snap_object *objects;
};

struct snapshot {
	int nr_ctxs;
	struct snap_ctx *ctxs;
	int denied;		/* processes whose fds we may not read */
	int denied_pid;		/* the first of them */
};

int snap_parse_fdinfo(const char *text, struct snap_ctx *ctx);
/* only_pid: only contexts whose opener or a vIOMMU's VMM is only_pid */
int snapshot_take(struct snapshot *snap, int only_pid);
/* the same without the warning about processes out of reach */
int snapshot_scan(struct snapshot *snap, int only_pid);
bool snap_ctx_has_pid(const struct snap_ctx *ctx, int pid);
void snapshot_free(struct snapshot *snap);
void snapshot_warn_denied(const struct snapshot *snap);
const struct snap_ctx *snapshot_find(const struct snapshot *snap,
				     unsigned int ictx_id);
int snap_count(const struct snap_ctx *ctx, const char *type);

/* Object types whose sub-type is a uAPI enum (or a selftest value) */
enum iommufd_type_class {
	IOMMUFD_TYPE_VIOMMU,	/* enum iommu_viommu_type */
	IOMMUFD_TYPE_VEVENTQ,	/* enum iommu_veventq_type */
	IOMMUFD_TYPE_HW_QUEUE,	/* enum iommu_hw_queue_type */
};
/* The uAPI name of a type ("selftest", "arm_smmuv3"), or its number */
const char *iommufd_type_name(enum iommufd_type_class cls, uint64_t type,
			      char *buf, size_t len);
/* JSON: an id as an unsigned number, or null for VIOMMU_ID_NONE */
struct json_object *json_id(uint64_t id);
/* Wall-clock milliseconds of a bpf_ktime_get_ns() time (CLOCK_MONOTONIC) */
double ktime_to_unix_ms(uint64_t ktime_ns);

/* --- events.c: the events of VIOMMU_EVENT_KINDS (bpf/viommu.h) --- */
struct viommu_event_info {
	const char *name;	/* trace's EVENT, JSON "event" */
	const char *tracepoint;	/* in the iommufd system */
	unsigned int flags;	/* VIOMMU_EVF_* */
};
#define VIOMMU_X_COUNT(...)	+1
#define VIOMMU_START_KINDS	(0 VIOMMU_START_EVENTS(VIOMMU_X_COUNT))
#define VIOMMU_TRACEPOINTS	(VIOMMU_EV_KINDS + VIOMMU_START_KINDS)
extern const struct viommu_event_info viommu_events[VIOMMU_EV_KINDS];
extern const char *const viommu_start_events[VIOMMU_START_KINDS];
const char *viommu_tracepoint(unsigned int i);	/* i < VIOMMU_TRACEPOINTS */
unsigned int viommu_event_mask(unsigned int flags);
int viommu_event_kind(const char *name);

/* --- bpf.c: loading the programs and reading their maps --- */
struct viommu_bpf;

struct vm_row {
	unsigned int ictx_id;
	struct viommu_vm_stats s;
};

struct viommu_row {
	struct viommu_key key;
	bool gone;
	struct viommu_viommu_stats s;
	struct viommu_hist guest_inval;	/* only with per_viommu */
};

struct viommu_bpf *viommu_bpf_open(bool emit_events);
void viommu_bpf_close(struct viommu_bpf *vb);
bool viommu_bpf_module_gone(const struct viommu_bpf *vb);
int viommu_bpf_read_vms(struct viommu_bpf *vb, struct vm_row **rows);
int viommu_bpf_read_viommus(struct viommu_bpf *vb, struct viommu_row **rows);
void viommu_bpf_forget_vm(struct viommu_bpf *vb, unsigned int ictx_id);
int viommu_bpf_forget_vm_seen(struct viommu_bpf *vb, unsigned int ictx_id,
			      const struct viommu_vm_stats *seen);
void viommu_bpf_forget_viommu(struct viommu_bpf *vb, const struct viommu_row *row);
int viommu_vm_name(struct viommu_bpf *vb, unsigned int ictx_id, int opener,
		   int vmm, char *buf, size_t len);
struct json_object *viommu_bpf_drops_json(struct viommu_bpf *vb, struct viommu_drops *d);
int viommu_bpf_read_drops(struct viommu_bpf *vb, struct viommu_drops *out);
bool viommu_vm_gone(const struct viommu_vm_stats *s);
bool viommu_vm_processes_gone(int opener, int vmm);
/* What trace and topo --watch ask of the ring buffer */
struct viommu_events_opts {
	unsigned int viommu_id;		/* only records of this vIOMMU id, 0 = all */
	unsigned int kinds;		/* bit per enum viommu_event_kind, 0 = all */
	unsigned int ringbuf_pages;	/* ring buffer size, 0 = 4 MiB */
};
struct viommu_bpf *viommu_bpf_open_events(const struct viommu_events_opts *eo,
					  ring_buffer_sample_fn fn, void *ctx,
					  struct ring_buffer **rb);
void viommu_vm_stats_add(struct viommu_vm_stats *d,
			 const struct viommu_vm_stats *s);
uint64_t viommu_bpf_end_interval(struct viommu_bpf *vb);
uint64_t viommu_interval_max_ns(const struct viommu_vm_stats *s, int kind,
				uint64_t epoch);
const char *viommu_bpf_attach_mode(struct viommu_bpf *vb);
int viommu_bpf_prog_stats(struct viommu_bpf *vb, uint64_t *run_ns,
			  uint64_t *run_cnt);
int viommu_check_environment(void);
/* btf_check.c: the tracepoint arguments and fields the programs read */
struct btf;
int viommu_check_btf(const struct btf *btf, const char *release);
/* VIOMMU_BTF=FILE: check and relocate against FILE, not the kernel's BTF */
const char *viommu_btf_override(void);
void comm_of(int pid, char *buf, size_t len);

/* --- trace.c: what topo --watch shares with trace --- */
error_t parse_ringbuf_pages(struct argp_state *state, const char *arg,
			    unsigned int *ringbuf_pages);
struct json_object *trace_json_line(const char *type, double ts_unix_ms);
double now_unix_ms(void);

/* --- the commands --- */
int cmd_top(int argc, char **argv);
int cmd_lat(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* record.c: the comparison itself, for the unit tests */
struct compare_opts {
	double threshold_pct;	/* regression when new > base by this much */
	double min_delta_us;	/* ... and by at least this many us */
	unsigned long min_samples;
};
int compare_records(struct json_object *base, struct json_object *new,
		    const struct compare_opts *opts, FILE *out,
		    char *err, size_t errlen);

extern const char *const lat_kind_names[VIOMMU_LAT_KINDS];

/*
 * --- delta.c: the previous reading per key and what changed since (top,
 * lat). A reading is a struct of size bytes with u64 counters and
 * histograms at the offsets given; other fields are copied as read.
 */
struct delta_layout {
	size_t size;
	const size_t *counters;
	int ncounters;
	const size_t *hists;	/* struct viommu_hist */
	int nhists;
};
enum delta_status {
	DELTA_NONE,	/* no memory: nothing known */
	DELTA_FIRST,	/* the key's first reading */
	DELTA_NEXT,	/* the difference from the previous reading */
	DELTA_RESTART,	/* a counter went backwards: the key started again */
};
struct delta_set;
/* zero_based: the counters start at 0 inside the tool's life (BPF maps) */
struct delta_set *delta_set_new(size_t key_size, const struct delta_layout *layout,
				bool zero_based);
void delta_set_free(struct delta_set *s);
size_t delta_set_size(const struct delta_set *s);
/*
 * Take this reading of key; delta (may be NULL) gets a copy of it whose
 * counters and histograms are what changed since the previous reading:
 * the reading itself for a first or restarted key of a zero-based set,
 * zeros (and no rate) in other sets.
 */
enum delta_status delta_take(struct delta_set *s, const void *key, const void *reading,
			     void *delta);
bool delta_has_rate(const struct delta_set *s, enum delta_status st);
/* n per second over secs, or -1 when the delta has no rate */
double delta_rate(const struct delta_set *s, enum delta_status st, uint64_t n, double secs);
const void *delta_last(struct delta_set *s, const void *key);	/* NULL if none */
void delta_forget(struct delta_set *s, const void *key);
int delta_sweep(struct delta_set *s);	/* forget keys not taken since the last sweep */
extern const struct delta_layout delta_vm_layout;	/* struct viommu_vm_stats */
extern const struct delta_layout delta_viommu_layout;	/* struct viommu_row */

/* --- cli.c: shared by the commands --- */
/* JSON output: one object per line, flushed */
void json_emit(struct json_object *obj);
/* CLOCK_MONOTONIC in seconds */
double monotonic_s(void);
/* CLOCK_REALTIME in milliseconds since the epoch */
int64_t realtime_ms(void);
/* a task's comm made printable and valid UTF-8 */
void name_sanitize(char *dst, size_t len, const char *src);

#endif /* VIOMMU_TOOL_H */
