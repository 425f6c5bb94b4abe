// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu_logic - unit tests of the viommu tool's pure logic: histogram
 * percentiles and text, the histogram JSON, the fdinfo parser, compare.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

/*
 * The per-interval maximum's compare-and-swap (bpf/viommu.h), with a hook
 * that runs "another CPU's" update between this CPU's load and its swap
 */
static __u64 imax_cmpxchg(__u64 *p, __u64 old, __u64 new);
#define VIOMMU_CMPXCHG(p, old, new)	imax_cmpxchg(p, old, new)
#include "../../tools/viommu/viommu.h"
#include "../lib/tap.h"

static int close_to(double got, double want)
{
	return got > want - 1e-6 && got < want + 1e-6;
}

/* n samples of ns each, binned as the BPF programs bin them */
static void hist_add_ns(struct viommu_hist *h, uint64_t ns, uint64_t n)
{
	if (!h->unit_ns)
		h->unit_ns = VIOMMU_HIST_UNIT_US;
	h->slots[viommu_hist_bucket(ns, h->unit_ns)] += n;
	h->count += n;
	h->sum_ns += ns * n;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

static void test_buckets(void)
{
	struct viommu_hist us = { .unit_ns = VIOMMU_HIST_UNIT_US };
	struct viommu_hist ms = { .unit_ns = VIOMMU_HIST_UNIT_MS };
	double low, high, worst = 0;
	unsigned int b, bad = 0;

	/* every bucket's bounds hold the values binned into it, up to 60 s */
	for (uint64_t ns = 1; ns < 60000000000ULL; ns += ns / 37 + 1) {
		b = viommu_hist_bucket(ns, us.unit_ns);
		hist_bucket_bounds_ns(&us, b, &low, &high);
		if (ns < low || ns >= high)
			bad++;
		if (ns > 10000 && (high - low) / low > worst)
			worst = (high - low) / low;
	}
	tap_is(bad, 0, "each value lies within its bucket's bounds (hist_bucket_bounds_ns)");
	tap_ok(worst <= 1.0 / 8 + 1e-9, "buckets are at most 1/8 of their value wide: %.4f", worst);
	hist_bucket_bounds_ns(&us, VIOMMU_HIST_BUCKETS - 1, &low, &high);
	tap_ok(isinf(high) && viommu_hist_bucket(3600000000000ULL, us.unit_ns) == VIOMMU_HIST_BUCKETS - 1,
	       "the last bucket is open-ended and holds an hour");
	/* powers of two of the unit are bucket boundaries: exact display rows */
	hist_bucket_bounds_ns(&us, viommu_hist_bucket(64000, us.unit_ns), &low, &high);
	tap_ok(close_to(low, 64000), "64 us starts a bucket on the us grid: %.3f", low);
	hist_bucket_bounds_ns(&ms, viommu_hist_bucket(2000000, ms.unit_ns), &low, &high);
	tap_ok(close_to(low, 2000000), "2 ms starts a bucket on the ms grid: %.3f", low);
	tap_ok(viommu_hist_bucket(65000, us.unit_ns) != viommu_hist_bucket(84500, us.unit_ns),
	       "65 us and 84.5 us (1.3x, one power of two) fall in different buckets");
}

static void test_percentiles(void)
{
	struct viommu_hist h = {}, a = {}, d;
	double p50, p99;

	tap_is(hist_percentile_us(&h, 50) < 0, 1, "an empty histogram has no percentile");
	/* 1000 samples evenly from 100 to 199.9 us */
	for (int i = 0; i < 1000; i++)
		hist_add_ns(&h, 100000 + i * 100, 1);
	p50 = hist_percentile_us(&h, 50);
	p99 = hist_percentile_us(&h, 99);
	tap_ok(p50 > 150 * 0.97 && p50 < 150 * 1.03, "p50 of 100..200 us within 3%%: %.2f", p50);
	tap_ok(p99 > 199 * 0.97 && p99 <= 199.9, "p99 within 3%%, at most max: %.2f", p99);
	tap_ok(close_to(hist_mean_us(&h), 149.95), "the mean is exact: %.4f", hist_mean_us(&h));
	/* 90 fast (1 us) and 10 slow (1.5 ms) */
	memset(&h, 0, sizeof(h));
	hist_add_ns(&h, 1000, 90);
	hist_add_ns(&h, 1500000, 10);
	tap_ok(hist_percentile_us(&h, 50) <= 1.2, "p50 sits with the fast 90%%: %.3f",
	       hist_percentile_us(&h, 50));
	tap_ok(hist_percentile_us(&h, 99) >= 1400 && hist_percentile_us(&h, 99) <= 1500,
	       "p99 sits with the slow 10%%, at most max: %.1f", hist_percentile_us(&h, 99));

	a = h;
	hist_add_ns(&a, 1500000, 5);
	hist_sub(&d, &a, &h);
	tap_ok(d.count == 5 && d.slots[viommu_hist_bucket(1500000, d.unit_ns)] == 5 &&
	       d.slots[viommu_hist_bucket(1000, d.unit_ns)] == 0 && d.sum_ns == 7500000,
	       "hist_sub leaves the interval's samples");
}

static char *print_of(const struct viommu_hist *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	hist_print(f, h);
	fclose(f);
	return buf;
}

static void test_print(void)
{
	struct viommu_hist h = {}, ms = { .unit_ns = VIOMMU_HIST_UNIT_MS };
	const char *want =
		"     usecs               : count    distribution\n"
		"         4 -> 7          : 2        |********************                    |\n"
		"         8 -> 15         : 0        |                                        |\n"
		"        16 -> 31         : 4        |****************************************|\n";
	const char *want_ms =
		"     msecs               : count    distribution\n"
		"         0 -> 1          : 1        |****************************************|\n"
		"         2 -> 3          : 1        |****************************************|\n";
	char *buf;

	/* finer buckets, the same rows: 4.0 and 7.99 us, 16.0 to 31.9 us */
	hist_add_ns(&h, 4000, 1);
	hist_add_ns(&h, 7990, 1);
	hist_add_ns(&h, 16000, 2);
	hist_add_ns(&h, 31900, 2);
	buf = print_of(&h);
	tap_ok(!strcmp(buf, want), "print_log2_hist layout, one row per power of two, empty ends trimmed");
	if (strcmp(buf, want))
		printf("# got:\n%s", buf);
	free(buf);
	/* -m: 1.99 ms is in "0 -> 1", 2.01 ms in "2 -> 3" (not 1024 us rows) */
	hist_add_ns(&ms, 1990000, 1);
	hist_add_ns(&ms, 2010000, 1);
	buf = print_of(&ms);
	tap_ok(!strcmp(buf, want_ms), "-m: rows of true milliseconds");
	if (strcmp(buf, want_ms))
		printf("# got:\n%s", buf);
	free(buf);
}

static void test_hist_json(void)
{
	struct viommu_hist h = {}, back;
	struct json_object *o;
	char err[200] = "";

	hist_add_ns(&h, 3000, 3);
	hist_add_ns(&h, 150000, 1);
	o = hist_to_json(&h);
	tap_is(hist_from_json(o, &back, err, sizeof(err)), 0, "histogram JSON reads back");
	tap_ok(!memcmp(&h, &back, sizeof(h)), "... equal to what was written");
	json_object_put(o);
	o = json_tokener_parse("{\"count\":1,\"sum_ns\":1,\"max_ns\":1,\"bucket_unit_ns\":1000,"
			       "\"sub_buckets\":8,\"buckets\":[[3,1],[300,2]]}");
	tap_is(hist_from_json(o, &back, err, sizeof(err)), -1, "a bucket beyond the range is refused");
	tap_ok(strstr(err, "bucket entry 1") != NULL, "... naming the entry: %s", err);
	json_object_put(o);
	o = json_tokener_parse("{\"count\":1,\"sum_ns\":1,\"max_ns\":1,\"bucket_unit_ns\":1000,"
			       "\"sub_buckets\":16,\"buckets\":[]}");
	tap_is(hist_from_json(o, &back, err, sizeof(err)), -1, "another bucket layout is refused");
	json_object_put(o);
}

static void test_drops(void)
{
	struct viommu_drops d = {};
	struct json_object *o;
	char buf[160];

	drops_format(buf, sizeof(buf), &d);
	tap_ok(!strcmp(buf, "0"), "no drops: \"0\" (%s)", buf);
	d.n[VIOMMU_DROP_VM_STATS] = 6;
	d.n[VIOMMU_DROP_FAULT_STARTS] = 1;
	drops_format(buf, sizeof(buf), &d);
	tap_ok(!strcmp(buf, "7 (vm_stats 6, fault_starts 1)"), "drops by reason: %s", buf);
	o = drops_to_json(&d);
	tap_ok(!strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		       "{\"vm_stats\":6,\"viommu_stats\":0,\"viommu_lat\":0,\"fault_starts\":1,"
		       "\"task_storage\":0,\"ringbuf\":0,\"vm_idents\":0}"), "drops JSON: every reason");
	json_object_put(o);
}

