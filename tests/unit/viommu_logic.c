// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu_logic - unit tests of the viommu tool's pure logic: histogram
 * percentiles and text, the histogram JSON, the fdinfo parser, compare.
 */
#include <string.h>
#include <unistd.h>
#include "../../tools/viommu/viommu.h"
#include "../lib/tap.h"

/* main.c is not linked: the globals it defines */
struct common_opts common;
volatile sig_atomic_t exiting;

static int close_to(double got, double want)
{
	return got > want - 1e-6 && got < want + 1e-6;
}

static void test_percentiles(void)
{
	struct viommu_hist h = {}, a = {}, d;

	tap_is(hist_percentile_us(&h, 50) < 0, 1, "an empty histogram has no percentile");
	/* 100 samples in [8, 16) us, max 10 us */
	h.slots[3] = 100;
	h.count = 100;
	h.max_ns = 10000;
	tap_ok(close_to(hist_percentile_us(&h, 50), 10.0),
	       "p50 of 100 samples in [8,16) capped by max 10 us: %.3f",
	       hist_percentile_us(&h, 50));
	h.max_ns = 20000;
	tap_ok(close_to(hist_percentile_us(&h, 50), 12.0),
	       "p50 interpolates inside the slot: %.3f", hist_percentile_us(&h, 50));
	tap_ok(close_to(hist_percentile_us(&h, 99), 15.92),
	       "p99 interpolates inside the slot: %.3f", hist_percentile_us(&h, 99));
	/* 90 fast (slot 0) and 10 slow ([1024, 2048) us) */
	memset(&h, 0, sizeof(h));
	h.slots[0] = 90;
	h.slots[10] = 10;
	h.count = 100;
	h.max_ns = 1500000;
	tap_ok(hist_percentile_us(&h, 50) <= 2, "p50 sits with the fast 90%%");
	tap_ok(hist_percentile_us(&h, 99) >= 1024 && hist_percentile_us(&h, 99) <= 1500,
	       "p99 sits with the slow 10%%, at most max: %.1f", hist_percentile_us(&h, 99));

	a = h;
	a.slots[10] += 5;
	a.count += 5;
	hist_sub(&d, &a, &h);
	tap_ok(d.count == 5 && d.slots[10] == 5 && d.slots[0] == 0,
	       "hist_sub leaves the interval's samples");
}

static void test_print(void)
{
	struct viommu_hist h = {};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *want =
		"     usecs               : count    distribution\n"
		"         4 -> 7          : 2        |********************                    |\n"
		"         8 -> 15         : 0        |                                        |\n"
		"        16 -> 31         : 4        |****************************************|\n";

	h.slots[2] = 2;
	h.slots[4] = 4;
	hist_print(f, &h, false);
	fclose(f);
	tap_ok(!strcmp(buf, want), "print_log2_hist layout, empty ends trimmed");
	if (strcmp(buf, want))
		printf("# got:\n%s", buf);
	free(buf);
}

static void test_hist_json(void)
{
	struct viommu_hist h = {}, back;
	struct json_object *o;
	char err[200] = "";

	h.slots[1] = 3;
	h.slots[7] = 1;
	h.count = 4;
	h.sum_ns = 200000;
	h.max_ns = 150000;
	o = hist_to_json(&h);
	tap_is(hist_from_json(o, &back, err, sizeof(err)), 0, "histogram JSON reads back");
	tap_ok(!memcmp(&h, &back, sizeof(h)), "... equal to what was written");
	json_object_put(o);
	o = json_tokener_parse("{\"count\":1,\"sum_ns\":1,\"max_ns\":1,\"log2_us_slots\":[1,-2]}");
	tap_is(hist_from_json(o, &back, err, sizeof(err)), -1, "a negative slot is refused");
	tap_ok(strstr(err, "slot 1") != NULL, "... naming the slot: %s", err);
	json_object_put(o);
}

