// SPDX-License-Identifier: GPL-2.0-only
/*
 * record.c - viommu record writes the latency distributions and counts of
 * one run to JSON, for viommu compare (compare.c) to check against a
 * baseline: the step users put in CI.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"


struct record_opts {
	const char *output;
	const char *scenario;
	double duration;
	char **command;
};
static const struct record_opts ropts_default = { .scenario = "default" };
static struct record_opts ropts;

static const struct argp_option record_options[] = {
	{ "output", 'o', "FILE", 0, "Write the record here (required)", 0 },
	{ "scenario", 's', "NAME", 0, "Name of what was measured (default: default)", 0 },
	{ "duration", 'd', "SECS", 0, "Record this long (default: the command, or Ctrl-C)", 0 },
	{},
};

static const char record_doc[] =
"viommu record: record vIOMMU latencies and counts of a run to JSON.\n"
"\n"
"With a COMMAND, it records while the command runs and exits with the\n"
"command's status. The file is written whole or not at all.\n"
"\n"
"EXAMPLES:\n"
"  viommu record -o base.json -- viommu-load -V 4 -n 2000\n"
"  viommu record -o new.json -s boot -d 30\n"
"  viommu compare base.json new.json";

static error_t record_parse(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'o':
		ropts.output = arg;
		break;
	case 's':
		ropts.scenario = arg;
		break;
	case 'd':
		errno = 0;
		ropts.duration = strtod(arg, &end);
		if (errno || *end || ropts.duration <= 0)
			return usage_error(state, "invalid duration: %s", arg);
		break;
	case ARGP_KEY_ARGS:
		ropts.command = state->argv + state->next;
		break;
	case ARGP_KEY_END:
		if (!ropts.output)
			return usage_error(state, "-o FILE is required");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void add_counts(struct json_object *o, const struct viommu_vm_stats *s)
{
#define ADD_COUNTER(name) json_object_object_add(o, #name, json_object_new_uint64(s->name));
	VIOMMU_VM_COUNTERS(ADD_COUNTER)
#undef ADD_COUNTER
}

static struct json_object *lat_json(const struct viommu_vm_stats *s)
{
	struct json_object *lat = json_object_new_object();

	for (int k = 0; k < VIOMMU_LAT_KINDS; k++)
		json_object_object_add(lat, lat_kind_names[k], hist_to_json(&s->lat[k]));
	return lat;
}

/*
 * Every VM seen, with what it did: a VM that went away is added when its
 * last figures are read and then forgotten in the maps (so VMs coming and
 * going do not fill them); the others are added at the end.
 */
struct kept_vm {
	struct vm_row row;
	char comm[VIOMMU_COMM_LEN];	/* from when it was alive */
	int named_by;			/* the VMM comm names, 0: the opener */
};
static struct kept_vm *kept;
static int nr_kept;

static struct kept_vm *kept_of(struct viommu_bpf *vb, unsigned int ictx_id, int opener,
			       int vmm)
{
	struct kept_vm *k;

	for (int i = nr_kept - 1; i >= 0; i--) {
		if (kept[i].row.ictx_id != ictx_id)
			continue;
		/* named after its VMM once it has one */
		if (vmm > 0 && kept[i].named_by != vmm) {
			viommu_vm_name(vb, ictx_id, opener, vmm, kept[i].comm,
				       sizeof(kept[i].comm));
			kept[i].named_by = vmm;
		}
		return &kept[i];
	}
	k = realloc(kept, (nr_kept + 1) * sizeof(*k));
	if (!k)
		return NULL;
	kept = k;
	k = &kept[nr_kept++];
	memset(k, 0, sizeof(*k));
	k->row.ictx_id = ictx_id;
	viommu_vm_name(vb, ictx_id, opener, vmm, k->comm, sizeof(k->comm));
	k->named_by = vmm;
	return k;
}

/* Read the maps: keep and forget VMs that went away, or (final) all */
static void harvest(struct viommu_bpf *vb, bool final)
{
	struct vm_row *rows;
	int n = viommu_bpf_read_vms(vb, &rows);

	for (int i = 0; i < n; i++) {
		struct kept_vm *k = kept_of(vb, rows[i].ictx_id, rows[i].s.opener_pid,
					    rows[i].s.vmm_pid);
		bool gone = !final && viommu_vm_gone(&rows[i].s);

		if (!k)
			break;
		/* changed since the read: the next harvest takes it */
		if (gone && viommu_bpf_forget_vm_seen(vb, rows[i].ictx_id, &rows[i].s) == -EAGAIN)
			continue;
		if (final || gone)
			viommu_vm_stats_add(&k->row.s, &rows[i].s);
	}
	free(rows);
}

/* The temporary file the record is written to, then renamed over -o */
static int tmp_name(char *buf, size_t len, const char *output)
{
	return snprintf(buf, len, "%s.tmp.%d", output, getpid()) < (int)len ? 0 : -1;
}

/*
 * Whether the record can be written where -o says, found out before the
 * run rather than after it: 0, or the exit status (2: -o names a
 * directory or a directory that does not exist; 1: no writing there).
 */
