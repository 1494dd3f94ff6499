/* SPDX-License-Identifier: MIT */
/* rule_jobcheck: the checks of a job that need the staged data, such as the
 * destination branch of a people source existing in the LMS export. */
#ifndef LMSRECON_RULE_JOBCHECK_H
#define LMSRECON_RULE_JOBCHECK_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Every people source's destination branch, and the sync-back department,
 * must be a branch of the LMS branches export, with a code (the root has
 * none). Each problem is printed at the job line that names the branch;
 * returns RC_CONFIG if any. */
enum rc rule_jobcheck(struct diag *d, const struct job *j, struct snap *s);

#endif
