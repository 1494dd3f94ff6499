/* SPDX-License-Identifier: MIT */
/* rule_branch: R6 (SPEC §4), the LMS branch of every person of a people
 * source and the branches its org chart needs. Reads stage.people and the
 * staged Accounts, CRM records and LMS branches, plus the picklist metadata
 * the job names; writes stage.people.branch_code, stage.branch_out,
 * exceptions, changes and the durable table branches_created.
 * docs/branches.md describes the modes, the branch codes and the exceptions. */
#ifndef LMSRECON_RULE_BRANCH_H
#define LMSRECON_RULE_BRANCH_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Bytes of a branch code made by lmsrecon, with the NUL ('SF-' + 18
 * characters, or 'PL-' + 20 hex digits). */
#define RULE_BRANCH_CODE_MAX 24

/* Places the people of source pe->source. Called inside the run's
 * transaction once stage.people holds one row per staged record of the
 * source; `run_id` is the run in flight (it goes into branches_created).
 *
 * Every row with is_rejected = 0 ends with a branch_code: the branch of its
 * org chart mode (single, accounts, picklist) or the destination branch.
 * A person who cannot be placed gets an exception and is_rejected = 1.
 * Every branch the org chart needs goes to stage.branch_out (is_new = 1
 * when the LMS branches export lacks it); each new one is also recorded as
 * a change ('lms.branches', 'create', rule 'R6') and in branches_created.
 *
 * Prints a warning for each Account whose name an LMS branch without a code
 * already has. Returns RC_OK; RC_CONFIG for picklist metadata that cannot be
 * used (printed as `lmsrecon: FILE:LINE: message`); RC_NOINPUT when a
 * metadata file cannot be read; or the snapshot's sticky code. */
enum rc rule_branch_assign(struct diag *d, const struct job *j,
			   const struct job_people *pe, struct snap *s,
			   long long run_id);

/* Writes the branch code of the Account with 18-character id `id` to
 * `code`: 'SF-' followed by the id. */
void rule_branch_account_code(const char *id, char code[RULE_BRANCH_CODE_MAX]);

/* Writes the branch code of picklist value path `origin_key` (as stored in
 * branch_out.origin_key) to `code`: 'PL-' followed by the first 20
 * upper-case hex digits of the SHA-256 of the path. */
void rule_branch_picklist_code(const char *origin_key,
			       char code[RULE_BRANCH_CODE_MAX]);

#endif