/* The list of events (bpf/viommu.h): every kind named, once, with its tracepoint */
static void test_events(void)
{
	int unnamed = 0, dup_names = 0, dup_tps = 0, lookups = 0;

	for (int k = 0; k < VIOMMU_EV_KINDS; k++) {
		if (!viommu_events[k].name || !*viommu_events[k].name ||
		    !viommu_events[k].tracepoint || strncmp(viommu_events[k].tracepoint, "iommufd_", 8))
			unnamed++;
		else
			lookups += viommu_event_kind(viommu_events[k].name) == k;
	}
	tap_is(unnamed, 0, "every one of the %d event kinds has a name and an iommufd_ tracepoint",
	       VIOMMU_EV_KINDS);
	for (unsigned int i = 0; !unnamed && i < VIOMMU_TRACEPOINTS; i++)
		for (unsigned int j = 0; j < i; j++) {
			dup_tps += !strcmp(viommu_tracepoint(i), viommu_tracepoint(j));
			if (i < VIOMMU_EV_KINDS)
				dup_names += !strcmp(viommu_events[i].name, viommu_events[j].name);
		}
	tap_ok(!dup_names && !dup_tps && lookups == VIOMMU_EV_KINDS && !viommu_tracepoint(VIOMMU_TRACEPOINTS),
	       "names and tracepoints unique (%d, %d), each name finds its kind (%d), %d tracepoints",
	       dup_names, dup_tps, lookups, VIOMMU_TRACEPOINTS);
	/* 18 record kinds and the 2 start events: what the kernel series has */
	tap_is(VIOMMU_TRACEPOINTS, 20, "20 tracepoints: 18 record kinds and 2 start events");
	tap_ok(viommu_event_mask(VIOMMU_EVF_LATENCY) == (1u << VIOMMU_EV_GUEST_INVAL |
		1u << VIOMMU_EV_S2_INVAL | 1u << VIOMMU_EV_FAULT_RESPONSE) &&
	       __builtin_popcount(viommu_event_mask(VIOMMU_EVF_TOPO)) == 12 &&
	       !(viommu_event_mask(VIOMMU_EVF_TOPO) & (1u << VIOMMU_EV_VMID_INVAL)),
	       "latency kinds: the 3 end events; topo --watch: the 12 object changes");
}

