/* SPDX-License-Identifier: MIT */
/* rule_crmdiff: "only changes" for the CRM side. Runs after every rule has
 * filled stage.crm_out: drops the records the CRM already holds as they
 * are, records the report's change rows for the others, and records what
 * the run emits in the snapshot's table `emitted`. docs/learning.md
 * describes the comparison. */
#ifndef LMSRECON_RULE_CRMDIFF_H
#define LMSRECON_RULE_CRMDIFF_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* For every upsert and update of stage.crm_out: when the job has the CRM
 * export of the object (job_input_of), compares the fields the export has
 * with the export row of the same key (external id for an upsert, Id for
 * an update); without the export, compares with the fields the latest
 * earlier run emitted for the same object, operation and key. A record
 * found and equal is deleted from stage.crm_out unless is_forced. Inserts
 * and deletes are always kept.
 *
 * Then, for every row left in stage.crm_out: one change row per field that
 * differs, or one row with field NULL when none does (a record not found,
 * whose values are in the import file; deletes; forced records), entity
 * 'crm.<object>'; and one row in `emitted` for run `run_id` (fields NULL
 * for a delete).
 *
 * Called inside the run's transaction. Creates its scratch tables
 * stage.cd_*. Prints nothing itself; returns snap_rc. */
enum rc rule_crmdiff(struct diag *d, const struct job *j, struct snap *s,
		     long long run_id);

/* Lists in stage.prev_sent_objects, before the rules that write
 * stage.crm_out, the objects whose upserts are compared with the emitted
 * rows: a rule may then leave out a record whose digest is the one the
 * latest earlier run emitted for its key (rule_crmdiff would drop it). Not
 * for `audit`, which keeps every record the rules want. Returns snap_rc. */
enum rc rule_crmdiff_prev(const struct job *j, struct snap *s, long long run_id);

#endif
