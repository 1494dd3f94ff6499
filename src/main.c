/* SPDX-License-Identifier: MIT */
/* main: argv → command table → exit status; nothing else. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void usage(FILE *out)
{
	fputs("usage: lmsrecon COMMAND [OPTIONS] [JOB]\n\ncommands:\n", out);
	for (const struct cmd *c = cmd_table; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->summary);
	fputs("\n'lmsrecon help COMMAND' describes one command; "
	      "'lmsrecon --version' prints the version.\n\n", out);
	fputs(cmd_exit_codes_text, out);
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stderr);
		return RC_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("lmsrecon %s\n", LMSRECON_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "lmsrecon: unknown command '%s'\n", argv[1]);
		fputs("try 'lmsrecon --help'\n", stderr);
		return RC_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