/* The other CPU's update, run once at the next swap */
static struct {
	bool armed;
	struct viommu_interval_max *m;
	__u64 epoch, ns;
} other_cpu;

static __u64 imax_cmpxchg(__u64 *p, __u64 old, __u64 new)
{
	if (other_cpu.armed) {
		other_cpu.armed = false;
		viommu_interval_max_update(other_cpu.m, other_cpu.epoch, other_cpu.ns);
	}
	return __sync_val_compare_and_swap(p, old, new);
}

/* ns on this CPU while another CPU writes other_ns of other_epoch in between */
static __u64 race(struct viommu_interval_max *m, __u64 epoch, __u64 ns,
		  __u64 other_epoch, __u64 other_ns)
{
	other_cpu.m = m;
	other_cpu.epoch = other_epoch;
	other_cpu.ns = other_ns;
	other_cpu.armed = true;
	viommu_interval_max_update(m, epoch, ns);
	return viommu_interval_max_read(m, epoch);
}

#define IMAX_THREADS	4
#define IMAX_UPDATES	200000

static void *imax_thread(void *arg)
{
	struct viommu_interval_max *m = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	for (int i = 0; i < IMAX_UPDATES; i++)
		viommu_interval_max_update(m, 9, rand_r(&seed) % 1000000);
	return NULL;
}

