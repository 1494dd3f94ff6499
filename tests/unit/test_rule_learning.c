/* SPDX-License-Identifier: MIT */
/* Tests of rule_learning (R8, R9, R11, R12): the catalogue, enrollments of
 * linked users only, the learner record and its statistics, learning-plan
 * progress, the time window and the users waiting on a link made by the
 * same run. Each test stages rows into an in-memory snapshot, runs the rule
 * and reads back stage.crm_out and stage.exceptions. */
#include <criterion/criterion.h>
#include "snaptest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "job.h"
#include "rule_learning.h"
#include "snap.h"
#include "util.h"

/* Input indexes of the job below. */
enum { F_USERS, F_COURSES, F_SESSIONS, F_PLANS, F_PLAN_COURSES, F_ENR, F_PLAN_ENR };

#define CONTACT_A "003000000000001AAA"
#define USER_B "005000000000002AAA"
#define CONTACT_D "003000000000004AAA"
#define ACCOUNT_E "001000000000005AAA"
#define CONTACT_G "003000000000007AAA"


static struct job_input inputs[7] = {
	{ .name = "lms/users.csv" },
	{ .name = "lms/courses.csv" },
	{ .name = "lms/sessions.csv" },
	{ .name = "lms/plans.csv" },
	{ .name = "lms/plan_courses.csv" },
	{ .name = "lms/enrollments.csv" },
	{ .name = "lms/plan_enrollments.csv" },
};
static struct job job;

static void setup(void)
{
	static const enum entity_id ids[7] = { ENT_LMS_USER, ENT_COURSE, ENT_SESSION, ENT_PLAN,
		ENT_PLAN_COURSE, ENT_ENROLLMENT, ENT_PLAN_ENROLLMENT };
	for (int i = 0; i < 7; i++)
		inputs[i].entity = entity_get(ids[i]);
	memset(&job, 0, sizeof job);
	job.path = "job.xml";
	job.inputs = inputs;
	job.ninputs = 7;
	job.lms_instance = "acme";
	snaptest_open("2024-05-01T10:00:00Z");
}

static void teardown(void)
{
	snaptest_close();
}

TestSuite(rule_learning, .init = setup, .fini = teardown);

static void add_user(const char *line, const char *id, const char *username,
		     const char *sfdc_id, const char *last_access)
{
	EXEC("INSERT INTO stage.stg_lms_user (src_file, src_line, user_id, username, active,"
	     " sfdc_id, last_access) VALUES (0, ?1, ?2, ?3, 1, ?4, ?5)",
	     line, id, username, sfdc_id, last_access);
}

static void add_course(const char *line, const char *code, const char *name, const char *type)
{
	EXEC("INSERT INTO enr.stg_course (src_file, src_line, code, name, type)"
	     " VALUES (1, ?1, ?2, ?3, ?4)", line, code, name, type);
}

static void add_session(const char *line, const char *code, const char *course,
			const char *name, const char *start)
{
	EXEC("INSERT INTO enr.stg_session (src_file, src_line, code, course_code, name,"
	     " start_date) VALUES (2, ?1, ?2, ?3, ?4, ?5)", line, code, course, name, start);
}

static void add_plan(const char *line, const char *code, const char *name)
{
	EXEC("INSERT INTO enr.stg_plan (src_file, src_line, code, name) VALUES (3, ?1, ?2, ?3)",
	     line, code, name);
}

static void add_plan_course(const char *line, const char *plan, const char *course)
{
	EXEC("INSERT INTO enr.stg_plan_course (src_file, src_line, plan_code, course_code)"
	     " VALUES (4, ?1, ?2, ?3)", line, plan, course);
}

/* A course enrollment; `times` is "enrolled|completed|updated" pieces as
 * separate arguments, score as text (NULL for none). */
static void add_enr(const char *line, const char *user, const char *course,
		    const char *session, const char *status, const char *enrolled,
		    const char *completed, const char *score, const char *updated)
{
	EXEC("INSERT INTO enr.stg_enrollment (src_file, src_line, username, course_code,"
	     " session_code, status, enrolled_at, completed_at, score, updated_at)"
	     " VALUES (5, ?1, ?2, ?3, ?4, ?5, ?6, ?7, CAST(?8 AS REAL), ?9)",
	     line, user, course, session, status, enrolled, completed, score, updated);
}

static void add_plan_enr(const char *line, const char *user, const char *plan,
			 const char *status, const char *enrolled, const char *updated)
{
	EXEC("INSERT INTO enr.stg_plan_enrollment (src_file, src_line, username, plan_code,"
	     " status, enrolled_at, updated_at) VALUES (6, ?1, ?2, ?3, ?4, ?5, ?6)",
	     line, user, plan, status, enrolled, updated);
}

/* Every row of `sql` as "col|col|...\n" (NULL shown as "-"). Caller frees. */
/* The crm_out rows of one object, by key. */
#define OUT(object) "SELECT key, fields, rule, is_forced, src_file, src_line FROM stage.crm_out" \
	" WHERE object = '" object "' ORDER BY key"
#define KEYS(object) "SELECT key, is_forced FROM stage.crm_out WHERE object = '" object "'" \
	" ORDER BY key"
#define FIELD(object, field) "SELECT key, json_extract(fields, '$." field "') FROM stage.crm_out" \
	" WHERE object = '" object "' ORDER BY key"
#define EXCEPTIONS "SELECT kind, entity, key, candidates, reason, src_file, src_line" \
	" FROM stage.exceptions ORDER BY rowid"

/* A small portal: three courses (one of each type), a session of the
 * classroom course, a plan with two courses. */
static void add_catalogue(void)
{
	add_course("2", "SAFE-101", "Safety basics", "elearning");
	add_course("3", "FORK-1", "Forklift driving", "classroom");
	add_course("4", "QA-LIVE", "Live questions", "webinar");
	add_session("2", "FORK-1-S1", "FORK-1", "Forklift, Lyon", "2024-06-03");
	add_plan("2", "ONBOARD", "Onboarding");
	add_plan_course("2", "ONBOARD", "SAFE-101");
	add_plan_course("3", "ONBOARD", "FORK-1");
}

