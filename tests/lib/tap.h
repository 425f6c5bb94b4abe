/* SPDX-License-Identifier: GPL-2.0-only */
/* Minimal TAP producer for the project's C tests. */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_planned, tap_failed;

static inline void tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline int tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!pass)
		tap_failed++;
	return pass;
}

/*
 * A check of a known bug, listed in tests/expected-skips: "# TODO why" after
 * the description; failing, it does not fail the program (scripts/tally.sh
 * fails it unless it is listed).
 */
static inline int tap_todo(int pass, const char *why, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # TODO %s\n", why);
	fflush(stdout);
	return pass;
}

#define tap_is(got, want, ...)						\
	({								\
		long long _g = (got), _w = (want);			\
		int _p = tap_ok(_g == _w, __VA_ARGS__);		\
		if (!_p)						\
			printf("#   got %lld, want %lld\n", _g, _w);	\
		_p;							\
	})

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Stop the test: the rest of the plan counts as failed */
static inline void tap_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

static inline int tap_done(void)
{
	if (tap_n != tap_planned)
		printf("# planned %d, ran %d\n", tap_planned, tap_n);
	return tap_failed || tap_n != tap_planned;
}

#endif
