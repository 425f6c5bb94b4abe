// SPDX-License-Identifier: GPL-2.0-only
/*
 * export.c - viommu export: the per-VM counters and latency histograms as
 * Prometheus metrics, served over HTTP (libevent's evhttp, which answers
 * a request that is not HTTP with 400 and keeps serving) or written for
 * node_exporter's textfile collector. One thread: the event loop serves
 * scrapes and runs the interval's work.
 *
 * A scrape reads the BPF maps (never the ring buffer), so its cost grows
 * with the VMs, not with the event rate. A VM's series carry its identity
 * as labels, fixed when the exporter first sees it; its counters come
 * straight from the kernel's sums and never go backwards while it lives.
 * A VM whose processes (VMM and opener) have exited is exported with its
 * last values for --grace seconds, then dropped (its map entries too): its
 * series stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "export.h"

#define TEXTFILE_NAME	"viommu.prom"

struct export_opts {
	const char *listen;	/* [HOST]:PORT */
	bool listen_given;
	const char *textfile_dir;
	double interval;
	long count;
	double grace;
	unsigned long max_vms;
	bool bpf_stats;
	bool fine_buckets;
	bool list_metrics;
};
static const struct export_opts opts_default = {
	.listen = "127.0.0.1:9750",
	.interval = 5,
	.grace = 60,
	.max_vms = 4096,
};
static struct export_opts opts;

#define OPT_BPF_STATS		0x2001
#define OPT_FINE_BUCKETS	0x2002
#define OPT_LIST_METRICS	0x2003

static const struct argp_option options[] = {
	{ "listen", 'l', "[HOST]:PORT", 0,
	  "Serve /metrics here (default 127.0.0.1:9750; PORT 0 picks a free port)", 0 },
	{ "textfile", 't', "DIR", 0,
	  "Write DIR/" TEXTFILE_NAME " every interval, for node_exporter's textfile collector (no HTTP unless --listen)", 0 },
	{ "grace", 'g', "SECS", 0,
	  "Keep exporting a VM this long after its VMM and opener exit (default 60)", 0 },
	{ "max-vms", 'M', "N", 0,
	  "Export at most N VMs; more are counted in viommu_exporter_vms_dropped_total (default 4096)", 0 },
	{ "per-viommu", OPT_PER_VIOMMU, NULL, 0,
	  "Also export per-vIOMMU series (labels vm, viommu, vmid)", 0 },
	{ "bpf-stats", OPT_BPF_STATS, NULL, 0,
	  "Turn on the kernel's BPF run-time statistics while running, for viommu_exporter_bpf_*", 0 },
	{ "fine-buckets", OPT_FINE_BUCKETS, NULL, 0,
	  "Every histogram bucket of the tool's layout (default: at most one per power of two)", 0 },
	{ "list-metrics", OPT_LIST_METRICS, NULL, 0,
	  "Print the metric families (a Markdown table) and exit", 0 },
	{},
};

