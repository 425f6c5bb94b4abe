/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * For the randomized VM tests: a random sequence that a printed seed
 * reproduces (xorshift64*), and a monotonic clock in seconds for their
 * time bounds.
 */
#ifndef TESTS_SEEDED_H
#define TESTS_SEEDED_H

#include <stdint.h>
#include <time.h>

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A number below n (0 for n = 0) */
static inline unsigned int below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