static int output_check(const char *output)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd;

	if (!stat(output, &st) && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "viommu record: -o %s is a directory: name a file (-o %s/record.json)\n",
			output, output);
		return EXIT_USAGE;
	}
	if (tmp_name(tmp, sizeof(tmp), output)) {
		fprintf(stderr, "viommu record: -o %s: %s\n", output, strerror(ENAMETOOLONG));
		return EXIT_USAGE;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = errno;

		fprintf(stderr, "viommu record: cannot write %s: %s: %s\n", output, strerror(err),
			err == ENOENT || err == ENOTDIR ? "its directory does not exist" :
			"choose a directory you can write in (-o DIR/FILE)");
		return err == ENOENT || err == ENOTDIR ? EXIT_USAGE : 1;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

static int cmp_kept(const void *a, const void *b)
{
	const struct kept_vm *x = a, *y = b;

	return (x->row.ictx_id > y->row.ictx_id) - (x->row.ictx_id < y->row.ictx_id);
}

static int write_record(struct viommu_bpf *vb, double secs, int status)
{
	struct json_object *root = json_object_new_object(), *vms = json_object_new_array();
	struct json_object *total = json_object_new_object();
	struct viommu_vm_stats sum = {};
	struct viommu_drops drops;
	char tmp[PATH_MAX];
	int n = 0, rc = 0;
	FILE *f;

	harvest(vb, true);
	viommu_bpf_read_drops(vb, &drops);
	if (nr_kept > 1)	/* no VM seen: kept is NULL, and qsort(NULL, 0) undefined */
		qsort(kept, nr_kept, sizeof(*kept), cmp_kept);
	json_object_object_add(root, "schema_version", json_object_new_int(VIOMMU_SCHEMA_VERSION));
	json_object_object_add(root, "type", json_object_new_string(RECORD_TYPE));
	json_object_object_add(root, "scenario", json_object_new_string(ropts.scenario));
	json_object_object_add(root, "ts_unix_ms", json_object_new_int64((int64_t)time(NULL) * 1000));
	json_object_object_add(root, "duration_s", json_object_new_double(secs));
	if (ropts.command) {
		struct json_object *cmd = json_object_new_array();

		for (char **a = ropts.command; *a; a++)
			json_object_array_add(cmd, json_object_new_string(*a));
		json_object_object_add(root, "command", cmd);
		json_object_object_add(root, "command_status", json_object_new_int(status));
	}
	/* updates the programs could not make: a record with drops is short */
	json_object_object_add(root, "drops", drops_to_json(&drops));
	for (int i = 0; i < nr_kept; i++) {
		const struct viommu_vm_stats *s = &kept[i].row.s;
		struct json_object *o;

		/* seen only as a name (its figures were dropped) */
		if (!s->opener_pid)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "vm", json_object_new_int64(kept[i].row.ictx_id));
		json_object_object_add(o, "opener_pid", json_object_new_int(s->opener_pid));
		json_object_object_add(o, "vmm_pid", json_object_new_int(s->vmm_pid));
		json_object_object_add(o, "comm", json_object_new_string(kept[i].comm));
		add_counts(o, s);
		json_object_object_add(o, "lat", lat_json(s));
		json_object_array_add(vms, o);
		viommu_vm_stats_add(&sum, s);
		n++;
	}
	json_object_object_add(total, "vms", json_object_new_int(n));
	add_counts(total, &sum);
	json_object_object_add(total, "lat", lat_json(&sum));
	json_object_object_add(root, "total", total);
	json_object_object_add(root, "vms", vms);

	/* Whole or nothing: write a temporary file, then rename it */
	tmp_name(tmp, sizeof(tmp), ropts.output);	/* fits: output_check() */
	f = fopen(tmp, "w");
	if (!f || fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY), f) < 0 ||
	    fputc('\n', f) < 0 || fclose(f) || rename(tmp, ropts.output)) {
		fprintf(stderr, "viommu record: writing %s: %s\n", ropts.output, strerror(errno));
		unlink(tmp);
		rc = -1;
	} else {
		char dropped[160];

		drops_format(dropped, sizeof(dropped), &drops);
		fprintf(stderr, "viommu record: %d VMs, %llu guest invalidations in %.1f s, drops %s -> %s\n",
			n, (unsigned long long)sum.guest_invals, secs, dropped, ropts.output);
	}
	json_object_put(root);
	free(kept);
	kept = NULL;
	nr_kept = 0;
	return rc;
}

int cmd_record(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { record_options, record_parse, "[-- COMMAND [ARG...]]",
				   record_doc, children };
	int status = 0, exit_code = 0;
	struct viommu_bpf *vb;
	pid_t child = 0;
	double start, next_harvest;

	ropts = ropts_default;
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	exit_code = output_check(ropts.output);
	if (exit_code)
		return exit_code;
	vb = viommu_bpf_open(false);
	if (!vb)
		return 1;
	start = monotonic_s();
	if (ropts.command) {
		child = fork();
		if (child < 0) {
			perror("viommu record: fork");
			viommu_bpf_close(vb);
			return 1;
		}
		if (!child) {
			execvp(ropts.command[0], ropts.command);
			fprintf(stderr, "viommu record: %s: %s\n", ropts.command[0], strerror(errno));
			_exit(127);
		}
	}
	/* every second, keep and forget the VMs that went away */
	next_harvest = start + 1;
	while (!exiting) {
		if (child) {
			pid_t w = waitpid(child, &status, WNOHANG);

			if (w == child) {
				child = 0;
				exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				break;
			}
		}
		if (ropts.duration && monotonic_s() - start >= ropts.duration)
			break;
		if (monotonic_s() >= next_harvest) {
			harvest(vb, false);
			next_harvest = monotonic_s() + 1;
		}
		usleep(50000);
	}
	if (child) {
		/* Interrupted or out of time: stop the command, keep the record */
		kill(child, SIGTERM);
		waitpid(child, &status, 0);
		exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (write_record(vb, monotonic_s() - start, exit_code))
		exit_code = 1;
	viommu_bpf_close(vb);
	return exit_code;
}