static const char doc[] =
"viommu export: serve the per-VM vIOMMU counters and latency histograms as\n"
"Prometheus metrics.\n"
"\n"
"Serves /metrics in the Prometheus text format, or OpenMetrics when the\n"
"client asks for it; INTERVAL (default 5 s) is how often VMs that have gone\n"
"are looked for and, with --textfile, the file is written. COUNT ends the\n"
"exporter after that many intervals. Exit status: 0, 1 when the exporter\n"
"cannot run here (port in use, directory not writable, BPF), 2 for bad\n"
"arguments (unresolvable address, no such directory).\n"
"\n"
"EXAMPLES:\n"
"  viommu export                       # http://127.0.0.1:9750/metrics\n"
"  viommu export -l :9750 --per-viommu # every address, per-vIOMMU series too\n"
"  viommu export -t /var/lib/prometheus/node-exporter 15   # textfile, 15 s\n"
"  viommu export --list-metrics        # the metric families";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'l':
		opts.listen = arg;
		opts.listen_given = true;
		break;
	case 't':
		opts.textfile_dir = arg;
		break;
	case 'g':
		errno = 0;
		opts.grace = strtod(arg, &end);
		if (errno || *end || end == arg || opts.grace < 0 || opts.grace > 86400)
			return usage_error(state, "invalid grace period: %s", arg);
		break;
	case 'M':
		errno = 0;
		opts.max_vms = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || *arg == '-' || opts.max_vms > 1 << 20)
			return usage_error(state, "invalid --max-vms: %s", arg);
		break;
	case OPT_PER_VIOMMU:
		common.per_viommu = true;
		break;
	case OPT_BPF_STATS:
		opts.bpf_stats = true;
		break;
	case OPT_FINE_BUCKETS:
		opts.fine_buckets = true;
		break;
	case OPT_LIST_METRICS:
		opts.list_metrics = true;
		break;
	case ARGP_KEY_ARG:
		return parse_interval_count(state, arg, &opts.interval, &opts.count);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* --- the VMs the exporter knows, sorted by context id --- */

struct vm_entry {
	struct export_vm vm;
	bool refused;		/* over --max-vms: counted, never exported */
	double gone_since;	/* monotonic s when its processes were seen gone */
};

static struct exporter {
	struct viommu_bpf *vb;
	struct vm_entry *vms;
	int nr_vms;
	struct export_self self;
	uint64_t drops[VIOMMU_DROPS];
} ex;

/*
 * A VM seen for the first time: its labels, and whether it fits under
 * --max-vms (*admitted VMs are exported); one over it is counted once and
 * stays out for its life, so the series that are exported stay whole.
 */
static void vm_entry_init(struct vm_entry *e, const struct vm_row *row,
			  unsigned long *admitted)
{
	memset(e, 0, sizeof(*e));
	e->vm.ictx_id = row->ictx_id;
	/* the VMM of a VM older than the exporter comes from fdinfo (bpf.c) */
	e->vm.opener_pid = row->s.opener_pid;
	e->vm.vmm_pid = row->s.vmm_pid;
	viommu_vm_name(ex.vb, row->ictx_id, e->vm.opener_pid, e->vm.vmm_pid,
		       e->vm.comm, sizeof(e->vm.comm));
	if (*admitted >= opts.max_vms) {
		e->refused = true;
		ex.self.vms_dropped++;
	} else {
		(*admitted)++;
	}
}

/* Drop counters of the BPF side, every reason of VIOMMU_DROP_REASONS */
static void read_drops(void)
{
	struct viommu_drops d;

	if (viommu_bpf_read_drops(ex.vb, &d))
		return;
	for (int r = 0; r < VIOMMU_DROPS; r++)
		ex.drops[r] = d.n[r];
}

/*
 * Read the VM map and merge it into ex.vms (both sorted by id): new VMs
 * get their labels (and count against --max-vms), known ones their new
 * values; a VM whose processes have been gone for --grace is forgotten, in the
 * maps too.
 */
static int refresh(double now)
{
	struct vm_row *rows = NULL;
	unsigned long admitted = 0;
	struct vm_entry *next;
	int nrows, n = 0, j = 0;

	nrows = viommu_bpf_read_vms(ex.vb, &rows);
	if (nrows < 0)
		return nrows;
	next = calloc(nrows ? nrows : 1, sizeof(*next));
	if (!next) {
		free(rows);
		return -ENOMEM;
	}
	for (int i = 0; i < ex.nr_vms; i++)
		admitted += !ex.vms[i].refused;
	for (int i = 0; i < nrows; i++) {
		struct vm_entry *e = &next[n];

		while (j < ex.nr_vms && ex.vms[j].vm.ictx_id < rows[i].ictx_id)
			j++;
		if (j < ex.nr_vms && ex.vms[j].vm.ictx_id == rows[i].ictx_id)
			*e = ex.vms[j];
		else
			vm_entry_init(e, &rows[i], &admitted);
		e->vm.s = rows[i].s;
		if (!e->gone_since && viommu_vm_processes_gone(e->vm.opener_pid, e->vm.vmm_pid))
			e->gone_since = now;
		if (e->gone_since && now - e->gone_since >= opts.grace &&
		    viommu_bpf_forget_vm_seen(ex.vb, e->vm.ictx_id, &rows[i].s) != -EAGAIN) {
			if (!e->refused && admitted)
				admitted--;
			continue;
		}
		n++;
	}
	free(ex.vms);
	free(rows);
	ex.vms = next;
	ex.nr_vms = n;
	read_drops();
	return 0;
}

