/* SPDX-License-Identifier: MIT */
/* cmd_check: `lmsrecon check` — validates the job and reads every input
 * into a throw-away in-memory snapshot, reporting every problem found. */
#include "cmd.h"
#include "job.h"
#include "load.h"
#include "rule_jobcheck.h"
#include "rules.h"
#include "snap.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct diag d;
	struct job *j = NULL;
	struct snap *s = NULL;
	struct load_result res = { NULL, 0 };
	unsigned flags = LOAD_KEEP_GOING;
	long long run_id;
	struct rules_prep *prep = NULL;
	enum rc rc2 = RC_OK;
	int c, is_quiet = 0;
	enum rc rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q': is_quiet = 1; break;
		case 'h': return cmd_help_of("check");
		default: return cmd_usage_error("check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error("check", optind >= argc ? "missing JOB" : "more than one JOB given");

	diag_init(&d, stderr);
	/* Report every bad record, not just the first. */
	d.max_errors = ULONG_MAX - 1;
	rc = job_load(&d, argv[optind], &j);
	if (rc != RC_OK)
		goto out;
	rc = snap_open(&d, j->snapshot, SNAP_MEMORY, &s);
	if (rc == RC_OK)
		rc = snap_run_begin(s, "check", "1970-01-01T00:00:00.000Z", &run_id);
	if (rc != RC_OK)
		goto out;
	if (!is_quiet && isatty(2))
		flags |= LOAD_PROGRESS;
	rc = rules_prepare(&d, j, &prep);
	if (rc == RC_OK || rc == RC_CONFIG)
		rc2 = load_inputs(&d, j, s, &prep->need, flags, &res);
	if (rc == RC_OK)
		rc = rc2;
	if (rc == RC_OK || rc == RC_DATA || rc == RC_CONFIG) {
		rc2 = rule_jobcheck(&d, j, s);
		if (rc == RC_OK)
			rc = rc2;
	}
	if (rc == RC_OK && d.nbad)
		rc = RC_DATA;
	snap_run_abort(s, 0);
	if (rc == RC_OK) {
		unsigned long total = 0;
		for (size_t i = 0; i < res.ninputs; i++)
			total += res.inputs[i].nstaged;
		printf("%s: ok, %zu inputs, %lu records\n", argv[optind], res.ninputs, total);
	} else if (d.nbad) {
		fprintf(stderr, "lmsrecon: %lu bad record%s\n", d.nbad, d.nbad == 1 ? "" : "s");
	}
out:
	snap_close(s);
	rules_prep_free(prep);
	load_result_release(&res);
	job_free(j);
	diag_release(&d);
	return (int)rc;
}
