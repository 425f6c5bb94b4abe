// SPDX-License-Identifier: GPL-2.0-only
/*
 * An empty tp_btf program: attached to an event, it measures what the
 * attachment alone costs (dispatch, and whatever the kernel does only while
 * the event is enabled), the floor under any BPF tool on that event.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

SEC("tp_btf/iommufd_cache_invalidate_end")
int empty(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
