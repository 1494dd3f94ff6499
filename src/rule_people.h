/* SPDX-License-Identifier: MIT */
/* rule_people: people from the CRM to the LMS (SPEC §4 R1–R5): collects the
 * records of a people source with their mapped LMS values, rejects those
 * missing a mandatory field, skips the unchanged ones of an incremental run,
 * matches each with an LMS user (link first, then the unique key), and
 * decides what to create, update, link or deactivate. Reads and writes
 * snapshot tables only; the LMS files are written by emit_lms. */
#ifndef LMSRECON_RULE_PEOPLE_H
#define LMSRECON_RULE_PEOPLE_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Fills stage.people with one row per staged record of the source of `pe`
 * (duplicate ids are exceptions, first row kept). R5: with
 * `is_incremental`, the records not modified since the source's high-water
 * mark are marked to be left alone (is_unchanged). */
enum rc rule_people_collect(struct diag *d, const struct job *j,
			    const struct job_people *pe, struct snap *s,
			    int is_incremental);

/* R3 (mandatory fields). Runs after the list view marked
 * stage.people.in_view and before branches are assigned. */
enum rc rule_people_screen(struct diag *d, const struct job *j,
			   const struct job_people *pe, struct snap *s);

/* R1, R2 and the list-view leavers of R4: matches every candidate with the
 * LMS users, fills stage.user_out, the changes and the exceptions, and
 * records links, people seen and the high-water mark of run `run_id` in the
 * snapshot's durable tables. Runs after branches are assigned (R6). */
enum rc rule_people_match(struct diag *d, const struct job *j,
			  const struct job_people *pe, struct snap *s,
			  long long run_id);

#endif
