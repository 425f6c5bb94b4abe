/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Read iommufd trace events from tracefs, for tests that count events and
 * check their fields. Events are parsed from the text of the "trace" file:
 * "<task>-<pid> [cpu] flags ts: <event>: key=value key=value ...".
 */
#ifndef TESTS_TRACEFS_H
#define TESTS_TRACEFS_H

#include <stdbool.h>
#include <stdint.h>

#define TRACE_MAX_FIELDS 16

struct trace_rec {
	char event[64];
	/* the record's timestamp, in ns; the "trace" file prints microseconds */
	uint64_t ts_ns;
	int nfields;
	struct {
		char key[32];
		char val[64];
	} field[TRACE_MAX_FIELDS];
};

/* Enable (or disable) system/event; returns 0 or -errno */
int trace_event_enable(const char *system, const char *event, bool on);
/* Enable (or disable) every event of system */
int trace_system_enable(const char *system, bool on);
/* Whether system/event exists in this kernel */
bool trace_event_exists(const char *system, const char *event);
/* Set the clock of the trace buffer's timestamps ("mono", "local", ...) */
int trace_set_clock(const char *clock);
/* Empty the trace buffer */
int trace_clear(void);
/*
 * Read the buffer; returns the number of records stored in *recs (malloc'd,
 * caller frees), or -errno.
 */
int trace_read(struct trace_rec **recs);
/* The value of key in rec; false when absent, not a number, or rec is NULL */
bool trace_field_u64(const struct trace_rec *rec, const char *key,
		     uint64_t *val);
bool trace_field_s64(const struct trace_rec *rec, const char *key,
		     int64_t *val);
/* How many records of event there are */
int trace_count(const struct trace_rec *recs, int n, const char *event);
/* The i-th record (from 0) of event, or NULL */
const struct trace_rec *trace_nth(const struct trace_rec *recs, int n,
				  const char *event, int i);
/*
 * Free *recs, read the buffer into it anew and empty the buffer, so that
 * each step of a test sees its own events; returns the number of records,
 * or -errno.
 */
int trace_take(struct trace_rec **recs);

#endif
