/* SPDX-License-Identifier: MIT */
/* emit_lms: the LMS import files (SPEC §6): lms/users.csv (one row per user
 * to create, update or deactivate, every row the user's whole record) and
 * lms/branches.csv (new branches, parents before children), in the LMS
 * profile's headers. Reads stage.user_out and stage.branch_out. */
#ifndef LMSRECON_EMIT_LMS_H
#define LMSRECON_EMIT_LMS_H

#include "emit_out.h"
#include "job.h"
#include "snap.h"

/* Writes both files into `o` when the job has a people source or sync
 * back. Returns the snapshot's or the output set's status. */
enum rc emit_lms(const struct job *j, struct snap *s, struct emit_out *o);

#endif
