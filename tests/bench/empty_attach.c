// SPDX-License-Identifier: GPL-2.0-only
/*
 * empty_attach - attach an empty tp_btf program to each event named on the
 * command line, print "attached N", and hold them until SIGINT or SIGTERM.
 *
 * usage: empty_attach OBJ EVENT...
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static struct bpf_object *attach_one(const char *path, const char *event,
				     struct bpf_link **link)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int err;

	if (!obj) {
		fprintf(stderr, "empty_attach: cannot open %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	prog = bpf_object__find_program_by_name(obj, "empty");
	err = prog ? bpf_program__set_attach_target(prog, 0, event) : -ENOENT;
	if (!err)
		err = bpf_object__load(obj);
	if (!err) {
		*link = bpf_program__attach(prog);
		if (!*link)
			err = -errno;
	}
	if (err) {
		fprintf(stderr, "empty_attach: cannot attach to %s: %s\n",
			event, strerror(-err));
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

int main(int argc, char **argv)
{
	struct bpf_object *objs[64];
	struct bpf_link *links[64];
	int n;

	if (argc < 3 || argc - 2 > 64) {
		fprintf(stderr, "usage: empty_attach OBJ EVENT... (at most 64)\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (n = 0; n < argc - 2; n++) {
		objs[n] = attach_one(argv[1], argv[n + 2], &links[n]);
		if (!objs[n])
			return 1;
	}
	printf("attached %d\n", n);
	fflush(stdout);
	while (!stop)
		pause();
	while (n--) {
		bpf_link__destroy(links[n]);
		bpf_object__close(objs[n]);
	}
	return 0;
}
