/* SPDX-License-Identifier: MIT */
/* rule_jobcheck: job settings checked against the staged LMS data. */
#include "rule_jobcheck.h"

#include <string.h>

enum rc rule_jobcheck(struct diag *d, const struct job *j, struct snap *s)
{
	const struct job_input *branches = job_input_of(j, ENT_BRANCH);
	struct snap_stmt *st;
	enum rc rc = RC_OK;

	if (!j->npeople && !j->syncback.is_enabled)
		return RC_OK;
	st = snap_prepare(s, "SELECT 1 FROM stage.stg_branch WHERE code = ?1");
	if (!st)
		return snap_rc(s);
	for (size_t p = 0; p < j->npeople; p++) {
		const struct job_people *pe = &j->people[p];
		struct srcpos pos = { j->path, pe->destination_line ? pe->destination_line : pe->line, 0 };
		int found;

		if (!pe->destination_branch)
			continue;
		if (!branches) {
			rc = diag_at(d, RC_CONFIG, &pos,
				     "destination branch '%s' cannot be checked: the job has no LMS 'branches' input",
				     pe->destination_branch);
			continue;
		}
		snap_bind_text(st, 1, pe->destination_branch, strlen(pe->destination_branch));
		found = snap_step(st);
		if (found < 0)
			break;
		if (found == 1)
			snap_reset(st);
		else
			rc = diag_at(d, RC_CONFIG, &pos,
				     "destination branch '%s' is not in the LMS branches export '%s'",
				     pe->destination_branch, branches->name);
	}
	if (j->syncback.is_enabled && j->syncback.department && snap_rc(s) == RC_OK) {
		struct srcpos pos = { j->path, j->syncback.line, 0 };
		const char *dep = j->syncback.department;
		if (!branches) {
			rc = diag_at(d, RC_CONFIG, &pos,
				     "sync-back department '%s' cannot be checked: the job has no LMS 'branches' input", dep);
		} else {
			int found;
			snap_bind_text(st, 1, dep, strlen(dep));
			found = snap_step(st);
			if (found == 1)
				snap_reset(st);
			else if (found == 0)
				rc = diag_at(d, RC_CONFIG, &pos,
					     "sync-back department '%s' is not in the LMS branches export '%s'",
					     dep, branches->name);
		}
	}
	snap_finalize(st);
	return snap_rc(s) != RC_OK ? snap_rc(s) : rc;
}
