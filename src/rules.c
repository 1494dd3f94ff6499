/* SPDX-License-Identifier: MIT */
/* rules: runs the rule modules in pipeline order. */
#include "rules.h"
#include "rule_people.h"

#include <string.h>

/* Until the org chart rule places people, everyone goes to the
 * destination branch (R6 'single'). */
static enum rc place_single(const struct job_people *pe, struct snap *s)
{
	const char *source = entity_get(pe->source)->name;
	struct snap_stmt *st = snap_prepare(s, "UPDATE stage.people SET branch_code = ?2"
					    " WHERE source = ?1 AND is_rejected = 0");
	if (st) {
		snap_bind_text(st, 1, source, strlen(source));
		snap_bind_text(st, 2, pe->destination_branch, strlen(pe->destination_branch));
		snap_step(st);
	}
	snap_finalize(st);
	return snap_rc(s);
}

enum rc rules_run(struct diag *d, const struct job *j, struct snap *s,
		  long long run_id, int is_incremental)
{
	enum rc rc = RC_OK;

	for (size_t i = 0; i < j->npeople && rc == RC_OK; i++) {
		const struct job_people *pe = &j->people[i];
		rc = rule_people_collect(d, j, pe, s);
		if (rc == RC_OK)
			rc = rule_people_screen(d, j, pe, s, is_incremental);
		if (rc == RC_OK)
			rc = place_single(pe, s);
		if (rc == RC_OK)
			rc = rule_people_match(d, j, pe, s, run_id);
	}
	return rc;
}
