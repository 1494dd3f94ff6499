/* SPDX-License-Identifier: MIT */
/* rule_audit: `lmsrecon audit` — after the rules computed what each system
 * should receive, tells where the two systems' exports disagree: records
 * the CRM export lacks or holds differently, CRM records the LMS no longer
 * has, linked learners with no CRM learner record (the stalled sign of seed
 * 002), and changes earlier runs sent that the target still does not show,
 * with their age. Reads and writes snapshot tables only. */
#ifndef LMSRECON_RULE_AUDIT_H
#define LMSRECON_RULE_AUDIT_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Copies the keys of the CRM records the rules want (stage.crm_out) into
 * stage.audit_desired; called before "only changes" drops the unchanged. */
enum rc rule_audit_keep_desired(struct snap *s);

/* Records the drift as exceptions (kinds missing_in_crm, learner_missing,
 * field_mismatch, extra_in_crm, stalled_change, pending_change) and sets
 * *ndrift to the number that count as drift (all but pending_change).
 * `now` is the audit's ISO time; a change first sent more than
 * `stale_days` days before it is stalled. Warns on stderr about objects
 * the job gives no CRM export of (they cannot be checked). */
enum rc rule_audit(struct diag *d, const struct job *j, struct snap *s,
		   const char *now, double stale_days, long long *ndrift);

#endif
