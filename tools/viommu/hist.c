// SPDX-License-Identifier: GPL-2.0-only
/*
 * hist.c - log2 latency histograms: merging, percentiles, the familiar
 * text layout of the BCC tools, and JSON.
 *
 * Slot 0 holds 0..1 us, slot i (i > 0) holds [2^i, 2^(i+1)) us, as the BPF
 * side fills them.
 */
#include <math.h>
#include <string.h>
#include "viommu.h"

const char *const lat_kind_names[VIOMMU_LAT_KINDS] = {
	[VIOMMU_LAT_GUEST_INVAL] = "guest_inval",
	[VIOMMU_LAT_S2_INVAL] = "s2_inval",
	[VIOMMU_LAT_FAULT] = "fault",
};

void hist_merge(struct viommu_hist *dst, const struct viommu_hist *src)
{
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++)
		dst->slots[i] += src->slots[i];
}

/*
 * dst = a - b, for per-interval figures from two cumulative readings. The
 * interval's maximum is unknown unless it grew; the newest bound is kept.
 */
void hist_sub(struct viommu_hist *dst, const struct viommu_hist *a,
	      const struct viommu_hist *b)
{
	dst->count = a->count - b->count;
	dst->sum_ns = a->sum_ns - b->sum_ns;
	dst->max_ns = dst->count ? a->max_ns : 0;
	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++)
		dst->slots[i] = a->slots[i] - b->slots[i];
}

/*
 * The one place that says what a bucket holds: samples of at least *low_ns
 * and below *high_ns (INFINITY for the last bucket, which also holds
 * everything beyond the range). Slot b holds ns / 1000 in [2^b, 2^(b+1)),
 * slot 0 also 0 and 1. Consumers that walk the buckets (viommu export)
 * use this, hist_nr_buckets() and hist_bucket_count(), so they follow a
 * change of layout.
 */
void hist_bucket_bounds_ns(const struct viommu_hist *h, unsigned int b,
			   double *low_ns, double *high_ns)
{
	*low_ns = b ? ldexp(1000, b) : 0;
	*high_ns = b >= VIOMMU_HIST_SLOTS - 1 ? INFINITY : ldexp(1000, b + 1);
}

int hist_nr_buckets(void)
{
	return VIOMMU_HIST_SLOTS;
}

uint64_t hist_bucket_count(const struct viommu_hist *h, int b)
{
	return b >= 0 && b < VIOMMU_HIST_SLOTS ? h->slots[b] : 0;
}

static void slot_bounds(int slot, double *low, double *high)
{
	*low = slot ? ldexp(1, slot) : 0;
	*high = ldexp(1, slot + 1);
}

/*
 * The pct-th percentile in us, interpolated linearly inside its log2 slot
 * and never above the recorded maximum; -1 for an empty histogram.
 */
double hist_percentile_us(const struct viommu_hist *h, double pct)
{
	uint64_t total = 0, seen = 0;
	double rank, low, high, v;

	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++)
		total += h->slots[i];
	if (!total)
		return -1;
	rank = pct / 100.0 * total;
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++) {
		if (!h->slots[i] || seen + h->slots[i] < rank) {
			seen += h->slots[i];
			continue;
		}
		slot_bounds(i, &low, &high);
		v = low + (high - low) * (rank - seen) / h->slots[i];
		if (h->max_ns && v > h->max_ns / 1000.0)
			v = h->max_ns / 1000.0;
		return v;
	}
	return h->max_ns / 1000.0;
}

static void print_stars(FILE *out, unsigned int val, unsigned int max,
			int width)
{
	int n = max ? (int)((uint64_t)val * width / max) : 0;

	for (int i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', out);
}

/*
 * The layout of BCC's print_log2_hist(): a header, then one row per slot
 * from the first to the last non-empty one, with a 40-character bar.
 * With ms, us slots are shifted by 10 (2^10 us is about a millisecond).
 */
void hist_print(FILE *out, const struct viommu_hist *h, bool ms)
{
	unsigned int slots[VIOMMU_HIST_SLOTS] = {}, max = 0;
	int first = -1, last = -1, shift = ms ? 10 : 0;
	const char *unit = ms ? "msecs" : "usecs";

	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++) {
		int j = i - shift < 0 ? 0 : i - shift;

		slots[j] += h->slots[i];
	}
	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (first < 0) {
		fprintf(out, "     (no samples)\n");
		return;
	}
	fprintf(out, "%*s%-*s : count    distribution\n", 5, "", 19, unit);
	for (int i = first; i <= last; i++) {
		unsigned long long low = i ? 1ULL << i : 0, high = (2ULL << i) - 1;

		fprintf(out, "%*llu -> %-*llu : %-8u |", 10, low, 10, high,
			slots[i]);
		print_stars(out, slots[i], max, 40);
		fprintf(out, "|\n");
	}
}

struct json_object *hist_to_json(const struct viommu_hist *h)
{
	struct json_object *o = json_object_new_object();
	struct json_object *slots = json_object_new_array();
	int last = -1;

	json_object_object_add(o, "count", json_object_new_uint64(h->count));
	json_object_object_add(o, "sum_ns", json_object_new_uint64(h->sum_ns));
	json_object_object_add(o, "max_ns", json_object_new_uint64(h->max_ns));
	if (h->count) {
		json_object_object_add(o, "p50_us", json_object_new_double(hist_percentile_us(h, 50)));
		json_object_object_add(o, "p90_us", json_object_new_double(hist_percentile_us(h, 90)));
		json_object_object_add(o, "p99_us", json_object_new_double(hist_percentile_us(h, 99)));
	}
	for (int i = 0; i < VIOMMU_HIST_SLOTS; i++)
		if (h->slots[i])
			last = i;
	for (int i = 0; i <= last; i++)
		json_object_array_add(slots, json_object_new_uint64(h->slots[i]));
	json_object_object_add(o, "log2_us_slots", slots);
	return o;
}

static int json_u64(struct json_object *obj, const char *key, __u64 *v,
		    char *err, size_t errlen)
{
	struct json_object *f;

	if (!json_object_object_get_ex(obj, key, &f) ||
	    !(json_object_is_type(f, json_type_int))) {
		snprintf(err, errlen, "missing or non-integer \"%s\"", key);
		return -1;
	}
	*v = json_object_get_uint64(f);
	return 0;
}

int hist_from_json(struct json_object *obj, struct viommu_hist *h, char *err,
		   size_t errlen)
{
	struct json_object *slots;
	size_t n;

	memset(h, 0, sizeof(*h));
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "a histogram is not an object");
		return -1;
	}
	if (json_u64(obj, "count", &h->count, err, errlen) ||
	    json_u64(obj, "sum_ns", &h->sum_ns, err, errlen) ||
	    json_u64(obj, "max_ns", &h->max_ns, err, errlen))
		return -1;
	if (!json_object_object_get_ex(obj, "log2_us_slots", &slots) ||
	    !json_object_is_type(slots, json_type_array)) {
		snprintf(err, errlen, "missing \"log2_us_slots\" array");
		return -1;
	}
	n = json_object_array_length(slots);
	if (n > VIOMMU_HIST_SLOTS) {
		snprintf(err, errlen, "%zu histogram slots, at most %d", n,
			 VIOMMU_HIST_SLOTS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(slots, i);
		int64_t v;

		if (!json_object_is_type(s, json_type_int) ||
		    (v = json_object_get_int64(s)) < 0 || v > UINT32_MAX) {
			snprintf(err, errlen, "slot %zu is not a count", i);
			return -1;
		}
		h->slots[i] = v;
	}
	return 0;
}