/* ---- R8 catalogue ---------------------------------------------------- */

Test(rule_learning, catalogue_rows_have_the_instance_in_every_key)
{
	add_catalogue();
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT("LMS_Course__c"), 6,
		    "acme:FORK-1|{\"LMS_Course_Key__c\":\"acme:FORK-1\",\"Name\":\"Forklift driving\","
		    "\"Code__c\":\"FORK-1\",\"Type__c\":\"classroom\",\"LMS_Instance__c\":\"acme\"}|R8|0|1|3\n"
		    "acme:QA-LIVE|{\"LMS_Course_Key__c\":\"acme:QA-LIVE\",\"Name\":\"Live questions\","
		    "\"Code__c\":\"QA-LIVE\",\"Type__c\":\"webinar\",\"LMS_Instance__c\":\"acme\"}|R8|0|1|4\n"
		    "acme:SAFE-101|{\"LMS_Course_Key__c\":\"acme:SAFE-101\",\"Name\":\"Safety basics\","
		    "\"Code__c\":\"SAFE-101\",\"Type__c\":\"elearning\",\"LMS_Instance__c\":\"acme\"}|R8|0|1|2\n");
	assert_rows(OUT("LMS_Session__c"), 6,
		    "acme:FORK-1-S1|{\"LMS_Session_Key__c\":\"acme:FORK-1-S1\",\"Name\":\"Forklift, Lyon\","
		    "\"Code__c\":\"FORK-1-S1\",\"Course__r.LMS_Course_Key__c\":\"acme:FORK-1\","
		    "\"Start_Date__c\":\"2024-06-03T00:00:00.000Z\",\"LMS_Instance__c\":\"acme\"}|R8|0|2|2\n");
	assert_rows(OUT("LMS_Learning_Plan__c"), 6,
		    "acme:ONBOARD|{\"LMS_Learning_Plan_Key__c\":\"acme:ONBOARD\",\"Name\":\"Onboarding\","
		    "\"Code__c\":\"ONBOARD\",\"Course_Count__c\":2,\"LMS_Instance__c\":\"acme\"}|R8|0|3|2\n");
	assert_rows(EXCEPTIONS, 7, "");
}

Test(rule_learning, another_portal_gives_other_keys)
{
	job.lms_instance = "emea";
	add_course("2", "SAFE-101", "Safety basics", "elearning");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.LMS_Instance__c') FROM stage.crm_out", 2,
		    "emea:SAFE-101|emea\n");
}

Test(rule_learning, session_of_a_course_not_exported_is_course_missing)
{
	add_catalogue();
	add_session("3", "GHOST-S1", "GHOST", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Session__c"), 2, "acme:FORK-1-S1|0\n");
	assert_rows(EXCEPTIONS, 7,
		    "course_missing|sessions|GHOST-S1|-|course 'GHOST' is not in the courses export|2|3\n");
}

Test(rule_learning, plan_course_count_counts_each_course_once)
{
	add_catalogue();
	add_plan_course("4", "ONBOARD", "SAFE-101"); /* listed twice */
	add_plan_course("5", "ONBOARD", "QA-LIVE");
	add_plan("3", "EMPTY", "Nothing yet");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Course_Count__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_Learning_Plan__c' ORDER BY key", 2,
		    "acme:EMPTY|0\n"
		    "acme:ONBOARD|3\n");
}

Test(rule_learning, item_types_choose_what_is_sent)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "FORK-1", "FORK-1-S1", "enrolled", NULL, NULL, NULL, NULL);
	add_enr("4", "anna", "QA-LIVE", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "enrolled", NULL, NULL);
	job.enroll.items = ITEM_CLASSROOM | ITEM_PLAN;
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT object, key FROM stage.crm_out ORDER BY object, key", 2,
		    "LMS_Course__c|acme:FORK-1\n"
		    "LMS_Enrollment__c|acme:101:FORK-1:FORK-1-S1\n"
		    "LMS_Learning_Plan_Enrollment__c|acme:101:plan:ONBOARD\n"
		    "LMS_Learning_Plan__c|acme:ONBOARD\n"
		    "LMS_Session__c|acme:FORK-1-S1\n"
		    "LMS_User__c|acme:101\n");
	assert_rows("SELECT json_extract(fields, '$.Enrolled_Count__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_User__c'", 1, "1\n");
}

/* ---- R9 enrollments ---------------------------------------------------- */

Test(rule_learning, enrollment_row_carries_item_status_dates_and_score)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("7", "anna", "FORK-1", "FORK-1-S1", "passed", "2024-03-01T09:00:00.000Z",
		"2024-03-02", "87.5", NULL);
	add_enr("8", "anna", "SAFE-101", NULL, "in_progress", "2024-03-05T10:00:00.000Z",
		NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT("LMS_Enrollment__c"), 6,
		    "acme:101:FORK-1:FORK-1-S1|{\"Enrollment_Key__c\":\"acme:101:FORK-1:FORK-1-S1\","
		    "\"LMS_User__r.LMS_User_Id__c\":\"acme:101\","
		    "\"Course__r.LMS_Course_Key__c\":\"acme:FORK-1\","
		    "\"Session__r.LMS_Session_Key__c\":\"acme:FORK-1-S1\","
		    "\"Item_Name__c\":\"Forklift driving\",\"Item_Type__c\":\"classroom\","
		    "\"Status__c\":\"passed\",\"Enrolled_At__c\":\"2024-03-01T09:00:00.000Z\","
		    "\"Completed_At__c\":\"2024-03-02T00:00:00.000Z\",\"Score__c\":87.5}|R9|0|5|7\n"
		    "acme:101:SAFE-101:|{\"Enrollment_Key__c\":\"acme:101:SAFE-101:\","
		    "\"LMS_User__r.LMS_User_Id__c\":\"acme:101\","
		    "\"Course__r.LMS_Course_Key__c\":\"acme:SAFE-101\","
		    "\"Session__r.LMS_Session_Key__c\":null,"
		    "\"Item_Name__c\":\"Safety basics\",\"Item_Type__c\":\"elearning\","
		    "\"Status__c\":\"in_progress\",\"Enrolled_At__c\":\"2024-03-05T10:00:00.000Z\","
		    "\"Completed_At__c\":\"#N/A\",\"Score__c\":\"#N/A\"}|R9|0|5|8\n");
}

