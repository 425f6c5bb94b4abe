// SPDX-License-Identifier: GPL-2.0-only
/*
 * events.c - the tool's view of the list of events (VIOMMU_EVENT_KINDS and
 * VIOMMU_START_EVENTS in bpf/viommu.h): names, tracepoints, flags. Nothing
 * here spells an event itself, so the BPF programs, the check of the
 * kernel, trace, topo and the docs cannot disagree.
 */
#include <string.h>
#include "viommu.h"

const struct viommu_event_info viommu_events[VIOMMU_EV_KINDS] = {
#define EV_INFO(KIND, nm, tp, fn, fl, stub, args)				\
	[VIOMMU_EV_##KIND] = { .name = nm, .tracepoint = #tp, .flags = fl },
	VIOMMU_EVENT_KINDS(EV_INFO)
#undef EV_INFO
};

const char *const viommu_start_events[VIOMMU_START_KINDS] = {
#define START_NAME(tp, fn, KIND, stub, args) #tp,
	VIOMMU_START_EVENTS(START_NAME)
#undef START_NAME
};

/* Every tracepoint the programs attach to: the record kinds', then the starts' */
const char *viommu_tracepoint(unsigned int i)
{
	if (i < VIOMMU_EV_KINDS)
		return viommu_events[i].tracepoint;
	if (i < VIOMMU_EV_KINDS + VIOMMU_START_KINDS)
		return viommu_start_events[i - VIOMMU_EV_KINDS];
	return NULL;
}

/* A bit per kind (enum viommu_event_kind) with all of flags */
unsigned int viommu_event_mask(unsigned int flags)
{
	unsigned int mask = 0;

	for (int k = 0; k < VIOMMU_EV_KINDS; k++)
		if ((viommu_events[k].flags & flags) == flags)
			mask |= 1u << k;
	return mask;
}

/* The kind named name (trace's EVENT column), or -1 */
int viommu_event_kind(const char *name)
{
	for (int k = 0; k < VIOMMU_EV_KINDS; k++)
		if (!strcmp(viommu_events[k].name, name))
			return k;
	return -1;
}
