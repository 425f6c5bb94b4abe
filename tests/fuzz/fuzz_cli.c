// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_cli - every command line parser of viommu, through main()'s
 * dispatch: the input is the arguments, separated by NUL bytes, after
 * argv[0] ("viommu", or "viommu-top" when the input's first argument is
 * "viommu-top"). Commands return once their arguments are parsed
 * (cli_parse_only): nothing is loaded, opened or run.
 */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(true);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *args[FUZZ_MAX_ARGS + 1] = { "viommu" };
	char *text = malloc(size + 1);
	int n = 1;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t at = 0; at <= size && n < FUZZ_MAX_ARGS; at += strlen(text + at) + 1)
		args[n++] = text + at;
	/* "viommu-top ARGS" is how the viommu-top link runs */
	if (n > 1 && !strcmp(args[1], "viommu-top")) {
		memmove(args, args + 1, (n - 1) * sizeof(*args));
		n--;
	}
	args[n] = NULL;
	rc = fuzz_run(args);
	/* the documented exit statuses: 0, or 2 for bad usage */
	if (rc != 0 && rc != EXIT_USAGE) {
		fprintf(stderr, "fuzz_cli: exit status %d\n", rc);
		abort();
	}
	free(text);
	return 0;
}
