/* SPDX-License-Identifier: MIT */
/* rule_unenroll: R10 (SPEC §4), unenrollments. Compares the durable
 * enrollment baseline (what the last complete run saw in the LMS) with the
 * staged LMS enrollment exports, turns each enrollment that vanished (or
 * shows the status 'unenrolled') into a CRM mark or delete by the job's
 * policy, and brings the baseline up to date. docs/unenrollment.md
 * describes the baseline, the policies, the bookkeeping and the exceptions. */
#ifndef LMSRECON_RULE_UNENROLL_H
#define LMSRECON_RULE_UNENROLL_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Finds the unenrollments of portal j->lms_instance and acts on them.
 * Called inside the run's transaction after the learning rule (R9), which
 * has put the current enrollments into stage.crm_out; `run_id` is the run
 * in flight and `now` its ISO time ('YYYY-MM-DDTHH:MM:SS.sssZ'), written as
 * Unenrolled_At__c. Both are borrowed for the call.
 *
 * Only the kinds whose LMS export the job reads are looked at: without an
 * `enrollments` input no course enrollment is unenrolled (nothing is
 * known), and the same for `plan_enrollments` and plan enrollments.
 *
 * For each unenrollment of an item type the job sends (j->enroll.items, 0
 * meaning all), by policy j->enroll.unenroll:
 *   UNENROLL_MARK: an upsert row in stage.crm_out with Enrollment_Key__c
 *     and Unenrolled_At__c only (the CRM status stays as it is);
 *   UNENROLL_DELETE_UNFINISHED: an unfinished enrollment becomes a delete
 *     row by the Salesforce Id its CRM export gives; without that Id the
 *     exception 'waiting_for_crm_export' is recorded and the enrollment stays
 *     in the baseline (status 'unenrolled') for a later run; a finished one
 *     is kept untouched.
 * Each handled unenrollment gets a change row (entity 'crm.<object>', key
 * Enrollment_Key__c, action 'unenroll', before the baseline status, after
 * 'marked', 'deleted', 'kept' or 'not in crm'); one whose user can no
 * longer be found gets the exception 'user_missing'. All rows use rule
 * 'R10'. Scratch tables are stage.ue_*.
 *
 * Then the baseline of the instance holds every current enrollment of the
 * exports read (last_run = run_id, first_run kept), minus the handled
 * unenrollments. Prints nothing; returns RC_OK or the snapshot's sticky
 * code (a database failure, printed where it happened). */
enum rc rule_unenroll(struct diag *d, const struct job *j, struct snap *s,
		      long long run_id, const char *now);

#endif
