/* SPDX-License-Identifier: MIT */
/* cmd: the command table, help texts and usage errors. */
#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char cmd_exit_codes_text[] =
	"exit status:\n"
	"   0  success\n"
	"   1  drift found (audit), or exceptions with --fail-on-exceptions\n"
	"  64  usage error\n"
	"  65  bad input data (a malformed file, or more bad records than --max-errors)\n"
	"  66  an input file is missing or unreadable\n"
	"  70  internal error\n"
	"  71  out of memory\n"
	"  73  an output file cannot be created\n"
	"  74  I/O error while reading or writing\n"
	"  75  the snapshot is in use by another run\n"
	"  78  bad job file\n";

const struct cmd cmd_table[] = {
	{ "run", cmd_run, "reconcile, write the import files and the report, commit the snapshot",
	  "usage: lmsrecon run [OPTIONS] JOB\n\n"
	  "Reads every input of JOB, reconciles them through the snapshot, writes the\n"
	  "import files and the report into the job's output directory, and commits\n"
	  "the snapshot. Nothing is written when an input is bad.\n\n"
	  "options:\n"
	  "  --full               ignore the incremental high-water marks (R5) and\n"
	  "                       build every learner's records again\n"
	  "  --now TIME           the time of the run (ISO 8601); default: the clock,\n"
	  "                       or SOURCE_DATE_EPOCH when set\n"
	  "  --max-errors N       tolerate up to N bad records (skipped and reported);\n"
	  "                       default: the job's <options max-errors>, else 0\n"
	  "  --stage FILE         keep the staged inputs in FILE (an SQLite database;\n"
	  "                       the enrollments in FILE-enr) for inspection;\n"
	  "                       default: temporary files\n"
	  "  --since TIME, --until TIME\n"
	  "                       re-send every enrollment enrolled, completed or\n"
	  "                       updated in this window, even unchanged (R11);\n"
	  "                       overrides the job's <enrollments since/until>\n"
	  "  --fail-on-exceptions exit 1 when the run reported exceptions\n"
	  "  -q, --quiet          no progress on stderr\n"
	  "  -h, --help           this help\n" },
	{ "plan", cmd_plan, "the same report as run; nothing written to the snapshot or import folders",
	  "usage: lmsrecon plan [OPTIONS] JOB\n\n"
	  "Does everything run does but writes only the report: the snapshot and the\n"
	  "import folders are left as they are. Options as for run, but --stage and\n"
	  "--fail-on-exceptions.\n" },
	{ "audit", cmd_audit, "report where the two systems' exports disagree; exit 1 on drift",
	  "usage: lmsrecon audit [OPTIONS] JOB\n\n"
	  "Reads every input as run does and compares what the systems' latest exports\n"
	  "show: LMS enrollments and learners against the CRM export of the integration\n"
	  "objects (missing in the CRM, extra in the CRM, field mismatches), linked\n"
	  "learners with enrollments but no CRM learner record, and changes earlier runs\n"
	  "sent that the target's export still does not show, with their age. Writes\n"
	  "the report only; the snapshot and the import folders are left as they are.\n"
	  "Exit 1 when there is drift, 0 when the systems agree.\n\n"
	  "options:\n"
	  "  --stale-after DAYS   a change sent more than DAYS days ago and still not\n"
	  "                       in the target's export is stalled (default 7)\n"
	  "  --now TIME           the time of the audit (ISO 8601); default: the clock,\n"
	  "                       or SOURCE_DATE_EPOCH when set\n"
	  "  --max-errors N       tolerate up to N bad records\n"
	  "  -q, --quiet          no progress on stderr\n"
	  "  -h, --help           this help\n" },
	{ "check", cmd_check, "validate the job and read every input; change nothing",
	  "usage: lmsrecon check [OPTIONS] JOB\n\n"
	  "Validates the job file and reads every input, reporting every problem\n"
	  "found (not only the first). Touches neither the snapshot nor the output.\n\n"
	  "options:\n"
	  "  -q, --quiet          no progress on stderr\n"
	  "  -h, --help           this help\n" },
	{ "status", cmd_status, "show the run history and interrupted runs of a job's snapshot",
	  "usage: lmsrecon status JOB\n\n"
	  "Prints the runs recorded in the job's snapshot (id, start, end, status,\n"
	  "mode, records read), including a run that was interrupted or failed.\n" },
	{ "init", cmd_init, "write a commented starter job",
	  "usage: lmsrecon init [FILE]\n\n"
	  "Writes a commented starter job to FILE (default: job.xml); an existing\n"
	  "file is never overwritten. FILE '-' writes to stdout.\n" },
	{ "help", cmd_help, "describe a command",
	  "usage: lmsrecon help [COMMAND]\n" },
	{ NULL, NULL, NULL, NULL },
};

const struct cmd *cmd_find(const char *name)
{
	for (const struct cmd *c = cmd_table; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("lmsrecon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'lmsrecon help %s'\n", cmd);
	return RC_USAGE;
}

int cmd_help_of(const char *name)
{
	const struct cmd *c = cmd_find(name);
	fputs(c->usage, stdout);
	putchar('\n');
	fputs(cmd_exit_codes_text, stdout);
	return 0;
}

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: lmsrecon COMMAND [OPTIONS] [JOB]\n\ncommands:\n", stdout);
		for (const struct cmd *c = cmd_table; c->name; c++)
			printf("  %-8s %s\n", c->name, c->summary);
		putchar('\n');
		fputs(cmd_exit_codes_text, stdout);
		return 0;
	}
	if (!cmd_find(argv[1]))
		return cmd_usage_error("help", "unknown command '%s'", argv[1]);
	return cmd_help_of(argv[1]);
}
