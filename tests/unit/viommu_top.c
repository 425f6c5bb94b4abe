// SPDX-License-Identifier: GPL-2.0-only
/*
 * viommu_top - unit tests of what viommu top computes without the kernel:
 * process names made safe for the terminal and JSON.
 */
#include <string.h>
#include <json-c/json.h>
#include "../../tools/viommu/viommu.h"
#include "../lib/tap.h"

static int same(const char *got, const char *want, const char *what)
{
	int pass = tap_ok(!strcmp(got, want), "%s", what);

	if (!pass)
		tap_diag("got '%s', want '%s'", got, want);
	return pass;
}

static void test_names(void)
{
	char out[VIOMMU_COMM_LEN];
	char big[8];

	name_sanitize(out, sizeof(out), "qemu-system-x86");
	same(out, "qemu-system-x86", "an ASCII name is kept");
	name_sanitize(out, sizeof(out), "");
	same(out, "?", "an empty name is '?'");
	name_sanitize(out, sizeof(out), "a\tb\x1b[2J");
	same(out, "a?b?[2J", "control characters (tab, escape) become '?'");
	name_sanitize(out, sizeof(out), "vm-\xc3\xa9t\xc3\xa9");
	same(out, "vm-\xc3\xa9t\xc3\xa9", "valid UTF-8 is kept");
	/* 15 bytes, as the kernel truncates a comm: the last character cut */
	name_sanitize(out, sizeof(out), "abcdefghijklm\xe2\x82");
	same(out, "abcdefghijklm", "a character cut short at the end is dropped");
	name_sanitize(out, sizeof(out), " Q\xf6`\rV");
	same(out, " Q?`?V", "invalid bytes become '?' (a name seen in issue 13)");
	name_sanitize(out, sizeof(out), "\xc0\xaf\xed\xa0\x80\xf5");
	same(out, "??????", "overlong forms, surrogates and bytes beyond U+10FFFF are invalid");
	name_sanitize(big, sizeof(big), "abc\xe2\x82\xac\xe2\x82\xac");
	same(big, "abc\xe2\x82\xac", "a character that does not fit is not cut");
}

/* Every name, whatever its bytes, gives JSON that json-c reads back as is */
static void test_names_json(void)
{
	unsigned int seed = 1;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		char in[VIOMMU_COMM_LEN], out[VIOMMU_COMM_LEN];
		struct json_object *o, *back;
		const char *text;

		for (int j = 0; j < VIOMMU_COMM_LEN - 1; j++) {
			seed = seed * 1103515245 + 12345;
			in[j] = (seed >> 16) & 0xff ? (seed >> 16) & 0xff : 'x';
		}
		in[VIOMMU_COMM_LEN - 1] = '\0';
		name_sanitize(out, sizeof(out), in);
		o = json_object_new_string(out);
		text = json_object_to_json_string(o);
		back = json_tokener_parse(text);
		if (!back || strcmp(json_object_get_string(back), out))
			bad++;
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			bad += *p < 0x20 || *p == 0x7f;
		json_object_put(back);
		json_object_put(o);
	}
	tap_is(bad, 0, "20000 random names: printable, and JSON reads them back unchanged");
}

int main(void)
{
	tap_plan(9);
	test_names();
	test_names_json();
	return tap_failed || tap_n != tap_planned;
}