Test(rule_learning, only_linked_users_are_sent_the_others_are_not_linked)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "103", "carl", NULL, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "carl", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("4", "carl", "FORK-1", "FORK-1-S1", "enrolled", NULL, NULL, NULL, NULL);
	add_enr("5", "carl", "QA-LIVE", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "carl", "ONBOARD", "enrolled", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
	assert_rows(KEYS("LMS_Learning_Plan_Enrollment__c"), 2, "");
	assert_rows(KEYS("LMS_User__c"), 2, "acme:101|0\n");
	assert_rows(EXCEPTIONS, 7,
		    "not_linked|users|carl|-|user not linked: 4 enrollments not sent|0|3\n");
}

Test(rule_learning, one_enrollment_waiting_is_singular)
{
	add_catalogue();
	add_user("4", "103", "carl", NULL, NULL);
	add_enr("3", "carl", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "not_linked|users|carl|-|user not linked: 1 enrollment not sent|0|4\n");
}

/* A username the users export lists twice is its first row, whatever the
 * rows' order by any other column. */
Test(rule_learning, username_listed_twice_is_its_first_row)
{
	add_catalogue();
	add_user("2", "901", "anna", NULL, NULL);
	add_user("3", "101", "anna", CONTACT_A, NULL);
	add_user("4", "102", "bert", CONTACT_G, NULL);
	add_user("5", "001", "bert", NULL, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "bert", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:102:SAFE-101:|0\n");
	assert_rows(EXCEPTIONS, 7,
		    "not_linked|users|anna|-|user not linked: 1 enrollment not sent|0|2\n");
}

Test(rule_learning, enrollments_of_unknown_users_and_courses_are_reported)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "zed", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("3", "zed", "QA-LIVE", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("4", "anna", "OLD-9", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("5", "zed", "OLD-9", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_plan_enr("3", "anna", "RETIRED", "enrolled", NULL, NULL);
	/* Rows not sent name no user and are no source row. */
	add_enr("1", "zed", "FORK-1", "FORK-1-S1", "unenrolled", NULL, NULL, NULL, NULL);
	add_enr("6", "yan", "SAFE-101", NULL, "unenrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "");
	assert_rows(KEYS("LMS_User__c"), 2, "");
	assert_rows(EXCEPTIONS, 7,
		    "user_missing|enrollments|zed|-|user not in the users export: 2 enrollments not sent|5|2\n"
		    "course_missing|enrollments|OLD-9|-|course not in the courses export: 2 enrollments not sent|5|4\n"
		    "plan_missing|plan_enrollments|RETIRED|-|learning plan not in the plans export: 1 enrollment not sent|6|3\n");
}

Test(rule_learning, enrollment_of_a_session_not_exported_is_session_missing)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("6", "anna", "FORK-1", "FORK-1-S7", "enrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "session_missing|enrollments|FORK-1-S7|-|session not in the sessions export:"
		    " 1 enrollment not sent|5|6\n");
}

/* The counts per user tell whether to look for missing courses and
 * sessions at all; a row of no username, which they do not read, is
 * still looked at. */
Test(rule_learning, rows_of_no_username_are_checked_for_missing_courses_and_sessions)
{
	add_catalogue();
	add_enr("2", NULL, "OLD-9", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("3", NULL, "FORK-1", "FORK-1-S7", "enrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "course_missing|enrollments|OLD-9|-|course not in the courses export: 1 enrollment not sent|5|2\n"
		    "session_missing|enrollments|FORK-1-S7|-|session not in the sessions export:"
		    " 1 enrollment not sent|5|3\n");
}

Test(rule_learning, unenrolled_rows_are_left_to_the_unenrollment_rule)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "103", "carl", NULL, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "unenrolled", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "QA-LIVE", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("4", "carl", "QA-LIVE", NULL, "unenrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:QA-LIVE:|0\n");
	assert_rows("SELECT json_extract(fields, '$.Enrolled_Count__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_User__c'", 1, "1\n");
	assert_rows(EXCEPTIONS, 7, "");
}

Test(rule_learning, same_enrollment_twice_sends_the_first_row)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Status__c'), src_line FROM stage.crm_out"
		    " WHERE object = 'LMS_Enrollment__c'", 3, "acme:101:SAFE-101:|in_progress|2\n");
	assert_rows(EXCEPTIONS, 7,
		    "duplicate|enrollments|anna:SAFE-101:|-|enrollment listed more than once:"
		    " the first row is sent|5|3\n");
}

/* Makes the `object` records of stage.crm_out "sent before": emitted by
 * a complete run 0 (as rule_crmdiff writes them), the object compared with
 * what was emitted (as rule_crmdiff_prev lists it). */
static void sent_before(const char *object)
{
	EXEC("INSERT OR IGNORE INTO runs (id, started_at, ended_at, status, mode)"
	     " VALUES (0, ?1, ?1, 'complete', 'full')", "2024-04-01T00:00:00Z");
	EXEC("INSERT OR IGNORE INTO stage.prev_sent_objects (object, op) VALUES (?1, 'upsert')",
	     object);
	EXEC("INSERT INTO emitted (run_id, target, object, key, op, fields, digest)"
	     " SELECT 0, 'crm', object, key, op, fields, lmsrecon_digest(fields)"
	     " FROM stage.crm_out WHERE object = ?1", object);
}

/* Runs the rule on anna's one enrollment of SAFE-101 (in progress), then
 * makes what it would send "sent before" and clears the run's outputs,
 * for a second pass of the rule over more rows. */
static void anna_sent_before(void)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	sent_before("LMS_Enrollment__c");
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out; DELETE FROM stage.exceptions"), RC_OK);
}

/* The three objects of a learner, all compared with what was emitted. */
static const char *const learner_objects[] = { "LMS_User__c", "LMS_Enrollment__c",
	"LMS_Learning_Plan_Enrollment__c" };

/* anna (linked) with an enrollment of each course and the plan (one of
 * its two courses completed, a course out of it passed). */
