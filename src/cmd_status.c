/* SPDX-License-Identifier: MIT */
/* cmd_status: `lmsrecon status` — the run history of a job's snapshot. */
#include "cmd.h"
#include "job.h"
#include "snap.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct diag d;
	struct job *j = NULL;
	struct snap *s = NULL;
	struct snap_run_info *runs = NULL;
	struct stat sb;
	size_t n = 0;
	int c;
	enum rc rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'h')
			return cmd_help_of("status");
		return cmd_usage_error("status", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc - 1)
		return cmd_usage_error("status", optind >= argc ? "missing JOB" : "more than one JOB given");

	diag_init(&d, stderr);
	rc = job_load(&d, argv[optind], &j);
	if (rc != RC_OK)
		goto out;
	if (stat(j->snapshot, &sb) != 0) {
		printf("snapshot %s: none yet (no run has completed)\n", j->snapshot);
		goto out;
	}
	rc = snap_open(&d, j->snapshot, SNAP_READONLY, &s);
	if (rc == RC_OK)
		rc = snap_runs(s, &runs, &n);
	if (rc != RC_OK)
		goto out;
	printf("snapshot %s: %zu run%s\n", j->snapshot, n, n == 1 ? "" : "s");
	if (n)
		printf("%6s  %-24s  %-24s  %-11s  %-11s  %s\n",
		       "run", "started", "ended", "status", "mode", "counts");
	for (size_t i = 0; i < n; i++)
		printf("%6lld  %-24s  %-24s  %-11s  %-11s  %s\n", runs[i].id,
		       runs[i].started ? runs[i].started : "-",
		       runs[i].ended ? runs[i].ended : "-",
		       runs[i].status, runs[i].mode ? runs[i].mode : "-",
		       runs[i].counts ? runs[i].counts : "");
out:
	snap_runs_free(runs, n);
	snap_close(s);
	job_free(j);
	diag_release(&d);
	return (int)rc;
}
