// SPDX-License-Identifier: GPL-2.0-only
/*
 * snapshot.c - the iommufd objects that exist now, read from the fdinfo of
 * every iommufd file on the machine (format: Documentation/userspace-api/
 * iommufd.rst, "Objects in fdinfo"), so tools see objects created before
 * they started.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(v, &end, 0);
	return errno || end == v || *end ? -1 : 0;
}

/* One "key=value" of an iommufd-object line; unknown keys are skipped */
static int object_set(struct snap_object *o, const char *key, const char *val)
{
	static const struct {
		const char *key;
		size_t off;
	} u32_fields[] = {
		{ "id", offsetof(struct snap_object, id) },
		{ "hwpt", offsetof(struct snap_object, hwpt) },
		{ "ioas", offsetof(struct snap_object, ioas) },
		{ "parent", offsetof(struct snap_object, parent) },
		{ "viommu", offsetof(struct snap_object, viommu) },
		{ "vmid", offsetof(struct snap_object, vmid) },
		{ "depth", offsetof(struct snap_object, depth) },
		{ "index", offsetof(struct snap_object, index) },
		{ "nest_parent", offsetof(struct snap_object, nest_parent) },
		{ "viommu_type", offsetof(struct snap_object, sub_type) },
		{ "veventq_type", offsetof(struct snap_object, sub_type) },
		{ "hw_queue_type", offsetof(struct snap_object, sub_type) },
	};
	uint64_t v;

	if (!strcmp(key, "type")) {
		if (strlen(val) >= sizeof(o->type))
			return -1;
		strcpy(o->type, val);
		return 0;
	}
	if (!strcmp(key, "dev")) {
		/* a device's name, or a vDEVICE's device object id */
		if (!strcmp(o->type, "device")) {
			snprintf(o->dev_name, sizeof(o->dev_name), "%s", val);
			return 0;
		}
		if (parse_u64(val, &v) || v > UINT_MAX)
			return -1;
		o->dev = v;
		return 0;
	}
	/* vmm_pid: the allocating process; kvm_pid: the first series */
	if (!strcmp(key, "vmm_pid") || !strcmp(key, "kvm_pid")) {
		char *end;
		long pid = strtol(val, &end, 10);

		if (end == val || *end || pid < 0 || pid > INT_MAX)
			return -1;
		o->vmm_pid = pid;
		return 0;
	}
	for (size_t i = 0; i < sizeof(u32_fields) / sizeof(u32_fields[0]); i++) {
		if (strcmp(key, u32_fields[i].key))
			continue;
		if (parse_u64(val, &v) || v > UINT_MAX)
			return -1;
		*(unsigned int *)((char *)o + u32_fields[i].off) = v;
		return 0;
	}
	if (!strcmp(key, "virt_id"))
		return parse_u64(val, &o->virt_id);
	if (!strcmp(key, "base_addr"))
		return parse_u64(val, &o->base_addr);
	if (!strcmp(key, "length"))
		return parse_u64(val, &o->length);
	return 0;
}