static void test_interval_max(void)
{
	struct viommu_interval_max m = {};
	pthread_t th[IMAX_THREADS];

	viommu_interval_max_update(&m, 5, 100);
	viommu_interval_max_update(&m, 5, 50);
	viommu_interval_max_update(&m, 5, 300);
	viommu_interval_max_update(&m, 6, 10);
	tap_ok(viommu_interval_max_read(&m, 5) == 300 && viommu_interval_max_read(&m, 6) == 10 &&
	       viommu_interval_max_read(&m, 4) == 0,
	       "interval max: epoch 5 keeps its largest (300), epoch 6 its own (10), epoch 4 none");
	viommu_interval_max_update(&m, 7, 20);
	tap_ok(viommu_interval_max_read(&m, 7) == 20 && viommu_interval_max_read(&m, 5) == 0,
	       "interval max: epoch 7 restarts the slot of epoch 5 (20, then 0 for 5)");

	/* another CPU's larger value lands between this CPU's load and swap */
	memset(&m, 0, sizeof(m));
	tap_is(race(&m, 3, 500, 3, 900), 900,
	       "interval max: another CPU's larger maximum written meanwhile is kept");
	memset(&m, 0, sizeof(m));
	tap_is(race(&m, 3, 500, 3, 200), 500,
	       "interval max: a larger maximum is not lost to another CPU's smaller one");
	/* the other CPU restarted the slot for the epoch: this one's value joins it */
	m.slot[1] = 1ULL << VIOMMU_IMAX_NS_BITS | 700;	/* epoch 1's */
	tap_is(race(&m, 3, 500, 3, 200), 500,
	       "interval max: a slot restarted for the epoch meanwhile still gets this CPU's maximum");
	/* this CPU read the epoch late: the slot is 2 epochs on already */
	memset(&m, 0, sizeof(m));
	race(&m, 3, 800, 5, 100);
	tap_ok(viommu_interval_max_read(&m, 5) == 100 && viommu_interval_max_read(&m, 3) == 0,
	       "interval max: a late update of epoch 3 leaves epoch 5's slot alone");
	memset(&m, 0, sizeof(m));
	viommu_interval_max_update(&m, (1ULL << VIOMMU_IMAX_EPOCH_BITS) + 2, 5ULL << 40);
	tap_is(viommu_interval_max_read(&m, (1ULL << VIOMMU_IMAX_EPOCH_BITS) + 2),
	       VIOMMU_IMAX_NS_MASK, "interval max: a latency beyond 40 bits of ns is clamped, epochs wrap");

	/* and real threads, each update racing the others' */
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < IMAX_THREADS; i++)
		pthread_create(&th[i], NULL, imax_thread, &m);
	viommu_interval_max_update(&m, 9, 1234567);
	for (int i = 0; i < IMAX_THREADS; i++)
		pthread_join(th[i], NULL);
	tap_is(viommu_interval_max_read(&m, 9), 1234567,
	       "interval max: %d threads x %d updates keep the one largest value",
	       IMAX_THREADS, IMAX_UPDATES);
}

