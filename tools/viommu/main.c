// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu - watch iommufd vIOMMUs per VM: live monitor, latency histograms,
 * object topology, event trace, and record/compare for perf regressions.
 *
 * Run as viommu-top, it is "viommu top".
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "viommu.h"
#include "export.h"

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

/*
 * A closed standard fd would be taken by the next file the tool opens (a
 * BPF map, the record), and what was meant for the terminal would go there:
 * point closed ones at /dev/null. Returns whether stdout was closed.
 */
static bool reserve_std_fds(void)
{
	bool stdout_closed = fcntl(STDOUT_FILENO, F_GETFD) < 0 && errno == EBADF;

	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int null = open("/dev/null", fd ? O_WRONLY : O_RDONLY);

			if (null >= 0 && null != fd) {
				dup2(null, fd);
				close(null);
			}
		}
	return stdout_closed;
}

/*
 * What the commands printed must have reached stdout: a full disk or a
 * closed file is an error, said once (a closed pipe ends the tool by
 * SIGPIPE before this). compare's 1 means a regression, so it gives 2.
 */
static int finish_stdout(const char *name, int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	fprintf(stderr, "%s: writing standard output: %s\n", name, strerror(errno));
	return rc ? rc : strcmp(name, "viommu compare") ? 1 : EXIT_USAGE;
}

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
	bool stdout_closed = reserve_std_fds();

	argp_err_exit_status = EXIT_USAGE;
	memset(&common, 0, sizeof(common));	/* main() is the fuzzer's entry too */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a reader that went away (viommu trace | head) ends the tool quietly,
	 * even when the shell left SIGPIPE ignored */
	signal(SIGPIPE, SIG_DFL);
	if (!strcmp(prog, "viommu-top")) {
		if (stdout_closed)
			goto closed;
		return finish_stdout("viommu top", cmd_top(argc, argv));
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return finish_stdout("viommu", 0);
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("%s\n", argp_program_version);
		return finish_stdout("viommu", 0);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		char name[32];

		if (strcmp(argv[1], commands[i].name))
			continue;
		/* argp names the program in usage and errors: "viommu top" */
		snprintf(name, sizeof(name), "viommu %s", commands[i].name);
		argv[1] = name;
		/* record and export write files and sockets, the others stdout */
		if (stdout_closed && commands[i].fn != cmd_record && commands[i].fn != cmd_export)
			goto closed;
		return finish_stdout(name, commands[i].fn(argc - 1, argv + 1));
	}
	fprintf(stderr, "viommu: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
closed:
	fprintf(stderr, "viommu: standard output is closed, so the output would go nowhere: "
		"redirect it to a file or to /dev/null (> FILE) instead of closing it (>&-)\n");
	return EXIT_USAGE;
}