static void add_anna(void)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, "2024-04-01T08:00:00.000Z");
	add_enr("2", "anna", "SAFE-101", NULL, "completed", "2024-01-02", "2024-01-05", "90", NULL);
	add_enr("3", "anna", "FORK-1", "FORK-1-S1", "in_progress", "2024-02-01", NULL, NULL, NULL);
	add_enr("4", "anna", "QA-LIVE", NULL, "passed", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "in_progress", "2024-01-02", NULL);
}

/* Runs the rule as an earlier run (run 0) would have, with no CRM export:
 * its records emitted, its learner_state its own. Then forgets the records emitted
 * (unless `keep_emitted`), so that whatever the next pass builds shows in
 * stage.crm_out: a record left out is one the rule did not build. */
static void built_by_an_earlier_run(int keep_emitted)
{
	for (size_t i = 0; i < sizeof learner_objects / sizeof learner_objects[0]; i++)
		EXEC("INSERT OR IGNORE INTO stage.prev_sent_objects (object, op)"
		     " VALUES (?1, 'upsert')", learner_objects[i]);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	for (size_t i = 0; i < sizeof learner_objects / sizeof learner_objects[0]; i++)
		sent_before(learner_objects[i]);
	cr_assert_eq(snap_exec(s, "UPDATE learner_state SET run_id = 0;"
			       "DELETE FROM stage.crm_out; DELETE FROM stage.exceptions"), RC_OK);
	if (!keep_emitted)
		cr_assert_eq(snap_exec(s, "DELETE FROM emitted"), RC_OK);
}

/* Records of one line (minified XML): the first in the file is the first. */
Test(rule_learning, same_enrollment_twice_on_one_line_sends_the_first_in_the_file)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Enrollment__c", "Status__c"), 2, "acme:101:SAFE-101:|in_progress\n");
}

/* "Only changes" before the fact must not let the second row of a key
 * listed twice take the place of a first row that is unchanged: the first
 * row is the record (rule_crmdiff then finds it sent before). */
Test(rule_learning, unchanged_first_row_of_a_key_listed_twice_keeps_its_place)
{
	anna_sent_before();
	add_enr("3", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Enrollment__c", "Status__c"), 2, "acme:101:SAFE-101:|in_progress\n");
	assert_rows("SELECT kind, key FROM stage.exceptions WHERE kind = 'duplicate'", 2,
		    "duplicate|anna:SAFE-101:\n");
}

/* Two usernames with one user id give one key: the first user's unchanged
 * record keeps it, as without "only changes" before the fact, and although
 * the first user's inputs did not change either (learner_state). */
Test(rule_learning, user_id_shared_by_two_usernames_keeps_the_first_record)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	built_by_an_earlier_run(1);
	add_user("3", "101", "bella", CONTACT_G, NULL);
	add_enr("3", "bella", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Enrollment__c", "Status__c"), 2, "acme:101:SAFE-101:|in_progress\n");
}

/* An unchanged record sent before is left out, but not when the time
 * window forces it (R11), and a changed one is written. */
Test(rule_learning, record_sent_before_is_left_out_unless_forced_or_changed)
{
	anna_sent_before();
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "");

	job.enroll.since = "1970-01-01";
	EXEC("UPDATE enr.stg_enrollment SET updated_at = ?1", "2024-03-01T00:00:00.000Z");
	cr_assert_eq(snap_exec(s, "DELETE FROM emitted"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	sent_before("LMS_Enrollment__c");
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|1\n");

	job.enroll.since = NULL;
	EXEC("UPDATE enr.stg_enrollment SET status = ?1", "completed");
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
}

/* What was sent before only counts for the objects compared with it: an
 * object compared with its CRM export (not listed) is built again, and a
 * record emitted by the run in flight is not "before". */
Test(rule_learning, record_sent_before_counts_only_when_compared_with_what_was_emitted)
{
	anna_sent_before();
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.prev_sent_objects"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");

	EXEC("INSERT INTO stage.prev_sent_objects (object, op) VALUES (?1, 'upsert')",
	     "LMS_Enrollment__c");
	EXEC("UPDATE emitted SET run_id = ?1", "1");
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
}

/* The learner records and learning-plan enrollments sent before are left
 * out as the enrollments are, each by its own key. */
Test(rule_learning, learner_and_plan_records_sent_before_are_left_out)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "enrolled", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	sent_before("LMS_User__c");
	sent_before("LMS_Learning_Plan_Enrollment__c");
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out; DELETE FROM stage.exceptions"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_User__c"), 2, "");
	assert_rows(KEYS("LMS_Learning_Plan_Enrollment__c"), 2, "");
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
}

/* The latest earlier run decides: a record sent as it is now, then sent
 * changed, is sent again. */
