/* SPDX-License-Identifier: MIT */
/* rules: the rules stage of the pipeline, in the order SPEC §4 R12 sets:
 * people (CRM → LMS) first, then learning data (LMS → CRM). */
#ifndef LMSRECON_RULES_H
#define LMSRECON_RULES_H

#include "diag.h"
#include "entity.h"
#include "job.h"
#include "snap.h"

/* What the rules read before the inputs are loaded: the list views of the
 * people sources, and the fields the rules need from each export. */
struct rules_prep {
	struct rule_listview *views[ENT_COUNT]; /* per people source entity; owned; NULL when none */
	struct entity_fields need;              /* names borrowed from views or owned below */
	char **owned;                           /* owned names (picklist fields); owned */
	size_t nowned;
};

/* Reads every list view and notes the fields the rules need. Errors in the
 * metadata files are printed with their position (RC_CONFIG). Caller frees
 * with rules_prep_free. */
enum rc rules_prepare(struct diag *d, const struct job *j, struct rules_prep **out);
void rules_prep_free(struct rules_prep *p);

enum rules_flags {
	RULES_INCREMENTAL = 1, /* R5: leave alone what did not change since the high-water mark */
	RULES_AUDIT = 2,       /* keep the keys the CRM should hold, for rule_audit */
};

/* Applies every rule the job asks for to the staged inputs of run `run_id`
 * at time `now` (ISO), writing the rules' tables and the snapshot's durable
 * tables inside the run's transaction. */
enum rc rules_run(struct diag *d, const struct job *j, const struct rules_prep *prep,
		  struct snap *s, long long run_id, const char *now, unsigned flags);

/* Copies the changes and exceptions in report order (stage.report_changes,
 * stage.report_exceptions: entity, key, then the order they were made;
 * kind, entity, key, then the order) and counts them (stage.change_counts,
 * stage.exception_counts); after the last rule, audit included, and before
 * the report is written. */
enum rc rules_finish(struct snap *s);

#endif
