/* SPDX-License-Identifier: MIT */
/* emit_report: the report files of a run (SPEC §6) — for now the summary of
 * what each input held; the change and exception files grow with the rules. */
#ifndef LMSRECON_EMIT_REPORT_H
#define LMSRECON_EMIT_REPORT_H

#include <stdio.h>
#include "diag.h"
#include "load.h"

/* Facts about the run that the report states. */
struct report_run {
	long long id;          /* run id; 0 for plan/check */
	const char *mode;      /* "full", "incremental", "plan" */
	const char *now;       /* ISO time when given by --now/SOURCE_DATE_EPOCH, else NULL */
	const char *job;       /* job file as given */
	unsigned long nbad;    /* bad records skipped */
};

/* Writes summary.txt's text to `out`. */
void emit_report_summary(FILE *out, const struct report_run *run,
			 const struct load_result *res);

#endif
