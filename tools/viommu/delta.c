// SPDX-License-Identifier: GPL-2.0-only
/*
 * delta.c - the previous reading per key, and what changed since: the one
 * place where top, lat and the overhead line turn cumulative counters and
 * histograms into an interval's counts and rates.
 *
 * A reading is a struct whose layout names its counters (u64) and its
 * histograms; every other field is copied as read. A counter or histogram
 * that went backwards means the key restarted (a map entry deleted and
 * made again, a vIOMMU id reused): what it counts then is the new reading
 * alone, never a difference that wraps around to a huge number.
 *
 * Zero-based sets hold counters that start at 0 inside the tool's life
 * (the BPF maps, made at load): a key's first reading is all it did, in
 * the interval it appeared in. Other sets (bpf_stats, CPU time) count from
 * before the tool: a key's first reading, and a restart, give no delta
 * and no rate.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "viommu.h"

struct delta_entry {
	struct delta_entry *next;
	uint64_t round;		/* the sweep round it was last taken in */
	uint64_t data[];	/* the key, padded to 8 bytes, then the reading */
};

struct delta_set {
	const struct delta_layout *layout;
	size_t key_size, key_words;
	bool zero_based;
	struct delta_entry **buckets;
	size_t nbuckets, n;
	uint64_t round;
};

struct delta_set *delta_set_new(size_t key_size, const struct delta_layout *layout,
				bool zero_based)
{
	struct delta_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->layout = layout;
	s->key_size = key_size;
	s->key_words = (key_size + 7) / 8;
	s->zero_based = zero_based;
	s->nbuckets = 64;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	return s;
}

void delta_set_free(struct delta_set *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct delta_entry *e = s->buckets[b], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(s->buckets);
	free(s);
}

size_t delta_set_size(const struct delta_set *s)
{
	return s->n;
}

/* FNV-1a over the key's bytes */
static size_t bucket_of(const struct delta_set *s, const void *key)
{
	const unsigned char *k = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < s->key_size; i++)
		h = (h ^ k[i]) * 0x100000001b3ULL;
	return h & (s->nbuckets - 1);
}

static void *reading_of(const struct delta_set *s, struct delta_entry *e)
{
	return e->data + s->key_words;
}

static struct delta_entry **slot_of(struct delta_set *s, const void *key)
{
	struct delta_entry **p = &s->buckets[bucket_of(s, key)];

	while (*p && memcmp((*p)->data, key, s->key_size))
		p = &(*p)->next;
	return p;
}

const void *delta_last(struct delta_set *s, const void *key)
{
	struct delta_entry *e = *slot_of(s, key);

	return e ? reading_of(s, e) : NULL;
}

