// SPDX-License-Identifier: GPL-2.0-only
/*
 * record.c - viommu record writes the latency distributions and counts of
 * one run to JSON; viommu compare checks a new record against a baseline
 * and fails when a percentile regressed: the step users put in CI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "viommu.h"


static struct record_opts {
	const char *output;
	const char *scenario;
	double duration;
	char **command;
} ropts = { .scenario = "default" };

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
			argp_error(state, "invalid duration: %s", arg);
		break;
	case ARGP_KEY_ARGS:
		ropts.command = state->argv + state->next;
		break;
	case ARGP_KEY_END:
		if (!ropts.output)
			argp_error(state, "-o FILE is required");
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

static int write_record(struct viommu_bpf *vb, double secs, int status)
{
	struct json_object *root = json_object_new_object(), *vms = json_object_new_array();
	struct json_object *total = json_object_new_object();
	struct viommu_vm_stats sum = {};
	struct vm_row *rows;
	char tmp[4096], comm[VIOMMU_COMM_LEN];
	int n = viommu_bpf_read_vms(vb, &rows), rc = 0;
	FILE *f;

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
	for (int i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		comm_of(rows[i].s.owner_tgid, comm, sizeof(comm));
		json_object_object_add(o, "vm", json_object_new_int64(rows[i].ictx_id));
		json_object_object_add(o, "pid", json_object_new_int(rows[i].s.owner_tgid));
		json_object_object_add(o, "comm", json_object_new_string(comm));
		if (rows[i].s.kvm_pid)
			json_object_object_add(o, "kvm_pid", json_object_new_int(rows[i].s.kvm_pid));
		add_counts(o, &rows[i].s);
		json_object_object_add(o, "lat", lat_json(&rows[i].s));
		json_object_array_add(vms, o);

		viommu_vm_stats_add(&sum, &rows[i].s);
	}
	json_object_object_add(total, "vms", json_object_new_int(n > 0 ? n : 0));
	add_counts(total, &sum);
	json_object_object_add(total, "lat", lat_json(&sum));
	json_object_object_add(root, "total", total);
	json_object_object_add(root, "vms", vms);

	/* Whole or nothing: write a temporary file, then rename it */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", ropts.output, getpid());
	f = fopen(tmp, "w");
	if (!f || fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY), f) < 0 ||
	    fputc('\n', f) < 0 || fclose(f) || rename(tmp, ropts.output)) {
		fprintf(stderr, "viommu record: writing %s: %s\n", ropts.output, strerror(errno));
		unlink(tmp);
		rc = -1;
	} else {
		fprintf(stderr, "viommu record: %d VMs, %llu guest invalidations in %.1f s -> %s\n",
			n > 0 ? n : 0, (unsigned long long)sum.guest_invals, secs, ropts.output);
	}
	json_object_put(root);
	free(rows);
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
	double start;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_USAGE;
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
	while (!exiting) {
		if (child) {
			pid_t w = waitpid(child, &status, ropts.duration ? WNOHANG : 0);

			if (w == child) {
				child = 0;
				exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				break;
			}
		}
		if (ropts.duration && monotonic_s() - start >= ropts.duration)
			break;
		if (!child && !ropts.duration)
			pause();
		else if (ropts.duration)
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
