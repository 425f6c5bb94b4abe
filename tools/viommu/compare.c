// SPDX-License-Identifier: GPL-2.0-only
/*
 * compare.c - viommu compare: check a new record against a baseline and
 * fail when a latency percentile regressed, for perf regression runs in CI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "viommu.h"

static const struct compare_opts copts_default = {
	.threshold_pct = 20, .min_delta_us = 5, .min_samples = 20,
};
static struct compare_opts copts;

static const struct argp_option compare_options[] = {
	{ "threshold", 't', "PCT", 0, "Regression when a percentile grows more than PCT% (default 20)", 0 },
	{ "min-delta-us", 'D', "US", 0, "... and by more than US microseconds (default 5)", 0 },
	{ "min-samples", 'S', "N", 0, "Skip latencies with fewer samples (default 20)", 0 },
	NO_HANG_OPTION,
	{},
};

static const char compare_doc[] =
"viommu compare: compare two records; exit 1 if any latency figure (the\n"
"exact mean, p50, p90, p99 of guest_inval, s2_inval, fault, over all VMs)\n"
"regressed, 0 if none did, 2 for unusable input.\n"
"\n"
"Percentiles come from log-linear histograms (8 buckets per power of two,\n"
"each at most 1/8 of its value wide), interpolated within a bucket; the\n"
"mean is exact. Keep the threshold above the noise of the machine.\n"
"\n"
"EXAMPLES:\n"
"  viommu compare base.json new.json\n"
"  viommu compare -t 50 -D 20 base.json new.json";

static const char *cmp_files[2];

static error_t compare_parse(int key, char *arg, struct argp_state *state)
{
	char *end;

	errno = 0;
	switch (key) {
	case 't':
		copts.threshold_pct = strtod(arg, &end);
		if (errno || *end || copts.threshold_pct < 0)
			return usage_error(state, "invalid threshold: %s", arg);
		break;
	case 'D':
		copts.min_delta_us = strtod(arg, &end);
		if (errno || *end || copts.min_delta_us < 0)
			return usage_error(state, "invalid delta: %s", arg);
		break;
	case 'S':
		/* strtoul() takes "-1" as ULONG_MAX: a count has digits only */
		copts.min_samples = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || strspn(arg, "0123456789") != strlen(arg))
			return usage_error(state, "invalid sample count: %s", arg);
		break;
	case OPT_NO_HANG:
		return usage_error(state, "unrecognized option '--HANG'");
	case ARGP_KEY_ARG:
		if (state->arg_num >= 2)
			return usage_error(state, "unexpected argument: %s", arg);
		cmp_files[state->arg_num] = arg;
		break;
	case ARGP_KEY_END:
		if (state->arg_num != 2)
			return usage_error(state, "needs BASE and NEW records");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int record_lat(struct json_object *rec, const char *kind,
		      struct viommu_hist *h, char *err, size_t errlen)
{
	struct json_object *total, *lat, *k;
	char sub[120];

	if (!json_object_object_get_ex(rec, "total", &total) ||
	    !json_object_object_get_ex(total, "lat", &lat)) {
		snprintf(err, errlen, "no \"total.lat\"");
		return -1;
	}
	if (!json_object_object_get_ex(lat, kind, &k)) {
		snprintf(err, errlen, "no \"total.lat.%s\"", kind);
		return -1;
	}
	if (hist_from_json(k, h, sub, sizeof(sub))) {
		snprintf(err, errlen, "total.lat.%s: %s", kind, sub);
		return -1;
	}
	return 0;
}

