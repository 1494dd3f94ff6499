/* SPDX-License-Identifier: MIT */
/* emit_report: writes the report files from what the run staged. */
#include "emit_report.h"

void emit_report_summary(FILE *out, const struct report_run *run,
			 const struct load_result *res)
{
	unsigned long total = 0;

	fprintf(out, "lmsrecon summary\n");
	fprintf(out, "job:   %s\n", run->job);
	if (run->id)
		fprintf(out, "run:   %lld (%s)\n", run->id, run->mode);
	else
		fprintf(out, "run:   none (%s)\n", run->mode);
	if (run->now)
		fprintf(out, "time:  %s\n", run->now);
	fprintf(out, "\ninputs:\n");
	fprintf(out, "  %-18s %-32s %10s  %s\n", "entity", "file", "records", "sha256");
	for (size_t i = 0; i < res->ninputs; i++) {
		const struct load_input *li = &res->inputs[i];
		fprintf(out, "  %-18s %-32s %10lu  %s\n", li->in->entity->name,
			li->in->name, li->nstaged, li->sha256_hex);
		total += li->nstaged;
	}
	fprintf(out, "\nrecords staged: %lu\n", total);
	fprintf(out, "bad records skipped: %lu\n", run->nbad);
}