static const char fdinfo_text[] =
	"pos:\t0\nflags:\t02\nmnt_id:\t20\nino:\t5\n"
	"iommufd-ctx:\t7\n"
	"iommufd-owner-tgid:\t1234\n"
	"iommufd-object:\tid=1 type=ioas\n"
	"iommufd-object:\tid=2 type=device dev=iommufd_mock0\n"
	"iommufd-object:\tid=3 type=hwpt_paging ioas=1 nest_parent=1\n"
	"iommufd-object:\tid=4 type=viommu hwpt=3 viommu_type=57005 vmid=9 vmm_pid=1234 kvm=1 future=x\n"
	"iommufd-object:\tid=5 type=vdevice viommu=4 dev=2 virt_id=0x100\n"
	"iommufd-object:\tid=6 type=hw_queue viommu=4 hw_queue_type=1 index=0 base_addr=0x8000 length=4096\n";

static void test_fdinfo(void)
{
	struct snap_ctx ctx;
	const struct snap_object *o;

	tap_is(snap_parse_fdinfo(fdinfo_text, &ctx), 0, "fdinfo of an iommufd file parses");
	tap_ok(ctx.ictx_id == 7 && ctx.owner_tgid == 1234 && ctx.nr_objects == 6,
	       "context 7, owner 1234, 6 objects");
	o = &ctx.objects[3];
	tap_ok(!strcmp(o->type, "viommu") && o->hwpt == 3 && o->vmid == 9 &&
	       o->kvm_pid == 1234 && o->sub_type == 57005,
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

static struct json_object *record_with(unsigned int slot, unsigned int n)
{
	struct viommu_vm_stats s = {};
	struct json_object *root = json_object_new_object(), *total = json_object_new_object();
	struct json_object *lat = json_object_new_object();

	s.lat[VIOMMU_LAT_GUEST_INVAL].slots[slot] = n;
	s.lat[VIOMMU_LAT_GUEST_INVAL].count = n;
	s.lat[VIOMMU_LAT_GUEST_INVAL].max_ns = (2ULL << slot) * 1000;
	json_object_object_add(root, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
	json_object_object_add(root, "type", json_object_new_string(RECORD_TYPE));
	for (int k = 0; k < VIOMMU_LAT_KINDS; k++)
		json_object_object_add(lat, lat_kind_names[k], hist_to_json(&s.lat[k]));
	json_object_object_add(total, "lat", lat);
	json_object_object_add(root, "total", total);
	return root;
}

static void test_compare(void)
{
	struct compare_opts o = { .threshold_pct = 20, .min_delta_us = 5, .min_samples = 20 };
	struct json_object *base = record_with(4, 100), *same = record_with(4, 100);
	struct json_object *slow = record_with(14, 100), *few = record_with(14, 5);
	struct json_object *bad = json_tokener_parse("{\"type\":\"viommu-record\",\"schema_version\":1}");
	struct json_object *v2 = json_tokener_parse("{\"type\":\"viommu-record\",\"schema_version\":2}");
	FILE *null = fopen("/dev/null", "w");
	char err[400] = "", path[] = "/tmp/viommu-unit-XXXXXX";
	char *argv[] = { "viommu compare", path, path, NULL };
	int fd;

	tap_is(compare_records(base, same, &o, null, err, sizeof(err)), 0, "identical runs: no regression");
	tap_is(compare_records(base, slow, &o, null, err, sizeof(err)), 1, "a 1000x slower run: regression");
	tap_is(compare_records(slow, base, &o, null, err, sizeof(err)), 0, "a faster run: no regression");
	tap_is(compare_records(base, few, &o, null, err, sizeof(err)), 0, "too few samples: skipped");
	tap_is(compare_records(base, bad, &o, null, err, sizeof(err)), -1, "a record without totals: refused");
	tap_ok(!strcmp(err, "new: no \"total.lat\""), "... saying which and what: %s", err);
	tap_is(compare_records(v2, base, &o, null, err, sizeof(err)), -1, "another schema version: refused");

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
	json_object_put(slow);
	json_object_put(few);
	json_object_put(bad);
	json_object_put(v2);
}

int main(void)
{
	tap_plan(30);
	test_percentiles();
	test_print();
	test_hist_json();
	test_fdinfo();
	test_compare();
	return tap_done();
}