static int cmp_viommu(const void *a, const void *b)
{
	const struct export_viommu *x = a, *y = b;

	if (x->ictx_id != y->ictx_id)
		return x->ictx_id < y->ictx_id ? -1 : 1;
	return (x->viommu_id > y->viommu_id) - (x->viommu_id < y->viommu_id);
}

static const struct vm_entry *find_vm(unsigned int ictx_id)
{
	int lo = 0, hi = ex.nr_vms - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (ex.vms[mid].vm.ictx_id == ictx_id)
			return &ex.vms[mid];
		if (ex.vms[mid].vm.ictx_id < ictx_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The vIOMMUs of exported VMs; a destroyed one for --grace after */
static int collect_viommus(struct export_viommu **out)
{
	struct viommu_row *rows = NULL;
	struct timespec ts;
	uint64_t now_ns;
	int nrows, n = 0;

	*out = NULL;
	nrows = viommu_bpf_read_viommus(ex.vb, &rows);
	if (nrows <= 0)
		return nrows;
	*out = calloc(nrows, sizeof(**out));
	if (!*out) {
		free(rows);
		return -ENOMEM;
	}
	/* the BPF side stamps with bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (int i = 0; i < nrows; i++) {
		const struct vm_entry *e = find_vm(rows[i].key.ictx_id);

		if (!e || e->refused)
			continue;
		if (rows[i].gone && now_ns - rows[i].s.destroy_ns >= opts.grace * 1e9)
			continue;
		(*out)[n].ictx_id = rows[i].key.ictx_id;
		(*out)[n].viommu_id = rows[i].key.viommu_id;
		(*out)[n].vmid = rows[i].s.vmid;
		(*out)[n].s.c = rows[i].s;
		(*out)[n].s.guest_inval = rows[i].guest_inval;
		n++;
	}
	free(rows);
	qsort(*out, n, sizeof(**out), cmp_viommu);
	return n;
}

static void self_figures(void)
{
	struct rusage ru;
	uint64_t run_ns, runs;
	long rss_pages = 0;
	FILE *f;

	if (!getrusage(RUSAGE_SELF, &ru))
		ex.self.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*d %ld", &rss_pages) == 1)
			ex.self.rss_bytes = (uint64_t)rss_pages * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if (!viommu_bpf_prog_stats(ex.vb, &run_ns, &runs)) {
		ex.self.bpf_run_s = run_ns / 1e9;
		ex.self.bpf_runs = runs;
	}
}

/* One collection: refresh, then the exposition into b */
static int collect(struct mbuf *b, enum export_format fmt)
{
	struct export_viommu *viommus = NULL;
	struct export_vm *vms;
	struct export_data d = {};
	double start = monotonic_s();
	int err;

	err = refresh(start);
	if (err)
		return err;
	vms = calloc(ex.nr_vms ? ex.nr_vms : 1, sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	for (int i = 0; i < ex.nr_vms; i++)
		if (!ex.vms[i].refused)
			vms[d.nr_vms++] = ex.vms[i].vm;
	d.vms = vms;
	if (common.per_viommu) {
		d.per_viommu = true;
		d.nr_viommus = collect_viommus(&viommus);
		if (d.nr_viommus < 0)
			d.nr_viommus = 0;
		d.viommus = viommus;
	}
	memcpy(d.drops, ex.drops, sizeof(d.drops));
	ex.self.collections++;
	ex.self.max_vms = opts.max_vms;
	self_figures();
	d.self = ex.self;
	d.fine_buckets = opts.fine_buckets;
	err = metrics_render(b, &d, fmt);
	free(vms);
	free(viommus);
	ex.self.collect_s = monotonic_s() - start;
	return err ? -ENOMEM : 0;
}

/* --- HTTP --- */

static const char landing[] =
	"<html><head><title>viommu exporter</title></head><body>\n"
	"<h1>viommu exporter</h1>\n"
	"<p>iommufd vIOMMU metrics per VM: <a href=\"/metrics\">/metrics</a></p>\n"
	"</body></html>\n";

static void free_body(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/* Send body (len bytes; freed here when owned) with status and type */
static void reply(struct evhttp_request *req, int status, const char *reason,
		  const char *type, const char *body, size_t len, bool owned)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		if (owned)
			free((void *)body);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (owned)
		evbuffer_add_reference(b, body, len, free_body, NULL);
	else
		evbuffer_add_reference(b, body, len, NULL, NULL);
	evhttp_add_header(hdrs, "Content-Type", type);
	if (status == 405)
		evhttp_add_header(hdrs, "Allow", "GET, HEAD");
	evhttp_send_reply(req, status, reason, b);
	evbuffer_free(b);
}

static void reply_text(struct evhttp_request *req, int status,
		       const char *reason, const char *text)
{
	reply(req, status, reason, "text/plain; charset=utf-8", text,
	      strlen(text), false);
}

static void handle(struct evhttp_request *req, void *arg)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum export_format fmt;
	struct mbuf b = {};

	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		reply_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	if (path && !strcmp(path, "/")) {
		reply(req, HTTP_OK, "OK", "text/html; charset=utf-8", landing,
		      sizeof(landing) - 1, false);
		return;
	}
	if (!path || strcmp(path, "/metrics")) {
		reply_text(req, HTTP_NOTFOUND, "Not Found",
			   "not found: the metrics are at /metrics\n");
		return;
	}
	fmt = metrics_negotiate(evhttp_find_header(evhttp_request_get_input_headers(req),
						   "Accept"));
	if (collect(&b, fmt)) {
		free(b.p);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error",
			   "viommu export: cannot read the BPF maps\n");
		return;
	}
	reply(req, HTTP_OK, "OK", export_content_types[fmt], b.p, b.len, true);
}

/*
 * Split [HOST]:PORT (HOST may be [IPv6]; empty means every address) and
 * bind a listening socket. Returns the socket; -2 for an address that
 * cannot be (exit 2), -1 when this machine refuses it (exit 1); says why.
 */
static int listen_on(const char *spec, char *shown, size_t shown_len)
{
	char host[256] = "", port[16];
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res, *ai;
	const char *colon, *p;
	char *end;
	unsigned long portnum;
	int fd = -1, err = 0, rc;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
			fprintf(stderr, "viommu export: invalid --listen '%s': want [IPv6]:PORT\n", spec);
			return -2;
		}
		memcpy(host, spec + 1, close - spec - 1);
		host[close - spec - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon) {
			fprintf(stderr, "viommu export: invalid --listen '%s': want HOST:PORT, :PORT or [IPv6]:PORT\n",
				spec);
			return -2;
		}
		if ((size_t)(colon - spec) >= sizeof(host)) {
			fprintf(stderr, "viommu export: invalid --listen '%s': host name too long\n", spec);
			return -2;
		}
		memcpy(host, spec, colon - spec);
		host[colon - spec] = '\0';
	}
	p = colon + 1;
	errno = 0;
	portnum = strtoul(p, &end, 10);
	if (!*p || *end || errno || portnum > 65535 || *p == '-' || *p == '+') {
		fprintf(stderr, "viommu export: invalid port '%s' in --listen '%s': want 0 to 65535\n",
			p, spec);
		return -2;
	}
	snprintf(port, sizeof(port), "%lu", portnum);
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "viommu export: cannot resolve '%s' (--listen %s): %s\n",
			host, spec, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -2;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "viommu export: cannot listen on %s: %s%s\n", spec, strerror(err),
			err == EADDRINUSE ? " (another exporter? choose a port with --listen)" :
			err == EACCES ? " (a port below 1024 needs CAP_NET_BIND_SERVICE)" :
			err == EADDRNOTAVAIL ? " (not an address of this machine)" : "");
		return -1;
	}
	/* the address as bound, with the port picked for PORT 0 */
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char addr[INET6_ADDRSTRLEN] = "?";
		int bound_port = 0;

		if (!getsockname(fd, (struct sockaddr *)&ss, &len)) {
			if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

				inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
				bound_port = ntohs(s6->sin6_port);
				snprintf(shown, shown_len, "[%s]:%d", addr, bound_port);
			} else {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

				inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
				bound_port = ntohs(s4->sin_port);
				snprintf(shown, shown_len, "%s:%d", addr, bound_port);
			}
		}
	}
	return fd;
}

