// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf.c - check that this machine can run the tool, load and attach
 * viommu.bpf.c (tp_btf), and read its maps.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "viommu.h"
#include "viommu.skel.h"

struct viommu_bpf {
	struct viommu_skel *skel;
	int ncpus;
	/* iommufd is a loaded module: a thread watches for its unloading */
	bool watching;
	pthread_t watcher, main_thread;
	int uevent_fd, stop_pipe[2];
	volatile sig_atomic_t module_gone;
};

/*
 * iommufd's misc device registers when the module (or the built-in code)
 * is up: without it there is no /dev/iommu and so no VM to watch.
 */
#define IOMMUFD_MISC	"/sys/class/misc/iommu"
/* only a loadable module has an initstate; built-in code has none */
#define IOMMUFD_MODULE	"/sys/module/iommufd"
#define IOMMUFD_BTF	"/sys/kernel/btf/iommufd"

static bool iommufd_up(void)
{
	return !access(IOMMUFD_MISC, F_OK);
}

/*
 * Does this kernel have iommufd as a module file (modules.dep names it)?
 * Then its trace events may be in it, not in vmlinux.
 */
static bool iommufd_module_file(const char *release)
{
	char path[128], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", release);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/iommufd.ko") && strchr(line, ':') &&
			strstr(line, "/iommufd.ko") < strchr(line, ':');
	fclose(f);
	return found;
}

static bool has_caps(void)
{
	cap_value_t need[] = { CAP_BPF, CAP_PERFMON };
	cap_flag_value_t v;
	bool ok = true;
	cap_t caps;

	/* uid 0 alone is not enough: a container's root may lack them */
	caps = cap_get_proc();
	if (!caps)
		return false;
	for (size_t i = 0; i < 2; i++)
		if (cap_get_flag(caps, need[i], CAP_EFFECTIVE, &v) || v != CAP_SET)
			ok = false;
	if (!ok && !cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v) &&
	    v == CAP_SET)
		ok = true;
	cap_free(caps);
	return ok;
}

/*
 * Say exactly what is missing, if anything, in one line that also says how
 * to get it: privileges, kernel BTF, the iommufd trace events (-v lists
 * each missing event). Returns 0 when the tool can load.
 */
