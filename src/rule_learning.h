/* SPDX-License-Identifier: MIT */
/* rule_learning: learning data from the LMS to the CRM (SPEC §4 R8, R9,
 * R11, R12). Reads the staged courses, sessions, learning plans, users and
 * enrollments, and the people rules' decisions (stage.user_out and the
 * 'link' changes); writes the CRM records to stage.crm_out and the
 * exceptions. docs/learning.md describes the objects, the rules and every
 * exception kind. */
#ifndef LMSRECON_RULE_LEARNING_H
#define LMSRECON_RULE_LEARNING_H

#include "diag.h"
#include "job.h"
#include "snap.h"

/* Fills stage.crm_out with the learning records of the LMS portal
 * j->lms_instance (every key starts with '<instance>:'):
 *   R8  LMS_Course__c, LMS_Session__c and LMS_Learning_Plan__c upserts for
 *       the item types of j->enroll.items (0 means all four);
 *   R9  LMS_Enrollment__c and LMS_Learning_Plan_Enrollment__c upserts for
 *       the users linked to a CRM record (sfdc_id in the users export), and
 *       the learner record LMS_User__c of each linked user who has at least
 *       one enrollment, with its statistics;
 *   R11 is_forced = 1 on every enrollment enrolled, completed or updated
 *       in [j->enroll.since, j->enroll.until];
 *   R12 users linked by this run wait for the next one; users sync back
 *       unlinks in this run are no longer sent.
 * Enrollments with status 'unenrolled' are left to the unenrollment rule.
 * Users not linked, missing users, courses, sessions and plans, and
 * unsupported links are recorded as exceptions (stage.exceptions).
 *
 * Called inside the run's transaction (`run_id` is the run in flight) after
 * the people rules and sync back, and before rule_crmdiff. Creates its
 * scratch tables stage.lrn_*. Prints nothing itself; returns snap_rc (a
 * SQLite failure was printed where it happened). */
enum rc rule_learning(struct diag *d, const struct job *j, struct snap *s,
		      long long run_id);

/* Before the load: gives the thread that indexes the enrollments' stage
 * the rule's catalogue and per-user counts to build (snap_enr_then), which
 * read only the LMS exports; rule_learning then builds them only when the
 * thread did not. */
void rule_learning_early(const struct job *j, struct snap *s);

#endif