/* --- textfile --- */

/*
 * DIR must be a directory we can create files in: checked before the BPF
 * programs load, by creating the temporary file once. 2 for a directory
 * that does not exist, 1 for one we cannot write in; says why.
 */
static int textfile_check(const char *dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd;

	if (stat(dir, &st)) {
		fprintf(stderr, "viommu export: --textfile %s: %s\n", dir, strerror(errno));
		return 2;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "viommu export: --textfile %s: not a directory\n", dir);
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, TEXTFILE_NAME, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "viommu export: --textfile %s: cannot write in it: %s\n",
			dir, strerror(errno));
		return 1;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

/*
 * Write the exposition to a temporary file in DIR and rename it over
 * DIR/viommu.prom: a reader sees the old file or the new one, never a
 * part. The temporary name does not end in .prom, so the textfile
 * collector never reads it.
 */
static int textfile_write(const char *dir, const struct mbuf *b)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, TEXTFILE_NAME, getpid());
	snprintf(path, sizeof(path), "%s/%s", dir, TEXTFILE_NAME);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	while (off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			unlink(tmp);
			goto fail;
		}
		off += n;
	}
	if (close(fd) || rename(tmp, path)) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "viommu export: cannot write %s: %s\n", path, strerror(errno));
	return -1;
}

/* --- the event loop: scrapes, the interval's work, signals --- */

