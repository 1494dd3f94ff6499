/* SPDX-License-Identifier: MIT */
/* cmd: the commands of the command line, one file each (cmd_<name>.c),
 * dispatched by main.c from one table. */
#ifndef LMSRECON_CMD_H
#define LMSRECON_CMD_H

#include "diag.h"

#define LMSRECON_VERSION "0.1.0"

/* A command: runs with its own argv (argv[0] is the command name) and
 * returns the process exit status. */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;   /* one line for `lmsrecon help` */
	const char *usage;     /* full help text for `lmsrecon help NAME` / --help */
};

/* The table, ended by a NULL name. */
extern const struct cmd cmd_table[];
const struct cmd *cmd_find(const char *name);

/* Prints `lmsrecon: MESSAGE` and `try 'lmsrecon help CMD'` to stderr and
 * returns RC_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the command's help to stdout and returns 0. */
int cmd_help_of(const char *name);

int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* The exit-status table printed at the end of help texts. */
extern const char cmd_exit_codes_text[];

#endif