static int check_header(struct json_object *rec, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_is_type(rec, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	if (!json_object_object_get_ex(rec, "type", &v) ||
	    strcmp(json_object_get_string(v), RECORD_TYPE)) {
		snprintf(err, errlen, "not a viommu record (\"type\" is not \"%s\")", RECORD_TYPE);
		return -1;
	}
	if (json_object_object_get_ex(rec, "schema_version", &v) &&
	    json_object_get_int(v) == 1) {
		snprintf(err, errlen, "schema 1 record (log2 histograms, too coarse to compare): "
			 "record it again with this viommu (schema %d)", VIOMMU_SCHEMA_VERSION);
		return -1;
	}
	/* schema 2 differs only in the names of a VM's processes, unread here */
	if (!json_object_object_get_ex(rec, "schema_version", &v) ||
	    json_object_get_int(v) < 2 || json_object_get_int(v) > VIOMMU_SCHEMA_VERSION) {
		snprintf(err, errlen, "schema_version %s, this viommu reads 2 to %d: compare it with the "
			 "viommu that wrote it, or record it again with this one",
			 v ? json_object_get_string(v) : "missing", VIOMMU_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/*
 * 0: no regression, 1: at least one, -1: unusable input (err says why,
 * prefixed "base: " or "new: ").
 */
int compare_records(struct json_object *base, struct json_object *new,
		    const struct compare_opts *o, FILE *out, char *err,
		    size_t errlen)
{
	static const double pcts[] = { 50, 90, 99 };
	struct viommu_hist hbase[VIOMMU_LAT_KINDS], hnew[VIOMMU_LAT_KINDS];
	char sub[200];
	int regressions = 0;

	if (check_header(base, sub, sizeof(sub))) {
		snprintf(err, errlen, "base: %s", sub);
		return -1;
	}
	if (check_header(new, sub, sizeof(sub))) {
		snprintf(err, errlen, "new: %s", sub);
		return -1;
	}
	/* every histogram of both is read before a line is printed */
	for (int k = 0; k < VIOMMU_LAT_KINDS; k++) {
		if (record_lat(base, lat_kind_names[k], &hbase[k], sub, sizeof(sub))) {
			snprintf(err, errlen, "base: %s", sub);
			return -1;
		}
		if (record_lat(new, lat_kind_names[k], &hnew[k], sub, sizeof(sub))) {
			snprintf(err, errlen, "new: %s", sub);
			return -1;
		}
	}
	fprintf(out, "%-22s %12s %12s %10s  %s\n", "METRIC", "BASE", "NEW", "CHANGE", "VERDICT");
	for (int k = 0; k < VIOMMU_LAT_KINDS; k++) {
		const struct viommu_hist *hb = &hbase[k], *hn = &hnew[k];

		if (hb->count < o->min_samples || hn->count < o->min_samples) {
			fprintf(out, "%-22s %12llu %12llu %10s  skipped (fewer than %lu samples)\n",
				lat_kind_names[k], (unsigned long long)hb->count,
				(unsigned long long)hn->count, "", o->min_samples);
			continue;
		}
		/* the exact mean first, then the percentiles */
		for (int p = -1; p < (int)(sizeof(pcts) / sizeof(*pcts)); p++) {
			double b = p < 0 ? hist_mean_us(hb) : hist_percentile_us(hb, pcts[p]);
			double n = p < 0 ? hist_mean_us(hn) : hist_percentile_us(hn, pcts[p]);
			double change = b > 0 ? (n - b) / b * 100 : 0;
			bool bad = change > o->threshold_pct && n - b > o->min_delta_us;
			char metric[40];

			if (p < 0)
				snprintf(metric, sizeof(metric), "%s mean_us", lat_kind_names[k]);
			else
				snprintf(metric, sizeof(metric), "%s p%.0f_us", lat_kind_names[k], pcts[p]);
			fprintf(out, "%-22s %12.1f %12.1f %+9.1f%%  %s\n", metric, b, n, change,
				bad ? "REGRESSION" : "ok");
			regressions += bad;
		}
	}
	fprintf(out, "%d regression%s (threshold +%g%% and +%g us)\n", regressions,
		regressions == 1 ? "" : "s", o->threshold_pct, o->min_delta_us);
	return regressions ? 1 : 0;
}

/* Records are kilobytes (a few MiB with thousands of VMs) */
#define RECORD_MAX_BYTES	(256u << 20)

/*
 * The record in path, or NULL after one line saying what is wrong with the
 * file and what to do: no such file, a directory, empty, cut short, not
 * JSON, too large. What is wrong inside the JSON, compare_records() says.
 */
static struct json_object *load_record(const char *path)
{
	static const char again[] = "record it again with viommu record -o FILE";
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	size_t len = 0, cap = 0, end;
	enum json_tokener_error jerr;
	char *buf = NULL, *bigger;
	bool whole = false;	/* all of buf was parsed */
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "viommu compare: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "viommu compare: %s: a directory, not a record: name the file viommu record -o wrote\n",
			path);
		goto out;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > RECORD_MAX_BYTES) {
				fprintf(stderr, "viommu compare: %s: larger than %u MiB: not a record\n",
					path, RECORD_MAX_BYTES >> 20);
				goto out;
			}
			bigger = realloc(buf, cap);
			if (!bigger) {
				fprintf(stderr, "viommu compare: %s: %s\n", path, strerror(ENOMEM));
				goto out;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			fprintf(stderr, "viommu compare: %s: %s\n", path, strerror(errno));
			goto out;
		}
		len += n;
	} while (n > 0);
	end = len;
	while (end && buf[end - 1] && strchr(" \t\r\n", buf[end - 1]))
		end--;
	if (!end) {
		fprintf(stderr, "viommu compare: %s: empty file, not a record: %s\n", path, again);
		goto out;
	}
	tok = json_tokener_new();
	if (!tok) {
		fprintf(stderr, "viommu compare: %s: %s\n", path, strerror(ENOMEM));
		goto out;
	}
	obj = json_tokener_parse_ex(tok, buf, end);
	/* a number at the very end may go on: a space ends it */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, " ", 1);
		whole = true;
	}
	jerr = json_tokener_get_error(tok);
	if (!obj && jerr == json_tokener_continue) {
		fprintf(stderr, "viommu compare: %s: cut short: the JSON ends at byte %zu before it is complete: %s\n",
			path, end, again);
	} else if (!obj) {
		fprintf(stderr, "viommu compare: %s: not JSON (%s, at byte %zu): not a record viommu wrote\n",
			path, json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
	} else if (!whole && json_tokener_get_parse_end(tok) < end) {
		fprintf(stderr, "viommu compare: %s: not JSON: text after the end of the record, at byte %zu\n",
			path, json_tokener_get_parse_end(tok));
		json_object_put(obj);
		obj = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	if (fd >= 0)
		close(fd);
	free(buf);
	return obj;
}

int cmd_compare(int argc, char **argv)
{
	const struct argp argp = { compare_options, compare_parse, "BASE NEW", compare_doc };
	struct json_object *base, *new;
	char err[400];
	int rc;

	/* each call parses afresh (the fuzzer calls it many times) */
	copts = copts_default;
	memset(cmp_files, 0, sizeof(cmp_files));
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	base = load_record(cmp_files[0]);
	if (!base)
		return EXIT_USAGE;
	new = load_record(cmp_files[1]);
	if (!new) {
		json_object_put(base);
		return EXIT_USAGE;
	}
	rc = compare_records(base, new, &copts, stdout, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "viommu compare: %s (%s)\n", err,
			!strncmp(err, "base", 4) ? cmp_files[0] : cmp_files[1]);
	json_object_put(base);
	json_object_put(new);
	return rc < 0 ? EXIT_USAGE : rc;
}
