/* SPDX-License-Identifier: MIT */
/* rules: the rules stage of the pipeline, in the order SPEC §4 R12 sets:
 * people (CRM → LMS) first, then learning data (LMS → CRM). */
#ifndef LMSRECON_RULES_H
#define LMSRECON_RULES_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Applies every rule the job asks for to the staged inputs of run `run_id`,
 * writing the rules' tables and the snapshot's durable tables inside the
 * run's transaction. */
enum rc rules_run(struct diag *d, const struct job *j, struct snap *s,
		  long long run_id, int is_incremental);

#endif