/* Twice the buckets when they hold two entries each on average */
static void grow(struct delta_set *s)
{
	size_t old = s->nbuckets;
	struct delta_entry **b = calloc(old * 2, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	s->nbuckets = old * 2;
	for (size_t i = 0; i < old; i++)
		for (struct delta_entry *e = s->buckets[i], *next; e; e = next) {
			size_t to = bucket_of(s, e->data);

			next = e->next;
			e->next = b[to];
			b[to] = e;
		}
	free(s->buckets);
	s->buckets = b;
}

#define COUNTER(r, off)	(*(uint64_t *)((char *)(r) + (off)))
#define HIST(r, off)	((struct viommu_hist *)((char *)(r) + (off)))

/* Did any counter or histogram of now go below prev's? */
static bool went_back(const struct delta_layout *l, const void *now, const void *prev)
{
	for (int i = 0; i < l->ncounters; i++)
		if (COUNTER(now, l->counters[i]) < COUNTER(prev, l->counters[i]))
			return true;
	for (int i = 0; i < l->nhists; i++) {
		const struct viommu_hist *a = HIST(now, l->hists[i]), *b = HIST(prev, l->hists[i]);

		if (a->count < b->count || a->sum_ns < b->sum_ns)
			return true;
		for (int j = 0; j < VIOMMU_HIST_BUCKETS; j++)
			if (a->slots[j] < b->slots[j])
				return true;
	}
	return false;
}

enum delta_status delta_take(struct delta_set *s, const void *key, const void *reading,
			     void *delta)
{
	const struct delta_layout *l = s->layout;
	struct delta_entry **p = slot_of(s, key), *e = *p;
	enum delta_status st = DELTA_NEXT;
	void *prev;

	if (!e) {
		e = calloc(1, sizeof(*e) + (s->key_words * 8) + l->size);
		if (!e)
			return DELTA_NONE;
		memcpy(e->data, key, s->key_size);
		*p = e;
		if (++s->n > 2 * s->nbuckets)
			grow(s);
		st = DELTA_FIRST;
	}
	prev = reading_of(s, e);
	if (st == DELTA_NEXT && went_back(l, reading, prev))
		st = DELTA_RESTART;
	if (delta) {
		memcpy(delta, reading, l->size);
		for (int i = 0; i < l->ncounters; i++) {
			size_t off = l->counters[i];

			if (st == DELTA_NEXT)
				COUNTER(delta, off) -= COUNTER(prev, off);
			else if (!s->zero_based)
				COUNTER(delta, off) = 0;
		}
		for (int i = 0; i < l->nhists; i++) {
			size_t off = l->hists[i];

			if (st == DELTA_NEXT)
				hist_sub(HIST(delta, off), HIST(reading, off), HIST(prev, off));
			else if (!s->zero_based)
				memset(HIST(delta, off), 0, sizeof(struct viommu_hist));
		}
	}
	memcpy(prev, reading, l->size);
	e->round = s->round;
	return st;
}

bool delta_has_rate(const struct delta_set *s, enum delta_status st)
{
	return st == DELTA_NEXT || (s->zero_based && st != DELTA_NONE);
}

double delta_rate(const struct delta_set *s, enum delta_status st, uint64_t n, double secs)
{
	return delta_has_rate(s, st) && secs > 0 ? n / secs : -1;
}

void delta_forget(struct delta_set *s, const void *key)
{
	struct delta_entry **p = slot_of(s, key), *e = *p;

	if (!e)
		return;
	*p = e->next;
	free(e);
	s->n--;
}

/* Forget the keys not taken since the last sweep; returns how many */
int delta_sweep(struct delta_set *s)
{
	int gone = 0;

	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct delta_entry **p = &s->buckets[b]; *p; ) {
			struct delta_entry *e = *p;

			if (e->round == s->round) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			free(e);
			s->n--;
			gone++;
		}
	s->round++;
	return gone;
}

/* The readings of the BPF maps, as top and lat take them */
#define VM_COUNTER_OFF(name) offsetof(struct viommu_vm_stats, name),
static const size_t vm_counters[] = { VIOMMU_VM_COUNTERS(VM_COUNTER_OFF) };
static const size_t vm_hists[] = {
	offsetof(struct viommu_vm_stats, lat[VIOMMU_LAT_GUEST_INVAL]),
	offsetof(struct viommu_vm_stats, lat[VIOMMU_LAT_S2_INVAL]),
	offsetof(struct viommu_vm_stats, lat[VIOMMU_LAT_FAULT]),
};
_Static_assert(sizeof(vm_hists) / sizeof(*vm_hists) == VIOMMU_LAT_KINDS, "a VM's histograms");

const struct delta_layout delta_vm_layout = {
	.size = sizeof(struct viommu_vm_stats),
	.counters = vm_counters, .ncounters = sizeof(vm_counters) / sizeof(*vm_counters),
	.hists = vm_hists, .nhists = VIOMMU_LAT_KINDS,
};

static const size_t viommu_counters[] = {
	offsetof(struct viommu_row, s.guest_invals),
	offsetof(struct viommu_row, s.guest_inval_entries),
	offsetof(struct viommu_row, s.vmid_invals),
	offsetof(struct viommu_row, s.vevents_queued),
	offsetof(struct viommu_row, s.vevents_lost),
};
static const size_t viommu_hists[] = { offsetof(struct viommu_row, guest_inval) };

const struct delta_layout delta_viommu_layout = {
	.size = sizeof(struct viommu_row),
	.counters = viommu_counters, .ncounters = sizeof(viommu_counters) / sizeof(*viommu_counters),
	.hists = viommu_hists, .nhists = 1,
};
