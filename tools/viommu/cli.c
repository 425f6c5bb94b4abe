// SPDX-License-Identifier: GPL-2.0-only
/*
 * cli.c - what every command shares: the common options, the [interval]
 * [count] arguments, JSON output, the clock, and names made safe to print.
 * main.c dispatches to the commands; the commands call only this file, so
 * no two files depend on each other.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "viommu.h"

struct common_opts common;
volatile sig_atomic_t exiting;
/* argp gives every command -V, --version, as in the BCC tools */
const char *argp_program_version = "viommu " VIOMMU_VERSION;

/*
 * The command-line fuzzer (tests/fuzz/fuzz_cli.c) runs main()'s dispatch
 * in-process, many times: it sets ARGP_NO_EXIT here, so argp returns its
 * errors instead of exiting, and cli_parse_only, so each command returns
 * once its arguments are parsed. The tool itself leaves both alone.
 */
unsigned int cli_argp_flags;
bool cli_parse_only;

error_t usage_error(const struct argp_state *state, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	argp_error(state, "%s", msg);	/* exits, unless ARGP_NO_EXIT */
	return EINVAL;
}


static const struct argp_option common_options[] = {
	{ "pid", 'p', "PID", 0, "Only VMs whose VMM or /dev/iommu opener is PID", 0 },
	{ "vm", OPT_VM, "ID", 0, "Only this VM (iommufd context id, as in topo)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{ "json", OPT_JSON, NULL, 0, "JSON output, one object per line", 0 },
	{ "max-vms", OPT_MAX_VMS, "N", 0, "Size the maps for N VMs (default 4096)", 0 },
	NO_HANG_OPTION,
	{},
};

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case 'p':
	case OPT_VM:
		/* a pid fits an int; a context id is any u32 but 0 (random) */
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || end == arg || v <= 0 ||
		    v > (key == 'p' ? INT32_MAX : (long)UINT32_MAX))
			return usage_error(state, "invalid %s: %s", key == 'p' ? "pid" : "VM id", arg);
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
			return usage_error(state, "invalid --max-vms: %s (1 to 1048576)", arg);
		common.max_vms = v;
		return 0;
	case OPT_NO_HANG:
		return usage_error(state, "unrecognized option '--HANG'");
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
			return usage_error(state, "invalid interval: %s", arg);
	} else if (state->arg_num == 1) {
		*count = strtol(arg, &end, 10);
		if (errno || *end || *count <= 0)
			return usage_error(state, "invalid count: %s", arg);
	} else {
		return usage_error(state, "unexpected argument: %s", arg);
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

int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes of the UTF-8 sequence a lead byte starts, 0 if it cannot lead */
static size_t utf8_need(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = utf8_need(s[0]);
	unsigned int cp = s[0] & (0x7f >> len);

	if (len <= 1 || len > n)
		return len == 1;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * A process name made safe for a terminal and for JSON: a task's comm is
 * any 15 bytes, so it may hold control characters or UTF-8 cut short by
 * the truncation. Control characters and invalid bytes become '?'; a
 * multi-byte character cut at the end is dropped. dst gets at most len - 1
 * bytes; an empty name is "?".
 */
void name_sanitize(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), o = 0;

	if (!len)
		return;
	for (size_t i = 0; i < n && o + 1 < len;) {
		size_t l = utf8_len(s + i, n - i);

		if (!l && utf8_need(s[i]) > 1 && i + utf8_need(s[i]) > n) {
			/* a character cut short at the end of the name */
			bool cut = true;

			for (size_t j = i + 1; j < n; j++)
				cut &= (s[j] & 0xc0) == 0x80;
			if (cut)
				break;
		}
		if (!l || (l == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + l >= len)
			break;
		memcpy(dst + o, s + i, l);
		o += l;
		i += l;
	}
	dst[o] = '\0';
	if (!o)
		snprintf(dst, len, "?");
}