Test(rule_learning, record_sent_before_is_compared_with_the_latest_run)
{
	anna_sent_before();
	EXEC("INSERT INTO runs (id, started_at, ended_at, status, mode)"
	     " VALUES (-1, ?1, ?1, 'complete', 'full')", "2024-03-01T00:00:00Z");
	cr_assert_eq(snap_exec(s, "UPDATE emitted SET run_id = -1;"
			       "INSERT INTO emitted (run_id, target, object, key, op, fields, digest)"
			       " SELECT 0, target, object, key, op,"
			       " json_set(fields, '$.Status__c', 'completed'),"
			       " lmsrecon_digest(json_set(fields, '$.Status__c', 'completed'))"
			       " FROM emitted"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
}

/* ---- learners whose inputs did not change (learner_state) ------------- */

#define LEARNER_KEYS "SELECT object, key FROM stage.crm_out WHERE object IN ('LMS_User__c'," \
	" 'LMS_Enrollment__c', 'LMS_Learning_Plan_Enrollment__c') ORDER BY object, key"
#define ANNA_ALL "LMS_Enrollment__c|acme:101:FORK-1:FORK-1-S1\n" \
	"LMS_Enrollment__c|acme:101:QA-LIVE:\n" \
	"LMS_Enrollment__c|acme:101:SAFE-101:\n" \
	"LMS_Learning_Plan_Enrollment__c|acme:101:plan:ONBOARD\n" \
	"LMS_User__c|acme:101\n"

Test(rule_learning, learner_whose_inputs_did_not_change_is_not_built_again)
{
	add_anna();
	add_enr("9", "anna", "OLD-9", NULL, "enrolled", NULL, NULL, NULL, NULL);
	built_by_an_earlier_run(0);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(LEARNER_KEYS, 2, "");
	/* Its exceptions are still counted from every row. */
	assert_rows(EXCEPTIONS, 7,
		    "course_missing|enrollments|OLD-9|-|course not in the courses export:"
		    " 1 enrollment not sent|5|9\n");
}

/* --full (rebuild), a time window, an object compared with its CRM export
 * or `audit` (not listed as compared with what was emitted): every learner
 * is built. */
Test(rule_learning, every_learner_is_built_on_rebuild_window_or_crm_export)
{
	add_anna();
	built_by_an_earlier_run(0);
	job.enroll.rebuild = 1;
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(LEARNER_KEYS, 2, ANNA_ALL);

	job.enroll.rebuild = 0;
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out"), RC_OK);
	job.enroll.until = "2000-01-01";
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(LEARNER_KEYS, 2, ANNA_ALL);

	job.enroll.until = NULL;
	cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out;"
			       "DELETE FROM stage.prev_sent_objects WHERE object = 'LMS_Enrollment__c'"),
		     RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(LEARNER_KEYS, 2,
		    "LMS_Enrollment__c|acme:101:FORK-1:FORK-1-S1\n"
		    "LMS_Enrollment__c|acme:101:QA-LIVE:\n"
		    "LMS_Enrollment__c|acme:101:SAFE-101:\n");
}

/* Every input a learner's records are built from makes the learner built
 * again when it changes: the user's fields, each enrollment field, a row
 * added or gone, the course's name and type, the plan's courses, the
 * item types. Each case starts from a fresh snapshot. */
Test(rule_learning, learner_is_built_again_when_any_of_its_inputs_changes)
{
	static const char *const changes[] = {
		"UPDATE stage.stg_lms_user SET last_access = '2024-04-02T08:00:00.000Z'",
		"UPDATE stage.stg_lms_user SET sfdc_id = '" CONTACT_D "'",
		"UPDATE stage.stg_lms_user SET user_id = '111'",
		"UPDATE enr.stg_enrollment SET status = 'completed' WHERE course_code = 'FORK-1'",
		"UPDATE enr.stg_enrollment SET enrolled_at = '2024-02-02' WHERE course_code = 'FORK-1'",
		"UPDATE enr.stg_enrollment SET completed_at = '2024-01-06' WHERE course_code = 'SAFE-101'",
		"UPDATE enr.stg_enrollment SET score = 91 WHERE course_code = 'SAFE-101'",
		"UPDATE enr.stg_enrollment SET session_code = 'FORK-1-S2' WHERE course_code = 'FORK-1'",
		"DELETE FROM enr.stg_enrollment WHERE course_code = 'QA-LIVE'",
		"INSERT INTO enr.stg_enrollment (src_file, src_line, username, course_code, status)"
		" VALUES (5, 9, 'anna', 'QA-LIVE', 'completed')",
		"UPDATE enr.stg_course SET name = 'Safety, second edition' WHERE code = 'SAFE-101'",
		"UPDATE enr.stg_course SET type = 'webinar' WHERE code = 'SAFE-101'",
		"INSERT INTO enr.stg_plan_course (src_file, src_line, plan_code, course_code)"
		" VALUES (4, 9, 'ONBOARD', 'QA-LIVE')",
		/* As many courses, one more of them passed. */
		"UPDATE enr.stg_plan_course SET course_code = 'QA-LIVE' WHERE course_code = 'FORK-1'",
		"UPDATE enr.stg_plan_enrollment SET status = 'completed'",
		"UPDATE enr.stg_plan_enrollment SET enrolled_at = '2024-01-03'",
		"DELETE FROM enr.stg_plan_enrollment",
		"ITEMS",
	};
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		char *got;
		if (i > 0) {
			snaptest_close();
			setup();
		}
		add_anna();
		built_by_an_earlier_run(0);
		if (strcmp(changes[i], "ITEMS") == 0)
			job.enroll.items = ITEM_COURSE | ITEM_CLASSROOM | ITEM_WEBINAR;
		else
			cr_assert_eq(snap_exec(s, changes[i]), RC_OK, "%s", changes[i]);
		cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
		got = rows("SELECT count(*) FROM stage.crm_out WHERE object = 'LMS_Enrollment__c'", 1);
		cr_expect_str_neq(got, "0\n", "not built again after: %s", changes[i]);
		free(got);
	}
}

/* The first row of an enrollment listed twice is sent: the rows swapped,
 * the learner is built again, although its rows, added up, are the same. */
Test(rule_learning, enrollment_listed_twice_in_another_order_is_built_again)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	built_by_an_earlier_run(1);
	EXEC("UPDATE enr.stg_enrollment SET src_line = 5 - src_line WHERE username = ?1", "anna");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Enrollment__c", "Status__c"), 2, "acme:101:SAFE-101:|completed\n");
}

/* The same for a learning-plan enrollment listed twice. */
Test(rule_learning, plan_enrollment_listed_twice_in_another_order_is_built_again)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "in_progress", NULL, NULL);
	add_plan_enr("3", "anna", "ONBOARD", "completed", NULL, NULL);
	built_by_an_earlier_run(1);
	EXEC("UPDATE enr.stg_plan_enrollment SET src_line = 5 - src_line WHERE username = ?1",
	     "anna");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Learning_Plan_Enrollment__c", "Status__c"), 2,
		    "acme:101:plan:ONBOARD|completed\n");
}

/* Two usernames shared a user id, so its key's record in the CRM may be
 * either's (here the one sent is made another's); bella gone, anna's
 * inputs are what they were, and her record is built to take the key. */