static int parse_object(char *line, struct snap_object *o)
{
	char *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	for (tok = strtok_r(line, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return -1;
		*eq = '\0';
		if (object_set(o, tok, eq + 1))
			return -1;
	}
	return o->id && o->type[0] ? 0 : -1;
}

/*
 * Parse the fdinfo text of one file into ctx (objects allocated here).
 * Returns 0 for an iommufd file, 1 for any other file, -1 if an iommufd
 * line is malformed.
 */
int snap_parse_fdinfo(const char *text, struct snap_ctx *ctx)
{
	char *copy = strdup(text), *save = NULL, *line;
	bool is_iommufd = false;
	int rc = 0;

	if (!copy)
		return -1;
	memset(ctx, 0, sizeof(*ctx));
	for (line = strtok_r(copy, "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *val;

		if (!colon)
			continue;
		*colon = '\0';
		val = colon + 1;
		while (*val == '\t' || *val == ' ')
			val++;
		if (!strcmp(line, "iommufd-ctx")) {
			uint64_t v;

			if (parse_u64(val, &v) || v > UINT_MAX)
				rc = -1;
			ctx->ictx_id = v;
			is_iommufd = true;
		} else if (!strcmp(line, "iommufd-owner-tgid")) {
			ctx->owner_tgid = atoi(val);
		} else if (!strcmp(line, "iommufd-object")) {
			struct snap_object *objs;

			objs = realloc(ctx->objects,
				       (ctx->nr_objects + 1) * sizeof(*objs));
			if (!objs) {
				rc = -1;
				break;
			}
			ctx->objects = objs;
			if (parse_object(val, &objs[ctx->nr_objects]))
				rc = -1;
			else
				ctx->nr_objects++;
		}
	}
	/* the VM's VMM: its first vIOMMU's that names one */
	for (int i = 0; !rc && i < ctx->nr_objects && !ctx->vmm_pid; i++)
		if (!strcmp(ctx->objects[i].type, "viommu"))
			ctx->vmm_pid = ctx->objects[i].vmm_pid;
	free(copy);
	if (rc || !is_iommufd) {
		free(ctx->objects);
		ctx->objects = NULL;
		ctx->nr_objects = 0;
		return rc ? -1 : 1;
	}
	return 0;
}

/* /proc, or for tests a directory laid out like it (VIOMMU_PROC) */
static const char *proc_root(void)
{
	const char *root = getenv("VIOMMU_PROC");

	return root && *root ? root : "/proc";
}

void comm_of(int pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "%s/%d/comm", proc_root(), pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static char *read_file(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static bool is_numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A VM's name: its VMM's, else its opener's, else the holder's */
static void ctx_name(struct snap_ctx *ctx)
{
	int who[] = { ctx->vmm_pid, ctx->owner_tgid, ctx->pid };

	snprintf(ctx->comm, sizeof(ctx->comm), "?");
	for (size_t i = 0; i < sizeof(who) / sizeof(*who) && !strcmp(ctx->comm, "?"); i++)
		if (who[i] > 0)
			comm_of(who[i], ctx->comm, sizeof(ctx->comm));
}

/* A process whose open files we may not read (ptrace access mode) */
static void denied(struct snapshot *snap, int pid)
{
	if (!snap->denied++)
		snap->denied_pid = pid;
}

/* Add the iommufd files of one process; a context seen before is kept once */
static void scan_pid(struct snapshot *snap, int pid)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/%d/fd", proc_root(), pid);
	dir = opendir(path);
	if (!dir) {
		if (errno == EACCES || errno == EPERM)
			denied(snap, pid);
		return;
	}
	while ((de = readdir(dir))) {
		struct snap_ctx ctx, *ctxs;
		bool dup = false;
		ssize_t n;
		char *text;

		if (!is_numeric(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%d/fd/%s", proc_root(), pid, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0) {
			if (errno == EACCES || errno == EPERM) {
				denied(snap, pid);
				break;
			}
			continue;
		}
		target[n] = '\0';
		if (strcmp(target, "/dev/iommu") && strcmp(target, "/dev/vfio/vfio"))
			continue;
		snprintf(path, sizeof(path), "%s/%d/fdinfo/%s", proc_root(), pid, de->d_name);
		text = read_file(path);
		if (!text) {
			if (errno == EACCES || errno == EPERM)
				denied(snap, pid);
			continue;
		}
		if (snap_parse_fdinfo(text, &ctx)) {
			free(text);
			continue;
		}
		free(text);
		for (int i = 0; i < snap->nr_ctxs; i++)
			dup |= snap->ctxs[i].ictx_id == ctx.ictx_id;
		if (dup) {
			free(ctx.objects);
			continue;
		}
		ctx.pid = pid;
		ctx.fd = atoi(de->d_name);
		ctx_name(&ctx);
		ctxs = realloc(snap->ctxs, (snap->nr_ctxs + 1) * sizeof(*ctxs));
		if (!ctxs) {
			free(ctx.objects);
			break;
		}
		snap->ctxs = ctxs;
		snap->ctxs[snap->nr_ctxs++] = ctx;
	}
	closedir(dir);
}

static int cmp_ctx(const void *a, const void *b)
{
	const struct snap_ctx *x = a, *y = b;

	return (x->ictx_id > y->ictx_id) - (x->ictx_id < y->ictx_id);
}

/* Does pid name ctx's VM: its opener, or the VMM of one of its vIOMMUs? */
bool snap_ctx_has_pid(const struct snap_ctx *ctx, int pid)
{
	if (ctx->owner_tgid == pid)
		return true;
	for (int i = 0; i < ctx->nr_objects; i++)
		if (ctx->objects[i].vmm_pid == pid && !strcmp(ctx->objects[i].type, "viommu"))
			return true;
	return false;
}

/*
 * Every iommufd context on the machine, by context id; with only_pid, those
 * whose opener or VMM it is (any process may hold the file: libvirtd
 * passes it to QEMU and may close its own copy).
 */
int snapshot_scan(struct snapshot *snap, int only_pid)
{
	struct dirent *de;
	DIR *proc;
	int kept = 0;

	memset(snap, 0, sizeof(*snap));
	proc = opendir(proc_root());
	if (!proc)
		return -errno;
	while ((de = readdir(proc)))
		if (is_numeric(de->d_name))
			scan_pid(snap, atoi(de->d_name));
	closedir(proc);
	for (int i = 0; only_pid && i < snap->nr_ctxs; i++) {
		if (snap_ctx_has_pid(&snap->ctxs[i], only_pid))
			snap->ctxs[kept++] = snap->ctxs[i];
		else
			free(snap->ctxs[i].objects);
	}
	if (only_pid)
		snap->nr_ctxs = kept;
	if (snap->nr_ctxs)	/* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(snap->ctxs, snap->nr_ctxs, sizeof(*snap->ctxs), cmp_ctx);
	return 0;
}

int snapshot_take(struct snapshot *snap, int only_pid)
{
	int rc = snapshot_scan(snap, only_pid);

	if (!rc)
		snapshot_warn_denied(snap);
	return rc;
}

/*
 * Reading another process's /proc/PID/fd and fdinfo needs ptrace read
 * access (PTRACE_MODE_READ_FSCREDS): CAP_SYS_PTRACE, unless the process has
 * our uid and no capability we lack; and for another uid's process,
 * CAP_DAC_READ_SEARCH for its 0500 fd directories. CAP_BPF and CAP_PERFMON
 * load the programs but give neither, and the VMs of the processes they
 * hide would be missing without a word: say so, once per run.
 */
void snapshot_warn_denied(const struct snapshot *snap)
{
	static bool warned;
	char comm[VIOMMU_COMM_LEN];

	if (!snap->denied || warned)
		return;
	warned = true;
	comm_of(snap->denied_pid, comm, sizeof(comm));
	fprintf(stderr,
		"viommu: warning: cannot read the open files of %d process%s (pid %d %s%s), so VMs "
		"they made before the tool started are not shown: reading another process's "
		"/proc/PID/fd and fdinfo needs ptrace read access (ptrace(2), PTRACE_MODE_READ): "
		"CAP_SYS_PTRACE, and CAP_DAC_READ_SEARCH for another user's processes: run as root, "
		"or setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep $(which viommu)\n",
		snap->denied, snap->denied == 1 ? "" : "es", snap->denied_pid, comm,
		snap->denied > 1 ? ", ..." : "");
}

void snapshot_free(struct snapshot *snap)
{
	for (int i = 0; i < snap->nr_ctxs; i++)
		free(snap->ctxs[i].objects);
	free(snap->ctxs);
	memset(snap, 0, sizeof(*snap));
}

const struct snap_ctx *snapshot_find(const struct snapshot *snap,
				     unsigned int ictx_id)
{
	for (int i = 0; i < snap->nr_ctxs; i++)
		if (snap->ctxs[i].ictx_id == ictx_id)
			return &snap->ctxs[i];
	return NULL;
}

int snap_count(const struct snap_ctx *ctx, const char *type)
{
	int n = 0;

	for (int i = 0; i < ctx->nr_objects; i++)
		n += !strcmp(ctx->objects[i].type, type);
	return n;
}

/*
 * Names from include/uapi/linux/iommufd.h (enum iommu_viommu_type,
 * iommu_veventq_type, iommu_hw_queue_type) and the selftest driver's
 * iommufd_test.h; a type not listed is printed as its number.
 */
static const struct {
	enum iommufd_type_class cls;
	uint64_t type;
	const char *name;
} type_names[] = {
	{ IOMMUFD_TYPE_VIOMMU, 0, "default" },
	{ IOMMUFD_TYPE_VIOMMU, 1, "arm_smmuv3" },
	{ IOMMUFD_TYPE_VIOMMU, 2, "tegra241_cmdqv" },
	{ IOMMUFD_TYPE_VIOMMU, 0xdeadbeef, "selftest" },
	{ IOMMUFD_TYPE_VEVENTQ, 0, "default" },
	{ IOMMUFD_TYPE_VEVENTQ, 1, "arm_smmuv3" },
	{ IOMMUFD_TYPE_VEVENTQ, 2, "tegra241_cmdqv" },
	{ IOMMUFD_TYPE_VEVENTQ, 0xbeefbeef, "selftest" },
	{ IOMMUFD_TYPE_HW_QUEUE, 0, "default" },
	{ IOMMUFD_TYPE_HW_QUEUE, 1, "tegra241_cmdqv" },
	{ IOMMUFD_TYPE_HW_QUEUE, 0xdeadbeef, "selftest" },
};

const char *iommufd_type_name(enum iommufd_type_class cls, uint64_t type,
			      char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(*type_names); i++)
		if (type_names[i].cls == cls && type_names[i].type == type)
			return type_names[i].name;
	snprintf(buf, len, "%llu", (unsigned long long)type);
	return buf;
}

struct json_object *json_id(uint64_t id)
{
	return id == VIOMMU_ID_NONE ? NULL : json_object_new_uint64(id);
}

double ktime_to_unix_ms(uint64_t ktime_ns)
{
	static int64_t offset_ns;
	static bool have_offset;

	/* CLOCK_REALTIME - CLOCK_MONOTONIC, taken once: times stay ordered */
	if (!have_offset) {
		struct timespec mono, real;

		clock_gettime(CLOCK_MONOTONIC, &mono);
		clock_gettime(CLOCK_REALTIME, &real);
		offset_ns = (real.tv_sec - mono.tv_sec) * 1000000000LL +
			    (real.tv_nsec - mono.tv_nsec);
		have_offset = true;
	}
	return ((int64_t)ktime_ns + offset_ns) / 1e6;
}
