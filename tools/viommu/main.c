// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu - watch iommufd vIOMMUs per VM: live monitor, latency histograms,
 * object topology, event trace, and record/compare for perf regressions.
 *
 * Run as viommu-top, it is "viommu top".
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "viommu.h"
#include "export.h"

struct common_opts common;
volatile sig_atomic_t exiting;
/* argp gives every command -V, --version, as in the BCC tools */
const char *argp_program_version = "viommu " VIOMMU_VERSION;


static const struct argp_option common_options[] = {
	{ "pid", 'p', "PID", 0, "Only the VMM (iommufd owner) with this pid", 0 },
	{ "vm", OPT_VM, "ID", 0, "Only this VM (iommufd context id, as in topo)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{ "json", OPT_JSON, NULL, 0, "JSON output, one object per line", 0 },
	{ "max-vms", OPT_MAX_VMS, "N", 0, "Size the maps for N VMs (default 4096)", 0 },
	{},
};

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case 'p':
	case OPT_VM:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > INT32_MAX)
			argp_error(state, "invalid %s: %s", key == 'p' ? "pid" : "VM id", arg);
		if (key == 'p')
			common.pid = v;
		else
			common.vm = v;
		return 0;
	case 'v':
		common.verbose = true;
		return 0;
	case OPT_JSON:
		common.json = true;
		return 0;
	case OPT_MAX_VMS:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > 1 << 20)
			argp_error(state, "invalid --max-vms: %s (1 to 1048576)", arg);
		common.max_vms = v;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp common_argp = { common_options, common_parse, NULL, NULL };

/* [interval] [count] positional arguments, as the BCC tools take them */
int parse_interval_count(struct argp_state *state, const char *arg,
			 double *interval, long *count)
{
	char *end;

	errno = 0;
	if (state->arg_num == 0) {
		*interval = strtod(arg, &end);
		if (errno || *end || *interval <= 0 || *interval > 86400)
			argp_error(state, "invalid interval: %s", arg);
	} else if (state->arg_num == 1) {
		*count = strtol(arg, &end, 10);
		if (errno || *end || *count <= 0)
			argp_error(state, "invalid count: %s", arg);
	} else {
		argp_error(state, "unexpected argument: %s", arg);
	}
	return 0;
}

void json_emit(struct json_object *obj)
{
	fputs(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN), stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "top", cmd_top, "live per-VM table: invalidations, latency, S2 fan-out, faults" },
	{ "lat", cmd_lat, "latency histograms per VM (or per vIOMMU)" },
	{ "topo", cmd_topo, "the object tree of every iommufd context; --watch for changes" },
	{ "trace", cmd_trace, "every vIOMMU event as it happens" },
	{ "record", cmd_record, "record latencies and counts to a JSON file" },
	{ "compare", cmd_compare, "compare two records; fail on a regression" },
	{ "export", cmd_export, "serve the metrics to Prometheus (HTTP, or a textfile)" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: viommu COMMAND [OPTION...] [ARGS]\n"
		"       viommu -V|--version\n"
		"Watch iommufd vIOMMUs per VM (needs the iommufd trace events).\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
		"\nRun 'viommu COMMAND --help' for a command's options and examples.\n"
		"See viommu(8): docs/viommu.8\n");
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *prog = basename(argv[0]);

	argp_err_exit_status = EXIT_USAGE;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!strcmp(prog, "viommu-top"))
		return cmd_top(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("%s\n", argp_program_version);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		char name[32];

		if (strcmp(argv[1], commands[i].name))
			continue;
		/* argp names the program in usage and errors: "viommu top" */
		snprintf(name, sizeof(name), "viommu %s", commands[i].name);
		argv[1] = name;
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "viommu: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