struct loop {
	struct event_base *base;
	long intervals;
	int rc;
};

/*
 * The interval's work: with --textfile, collect and write the file; else
 * look for VMs that have gone. Failing the first time ends the exporter.
 */
static int interval_work(bool first)
{
	struct mbuf b = {};
	int err;

	if (!opts.textfile_dir)
		return refresh(monotonic_s());
	err = collect(&b, EXPORT_TEXT);
	if (!err && textfile_write(opts.textfile_dir, &b) && first)
		err = -EIO;
	free(b.p);
	return err;
}

static void on_interval(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	int err = interval_work(false);

	if (err) {
		fprintf(stderr, "viommu export: cannot read the BPF maps: %s\n", strerror(-err));
		l->rc = 1;
		event_base_loopbreak(l->base);
	}
	if (opts.count && ++l->intervals >= opts.count)
		event_base_loopbreak(l->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	exiting = 1;
	event_base_loopbreak(arg);
}

int cmd_export(int argc, char **argv)
{
	const struct argp_child children[] = { { &common_argp, 0, "Common options:", 0 }, {} };
	const struct argp argp = { options, parse_opt, "[INTERVAL] [COUNT]", doc, children };
	struct event *tick = NULL, *sigint = NULL, *sigterm = NULL;
	char shown[INET6_ADDRSTRLEN + 16] = "";
	struct timeval every;
	struct evhttp *http = NULL;
	struct loop l = {};
	int lfd = -1, stats_fd = -1, err;

	opts = opts_default;
	if (argp_parse(&argp, argc, argv, cli_argp_flags, NULL, NULL))
		return EXIT_USAGE;
	if (cli_parse_only)
		return 0;
	if (opts.list_metrics) {
		metrics_list(stdout);
		return 0;
	}
	if (common.json) {
		fprintf(stderr, "viommu export: --json does not apply: the output is Prometheus metrics\n");
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	/* What can be checked without the kernel, first */
	if (opts.textfile_dir && (err = textfile_check(opts.textfile_dir)))
		return err;
	if (!opts.textfile_dir || opts.listen_given) {
		lfd = listen_on(opts.listen, shown, sizeof(shown));
		if (lfd < 0)
			return lfd == -2 ? EXIT_USAGE : 1;
	}
	ex.vb = viommu_bpf_open(false);
	if (!ex.vb) {
		if (lfd >= 0)
			close(lfd);
		return 1;
	}
	l.base = event_base_new();
	if (!l.base) {
		fprintf(stderr, "viommu export: cannot create the event loop\n");
		l.rc = 1;
		goto out;
	}
	if (lfd >= 0) {
		http = evhttp_new(l.base);
		/* every method reaches handle(), which answers 405 */
		if (http)
			evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
						   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
						   EVHTTP_REQ_PATCH);
		if (!http || !evhttp_accept_socket_with_handle(http, lfd)) {
			fprintf(stderr, "viommu export: cannot serve HTTP on %s\n", shown);
			close(lfd);
			l.rc = 1;
			goto out;
		}
		/* a slow or silent client is dropped, not waited for */
		evhttp_set_timeout(http, 10);
		evhttp_set_max_headers_size(http, 16384);
		evhttp_set_max_body_size(http, 65536);
		evhttp_set_gencb(http, handle, NULL);
	}
	if (opts.bpf_stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			fprintf(stderr, "viommu export: --bpf-stats: cannot enable BPF statistics: %s\n",
				strerror(errno));
	}
	/* Once now (the textfile exists from the start), then every interval */
	err = interval_work(true);
	if (err) {
		if (err != -EIO)
			fprintf(stderr, "viommu export: cannot read the BPF maps: %s\n", strerror(-err));
		l.rc = 1;
		goto out;
	}
	every.tv_sec = (time_t)opts.interval;
	every.tv_usec = (suseconds_t)((opts.interval - every.tv_sec) * 1e6);
	tick = event_new(l.base, -1, EV_PERSIST, on_interval, &l);
	sigint = evsignal_new(l.base, SIGINT, on_signal, l.base);
	sigterm = evsignal_new(l.base, SIGTERM, on_signal, l.base);
	if (!tick || !sigint || !sigterm || event_add(tick, &every) ||
	    event_add(sigint, NULL) || event_add(sigterm, NULL)) {
		fprintf(stderr, "viommu export: cannot set up the event loop\n");
		l.rc = 1;
		goto out;
	}
	if (http)
		printf("Serving http://%s/metrics (%s). Hit Ctrl-C to end.\n", shown,
		       viommu_bpf_attach_mode(ex.vb));
	if (opts.textfile_dir)
		printf("Writing %s/%s every %g s (%s). Hit Ctrl-C to end.\n",
		       opts.textfile_dir, TEXTFILE_NAME, opts.interval,
		       viommu_bpf_attach_mode(ex.vb));
	fflush(stdout);
	/* a signal that came during the setup */
	if (!exiting)
		event_base_dispatch(l.base);
out:
	if (tick)
		event_free(tick);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (http)
		evhttp_free(http);	/* closes the listening socket */
	if (l.base)
		event_base_free(l.base);
	if (stats_fd >= 0)
		close(stats_fd);
	viommu_bpf_close(ex.vb);
	free(ex.vms);
	return l.rc;
}