Test(rule_learning, learner_who_shared_a_user_id_is_built_when_the_sharing_ends)
{
	add_catalogue();
	add_user("2", "101", "bella", CONTACT_G, NULL);
	add_user("3", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "bella", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "SAFE-101", NULL, "in_progress", NULL, NULL, NULL, NULL);
	built_by_an_earlier_run(1);
	assert_rows("SELECT count(*) FROM learner_state", 1, "0\n");
	EXEC("DELETE FROM stage.stg_lms_user WHERE username = ?1", "bella");
	EXEC("DELETE FROM enr.stg_enrollment WHERE username = ?1", "bella");
	EXEC("UPDATE emitted SET fields = json_set(fields, '$.Status__c', 'completed'),"
	     " digest = lmsrecon_digest(json_set(fields, '$.Status__c', 'completed'))"
	     " WHERE object = ?1", "LMS_Enrollment__c");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Enrollment__c", "Status__c"), 2, "acme:101:SAFE-101:|in_progress\n");
}

/* A run that compares a learner's records with a CRM export may leave one
 * unsent that was never sent (the export showed it): it keeps no digest,
 * so the next run, without the export, builds every learner. */
Test(rule_learning, run_with_a_crm_export_of_learner_records_keeps_no_digest)
{
	add_anna();
	built_by_an_earlier_run(1);
	assert_rows("SELECT username FROM learner_state", 1, "anna\n");
	EXEC("DELETE FROM stage.prev_sent_objects WHERE object = ?1", "LMS_User__c");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT username FROM learner_state", 1, "");
}

/* learner_state keeps the digest of every linked learner as the run that
 * last changed it wrote it; a learner no longer linked loses its row, and
 * so does one another run left for this instance only. */
Test(rule_learning, learner_state_follows_the_linked_learners)
{
	add_anna();
	add_user("3", "102", "bob", USER_B, NULL);
	add_user("4", "103", "carl", NULL, NULL);
	add_enr("5", "bob", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("6", "carl", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	EXEC("INSERT INTO learner_state (lms_instance, username, digest, run_id)"
	     " VALUES ('emea', 'anna', 7, ?1), ('acme', 'zed', 7, ?1)", "1");
	built_by_an_earlier_run(1);
	assert_rows("SELECT lms_instance, username, run_id FROM learner_state ORDER BY 1, 2", 3,
		    "acme|anna|0\n"
		    "acme|bob|0\n"
		    "emea|anna|0\n");
	cr_assert_eq(snap_exec(s, "UPDATE stage.stg_lms_user SET sfdc_id = NULL"
			       " WHERE username = 'anna';"
			       "UPDATE enr.stg_enrollment SET status = 'completed'"
			       " WHERE username = 'bob';"
			       "UPDATE learner_state SET digest = 7 WHERE lms_instance = 'emea'"), RC_OK);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT lms_instance, username, run_id FROM learner_state ORDER BY 1, 2", 3,
		    "acme|bob|1\n"
		    "emea|anna|0\n");
}

/* ---- R9 learner record ------------------------------------------------- */

Test(rule_learning, learner_record_only_for_linked_users_with_an_enrollment)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "104", "dora", CONTACT_D, NULL);             /* nothing enrolled */
	add_user("4", "107", "gus", CONTACT_G, NULL);              /* a plan only */
	add_enr("2", "anna", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "gus", "ONBOARD", "enrolled", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Enrolled_Count__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_User__c' ORDER BY key", 2,
		    "acme:101|1\n"
		    "acme:107|0\n");
}

Test(rule_learning, learner_record_counts_by_status)
{
	add_course("2", "C1", "One", "elearning");
	add_course("3", "C2", "Two", "elearning");
	add_course("4", "C3", "Three", "elearning");
	add_course("5", "C4", "Four", "elearning");
	add_course("6", "C5", "Five", "elearning");
	add_course("7", "C6", "Six", "elearning");
	add_course("8", "C7", "Seven", "elearning");
	add_user("2", "101", "anna", CONTACT_A, "2024-04-01T08:00:00.000Z");
	add_enr("2", "anna", "C1", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "C2", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("4", "anna", "C3", NULL, "passed", NULL, NULL, NULL, NULL);
	add_enr("5", "anna", "C4", NULL, "failed", NULL, NULL, NULL, NULL);
	add_enr("6", "anna", "C5", NULL, "in_progress", NULL, NULL, NULL, NULL);
	add_enr("7", "anna", "C6", NULL, "pending_review", NULL, NULL, NULL, NULL);
	add_enr("8", "anna", "C7", NULL, "waiting", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT("LMS_User__c"), 6,
		    "acme:101|{\"LMS_User_Id__c\":\"acme:101\",\"Name\":\"anna\",\"Username__c\":\"anna\","
		    "\"LMS_Instance__c\":\"acme\",\"Contact__c\":\"" CONTACT_A "\",\"User__c\":\"#N/A\","
		    "\"Last_Access__c\":\"2024-04-01T08:00:00.000Z\",\"Enrolled_Count__c\":7,"
		    "\"Completed_Count__c\":2,\"Passed_Count__c\":1,\"Failed_Count__c\":1,"
		    "\"In_Progress_Count__c\":1,\"Pending_Review_Count__c\":1}|R9|0|0|2\n");
}

/* The learner records go into crm_out in the order of their keys (the
 * steps after the rule read crm_out in key order), whatever the order of
 * the usernames; of two usernames sharing a user id, the first by username
 * keeps the key. */
Test(rule_learning, learner_records_are_written_in_key_order)
{
	/* line, user id, username, link: in input order */
	static const char *const users[][4] = { { "2", "300", "anna", CONTACT_A },
		{ "3", "100", "bella", CONTACT_D }, { "4", "200", "zoe", CONTACT_G },
		{ "5", "200", "carl", USER_B } };

	add_catalogue();
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
		add_user(users[i][0], users[i][1], users[i][2], users[i][3], NULL);
		add_enr(users[i][0], users[i][2], "SAFE-101", NULL, "enrolled", NULL, NULL, NULL,
			NULL);
	}
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Username__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_User__c' ORDER BY rowid", 2,
		    "acme:100|bella\n"
		    "acme:200|carl\n"
		    "acme:300|anna\n");
}

