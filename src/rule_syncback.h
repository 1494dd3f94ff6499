/* SPDX-License-Identifier: MIT */
/* rule_syncback: sync back (SPEC §4 R7). LMS learners of the job's source
 * department (and its sub-departments when so scoped) are linked to the
 * Contact their username matches, or get a new Contact under the Account the
 * job's account rule names; linked Contacts are moved to that Account;
 * deactivated learners are unlinked and reactivated ones linked again.
 * Reads the staged exports, writes stage.user_out (the LMS side),
 * stage.crm_out (the Contacts), the exceptions, the LMS-side changes and the
 * durable `links` table. docs/syncback.md describes every decision. */
#ifndef LMSRECON_RULE_SYNCBACK_H
#define LMSRECON_RULE_SYNCBACK_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Runs R7 for run `run_id`, inside the run's transaction, after the people
 * rules (a username they already put in stage.user_out is completed, never
 * written twice). Does nothing unless j->syncback.is_enabled. Problems with
 * a learner are exceptions (stage.exceptions, entity 'users', key the
 * username), not errors. Returns snap_rc; prints only a sync-back match field
 * that cannot be named in SQL (RC_CONFIG, at the job line), which the job
 * loader does not let through. Creates and fills private scratch tables
 * stage.sb_*. */
enum rc rule_syncback(struct diag *d, const struct job *j, struct snap *s, long long run_id);

#endif
