// SPDX-License-Identifier: GPL-2.0-only
/*
 * hist.c - log-linear latency histograms (layout in bpf/viommu.h):
 * bucket bounds, merging, percentiles, the familiar text layout of the BCC
 * tools (one row per power of two of the unit), and JSON.
 */
#include <math.h>
#include <string.h>
#include "viommu.h"

const char *const lat_kind_names[VIOMMU_LAT_KINDS] = {
	[VIOMMU_LAT_GUEST_INVAL] = "guest_inval",
	[VIOMMU_LAT_S2_INVAL] = "s2_inval",
	[VIOMMU_LAT_FAULT] = "fault",
};

const char *const viommu_drop_names[VIOMMU_DROPS] = {
#define DROP_NAME(name, str) [VIOMMU_DROP_##name] = str,
	VIOMMU_DROP_REASONS(DROP_NAME)
#undef DROP_NAME
};

/* {"vm_stats": N, ...}: every reason, zero or not */
struct json_object *drops_to_json(const struct viommu_drops *d)
{
	struct json_object *o = json_object_new_object();

	for (int r = 0; r < VIOMMU_DROPS; r++)
		json_object_object_add(o, viommu_drop_names[r], json_object_new_uint64(d->n[r]));
	return o;
}

/* "0", or "7 (vm_stats 6, viommu_stats 1)" */
void drops_format(char *buf, size_t len, const struct viommu_drops *d)
{
	unsigned long long total = 0;
	size_t off;
	bool first = true;

	for (int r = 0; r < VIOMMU_DROPS; r++)
		total += d->n[r];
	off = snprintf(buf, len, "%llu", total);
	for (int r = 0; r < VIOMMU_DROPS && total && off < len; r++) {
		if (!d->n[r])
			continue;
		off += snprintf(buf + off, len - off, "%s%s %llu", first ? " (" : ", ",
				viommu_drop_names[r], (unsigned long long)d->n[r]);
		first = false;
	}
	if (total && off < len)
		snprintf(buf + off, len - off, ")");
}

/* Bucket b's range [low, high) in 1/1024 units; high is 0 for the last */
static void bucket_range(unsigned int b, uint64_t *low, uint64_t *high)
{
	unsigned int group = b / VIOMMU_HIST_SUB, sub = b % VIOMMU_HIST_SUB;

	if (!group) {
		*low = b;
		*high = b + 1;
		return;
	}
	*low = (uint64_t)(VIOMMU_HIST_SUB + sub) << (group - 1);
	*high = b == VIOMMU_HIST_BUCKETS - 1 ? 0 : *low + (1ULL << (group - 1));
}

static unsigned int unit_of(const struct viommu_hist *h)
{
	return h->unit_ns ? h->unit_ns : VIOMMU_HIST_UNIT_US;
}

/*
 * The one place that says what a bucket holds: samples of at least *low_ns
 * and below *high_ns (INFINITY for the last bucket, which also holds
 * everything beyond the range). b < VIOMMU_HIST_BUCKETS.
 */
void hist_bucket_bounds_ns(const struct viommu_hist *h, unsigned int b,
			   double *low_ns, double *high_ns)
{
	double scale = unit_of(h) / (double)(1 << VIOMMU_HIST_UNIT_SHIFT);
	uint64_t low, high;

	bucket_range(b, &low, &high);
	*low_ns = low * scale;
	*high_ns = high ? high * scale : INFINITY;
}

void hist_merge(struct viommu_hist *dst, const struct viommu_hist *src)
{
	if (!dst->unit_ns)
		dst->unit_ns = src->unit_ns;
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (int i = 0; i < VIOMMU_HIST_BUCKETS; i++)
		dst->slots[i] += src->slots[i];
}

/*
 * dst = a - b, for per-interval figures from two cumulative readings. The
 * interval's maximum is unknown unless it grew; the newest bound is kept.
 */
void hist_sub(struct viommu_hist *dst, const struct viommu_hist *a,
	      const struct viommu_hist *b)
{
	dst->unit_ns = a->unit_ns;
	dst->count = a->count - b->count;
	dst->sum_ns = a->sum_ns - b->sum_ns;
	dst->max_ns = dst->count ? a->max_ns : 0;
	for (int i = 0; i < VIOMMU_HIST_BUCKETS; i++)
		dst->slots[i] = a->slots[i] - b->slots[i];
}

/* For consumers that walk the buckets (viommu export): how many, and one's count */
int hist_nr_buckets(void)
{
	return VIOMMU_HIST_BUCKETS;
}

uint64_t hist_bucket_count(const struct viommu_hist *h, int b)
{
	return b >= 0 && b < VIOMMU_HIST_BUCKETS ? h->slots[b] : 0;
}