/* delta.c: the previous reading per key */
static void test_delta(void)
{
	struct delta_set *vms = delta_set_new(sizeof(unsigned int), &delta_vm_layout, true);
	struct viommu_vm_stats now = { .opener_pid = 42 }, d;
	unsigned int vm = 7;
	enum delta_status st;
	int found = 0;

	now.guest_invals = 10;
	hist_add_ns(&now.lat[VIOMMU_LAT_GUEST_INVAL], 3000, 10);
	st = delta_take(vms, &vm, &now, &d);
	tap_ok(st == DELTA_FIRST && d.guest_invals == 10 && d.lat[0].count == 10 &&
	       delta_rate(vms, st, d.guest_invals, 2) == 5 && d.opener_pid == 42,
	       "delta: a map key's first reading is what it did (10 in 2 s: 5/s)");
	now.guest_invals = 25;
	hist_add_ns(&now.lat[VIOMMU_LAT_GUEST_INVAL], 9000, 15);
	st = delta_take(vms, &vm, &now, &d);
	tap_ok(st == DELTA_NEXT && d.guest_invals == 15 && d.lat[0].count == 15 &&
	       d.lat[0].slots[viommu_hist_bucket(3000, VIOMMU_HIST_UNIT_US)] == 0 &&
	       d.lat[0].slots[viommu_hist_bucket(9000, VIOMMU_HIST_UNIT_US)] == 15,
	       "delta: the next reading gives the interval's counts and histogram (15 at 9 us)");
	/* the key's entry deleted and made again: its counters restart */
	memset(&now, 0, sizeof(now));
	now.guest_invals = 4;
	hist_add_ns(&now.lat[VIOMMU_LAT_GUEST_INVAL], 5000, 4);
	st = delta_take(vms, &vm, &now, &d);
	tap_ok(st == DELTA_RESTART && d.guest_invals == 4 && d.lat[0].count == 4 &&
	       delta_rate(vms, st, d.guest_invals, 2) == 2,
	       "delta: a counter going backwards restarts the key: 4, not %llu (rate %.0f)",
	       (unsigned long long)(4 - 25), delta_rate(vms, st, d.guest_invals, 2));
	/* a histogram alone going backwards is a restart too */
	memset(&now.lat[0], 0, sizeof(now.lat[0]));
	hist_add_ns(&now.lat[VIOMMU_LAT_GUEST_INVAL], 5000, 1);
	now.guest_invals = 5;
	st = delta_take(vms, &vm, &now, &d);
	tap_ok(st == DELTA_RESTART && d.guest_invals == 5 && d.lat[0].count == 1,
	       "delta: a histogram going backwards restarts the key");

	/* a source counting from before the tool: no rate until a second reading */
	struct delta_set *stats = delta_set_new(sizeof(unsigned int), &delta_vm_layout, false);

	now.guest_invals = 1000;
	st = delta_take(stats, &vm, &now, &d);
	tap_ok(st == DELTA_FIRST && !delta_has_rate(stats, st) && d.guest_invals == 0 &&
	       delta_rate(stats, st, d.guest_invals, 1) == -1,
	       "delta: the first sample of a source older than the tool has no rate");
	now.guest_invals = 1300;
	st = delta_take(stats, &vm, &now, &d);
	tap_ok(st == DELTA_NEXT && delta_rate(stats, st, d.guest_invals, 3) == 100,
	       "delta: its second sample has one (300 in 3 s: 100/s)");
	now.guest_invals = 7;
	st = delta_take(stats, &vm, &now, &d);
	tap_ok(st == DELTA_RESTART && !delta_has_rate(stats, st) && d.guest_invals == 0,
	       "delta: a restart of such a source has no rate either");
	delta_set_free(stats);

	/* many keys; the ones not read in a round are swept, a forgotten one is gone */
	for (unsigned int k = 1; k <= 10000; k++) {
		now.guest_invals = k;
		delta_take(vms, &k, &now, NULL);
	}
	for (unsigned int k = 1; k <= 10000; k++) {
		const struct viommu_vm_stats *last = delta_last(vms, &k);

		found += last && last->guest_invals == (k == 7 ? 7 : k);
	}
	tap_is(found, 10000, "delta: 10000 keys each keep their own last reading");
	delta_sweep(vms);
	for (unsigned int k = 1; k <= 100; k++)
		delta_take(vms, &k, &now, NULL);
	vm = 100;
	delta_forget(vms, &vm);
	tap_is(delta_sweep(vms) * 1000 + delta_set_size(vms), 9900 * 1000 + 99,
	       "delta: a sweep forgets the 9900 keys not read since the last one; forget drops one");
	delta_set_free(vms);
}

static const char fdinfo_text[] =
	"pos:\t0\nflags:\t02\nmnt_id:\t20\nino:\t5\n"
	"iommufd-ctx:\t7\n"
	"iommufd-owner-tgid:\t1234\n"
	"iommufd-object:\tid=1 type=ioas\n"
	"iommufd-object:\tid=2 type=device dev=iommufd_mock0\n"
	"iommufd-object:\tid=3 type=hwpt_paging ioas=1 nest_parent=1\n"
	"iommufd-object:\tid=4 type=viommu hwpt=3 viommu_type=57005 vmid=9 vmm_pid=1240 kvm=1 future=x\n"
	"iommufd-object:\tid=5 type=vdevice viommu=4 dev=2 virt_id=0x100\n"
	"iommufd-object:\tid=6 type=hw_queue viommu=4 hw_queue_type=1 index=0 base_addr=0x8000 length=4096\n";