int viommu_check_environment(void)
{
	const char *btf_path = viommu_btf_override() ?: "/sys/kernel/btf/vmlinux";
	char release[65] = "?", named[256] = "";
	struct utsname uts;
	libbpf_print_fn_t old_print;
	struct btf *btf, *mod_btf = NULL;
	const struct btf *types;
	int missing = 0, err;

	if (!uname(&uts))
		snprintf(release, sizeof(release), "%s", uts.release);

	if (!has_caps()) {
		fprintf(stderr,
			"viommu: permission denied: loading BPF programs needs root, or CAP_BPF and "
			"CAP_PERFMON (CAP_SYS_ADMIN on older kernels): run it with sudo, or "
			"setcap cap_bpf,cap_perfmon+ep $(which viommu)\n");
		return -EPERM;
	}
	/* VIOMMU_BTF=FILE plays another kernel: a missing FILE is no BTF */
	if (access(btf_path, R_OK)) {
		fprintf(stderr,
			"viommu: this kernel has no BTF (%s: %s), which the BPF programs relocate "
			"against (CO-RE): build the kernel with CONFIG_DEBUG_INFO_BTF=y, as this "
			"project's kernel is\n", btf_path, strerror(errno));
		return -ENOENT;
	}
	/*
	 * A tracepoint's BTF typedef btf_trace_<event> exists exactly when the
	 * kernel has the event; tp_btf attaches by it. No tracefs needed.
	 */
	/* the line below says it all: libbpf's own warning would be a second */
	old_print = libbpf_set_print(NULL);
	btf = viommu_btf_override() ? btf__parse(viommu_btf_override(), NULL) :
				      btf__load_vmlinux_btf();
	err = errno;
	/*
	 * iommufd as a loaded module (CONFIG_IOMMUFD=m): what it defines is in
	 * its own BTF, split on vmlinux's; a lookup in it sees both. libbpf
	 * finds it too, for CO-RE and for attaching tp_btf programs.
	 */
	if (btf && !viommu_btf_override() && !access(IOMMUFD_BTF, R_OK)) {
		mod_btf = btf__load_module_btf("iommufd", btf);
		if (!mod_btf && common.verbose)
			fprintf(stderr, "viommu: cannot read %s: %s\n", IOMMUFD_BTF, strerror(errno));
	}
	libbpf_set_print(old_print);
	if (!btf) {
		fprintf(stderr, "viommu: cannot read the kernel's BTF (%s): %s: build the kernel with "
			"CONFIG_DEBUG_INFO_BTF=y, as this project's kernel is\n", btf_path,
			err >= __LIBBPF_ERRNO__START ? "not BTF" : strerror(err));
		return -ENOENT;
	}
	types = mod_btf ?: btf;
	/* the events the programs attach to (bpf/viommu.h): all must exist */
	for (unsigned int i = 0; i < VIOMMU_TRACEPOINTS; i++) {
		char name[128];

		snprintf(name, sizeof(name), "btf_trace_%s", viommu_tracepoint(i));
		if (btf__find_by_name_kind(types, name, BTF_KIND_TYPEDEF) > 0)
			continue;
		/* the line names the first two; -v lists every one */
		if (missing < 2)
			snprintf(named + strlen(named), sizeof(named) - strlen(named), "%siommufd:%s",
				 missing ? ", " : "", viommu_tracepoint(i));
		if (common.verbose)
			fprintf(stderr, "viommu: missing event iommufd:%s\n", viommu_tracepoint(i));
		missing++;
	}
	/* The events are there: are their arguments and fields the tool's? */
	if (!missing && viommu_check_btf(types, release)) {
		btf__free(mod_btf);
		btf__free(btf);
		return -ENOENT;
	}
	btf__free(mod_btf);
	btf__free(btf);
	/*
	 * A distribution kernel builds iommufd as a module. In this series the
	 * events are built in (drivers/iommu/iommufd/trace.c) and attach
	 * without it, but with no module there is no /dev/iommu and no VM to
	 * see. A series that puts them in the module has them only once it
	 * is loaded, which the tool cannot tell from a kernel without them
	 * (say, a distribution's): then the line below says both.
	 */
	if (!missing && !iommufd_up()) {
		fprintf(stderr,
			"viommu: iommufd is not loaded (no %s, no /dev/iommu): load it with "
			"'modprobe iommufd' and run the tool again\n", IOMMUFD_MISC);
		return -ENOENT;
	}
	if (missing) {
		bool unloaded = !iommufd_up() && iommufd_module_file(release);

		fprintf(stderr,
			"viommu: this kernel (%s) lacks %d of the %d iommufd trace events the tool "
			"needs (%s%s): they come with this project's kernel series (kernel/patches, "
			"built by 'make kernel'; docs/tracepoints.md): run the tool on that kernel, "
			"e.g. in the test VM: make demo%s\n",
			release, missing, VIOMMU_TRACEPOINTS, named,
			missing > 2 ? ", ...; -v lists each" : "",
			unloaded ? " (iommufd is a module that is not loaded: if this kernel has "
				   "the events in it, 'modprobe iommufd' brings them)" : "");
		return -ENOENT;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (level == LIBBPF_DEBUG && !common.verbose)
		return 0;
	if (level == LIBBPF_INFO && !common.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/*
 * The end events of invalidations carry their start time, so the start
 * events are needed only to print them (trace).
 */
static void select_programs(struct viommu_skel *skel, bool emit_events)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		bool is_start = false;

		/* btf_<tracepoint>, as viommu.bpf.c names them */
		for (int i = 0; i < VIOMMU_START_KINDS; i++)
			is_start |= !strncmp(name, "btf_", 4) &&
				    !strcmp(name + 4, viommu_start_events[i]);
		bpf_program__set_autoload(prog, emit_events || !is_start);
	}
}

/*
 * Map sizes from --max-vms: entries are allocated as VMs appear, so these
 * bound memory rather than cost it. VIOMMU_MAX_ENTRIES=map=N,... then sets
 * single maps (tests shrink them to force every drop reason).
 */
static int size_maps(struct viommu_skel *skel)
{
	unsigned int vms = common.max_vms ? common.max_vms : VIOMMU_DEFAULT_MAX_VMS;
	const char *env = getenv("VIOMMU_MAX_ENTRIES");
	char *list, *item, *save = NULL;
	int rc = 0;

	bpf_map__set_max_entries(skel->maps.vm_stats, vms);
	bpf_map__set_max_entries(skel->maps.vm_idents, vms);
	bpf_map__set_max_entries(skel->maps.viommu_stats, vms * VIOMMU_PER_VM);
	/* per-vIOMMU histograms only when asked */
	bpf_map__set_max_entries(skel->maps.viommu_lat,
				 common.per_viommu ? vms * VIOMMU_PER_VM : 1);
	bpf_map__set_max_entries(skel->maps.starts, vms * VIOMMU_PER_VM);
	if (!env)
		return 0;
	list = strdup(env);
	for (item = strtok_r(list, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *end;
		struct bpf_map *map;
		unsigned long n;

		if (eq)
			*eq = '\0';
		map = eq ? bpf_object__find_map_by_name(skel->obj, item) : NULL;
		n = eq ? strtoul(eq + 1, &end, 10) : 0;
		if (!map || !n || *end || n > UINT32_MAX) {
			fprintf(stderr, "viommu: VIOMMU_MAX_ENTRIES: '%s' is not MAP=N with a map of the tool "
				"(vm_stats, vm_idents, viommu_stats, viommu_lat, starts)\n", item);
			rc = -1;
		} else {
			bpf_map__set_max_entries(map, n);
		}
	}
	free(list);
	return rc;
}

/* Tests give the checks and CO-RE a kernel BTF with fields taken out */
const char *viommu_btf_override(void)
{
	const char *path = getenv("VIOMMU_BTF");

	return path && *path ? path : NULL;
}

/*
 * The VMM of each VM older than the tool, from fdinfo (vmm_pid), so that
 * -p matches it by its VMM and it is named after it from its first event.
 * Before attaching: no event finds a VM half known. Quiet: a process whose
 * files are out of reach leaves its VMs named after their opener, and top
 * and topo warn about it.
 */
static void prefill_idents(struct viommu_skel *skel)
{
	int fd = bpf_map__fd(skel->maps.vm_idents);
	struct snapshot snap;

	if (snapshot_scan(&snap, 0))
		return;
	for (int i = 0; i < snap.nr_ctxs; i++) {
		const struct snap_ctx *c = &snap.ctxs[i];
		struct viommu_vm_ident id = { .vmm_pid = c->vmm_pid };
		__u32 key = c->ictx_id;

		if (!id.vmm_pid || (common.vm && key != common.vm) ||
		    (common.pid && c->owner_tgid != common.pid && c->vmm_pid != common.pid))
			continue;
		comm_of(id.vmm_pid, id.comm, sizeof(id.comm));
		if (!strcmp(id.comm, "?"))
			memset(id.comm, 0, sizeof(id.comm));
		bpf_map_update_elem(fd, &key, &id, BPF_NOEXIST);
	}
	snapshot_free(&snap);
}

static struct viommu_skel *load(bool emit_events,
				const struct viommu_events_opts *eo)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts,
		    .btf_custom_path = viommu_btf_override());
	struct viommu_skel *skel = viommu_skel__open_opts(&open_opts);
	int err;

	if (!skel)
		return NULL;
	skel->rodata->targ_tgid = common.pid;
	skel->rodata->targ_ictx = common.vm;
	skel->rodata->emit_events = emit_events;
	skel->rodata->per_viommu_lat = common.per_viommu;
	if (eo) {
		skel->rodata->emit_viommu = eo->viommu_id;
		skel->rodata->emit_kinds = eo->kinds;
	}
	skel->rodata->hist_unit_ns = common.ms ? VIOMMU_HIST_UNIT_MS : VIOMMU_HIST_UNIT_US;
	if (size_maps(skel)) {
		viommu_skel__destroy(skel);
		errno = EINVAL;
		return NULL;
	}
	select_programs(skel, emit_events);
	/* Only trace needs the ring buffer's 4 MiB */
	if (!emit_events)
		bpf_map__set_max_entries(skel->maps.events, 4096);
	else if (eo && eo->ringbuf_pages)
		bpf_map__set_max_entries(skel->maps.events,
					 eo->ringbuf_pages * sysconf(_SC_PAGESIZE));
	err = viommu_skel__load(skel);
	if (!err) {
		prefill_idents(skel);
		err = viommu_skel__attach(skel);
	}
	if (err) {
		viommu_skel__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
}

/*
 * iommufd as a module can be unloaded while the tool runs: nothing the tool
 * holds pins it (the events are in vmlinux, and the tool opens no
 * /dev/iommu). Once it is gone no VM is left, and none can come until it
 * is loaded again: the thread below then ends the command as SIGTERM
 * would (output whole, exit 0), and viommu_bpf_close() says why. It sleeps
 * in the kernel's uevents ("remove@/module/iommufd"), and looks every few
 * seconds too, for a network namespace that gets no uevents.
 */
static void *watch_module(void *arg)
{
	struct viommu_bpf *vb = arg;
	struct pollfd fds[2] = {
		{ .fd = vb->stop_pipe[0], .events = POLLIN },
		{ .fd = vb->uevent_fd, .events = POLLIN },
	};
	sigset_t block;
	char buf[2048];

	/* SIGINT and SIGTERM from outside are the main thread's to take */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	for (;;) {
		int n = poll(fds, vb->uevent_fd >= 0 ? 2 : 1, 5000);

		if (n > 0 && fds[0].revents)
			return NULL;
		/* what the uevents said does not matter: sysfs says what is */
		if (n > 0 && fds[1].revents)
			while (recv(vb->uevent_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		if (access(IOMMUFD_MODULE, F_OK) && errno == ENOENT) {
			vb->module_gone = 1;
			exiting = 1;
			/* wake the main thread from its sleep or poll */
			pthread_kill(vb->main_thread, SIGTERM);
			return NULL;
		}
	}
}

static void watch_module_start(struct viommu_bpf *vb)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };

	vb->uevent_fd = -1;
	if (access(IOMMUFD_MODULE "/initstate", F_OK))
		return;		/* built in, or not there at all */
	if (pipe(vb->stop_pipe))
		return;
	vb->uevent_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (vb->uevent_fd >= 0 && bind(vb->uevent_fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(vb->uevent_fd);
		vb->uevent_fd = -1;
	}
	vb->main_thread = pthread_self();
	/* the thread looks once first: an unload before the socket was bound */
	if (pthread_create(&vb->watcher, NULL, watch_module, vb)) {
		if (vb->uevent_fd >= 0)
			close(vb->uevent_fd);
		close(vb->stop_pipe[0]);
		close(vb->stop_pipe[1]);
		return;
	}
	vb->watching = true;
}

static void watch_module_stop(struct viommu_bpf *vb)
{
	if (!vb->watching)
		return;
	if (write(vb->stop_pipe[1], "", 1) < 0)
		pthread_cancel(vb->watcher);
	pthread_join(vb->watcher, NULL);
	close(vb->stop_pipe[0]);
	close(vb->stop_pipe[1]);
	if (vb->uevent_fd >= 0)
		close(vb->uevent_fd);
	vb->watching = false;
}

/* Did the iommufd module go away while the tool ran (the run ends then)? */
bool viommu_bpf_module_gone(const struct viommu_bpf *vb)
{
	return vb && vb->module_gone;
}

static struct viommu_bpf *open_with(bool emit_events,
				    const struct viommu_events_opts *eo)
{
	struct viommu_bpf *vb;

	if (viommu_check_environment())
		return NULL;
	libbpf_set_print(libbpf_print);
	vb = calloc(1, sizeof(*vb));
	if (!vb)
		return NULL;
	vb->ncpus = libbpf_num_possible_cpus();
	vb->skel = load(emit_events, eo);
	if (!vb->skel) {
		fprintf(stderr,
			"viommu: cannot load or attach the BPF programs: %s\n"
			"  (run with -v for libbpf's log)\n", strerror(errno));
		free(vb);
		return NULL;
	}
	watch_module_start(vb);
	return vb;
}

struct viommu_bpf *viommu_bpf_open(bool emit_events)
{
	return open_with(emit_events, NULL);
}

void viommu_bpf_close(struct viommu_bpf *vb)
{
	if (!vb)
		return;
	watch_module_stop(vb);
	viommu_skel__destroy(vb->skel);
	if (vb->module_gone)
		fprintf(stderr, "viommu: the iommufd module was unloaded, so no VM is left to watch: "
			"stopped (load it with 'modprobe iommufd' and run the tool again)\n");
	free(vb);
}

const char *viommu_bpf_attach_mode(struct viommu_bpf *vb)
{
	(void)vb;
	return "tp_btf";
}

/* Load with event records on, and a ring buffer that hands them to fn(ctx) */
struct viommu_bpf *viommu_bpf_open_events(const struct viommu_events_opts *eo,
					  ring_buffer_sample_fn fn, void *ctx,
					  struct ring_buffer **rb)
{
	struct viommu_bpf *vb = open_with(true, eo);

	if (!vb)
		return NULL;
	*rb = ring_buffer__new(bpf_map__fd(vb->skel->maps.events), fn, ctx, NULL);
	if (!*rb) {
		fprintf(stderr, "viommu: ring buffer: %s\n", strerror(errno));
		viommu_bpf_close(vb);
		return NULL;
	}
	return vb;
}

/* d += s: rows into a total */
void viommu_vm_stats_add(struct viommu_vm_stats *d, const struct viommu_vm_stats *s)
{
	if (s->opener_pid)
		d->opener_pid = s->opener_pid;
	if (s->vmm_pid)
		d->vmm_pid = s->vmm_pid;
#define ADD_COUNTER(name) d->name += s->name;
	VIOMMU_VM_COUNTERS(ADD_COUNTER)
#undef ADD_COUNTER
	for (int k = 0; k < VIOMMU_LAT_KINDS; k++) {
		hist_merge(&d->lat[k], &s->lat[k]);
		/* per slot: the newest epoch's maximum over the copies */
		for (int i = 0; i < 2; i++) {
			__u64 *dw = &d->interval_max[k].slot[i];
			__u64 sw = s->interval_max[k].slot[i];

			if (viommu_imax_newer(sw >> VIOMMU_IMAX_NS_BITS, *dw >> VIOMMU_IMAX_NS_BITS) ||
			    (sw >> VIOMMU_IMAX_NS_BITS == *dw >> VIOMMU_IMAX_NS_BITS && sw > *dw))
				*dw = sw;
		}
	}
}

/*
 * End the programs' current interval for the per-interval maxima; returns
 * its epoch, whose maxima (viommu_interval_max_ns) no program changes now.
 */
uint64_t viommu_bpf_end_interval(struct viommu_bpf *vb)
{
	uint64_t epoch = vb->skel->data->interval_epoch;

	__atomic_store_n(&vb->skel->data->interval_epoch, epoch + 1, __ATOMIC_RELEASE);
	return epoch;
}

/* The largest latency of a kind in the closed interval epoch, or 0 if none */
uint64_t viommu_interval_max_ns(const struct viommu_vm_stats *s, int kind,
				uint64_t epoch)
{
	return viommu_interval_max_read(&s->interval_max[kind], epoch);
}

/*
 * Every entry of a hash map, read with batch lookups (a syscall per chunk
 * of entries, not two per entry), into *keys and *values (malloc'ed).
 * Returns the number of entries or -errno.
 */
static int map_read_all(int fd, size_t key_size, size_t value_size,
			void **keys, void **values)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 chunk = 64, count, batch = 0;
	size_t n = 0, cap = 0;
	char *k = NULL, *v = NULL;
	bool first = true;
	int err;

	for (;;) {
		if (n + chunk > cap) {
			char *nk, *nv;

			cap = (n + chunk) * 2;
			nk = realloc(k, cap * key_size);
			if (nk)
				k = nk;
			nv = realloc(v, cap * value_size);
			if (nv)
				v = nv;
			if (!nk || !nv) {
				err = -ENOMEM;
				goto fail;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					   k + n * key_size, v + n * value_size,
					   &count, &opts);
		if (err)
			err = -errno;
		first = false;
		n += count;
		if (err == -ENOENT)
			break;
		if (err == -ENOSPC) {
			/* one hash bucket holds more entries than a chunk */
			chunk *= 2;
			continue;
		}
		if (err)
			goto fail;
	}
	if (!n) {
		free(k);
		free(v);
		k = v = NULL;
	}
	*keys = k;
	*values = v;
	return n;
fail:
	free(k);
	free(v);
	*keys = *values = NULL;
	return err;
}

/*
 * fn(key, value, ctx) for every entry of a hash map, read with batch
 * lookups a chunk at a time, so no second copy of a large map is made.
 * Returns 0, or -errno (-ENOMEM: fn's status).
 */
static int map_for_each(int fd, size_t key_size, size_t value_size,
			int (*fn)(const void *key, const void *value, void *ctx), void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 chunk = 64, count, batch = 0;
	char *k = NULL, *v = NULL;
	bool first = true, last = false;
	int err = 0;

	while (!last) {
		if (!k) {
			k = malloc(chunk * key_size);
			v = malloc(chunk * value_size);
			if (!k || !v) {
				err = -ENOMEM;
				break;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, k, v, &count, &opts);
		if (err)
			err = -errno;
		first = false;
		if (err == -ENOSPC) {
			/* one hash bucket holds more entries than a chunk */
			free(k);
			free(v);
			k = v = NULL;
			chunk *= 2;
			continue;
		}
		last = err == -ENOENT;
		if (err && !last)
			break;
		err = 0;
		for (__u32 i = 0; i < count && !err; i++)
			err = fn(k + i * key_size, v + i * value_size, ctx);
		if (err)
			break;
	}
	free(k);
	free(v);
	return err;
}

struct vm_rows {
	struct vm_row *rows;
	int n, cap;
};

/*
 * An entry's program inserts it zeroed, then writes its opener and VMM: an
 * entry read in between (opener 0, which no VM has) is left for the next
 * read, which sees it whole, rather than shown as a VM of pid 0.
 */
static bool half_written(pid_t opener_pid)
{
	return !opener_pid;
}

static int add_vm_row(const void *key, const void *value, void *ctx)
{
	struct vm_rows *r = ctx;

	if (half_written(((const struct viommu_vm_stats *)value)->opener_pid))
		return 0;
	if (r->n == r->cap) {
		struct vm_row *more = realloc(r->rows, (r->cap = r->cap ? r->cap * 2 : 64) * sizeof(*more));

		if (!more)
			return -ENOMEM;
		r->rows = more;
	}
	r->rows[r->n].ictx_id = *(const __u32 *)key;
	memcpy(&r->rows[r->n].s, value, sizeof(r->rows[r->n].s));
	r->n++;
	return 0;
}

static int cmp_vm_row(const void *a, const void *b)
{
	const struct vm_row *x = a, *y = b;

	return (x->ictx_id > y->ictx_id) - (x->ictx_id < y->ictx_id);
}

/* Every VM's counters and histograms, in context id order; returns the number of rows */
int viommu_bpf_read_vms(struct viommu_bpf *vb, struct vm_row **rows)
{
	struct vm_rows r = {};
	int err = map_for_each(bpf_map__fd(vb->skel->maps.vm_stats), sizeof(__u32),
			       sizeof(struct viommu_vm_stats), add_vm_row, &r);

	if (err) {
		free(r.rows);
		*rows = NULL;
		return err;
	}
	if (r.n)
		qsort(r.rows, r.n, sizeof(*r.rows), cmp_vm_row);
	*rows = r.rows;
	return r.n;
}

static int cmp_key(const void *a, const void *b)
{
	const struct viommu_key *x = a, *y = b;

	if (x->ictx_id != y->ictx_id)
		return x->ictx_id > y->ictx_id ? 1 : -1;
	return (x->viommu_id > y->viommu_id) - (x->viommu_id < y->viommu_id);
}

static int cmp_row(const void *a, const void *b)
{
	const struct viommu_row *x = a, *y = b;
	int c = cmp_key(&x->key, &y->key);

	if (c)
		return c;
	return (x->s.alloc_ns > y->s.alloc_ns) - (x->s.alloc_ns < y->s.alloc_ns);
}

/*
 * Every vIOMMU's counters (and histogram, if kept), in (VM, vIOMMU, alloc
 * time) order. A vIOMMU whose id was taken by a newer one since is a row
 * of its own, gone, with its histogram (its counters went to the new one).
 */
int viommu_bpf_read_viommus(struct viommu_bpf *vb, struct viommu_row **rows)
{
	struct viommu_viommu_stats *vals;
	struct viommu_lat_key *hkeys;
	struct viommu_key *keys;
	struct viommu_hist *hists;
	struct viommu_row *r;
	int n, nh, nread, total;

	*rows = NULL;
	n = map_read_all(bpf_map__fd(vb->skel->maps.viommu_stats), sizeof(*keys),
			 sizeof(*vals), (void **)&keys, (void **)&vals);
	if (n < 0)
		return n;
	nread = n;
	nh = map_read_all(bpf_map__fd(vb->skel->maps.viommu_lat), sizeof(*hkeys),
			  sizeof(*hists), (void **)&hkeys, (void **)&hists);
	if (nh < 0)
		nh = 0;
	r = calloc(n + nh + 1, sizeof(*r));
	if (!r) {
		total = -ENOMEM;
		goto out;
	}
	n = 0;
	for (int i = 0; i < nread; i++) {
		if (half_written(vals[i].opener_pid))
			continue;
		r[n].key = keys[i];
		r[n].s = vals[i];
		r[n].gone = r[n].s.destroy_ns > r[n].s.alloc_ns;
		n++;
	}
	/* rows start with their key: sorted by it, found by it */
	qsort(r, n, sizeof(*r), cmp_row);
	total = n;
	for (int i = 0; i < nh; i++) {
		struct viommu_key k = { hkeys[i].ictx_id, hkeys[i].viommu_id };
		struct viommu_row *row = bsearch(&k, r, n, sizeof(*r), cmp_key);

		if (row && row->s.alloc_ns == hkeys[i].alloc_ns) {
			row->guest_inval = hists[i];
			continue;
		}
		/* a predecessor of the id's vIOMMU now (or of none) */
		row = &r[total++];
		row->key = k;
		row->gone = true;
		row->s.alloc_ns = hkeys[i].alloc_ns;
		row->guest_inval = hists[i];
		for (int j = 0; j < n; j++)
			if (r[j].key.ictx_id == k.ictx_id) {
				row->s.opener_pid = r[j].s.opener_pid;
				row->s.vmm_pid = r[j].s.vmm_pid;
			}
	}
	qsort(r, total, sizeof(*r), cmp_row);
	*rows = r;
out:
	if (nread > 0) {
		free(keys);
		free(vals);
	}
	if (nh > 0) {
		free(hkeys);
		free(hists);
	}
	return total;
}

/* Drop one vIOMMU incarnation's histogram (and counters, if it is the id's latest) */
void viommu_bpf_forget_viommu(struct viommu_bpf *vb, const struct viommu_row *row)
{
	struct viommu_lat_key lk = { row->key.ictx_id, row->key.viommu_id, row->s.alloc_ns };
	int fd = bpf_map__fd(vb->skel->maps.viommu_stats);
	struct viommu_viommu_stats now;

	bpf_map_delete_elem(bpf_map__fd(vb->skel->maps.viommu_lat), &lk);
	/* only if no newer vIOMMU took the id meanwhile */
	if (!bpf_map_lookup_elem(fd, &row->key, &now) && now.alloc_ns == row->s.alloc_ns &&
	    now.destroy_ns > now.alloc_ns)
		bpf_map_delete_elem(fd, &row->key);
}

/* Delete the keys of a map (key_size <= 16) with ictx_id at offset off */
static void forget_keys(int fd, size_t key_size, size_t off, __u32 ictx_id)
{
	char key[16], next[16], *doomed = NULL;
	size_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (memcmp(key + off, &ictx_id, sizeof(ictx_id)))
			continue;
		char *more = realloc(doomed, (n + 1) * key_size);

		if (!more)
			break;
		doomed = more;
		memcpy(doomed + n++ * key_size, key, key_size);
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, doomed + i * key_size);
	free(doomed);
}

static bool process_gone(int pid)
{
	return pid > 0 && kill(pid, 0) && errno == ESRCH;
}

/*
 * Have both processes of a VM exited, its opener and its VMM (either may
 * be unknown, 0)? Either one alone may hold the file: libvirtd may keep
 * its copy after QEMU exits, and a launcher may exit once QEMU has it.
 */
bool viommu_vm_processes_gone(int opener, int vmm)
{
	if (opener <= 0 && vmm <= 0)
		return false;
	return (opener <= 0 || process_gone(opener)) && (vmm <= 0 || process_gone(vmm));
}

/*
 * A VM whose figures are final: its processes have exited, or every vIOMMU
 * it had is destroyed. Readers forget it once they have read them, so a
 * host where VMs come and go does not fill the maps.
 */
bool viommu_vm_gone(const struct viommu_vm_stats *s)
{
	if ((s->viommus_allocated || s->viommus_destroyed) &&
	    s->viommus_destroyed >= s->viommus_allocated)
		return true;
	return viommu_vm_processes_gone(s->opener_pid, s->vmm_pid);
}

/*
 * The name of a VM: its VMM's as the programs took it in the VMM (or the
 * tool from fdinfo at start); else the live VMM's, else the live opener's;
 * "?" when none is known. 0, or -ENOENT for "?".
 */
int viommu_vm_name(struct viommu_bpf *vb, unsigned int ictx_id, int opener,
		   int vmm, char *buf, size_t len)
{
	struct viommu_vm_ident id = {};
	__u32 key = ictx_id;

	if (!bpf_map_lookup_elem(bpf_map__fd(vb->skel->maps.vm_idents), &key, &id) &&
	    id.comm[0] && (!vmm || id.vmm_pid == vmm)) {
		snprintf(buf, len, "%.*s", VIOMMU_COMM_LEN, id.comm);
		return 0;
	}
	if (vmm > 0)
		comm_of(vmm, buf, len);
	if (vmm <= 0 || !strcmp(buf, "?"))
		comm_of(opener, buf, len);
	return strcmp(buf, "?") ? 0 : -ENOENT;
}

/* Drop a VM that went away, and its vIOMMUs, from the maps */
void viommu_bpf_forget_vm(struct viommu_bpf *vb, unsigned int ictx_id)
{
	__u32 id = ictx_id;

	bpf_map_delete_elem(bpf_map__fd(vb->skel->maps.vm_stats), &id);
	bpf_map_delete_elem(bpf_map__fd(vb->skel->maps.vm_idents), &id);
	forget_keys(bpf_map__fd(vb->skel->maps.viommu_stats), sizeof(struct viommu_key),
		    offsetof(struct viommu_key, ictx_id), ictx_id);
	forget_keys(bpf_map__fd(vb->skel->maps.viommu_lat), sizeof(struct viommu_lat_key),
		    offsetof(struct viommu_lat_key, ictx_id), ictx_id);
	/* and the start times of faults the kernel answered itself */
	forget_keys(bpf_map__fd(vb->skel->maps.starts), sizeof(struct viommu_start_key),
		    offsetof(struct viommu_start_key, ictx_id), ictx_id);
}

/*
 * Forget a VM whose figures the caller has read as *seen and found final,
 * unless its entry has changed since: a VM can do all its work and exit
 * between a read of the map and the caller's decision (a VM's life can be
 * shorter than one interval), and deleting the entry then would lose what it
 * did. Returns 0 if forgotten, -EAGAIN if the entry changed (read it again),
 * -ENOENT if it is not there.
 */
int viommu_bpf_forget_vm_seen(struct viommu_bpf *vb, unsigned int ictx_id,
			      const struct viommu_vm_stats *seen)
{
	struct viommu_vm_stats *now = malloc(sizeof(*now));
	__u32 id = ictx_id;
	int rc;

	if (!now)
		return -ENOMEM;
	rc = bpf_map_lookup_elem(bpf_map__fd(vb->skel->maps.vm_stats), &id, now) ? -ENOENT : 0;
	if (!rc && memcmp(now, seen, sizeof(*now)))
		rc = -EAGAIN;
	free(now);
	/* an entry that is gone is forgotten too: its vIOMMUs' may remain */
	if (rc != -EAGAIN)
		viommu_bpf_forget_vm(vb, ictx_id);
	return rc;
}

/* The drops so far, summed over CPUs */
int viommu_bpf_read_drops(struct viommu_bpf *vb, struct viommu_drops *out)
{
	struct viommu_drops *percpu = calloc(vb->ncpus, sizeof(*percpu));
	__u32 zero = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!percpu)
		return -ENOMEM;
	rc = bpf_map_lookup_elem(bpf_map__fd(vb->skel->maps.drops), &zero, percpu);
	for (int c = 0; !rc && c < vb->ncpus; c++)
		for (int r = 0; r < VIOMMU_DROPS; r++)
			out->n[r] += percpu[c].n[r];
	free(percpu);
	return rc ? -errno : 0;
}

/*
 * The drops so far as JSON, as top's and lat's lines carry them; d, if
 * not NULL, gets them too (trace's and topo's losses are d->n[RINGBUF])
 */
struct json_object *viommu_bpf_drops_json(struct viommu_bpf *vb, struct viommu_drops *d)
{
	struct viommu_drops now;

	viommu_bpf_read_drops(vb, &now);
	if (d)
		*d = now;
	return drops_to_json(&now);
}

/* Run time and count of all attached programs (needs bpf_enable_stats) */
int viommu_bpf_prog_stats(struct viommu_bpf *vb, uint64_t *run_ns,
			  uint64_t *run_cnt)
{
	struct bpf_program *prog;

	*run_ns = *run_cnt = 0;
	bpf_object__for_each_program(prog, vb->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		*run_ns += info.run_time_ns;
		*run_cnt += info.run_cnt;
	}
	return 0;
}