/*
 * The pct-th percentile in us, interpolated linearly inside its bucket (at
 * most 1/8 of the value wide) and never above the recorded maximum; -1 for
 * an empty histogram.
 */
double hist_percentile_us(const struct viommu_hist *h, double pct)
{
	uint64_t total = 0, seen = 0;
	double rank, low, high, v;

	for (int i = 0; i < VIOMMU_HIST_BUCKETS; i++)
		total += h->slots[i];
	if (!total)
		return -1;
	rank = pct / 100.0 * total;
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < VIOMMU_HIST_BUCKETS; i++) {
		if (!h->slots[i] || seen + h->slots[i] < rank) {
			seen += h->slots[i];
			continue;
		}
		hist_bucket_bounds_ns(h, i, &low, &high);
		if (isinf(high))
			high = h->max_ns > low ? h->max_ns : low;
		v = (low + (high - low) * (rank - seen) / h->slots[i]) / 1000.0;
		if (h->max_ns && v > h->max_ns / 1000.0)
			v = h->max_ns / 1000.0;
		return v;
	}
	return h->max_ns / 1000.0;
}

/* The exact mean in us (sum / count), -1 for an empty histogram */
double hist_mean_us(const struct viommu_hist *h)
{
	return h->count ? h->sum_ns / 1000.0 / h->count : -1;
}