static void test_fdinfo(void)
{
	struct snap_ctx ctx;
	const struct snap_object *o;

	tap_is(snap_parse_fdinfo(fdinfo_text, &ctx), 0, "fdinfo of an iommufd file parses");
	tap_ok(ctx.ictx_id == 7 && ctx.owner_tgid == 1234 && ctx.nr_objects == 6 &&
	       ctx.vmm_pid == 1240, "context 7, opener 1234, VMM 1240 (its vIOMMU's), 6 objects");
	o = &ctx.objects[3];
	tap_ok(!strcmp(o->type, "viommu") && o->hwpt == 3 && o->vmid == 9 &&
	       o->vmm_pid == 1240 && o->sub_type == 57005,
	       "vIOMMU links, VMID and VMM pid; unknown keys are skipped");
	o = &ctx.objects[4];
	tap_ok(o->viommu == 4 && o->dev == 2 && o->virt_id == 0x100, "vDEVICE: vIOMMU, device, vRID");
	tap_ok(!strcmp(ctx.objects[1].dev_name, "iommufd_mock0"), "device name");
	tap_ok(ctx.objects[5].base_addr == 0x8000 && ctx.objects[5].length == 4096,
	       "HW queue base and length");
	tap_is(snap_count(&ctx, "viommu"), 1, "snap_count");
	free(ctx.objects);
	tap_is(snap_parse_fdinfo("pos:\t0\nflags:\t02\n", &ctx), 1, "another file is not iommufd");
	tap_is(snap_parse_fdinfo("iommufd-ctx:\t1\niommufd-object:\tid=x type=ioas\n", &ctx), -1,
	       "a malformed object line is refused");
	tap_is(snap_parse_fdinfo("iommufd-ctx:\t1\niommufd-object:\tid=3 type=viommu vmid=99999999999\n",
				 &ctx), -1, "an out-of-range value is refused");
}

/* A record of n guest invalidations of ns each, at the given schema */
static struct json_object *record_at(uint64_t ns, unsigned int n, double jitter, int schema)
{
	struct viommu_vm_stats s = {};
	struct json_object *root = json_object_new_object(), *total = json_object_new_object();
	struct json_object *lat = json_object_new_object();

	/* n samples spread +-jitter around ns */
	for (unsigned int i = 0; i < n; i++)
		hist_add_ns(&s.lat[VIOMMU_LAT_GUEST_INVAL],
			    ns + (int64_t)(ns * jitter * ((double)i / (n - 1 ? n - 1 : 1) * 2 - 1)), 1);
	json_object_object_add(root, "schema_version", json_object_new_int(schema));
	json_object_object_add(root, "type", json_object_new_string(RECORD_TYPE));
	for (int k = 0; k < VIOMMU_LAT_KINDS; k++)
		json_object_object_add(lat, lat_kind_names[k], hist_to_json(&s.lat[k]));
	json_object_object_add(total, "lat", lat);
	json_object_object_add(root, "total", total);
	return root;
}

/* compare's verdict and its table */
static int compare_out(struct json_object *base, struct json_object *new,
		       const struct compare_opts *o, char **table, char *err, size_t errlen)
{
	size_t len = 0;
	FILE *f = open_memstream(table, &len);
	int rc = compare_records(base, new, o, f, err, errlen);

	fclose(f);
	return rc;
}