Test(rule_learning, link_is_a_contact_or_a_user_by_its_prefix)
{
	char name[100];
	add_catalogue();
	memset(name, 'x', 95);
	name[95] = '\0';
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "102", name, USER_B, NULL);
	add_user("4", "105", "eve", ACCOUNT_E, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("3", name, "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("4", "eve", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("5", "eve", "QA-LIVE", NULL, "enrolled", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Contact__c'),"
		    " json_extract(fields, '$.User__c'), length(json_extract(fields, '$.Name')),"
		    " length(json_extract(fields, '$.Username__c'))"
		    " FROM stage.crm_out WHERE object = 'LMS_User__c' ORDER BY key", 5,
		    "acme:101|" CONTACT_A "|#N/A|4|4\n"
		    "acme:102|#N/A|" USER_B "|80|95\n");
	assert_rows(KEYS("LMS_Enrollment__c"), 2,
		    "acme:101:SAFE-101:|0\n"
		    "acme:102:SAFE-101:|0\n");
	assert_rows(EXCEPTIONS, 7,
		    "link_unsupported|users|eve|" ACCOUNT_E "|sfdc_id '" ACCOUNT_E "' is neither a"
		    " Contact (003) nor a User (005): 2 enrollments not sent|0|4\n");
}

Test(rule_learning, inactive_linked_user_still_has_enrollments_sent)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	EXEC("UPDATE stage.stg_lms_user SET active = 0 WHERE username = ?1", "anna");
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2, "acme:101:SAFE-101:|0\n");
}

Test(rule_learning, user_unlinked_by_this_run_is_not_sent)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "102", "bob", USER_B, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "QA-LIVE", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("4", "bob", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	EXEC("INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	     " src_line, rule) VALUES ('lms.users', ?1, 'unlink', 'sfdc_id', ?2, NULL, 0, 2, 'R7')",
	     "anna", CONTACT_A);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT object, key FROM stage.crm_out WHERE object LIKE '%Enrollment__c'"
		    " OR object = 'LMS_User__c' ORDER BY object, key", 2,
		    "LMS_Enrollment__c|acme:102:SAFE-101:\n"
		    "LMS_User__c|acme:102\n");
	assert_rows(EXCEPTIONS, 7,
		    "unlinked|users|anna|-|unlinked in this run: 2 enrollments not sent|0|2\n");
}

/* ---- R9 learning-plan enrollments -------------------------------------- */

Test(rule_learning, plan_enrollment_counts_the_courses_finished_well)
{
	add_catalogue();
	add_plan_course("4", "ONBOARD", "QA-LIVE");
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_user("3", "102", "bob", USER_B, NULL);
	/* anna: one completed, one passed (in two sessions), none failed. */
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "FORK-1", "FORK-1-S1", "passed", NULL, NULL, NULL, NULL);
	add_enr("4", "anna", "FORK-1", "FORK-1-S2", "passed", NULL, NULL, NULL, NULL);
	add_enr("5", "anna", "QA-LIVE", NULL, "in_progress", NULL, NULL, NULL, NULL);
	/* bob: failed one. */
	add_enr("6", "bob", "SAFE-101", NULL, "failed", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "in_progress", "2024-01-10", NULL);
	add_plan_enr("3", "bob", "ONBOARD", "enrolled", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT("LMS_Learning_Plan_Enrollment__c"), 6,
		    "acme:101:plan:ONBOARD|{\"Enrollment_Key__c\":\"acme:101:plan:ONBOARD\","
		    "\"LMS_User__r.LMS_User_Id__c\":\"acme:101\","
		    "\"Learning_Plan__r.LMS_Learning_Plan_Key__c\":\"acme:ONBOARD\","
		    "\"Status__c\":\"in_progress\",\"Enrolled_At__c\":\"2024-01-10T00:00:00.000Z\","
		    "\"Completed_At__c\":\"#N/A\",\"Score__c\":\"#N/A\",\"Course_Count__c\":3,"
		    "\"Completed_Course_Count__c\":2}|R9|0|6|2\n"
		    "acme:102:plan:ONBOARD|{\"Enrollment_Key__c\":\"acme:102:plan:ONBOARD\","
		    "\"LMS_User__r.LMS_User_Id__c\":\"acme:102\","
		    "\"Learning_Plan__r.LMS_Learning_Plan_Key__c\":\"acme:ONBOARD\","
		    "\"Status__c\":\"enrolled\",\"Enrolled_At__c\":\"#N/A\","
		    "\"Completed_At__c\":\"#N/A\",\"Score__c\":\"#N/A\",\"Course_Count__c\":3,"
		    "\"Completed_Course_Count__c\":0}|R9|0|6|3\n");
}

/* A plan listed twice for one user: one record (the first row), whose
 * courses finished well are counted once, not once per row. */
Test(rule_learning, plan_listed_twice_counts_its_courses_once)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_enr("3", "anna", "FORK-1", "FORK-1-S1", "passed", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "in_progress", NULL, NULL);
	add_plan_enr("3", "anna", "ONBOARD", "completed", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, json_extract(fields, '$.Status__c'),"
		    " json_extract(fields, '$.Completed_Course_Count__c') FROM stage.crm_out"
		    " WHERE object = 'LMS_Learning_Plan_Enrollment__c'", 3,
		    "acme:101:plan:ONBOARD|in_progress|2\n");
}

/* A plan enrollment row without a plan code (the loader rejects it; a
 * stage written otherwise may hold it) is no record and stops nothing. */
Test(rule_learning, plan_enrollment_without_a_plan_code_is_no_record)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "anna", NULL, "in_progress", NULL, NULL);
	add_plan_enr("3", "anna", "ONBOARD", "in_progress", NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Learning_Plan_Enrollment__c", "Completed_Course_Count__c"), 2,
		    "acme:101:plan:ONBOARD|1\n");
}

/* A learner built again because a course was finished (its other inputs
 * as the last run left them): the plan record counts that course, and a
 * learner whose inputs did not change is not built. */