static void print_stars(FILE *out, uint64_t val, uint64_t max, int width)
{
	int n = max ? (int)(val * width / max) : 0;

	for (int i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', out);
}

/* Display rows: row 0 is 0..1 unit, row i > 0 is [2^i, 2^(i+1)) units */
#define HIST_ROWS	(VIOMMU_HIST_GROUPS + VIOMMU_HIST_SUB_BITS - VIOMMU_HIST_UNIT_SHIFT)

static int row_of(unsigned int b)
{
	uint64_t low, high;

	bucket_range(b, &low, &high);
	if (low < 2ULL << VIOMMU_HIST_UNIT_SHIFT)
		return 0;
	return 63 - __builtin_clzll(low) - VIOMMU_HIST_UNIT_SHIFT;
}

/*
 * The layout of BCC's print_log2_hist(): a header, then one row per power
 * of two of the histogram's unit (us, or ms for a ms grid) from the first
 * to the last non-empty one, with a 40-character bar. Buckets never
 * straddle a row's bounds, so each row's count is exact.
 */
void hist_print(FILE *out, const struct viommu_hist *h)
{
	uint64_t rows[HIST_ROWS] = {}, max = 0;
	int first = -1, last = -1;
	const char *unit = unit_of(h) == VIOMMU_HIST_UNIT_MS ? "msecs" : "usecs";

	for (int b = 0; b < VIOMMU_HIST_BUCKETS; b++)
		rows[row_of(b)] += h->slots[b];
	for (int i = 0; i < HIST_ROWS; i++) {
		if (!rows[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (rows[i] > max)
			max = rows[i];
	}
	if (first < 0) {
		fprintf(out, "     (no samples)\n");
		return;
	}
	fprintf(out, "%*s%-*s : count    distribution\n", 5, "", 19, unit);
	for (int i = first; i <= last; i++) {
		unsigned long long low = i ? 1ULL << i : 0, high = (2ULL << i) - 1;

		fprintf(out, "%*llu -> %-*llu : %-8llu |", 10, low, 10, high,
			(unsigned long long)rows[i]);
		print_stars(out, rows[i], max, 40);
		fprintf(out, "|\n");
	}
}

/*
 * {"count", "sum_ns", "max_ns", "mean_us", "p50_us", "p90_us", "p99_us",
 *  "bucket_unit_ns", "sub_buckets", "buckets": [[index, count], ...]}
 * with only the non-empty buckets; bucket index i holds what
 * hist_bucket_bounds_ns() says (docs/viommu.8, RECORDS).
 */
struct json_object *hist_to_json(const struct viommu_hist *h)
{
	struct json_object *o = json_object_new_object();
	struct json_object *buckets = json_object_new_array();

	json_object_object_add(o, "count", json_object_new_uint64(h->count));
	json_object_object_add(o, "sum_ns", json_object_new_uint64(h->sum_ns));
	json_object_object_add(o, "max_ns", json_object_new_uint64(h->max_ns));
	if (h->count) {
		json_object_object_add(o, "mean_us", json_object_new_double(hist_mean_us(h)));
		json_object_object_add(o, "p50_us", json_object_new_double(hist_percentile_us(h, 50)));
		json_object_object_add(o, "p90_us", json_object_new_double(hist_percentile_us(h, 90)));
		json_object_object_add(o, "p99_us", json_object_new_double(hist_percentile_us(h, 99)));
	}
	json_object_object_add(o, "bucket_unit_ns", json_object_new_int64(unit_of(h)));
	json_object_object_add(o, "sub_buckets", json_object_new_int(VIOMMU_HIST_SUB));
	for (int i = 0; i < VIOMMU_HIST_BUCKETS; i++) {
		struct json_object *pair;

		if (!h->slots[i])
			continue;
		pair = json_object_new_array();
		json_object_array_add(pair, json_object_new_int(i));
		json_object_array_add(pair, json_object_new_uint64(h->slots[i]));
		json_object_array_add(buckets, pair);
	}
	json_object_object_add(o, "buckets", buckets);
	return o;
}

/*
 * A count of a record: 0 to 2^63 - 1. json-c reads any larger integer as
 * UINT64_MAX, so counts from 2^63 on are refused rather than trusted.
 */
static int json_count(struct json_object *f, const char *what, __u64 *v,
		      char *err, size_t errlen)
{
	if (!f || !json_object_is_type(f, json_type_int)) {
		snprintf(err, errlen, "%s is missing or not an integer", what);
		return -1;
	}
	if (json_object_get_int64(f) < 0) {
		snprintf(err, errlen, "%s is negative (%lld)", what,
			 (long long)json_object_get_int64(f));
		return -1;
	}
	*v = json_object_get_uint64(f);
	if (*v > INT64_MAX) {
		snprintf(err, errlen, "%s is %s, beyond what a record holds (2^63 - 1)",
			 what, json_object_get_string(f));
		return -1;
	}
	return 0;
}

static int json_u64(struct json_object *obj, const char *key, __u64 *v,
		    char *err, size_t errlen)
{
	struct json_object *f = NULL;
	char what[40];

	snprintf(what, sizeof(what), "\"%s\"", key);
	json_object_object_get_ex(obj, key, &f);
	return json_count(f, what, v, err, errlen);
}

int hist_from_json(struct json_object *obj, struct viommu_hist *h, char *err,
		   size_t errlen)
{
	struct json_object *buckets;
	__u64 unit, sub, bucket_total = 0;
	size_t n;

	memset(h, 0, sizeof(*h));
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "a histogram is not an object");
		return -1;
	}
	if (json_object_object_get_ex(obj, "log2_us_slots", NULL)) {
		snprintf(err, errlen, "log2 histogram of schema 1");
		return -1;
	}
	if (json_u64(obj, "count", &h->count, err, errlen) ||
	    json_u64(obj, "sum_ns", &h->sum_ns, err, errlen) ||
	    json_u64(obj, "max_ns", &h->max_ns, err, errlen) ||
	    json_u64(obj, "bucket_unit_ns", &unit, err, errlen) ||
	    json_u64(obj, "sub_buckets", &sub, err, errlen))
		return -1;
	if (sub != VIOMMU_HIST_SUB ||
	    (unit != VIOMMU_HIST_UNIT_US && unit != VIOMMU_HIST_UNIT_MS)) {
		snprintf(err, errlen, "buckets of %llu ns with %llu sub-buckets, this tool reads %d or %d ns with %d",
			 (unsigned long long)unit, (unsigned long long)sub,
			 VIOMMU_HIST_UNIT_US, VIOMMU_HIST_UNIT_MS, VIOMMU_HIST_SUB);
		return -1;
	}
	h->unit_ns = unit;
	if (!json_object_object_get_ex(obj, "buckets", &buckets) ||
	    !json_object_is_type(buckets, json_type_array)) {
		snprintf(err, errlen, "missing \"buckets\" array");
		return -1;
	}
	n = json_object_array_length(buckets);
	for (size_t i = 0; i < n; i++) {
		struct json_object *pair = json_object_array_get_idx(buckets, i), *idx;
		__u64 c, total;
		int64_t b;
		char what[64];

		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    !json_object_is_type(idx = json_object_array_get_idx(pair, 0), json_type_int) ||
		    (b = json_object_get_int64(idx)) < 0 || b >= VIOMMU_HIST_BUCKETS) {
			snprintf(err, errlen, "bucket entry %zu is not [index < %d, count]", i,
				 VIOMMU_HIST_BUCKETS);
			return -1;
		}
		snprintf(what, sizeof(what), "the count of bucket entry %zu", i);
		if (json_count(json_object_array_get_idx(pair, 1), what, &c, err, errlen))
			return -1;
		/* percentiles add the buckets up: their sum must be a count too */
		if (__builtin_add_overflow(h->slots[b], c, &h->slots[b]) ||
		    __builtin_add_overflow(bucket_total, c, &total) || total > INT64_MAX) {
			snprintf(err, errlen, "its buckets add up to more than a record holds (2^63 - 1)");
			return -1;
		}
		bucket_total = total;
	}
	return 0;
}