static void test_compare(void)
{
	struct compare_opts o = { .threshold_pct = 20, .min_delta_us = 5, .min_samples = 20 };
	struct json_object *base = record_at(66000, 200, 0.05, VIOMMU_SCHEMA_VERSION), *same = record_at(66000, 200, 0.05, VIOMMU_SCHEMA_VERSION);
	struct json_object *noisy = record_at(68000, 200, 0.06, VIOMMU_SCHEMA_VERSION);
	struct json_object *shift13 = record_at(85800, 200, 0.05, VIOMMU_SCHEMA_VERSION);
	struct json_object *issue = record_at(125000, 200, 0.05, VIOMMU_SCHEMA_VERSION);
	struct json_object *fast = record_at(1000, 200, 0.05, VIOMMU_SCHEMA_VERSION), *fast13 = record_at(1300, 200, 0.05, VIOMMU_SCHEMA_VERSION);
	struct json_object *few = record_at(500000, 5, 0, VIOMMU_SCHEMA_VERSION);
	struct json_object *bad = json_tokener_parse("{\"type\":\"viommu-record\",\"schema_version\":3}");
	struct json_object *v4 = json_tokener_parse("{\"type\":\"viommu-record\",\"schema_version\":4}");
	struct json_object *old2 = record_at(125000, 200, 0.05, 2);
	struct json_object *v1 = json_tokener_parse(
		"{\"type\":\"viommu-record\",\"schema_version\":1,\"total\":{\"lat\":{\"guest_inval\":"
		"{\"count\":1,\"sum_ns\":1,\"max_ns\":1,\"log2_us_slots\":[1]}}}}");
	FILE *null = fopen("/dev/null", "w");
	char err[400] = "", path[] = "/tmp/viommu-unit-XXXXXX", *table = NULL;
	char *argv[] = { "viommu compare", path, path, NULL };
	int fd;

	tap_is(compare_records(base, same, &o, null, err, sizeof(err)), 0, "identical runs: no regression");
	tap_is(compare_records(base, noisy, &o, null, err, sizeof(err)), 0,
	       "a rerun 3%% slower with more spread: no regression");
	tap_is(compare_out(base, shift13, &o, &table, err, sizeof(err)), 1,
	       "66 us -> 85.8 us (1.3x inside one power of two): regression");
	tap_ok(strstr(table, "guest_inval mean_us") && strstr(table, "+30.0%  REGRESSION") &&
	       strstr(table, "guest_inval p50_us"), "... the exact mean is +30.0%% and flagged");
	if (!strstr(table, "+30.0%  REGRESSION"))
		printf("# %s", table);
	free(table);
	tap_is(compare_out(base, issue, &o, &table, err, sizeof(err)), 1,
	       "66 us -> 125 us (the issue's +89%%): regression");
	tap_ok(strstr(table, "guest_inval p50_us") && strstr(table, "REGRESSION"),
	       "... p50 flagged too");
	free(table);
	tap_is(compare_records(issue, base, &o, null, err, sizeof(err)), 0, "a faster run: no regression");
	tap_is(compare_records(fast, fast13, &o, null, err, sizeof(err)), 0,
	       "1.0 us -> 1.3 us: below the 5 us minimum delta, no regression");
	tap_is(compare_records(base, few, &o, null, err, sizeof(err)), 0, "too few samples: skipped");
	tap_is(compare_records(base, bad, &o, null, err, sizeof(err)), -1, "a record without totals: refused");
	tap_ok(!strcmp(err, "new: no \"total.lat\""), "... saying which and what: %s", err);
	tap_is(compare_records(old2, base, &o, null, err, sizeof(err)), 0,
	       "a schema 2 record (pid, kvm_pid) against a schema 3 one: compared");
	tap_is(compare_records(base, old2, &o, null, err, sizeof(err)), 1, "... both ways (a regression)");
	tap_is(compare_records(v4, base, &o, null, err, sizeof(err)), -1, "a newer schema version: refused");
	tap_ok(!strcmp(err, "base: schema_version 4, this viommu reads 2 to 3: compare it with the viommu that wrote it, or record it again with this one"), "... saying which: %s", err);
	tap_is(compare_records(v1, base, &o, null, err, sizeof(err)), -1, "a schema 1 record: refused");
	tap_ok(!strcmp(err, "base: schema 1 record (log2 histograms, too coarse to compare): "
		       "record it again with this viommu (schema 3)"), "... saying why and what to do: %s", err);

	/* The command: a truncated file is bad input (exit 2), nothing crashes */
	fd = mkstemp(path);
	if (write(fd, "{\"type\": \"viommu-rec", 20) != 20)
		tap_bail("write");
	close(fd);
	tap_is(cmd_compare(3, argv), EXIT_USAGE, "compare on a truncated record exits 2");
	unlink(path);
	fclose(null);
	json_object_put(base);
	json_object_put(same);
	json_object_put(noisy);
	json_object_put(shift13);
	json_object_put(issue);
	json_object_put(fast);
	json_object_put(fast13);
	json_object_put(few);
	json_object_put(bad);
	json_object_put(v4);
	json_object_put(old2);
	json_object_put(v1);
}

int main(void)
{
	tap_plan(72);
	test_buckets();
	test_percentiles();
	test_print();
	test_hist_json();
	test_drops();
	test_events();
	test_interval_max();
	test_delta();
	test_fdinfo();
	test_compare();
	return tap_done();
}
