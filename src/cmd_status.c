/* SPDX-License-Identifier: MIT */
/* cmd_status: `lmsrecon status` — the run history of a job's snapshot. */
#include "cmd.h"
#include "job.h"
#include "snap.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The incremental high-water mark of each people source (R5). */
static void print_watermarks(struct snap *s)
{
	struct snap_stmt *st = snap_prepare(s, "SELECT source, coalesce(nullif(last_modified, ''), '-'),"
					    " run_id FROM watermarks ORDER BY source");
	int n = 0;
	while (st && snap_step(st) == 1) {
		if (!n++)
			printf("\nhigh-water marks (LastModifiedDate of the last complete run):\n");
		printf("  %-10s %-26s run %lld\n", snap_col_text(st, 0), snap_col_text(st, 1),
		       snap_col_int(st, 2));
	}
	snap_finalize(st);
}

/* The change the latest complete run still had to send that an earlier run
 * had already sent: its target's export did not show it yet. */
static void print_oldest_pending(struct snap *s)
{
	struct snap_stmt *st = snap_prepare(s,
		"WITH last AS (SELECT max(id) AS id FROM runs WHERE status = 'complete'),"
		" pending AS (SELECT e.target, e.object, e.key, e.op FROM emitted AS e, last"
		"  WHERE e.run_id = last.id),"
		" first AS (SELECT p.target, p.object, p.key, p.op, min(e.run_id) AS run_id"
		"  FROM pending AS p JOIN emitted AS e USING (target, object, key, op)"
		"  GROUP BY p.target, p.object, p.key, p.op)"
		" SELECT f.target, f.object, f.key, f.op, f.run_id, r.started_at,"
		"  julianday((SELECT started_at FROM runs WHERE id = (SELECT id FROM last)))"
		"  - julianday(r.started_at),"
		"  (SELECT count(*) FROM first WHERE run_id < (SELECT id FROM last))"
		" FROM first AS f JOIN runs AS r ON r.id = f.run_id"
		" WHERE f.run_id < (SELECT id FROM last)"
		" ORDER BY f.run_id, f.target, f.object, f.key LIMIT 1");
	if (st && snap_step(st) == 1) {
		printf("\nchanges sent again by the last run: %lld; the oldest, first sent by run %lld"
		       " (%s, %lld days before the last run):\n  %s %s %s %s\n",
		       snap_col_int(st, 7), snap_col_int(st, 4), snap_col_text(st, 5),
		       snap_col_int(st, 6), snap_col_text(st, 0), snap_col_text(st, 1),
		       snap_col_text(st, 3), snap_col_text(st, 2));
	} else if (st) {
		printf("\nno change waits on an earlier run's import\n");
	}
	snap_finalize(st);
}

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
	print_watermarks(s);
	print_oldest_pending(s);
	rc = snap_rc(s);
out:
	snap_runs_free(runs, n);
	snap_close(s);
	job_free(j);
	diag_release(&d);
	return (int)rc;
}