Test(rule_learning, plan_record_built_again_counts_the_course_just_finished)
{
	add_anna();
	add_user("3", "102", "bob", USER_B, NULL);
	add_enr("5", "bob", "SAFE-101", NULL, "completed", NULL, NULL, NULL, NULL);
	add_plan_enr("3", "bob", "ONBOARD", "in_progress", NULL, NULL);
	built_by_an_earlier_run(0);
	EXEC("UPDATE enr.stg_enrollment SET status = ?1 WHERE course_code = 'FORK-1'",
	     "completed");
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(FIELD("LMS_Learning_Plan_Enrollment__c", "Completed_Course_Count__c"), 2,
		    "acme:101:plan:ONBOARD|2\n");
}

/* ---- R11 time window --------------------------------------------------- */

Test(rule_learning, time_window_forces_enrollments_touched_in_it)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	/* Before, inside by each of the three dates, after; the last day of a
	 * date-only `until` is included to its end. */
	add_course("5", "C-OLD", "Old", "elearning");
	add_course("6", "C-ENR", "Enrolled", "elearning");
	add_course("7", "C-CMP", "Completed", "elearning");
	add_course("8", "C-UPD", "Updated", "elearning");
	add_course("9", "C-LATE", "Late that day", "elearning");
	add_course("10", "C-AFTER", "After", "elearning");
	add_enr("2", "anna", "C-OLD", NULL, "completed", "2023-01-01T00:00:00.000Z",
		"2023-02-01T00:00:00.000Z", NULL, "2023-02-01T00:00:00.000Z");
	add_enr("3", "anna", "C-ENR", NULL, "enrolled", "2024-03-01", NULL, NULL, NULL);
	add_enr("4", "anna", "C-CMP", NULL, "completed", "2023-05-01T00:00:00.000Z",
		"2024-03-15T12:00:00.000Z", NULL, NULL);
	add_enr("5", "anna", "C-UPD", NULL, "in_progress", NULL, NULL, NULL,
		"2024-03-31T00:00:00.000Z");
	add_enr("6", "anna", "C-LATE", NULL, "in_progress", NULL, NULL, NULL,
		"2024-03-31T23:59:59.000Z");
	add_enr("7", "anna", "C-AFTER", NULL, "in_progress", "2024-04-01T00:00:00.000Z",
		NULL, NULL, NULL);
	add_plan_enr("2", "anna", "ONBOARD", "enrolled", "2024-01-01", "2024-03-02T00:00:00.000Z");
	job.enroll.since = "2024-03-01";
	job.enroll.until = "2024-03-31";
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key, is_forced FROM stage.crm_out WHERE object LIKE '%Enrollment__c'"
		    " ORDER BY key", 2,
		    "acme:101:C-AFTER:|0\n"
		    "acme:101:C-CMP:|1\n"
		    "acme:101:C-ENR:|1\n"
		    "acme:101:C-LATE:|1\n"
		    "acme:101:C-OLD:|0\n"
		    "acme:101:C-UPD:|1\n"
		    "acme:101:plan:ONBOARD|1\n");
	assert_rows("SELECT count(*) FROM stage.crm_out WHERE is_forced AND object NOT LIKE"
		    " '%Enrollment__c'", 1, "0\n");
}

Test(rule_learning, open_ended_window_and_no_window)
{
	add_catalogue();
	add_user("2", "101", "anna", CONTACT_A, NULL);
	add_enr("2", "anna", "SAFE-101", NULL, "enrolled", "2020-01-01T00:00:00.000Z", NULL, NULL, NULL);
	add_enr("3", "anna", "QA-LIVE", NULL, "enrolled", "2024-06-01T10:00:00.000Z", NULL, NULL, NULL);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2,
		    "acme:101:QA-LIVE:|0\n"
		    "acme:101:SAFE-101:|0\n");
	snap_exec(s, "DELETE FROM stage.crm_out; DELETE FROM stage.exceptions");
	job.enroll.since = "2024-06-01T10:00:00.000Z";
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows(KEYS("LMS_Enrollment__c"), 2,
		    "acme:101:QA-LIVE:|1\n"
		    "acme:101:SAFE-101:|0\n");
}

/* ---- R12 waiting on a link --------------------------------------------- */

Test(rule_learning, users_linked_by_this_run_wait_for_the_next)
{
	add_catalogue();
	add_user("5", "106", "fay", NULL, NULL);
	add_user("6", "108", "hal", NULL, NULL);
	add_enr("2", "fay", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("3", "fay", "QA-LIVE", NULL, "completed", NULL, NULL, NULL, NULL);
	add_plan_enr("2", "fay", "ONBOARD", "enrolled", NULL, NULL);
	add_enr("4", "hal", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_enr("5", "ivy", "SAFE-101", NULL, "enrolled", NULL, NULL, NULL, NULL);
	add_user("7", "109", "jon", NULL, NULL);
	add_enr("6", "jon", "QA-LIVE", NULL, "enrolled", NULL, NULL, NULL, NULL);
	EXEC("INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	     " src_line, rule) VALUES ('lms.users', ?1, 'relink', 'sfdc_id', NULL, ?2, 0, 7, 'R7')",
	     "jon", CONTACT_G);
	/* fay linked by the people rules, ivy created by them. */
	EXEC("INSERT INTO stage.changes (entity, key, action, field, before, after, src_file,"
	     " src_line, rule) VALUES ('lms.users', ?1, 'link', 'sfdc_id', NULL, ?2, 9, 4, 'R2')",
	     "fay", CONTACT_A);
	EXEC("INSERT INTO stage.user_out (username, action, sfdc_id, src_file, src_line)"
	     " VALUES (?1, 'create', ?2, 9, 7)", "ivy", CONTACT_D);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT object, key FROM stage.crm_out WHERE object LIKE '%Enrollment__c'"
		    " OR object = 'LMS_User__c'", 2, "");
	assert_rows(EXCEPTIONS, 7,
		    "not_linked|users|hal|-|user not linked: 1 enrollment not sent|0|6\n"
		    "waiting_on_link|users|fay|-|linked in this run; 3 enrollments will be sent"
		    " by the next run|0|5\n"
		    "waiting_on_link|users|ivy|-|linked in this run; 1 enrollment will be sent"
		    " by the next run|9|7\n"
		    "waiting_on_link|users|jon|-|linked in this run; 1 enrollment will be sent"
		    " by the next run|0|7\n");
}
