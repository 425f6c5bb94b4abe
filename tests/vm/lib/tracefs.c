// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracefs.h"

#define TRACEFS "/sys/kernel/tracing"

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int trace_event_enable(const char *system, const char *event, bool on)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS "/events/%s/%s/enable", system,
		 event);
	return write_file(path, on ? "1" : "0");
}

int trace_system_enable(const char *system, bool on)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS "/events/%s/enable", system);
	return write_file(path, on ? "1" : "0");
}

bool trace_event_exists(const char *system, const char *event)
{
	char path[256];

	snprintf(path, sizeof(path), TRACEFS "/events/%s/%s/format", system,
		 event);
	return access(path, R_OK) == 0;
}

int trace_set_clock(const char *clock)
{
	return write_file(TRACEFS "/trace_clock", clock);
}

int trace_clear(void)
{
	return write_file(TRACEFS "/trace", "");
}

static void parse_fields(struct trace_rec *rec, char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, " \n", &save);
	     tok && rec->nfields < TRACE_MAX_FIELDS;
	     tok = strtok_r(NULL, " \n", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		snprintf(rec->field[rec->nfields].key,
			 sizeof(rec->field[0].key), "%s", tok);
		snprintf(rec->field[rec->nfields].val,
			 sizeof(rec->field[0].val), "%s", eq + 1);
		rec->nfields++;
	}
}

int trace_read(struct trace_rec **recs)
{
	FILE *f = fopen(TRACEFS "/trace", "r");
	struct trace_rec *v = NULL;
	int n = 0, cap = 0;
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p, *ev, *end, *ts;
		unsigned long long secs, usecs;

		if (line[0] == '#')
			continue;
		/* The event name follows the timestamp's ": " */
		p = strstr(line, ": ");
		if (!p)
			continue;
		ev = p + 2;
		end = strstr(ev, ": ");
		if (!end)
			continue;
		*end = '\0';
		/* The timestamp, "SECS.USECS", ends at that ": " */
		*p = '\0';
		ts = strrchr(line, ' ');
		if (!ts || sscanf(ts + 1, "%llu.%6llu", &secs, &usecs) != 2)
			secs = usecs = 0;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v) {
				fclose(f);
				return -ENOMEM;
			}
		}
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].event, sizeof(v[n].event), "%s", ev);
		v[n].ts_ns = secs * 1000000000ULL + usecs * 1000;
		parse_fields(&v[n], end + 2);
		n++;
	}
	fclose(f);
	*recs = v;
	return n;
}

/* NULL for a missing field, or no record at all (a trace_nth() past the end) */
static const char *field(const struct trace_rec *rec, const char *key)
{
	for (int i = 0; rec && i < rec->nfields; i++)
		if (!strcmp(rec->field[i].key, key))
			return rec->field[i].val;
	return NULL;
}

/* Parse key's value as a number; signed values come back as two's complement */
static bool field_number(const struct trace_rec *rec, const char *key,
			 bool is_signed, uint64_t *val)
{
	const char *s = field(rec, key);
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*val = is_signed ? (uint64_t)strtoll(s, &end, 0) : strtoull(s, &end, 0);
	return !errno && !*end;
}

bool trace_field_u64(const struct trace_rec *rec, const char *key,
		     uint64_t *val)
{
	return field_number(rec, key, false, val);
}

bool trace_field_s64(const struct trace_rec *rec, const char *key,
		     int64_t *val)
{
	uint64_t v;

	if (!field_number(rec, key, true, &v))
		return false;
	*val = (int64_t)v;
	return true;
}

int trace_count(const struct trace_rec *recs, int n, const char *event)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += !strcmp(recs[i].event, event);
	return c;
}

const struct trace_rec *trace_nth(const struct trace_rec *recs, int n,
				  const char *event, int i)
{
	for (int k = 0; k < n; k++)
		if (!strcmp(recs[k].event, event) && i-- == 0)
			return &recs[k];
	return NULL;
}

int trace_take(struct trace_rec **recs)
{
	int n;

	free(*recs);
	*recs = NULL;
	n = trace_read(recs);
	if (n >= 0)
		trace_clear();
	return n;
}
