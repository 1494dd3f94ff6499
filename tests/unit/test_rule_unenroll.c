/* SPDX-License-Identifier: MIT */
/* Tests of rule_unenroll (R10): the first run as the baseline, both
 * policies, the wait for a CRM export, finished enrollments kept, the
 * 'unenrolled' status, plans, users gone from the LMS export, and several
 * portals in one snapshot. Each test commits runs on an in-memory snapshot:
 * it stages rows, runs the rule, and reads back stage.crm_out, the changes,
 * the exceptions and enrollment_baseline. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "entity.h"
#include "job.h"
#include "rule_learning.h"
#include "rule_unenroll.h"
#include "snap.h"
#include "util.h"

/* test_rule_unenroll_hashed.c runs these tests again under another suite
 * name, with the learning rule before every run of this one, as `run`
 * has it: the rule then reads only the usernames whose rows changed. */
#ifndef UNENROLL_SUITE
#define UNENROLL_SUITE rule_unenroll
#define UNENROLL_AFTER_LEARNING 0
#endif

/* The run times, as the run passes them to the rule. */
#define T1 "2024-05-01T10:00:00.000Z"
#define T2 "2024-05-02T10:00:00.000Z"
#define T3 "2024-05-03T10:00:00.000Z"

/* Salesforce ids of a linked Contact and of two enrollment records. */
#define CONTACT "003000000000001AAA"
#define X_ID1 "a01000000000001AAA"
#define X_ID2 "a02000000000001AAA"

/* Which inputs the job reads (bits for with_inputs). */
enum { IN_USERS = 1, IN_ENR = 2, IN_PLAN_ENR = 4, IN_X_ENR = 8, IN_X_PLAN_ENR = 16 };

static FILE *diag_out;
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct snap *s;
static long long run_id;
static struct job_input inputs[5];
static struct job job;

/* Sets the inputs of the job: the bits of `which`, in that order. */
static void with_inputs(unsigned which)
{
	static const struct { unsigned bit; enum entity_id id; const char *name; } all[] = {
		{ IN_USERS, ENT_LMS_USER, "lms/users.csv" },
		{ IN_ENR, ENT_ENROLLMENT, "lms/enrollments.csv" },
		{ IN_PLAN_ENR, ENT_PLAN_ENROLLMENT, "lms/plan_enrollments.csv" },
		{ IN_X_ENR, ENT_X_ENROLLMENT, "crm/LMS_Enrollment__c.csv" },
		{ IN_X_PLAN_ENR, ENT_X_PLAN_ENROLLMENT, "crm/LMS_Learning_Plan_Enrollment__c.csv" },
	};
	job.ninputs = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (which & all[i].bit) {
			memset(&inputs[job.ninputs], 0, sizeof inputs[0]);
			inputs[job.ninputs].entity = entity_get(all[i].id);
			inputs[job.ninputs].name = (char *)all[i].name;
			job.ninputs++;
		}
}

static void setup(void)
{
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	cr_assert_eq(snap_open(&d, "state.db", SNAP_MEMORY | SNAP_CREATE, &s), RC_OK);
	memset(&job, 0, sizeof job);
	job.path = "job.xml";
	job.inputs = inputs;
	job.lms_instance = "acme";
	job.enroll.items = ITEM_COURSE | ITEM_PLAN | ITEM_CLASSROOM | ITEM_WEBINAR;
	job.enroll.unenroll = UNENROLL_MARK;
	with_inputs(IN_USERS | IN_ENR | IN_PLAN_ENR);
}

static void teardown(void)
{
	snap_close(s);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
}

TestSuite(UNENROLL_SUITE, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Runs a statement with up to five text parameters (NULL = SQL NULL). */
static void exec5(const char *sql, const char *a, const char *b, const char *c,
		  const char *e, const char *f)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	const char *v[5] = { a, b, c, e, f };
	cr_assert_not_null(st, "%s: %s", sql, printed());
	for (int i = 0; i < 5; i++)
		if (strstr(sql, (const char[]){ '?', (char)('1' + i), 0 }))
			snap_bind_text(st, i + 1, v[i], v[i] ? strlen(v[i]) : 0);
	cr_assert_eq(snap_step(st), 0, "%s: %s", sql, printed());
	snap_finalize(st);
}

/* The first column of the first row of `sql` (no parameters), copied;
 * NULL when there is no row or the value is NULL. Caller frees. */
static char *query_text(const char *sql)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	char *v = NULL;
	cr_assert_not_null(st, "%s: %s", sql, printed());
	if (snap_step(st) == 1) {
		if (snap_col_text(st, 0))
			v = xstrdup(snap_col_text(st, 0));
		snap_reset(st);
	}
	snap_finalize(st);
	return v;
}

/* Asserts that `sql` gives the text `want` (NULL: no row or NULL). */
static void assert_text(const char *sql, const char *want)
{
	char *got = query_text(sql);
	if (want)
		cr_assert(got && strcmp(got, want) == 0, "%s\n  got:  %s\n  want: %s", sql,
			  got ? got : "(null)", want);
	else
		cr_assert_null(got, "%s\n  got: %s", sql, got);
	free(got);
}

static void begin(const char *now)
{
	cr_assert_eq(snap_run_begin(s, "full", now, &run_id), RC_OK, "%s", printed());
}

static void commit(const char *now)
{
	cr_assert_eq(snap_run_commit(s, now, "{}"), RC_OK, "%s", printed());
}

/* Runs the rule in the current run; it must succeed and print nothing.
 * After the learning rule, when the suite has it, whose records and
 * exceptions are then put away: only what this rule does is looked at. */
static void unenroll(const char *now)
{
	if (UNENROLL_AFTER_LEARNING) {
		cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK, "%s", printed());
		cr_assert_eq(snap_exec(s, "DELETE FROM stage.crm_out; DELETE FROM stage.exceptions"),
			     RC_OK, "%s", printed());
	}
	cr_assert_eq(rule_unenroll(&d, &job, s, run_id, now), RC_OK, "%s", printed());
	cr_assert_str_eq(printed(), "");
}

static void add_user(const char *username, const char *user_id, const char *sfdc_id)
{
	exec5("INSERT INTO stage.stg_lms_user (src_file, src_line, user_id, username, sfdc_id)"
	      " VALUES (0, 2, ?1, ?2, ?3)", user_id, username, sfdc_id, NULL, NULL);
}

static void add_course(const char *code, const char *type)
{
	exec5("INSERT INTO enr.stg_course (src_file, src_line, code, name, type)"
	      " VALUES (5, 2, ?1, ?1, ?2)", code, type, NULL, NULL, NULL);
}

/* A staged course enrollment of input 1 at line `line`. */
static void add_enr(const char *username, const char *course, const char *session,
		    const char *status, const char *line)
{
	exec5("INSERT INTO enr.stg_enrollment (src_file, src_line, username, course_code,"
	      " session_code, status) VALUES (1, ?5, ?1, ?2, ?3, ?4)",
	      username, course, session, status, line);
}

static void add_plan_enr(const char *username, const char *plan, const char *status)
{
	exec5("INSERT INTO enr.stg_plan_enrollment (src_file, src_line, username, plan_code,"
	      " status) VALUES (2, 2, ?1, ?2, ?3)", username, plan, status, NULL, NULL);
}

static void add_x_enr(const char *id, const char *key)
{
	exec5("INSERT INTO stage.stg_x_enrollment (src_file, src_line, Id, Enrollment_Key__c)"
	      " VALUES (3, 2, ?1, ?2)", id, key, NULL, NULL, NULL);
}

static void add_x_plan_enr(const char *id, const char *key)
{
	exec5("INSERT INTO stage.stg_x_plan_enrollment (src_file, src_line, Id, Enrollment_Key__c)"
	      " VALUES (4, 2, ?1, ?2)", id, key, NULL, NULL, NULL);
}

/* The first run of most tests: alice (user 101, linked) enrolled in C1
 * (completed) and C2 (in progress), both e-learning; committed. */
static void first_run_uncommitted(void)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_course("C2", "elearning");
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C2", NULL, "in_progress", "3");
	unenroll(T1);
}

static void first_run(void)
{
	first_run_uncommitted();
	commit(T1);
}

/* What the emit step keeps of the learner record run 1 wrote for
 * `username` (user id `id`): a later run finds the user id by it. */
static void emitted_learner_record(const char *username, const char *id)
{
	exec5("INSERT INTO emitted (run_id, target, object, key, op, fields)"
	      " VALUES (1, 'crm', 'LMS_User__c', 'acme:' || ?2, 'upsert',"
	      " json_object('LMS_User_Id__c', 'acme:' || ?2, 'Username__c', ?1))",
	      username, id, NULL, NULL, NULL);
}

/* first_run, plus the learner record it emitted for alice. */
static void first_run_of_alice_with_learner_record(void)
{
	first_run_uncommitted();
	emitted_learner_record("alice", "101");
	commit(T1);
}

/* The LMS side of a second run in which alice still has C1 only. */
static void second_run_without_c2(void)
{
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_course("C2", "elearning");
	add_enr("alice", "C1", NULL, "completed", "2");
}

/* Asserts the rows of `from` (the view enrollment_baseline, or one of its
 * tables), `expr` of each joined by ';' in the order `order`. */
static void assert_rows(const char *from, const char *expr, const char *order,
			const char *want)
{
	char *sql = xasprintf("SELECT group_concat(%s, ';') FROM (SELECT * FROM %s"
			      " ORDER BY %s)", expr, from, order);
	assert_text(sql, want);
	free(sql);
}

/* Asserts the baseline rows, `expr` of each joined by ';' in the order
 * `order`. */
static void assert_baseline(const char *expr, const char *order, const char *want)
{
	assert_rows("enrollment_baseline", expr, order, want);
}

static long long count(const char *sql)
{
	long long n = snap_query_int(s, sql);
	cr_assert_eq(snap_rc(s), RC_OK, "%s", printed());
	return n;
}

/* The hashes of the usernames' rows kept for the next run are this run's
 * (the learning rule makes them), or none when the rule runs alone. */
Test(UNENROLL_SUITE, hashes_kept_are_this_runs_or_none)
{
	exec5("INSERT INTO enrollment_user (lms_instance, kind, username, digest)"
	      " VALUES ('acme', 'course', 'zed', 7)", NULL, NULL, NULL, NULL, NULL);
	first_run();
	assert_text("SELECT group_concat(username) FROM enrollment_user",
		    UNENROLL_AFTER_LEARNING ? "alice" : NULL);
}

Test(UNENROLL_SUITE, first_run_is_the_baseline_and_reports_nothing)
{
	with_inputs(IN_USERS | IN_ENR | IN_PLAN_ENR | IN_X_ENR);
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C2", "S1", "enrolled", "3");
	/* The CRM knows an enrollment the LMS no longer shows: not tracked. */
	add_x_enr(X_ID1, "acme:101:C1:");
	add_x_enr(X_ID2, "acme:101:C9:");
	unenroll(T1);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	assert_text("SELECT group_concat(kind || '|' || username || '|' || item_code || '|'"
		    " || session_code || '|' || status || '|' || first_run || '|' || last_run, ';')"
		    " FROM (SELECT * FROM enrollment_baseline ORDER BY item_code)",
		    "course|alice|C1||completed|1|1;course|alice|C2|S1|enrolled|1|1");
}

Test(UNENROLL_SUITE, mark_sets_unenrolled_at_and_leaves_the_status_alone)
{
	first_run();
	second_run_without_c2();
	unenroll(T2);
	assert_text("SELECT object || '|' || op || '|' || key || '|' || fields || '|' || rule"
		    " || '|' || is_forced FROM stage.crm_out",
		    "LMS_Enrollment__c|upsert|acme:101:C2:|"
		    "{\"Enrollment_Key__c\":\"acme:101:C2:\",\"Unenrolled_At__c\":\"" T2 "\"}|R10|0");
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"
			   " WHERE json_extract(fields, '$.Status__c') IS NOT NULL"), 0);
	assert_text("SELECT entity || '|' || key || '|' || action || '|' || before || '|' || after"
		    " || '|' || rule FROM stage.changes",
		    "crm.LMS_Enrollment__c|acme:101:C2:|unenroll|in_progress|marked|R10");
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	/* C1 did not change: its row is not rewritten (last_run stays 1). */
	assert_text("SELECT group_concat(item_code || '|' || first_run || '|' || last_run, ';')"
		    " FROM enrollment_baseline", "C1|1|1");
	commit(T2);

	/* Handled once: a third run with C2 still gone sends nothing. */
	second_run_without_c2();
	unenroll(T3);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
}

Test(UNENROLL_SUITE, delete_unfinished_deletes_by_the_crm_id)
{
	job.enroll.unenroll = UNENROLL_DELETE_UNFINISHED;
	first_run();
	with_inputs(IN_USERS | IN_ENR | IN_PLAN_ENR | IN_X_ENR);
	second_run_without_c2();
	add_x_enr(X_ID1, "acme:101:C1:");
	add_x_enr(X_ID2, "acme:101:C2:");
	unenroll(T2);
	assert_text("SELECT group_concat(object || '|' || op || '|' || key || '|' || fields"
		    " || '|' || rule, ';') FROM stage.crm_out",
		    "LMS_Enrollment__c|delete|" X_ID2 "|{\"Id\":\"" X_ID2 "\"}|R10");
	assert_text("SELECT entity || '|' || key || '|' || action || '|' || before || '|' || after"
		    " FROM stage.changes",
		    "crm.LMS_Enrollment__c|acme:101:C2:|unenroll|in_progress|deleted");
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	assert_text("SELECT group_concat(item_code, ';') FROM enrollment_baseline", "C1");
}

Test(UNENROLL_SUITE, delete_without_the_crm_export_waits_and_deletes_later)
{
	job.enroll.unenroll = UNENROLL_DELETE_UNFINISHED;
	first_run();

	second_run_without_c2();
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
	assert_text("SELECT kind || '|' || entity || '|' || key || '|' || reason"
		    " || '|' || coalesce(src_file, '-') FROM stage.exceptions",
		    "waiting_for_crm_export|LMS_Enrollment__c|acme:101:C2:|unenrolled; the delete"
		    " needs the Id from a CRM export of LMS_Enrollment__c|-");
	/* Kept in the baseline, marked as pending. */
	assert_text("SELECT group_concat(item_code || '|' || status || '|' || last_run, ';')"
		    " FROM (SELECT * FROM enrollment_baseline ORDER BY item_code)",
		    "C1|completed|1;C2|unenrolled|1");
	commit(T2);

	/* A run with an export that lacks the record still waits. */
	with_inputs(IN_USERS | IN_ENR | IN_X_ENR);
	second_run_without_c2();
	add_x_enr(X_ID1, "acme:101:C1:");
	unenroll(T3);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_text("SELECT kind || '|' || reason FROM stage.exceptions",
		    "waiting_for_crm_export|unenrolled; the CRM export of LMS_Enrollment__c has no"
		    " record with this Enrollment_Key__c, so the delete waits for an export that"
		    " has it");
	commit(T3);

	/* The next run with the record in the export deletes it. */
	second_run_without_c2();
	add_x_enr(X_ID2, "acme:101:C2:");
	unenroll("2024-05-04T10:00:00.000Z");
	assert_text("SELECT op || '|' || key FROM stage.crm_out", "delete|" X_ID2);
	assert_text("SELECT before || '|' || after FROM stage.changes", "unenrolled|deleted");
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	assert_text("SELECT group_concat(item_code, ';') FROM enrollment_baseline", "C1");
}

Test(UNENROLL_SUITE, delete_unfinished_keeps_a_finished_enrollment)
{
	job.enroll.unenroll = UNENROLL_DELETE_UNFINISHED;
	first_run();
	with_inputs(IN_USERS | IN_ENR | IN_X_ENR);
	/* C1 (completed) is gone this time, C2 stays. */
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_enr("alice", "C2", NULL, "in_progress", "2");
	add_x_enr(X_ID1, "acme:101:C1:");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_text("SELECT entity || '|' || key || '|' || action || '|' || before || '|' || after"
		    " || '|' || rule FROM stage.changes",
		    "crm.LMS_Enrollment__c|acme:101:C1:|unenroll|completed|kept|R10");
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	assert_text("SELECT group_concat(item_code, ';') FROM enrollment_baseline", "C2");
}

Test(UNENROLL_SUITE, status_unenrolled_in_the_export_counts_as_gone)
{
	first_run();
	second_run_without_c2();
	add_enr("alice", "C2", NULL, "unenrolled", "7");
	unenroll(T2);
	assert_text("SELECT key || '|' || src_file || '|' || src_line FROM stage.crm_out",
		    "acme:101:C2:|1|7");
	assert_text("SELECT after || '|' || src_line FROM stage.changes", "marked|7");
	assert_text("SELECT group_concat(item_code, ';') FROM enrollment_baseline", "C1");
}

Test(UNENROLL_SUITE, unenrollment_before_the_baseline_is_not_tracked)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C9", NULL, "unenrolled", "3");
	unenroll(T1);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_text("SELECT group_concat(item_code, ';') FROM enrollment_baseline", "C1");
	commit(T1);

	begin(T2);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
}

Test(UNENROLL_SUITE, plan_enrollment_gone_is_marked_and_deleted_by_its_own_export)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_plan_enr("alice", "P1", "in_progress");
	add_plan_enr("alice", "P2", "enrolled");
	unenroll(T1);
	commit(T1);

	begin(T2);
	add_user("alice", "101", CONTACT);
	add_plan_enr("alice", "P2", "enrolled");
	unenroll(T2);
	assert_text("SELECT object || '|' || op || '|' || key || '|' || fields FROM stage.crm_out",
		    "LMS_Learning_Plan_Enrollment__c|upsert|acme:101:plan:P1|"
		    "{\"Enrollment_Key__c\":\"acme:101:plan:P1\",\"Unenrolled_At__c\":\"" T2 "\"}");
	assert_text("SELECT entity || '|' || after FROM stage.changes",
		    "crm.LMS_Learning_Plan_Enrollment__c|marked");
	assert_text("SELECT group_concat(kind || '|' || item_code, ';') FROM enrollment_baseline",
		    "plan|P2");
	commit(T2);

	job.enroll.unenroll = UNENROLL_DELETE_UNFINISHED;
	with_inputs(IN_USERS | IN_PLAN_ENR | IN_X_PLAN_ENR);
	begin(T3);
	add_user("alice", "101", CONTACT);
	add_x_plan_enr(X_ID2, "acme:101:plan:P2");
	unenroll(T3);
	assert_text("SELECT object || '|' || op || '|' || key FROM stage.crm_out",
		    "LMS_Learning_Plan_Enrollment__c|delete|" X_ID2);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_baseline"), 0);
}

Test(UNENROLL_SUITE, no_enrollments_input_unenrolls_nothing)
{
	first_run();
	with_inputs(IN_USERS | IN_PLAN_ENR);
	begin(T2);
	add_user("alice", "101", CONTACT);
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	/* The baseline is left as the last run that read the export saw it. */
	assert_text("SELECT group_concat(item_code || '|' || last_run, ';')"
		    " FROM (SELECT * FROM enrollment_baseline ORDER BY item_code)", "C1|1;C2|1");
}

Test(UNENROLL_SUITE, two_instances_do_not_mix)
{
	first_run();
	/* The same snapshot fed by another portal, with its own alice. */
	job.lms_instance = "beta";
	begin(T2);
	add_user("alice", "900", CONTACT);
	add_enr("alice", "C1", NULL, "enrolled", "2");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_text("SELECT group_concat(lms_instance || '|' || item_code || '|' || status, ';')"
		    " FROM (SELECT * FROM enrollment_baseline ORDER BY lms_instance, item_code)",
		    "acme|C1|completed;acme|C2|in_progress;beta|C1|enrolled");
	commit(T2);

	/* Back to the first portal: only its own enrollments are compared. */
	job.lms_instance = "acme";
	second_run_without_c2();
	unenroll(T3);
	assert_text("SELECT group_concat(key, ';') FROM stage.crm_out", "acme:101:C2:");
	assert_text("SELECT group_concat(lms_instance || '|' || item_code, ';')"
		    " FROM (SELECT * FROM enrollment_baseline ORDER BY lms_instance, item_code)",
		    "acme|C1;beta|C1");
}

Test(UNENROLL_SUITE, user_gone_from_the_lms_is_found_in_earlier_runs_or_reported)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_user("bob", "102", CONTACT);
	add_user("carol", "103", CONTACT);
	add_enr("alice", "C1", NULL, "in_progress", "2");
	add_enr("bob", "C1", NULL, "in_progress", "3");
	add_enr("carol", "C1", "S1", "in_progress", "4");
	unenroll(T1);
	emitted_learner_record("alice", "101");
	/* bob is linked to a Contact whose learner record the CRM export shows. */
	exec5("INSERT INTO links (crm_id, lms_instance, lms_username, source, first_run, last_run)"
	      " VALUES ('003000000000002AAA', 'acme', 'bob', 'Contact', 1, 1)",
	      NULL, NULL, NULL, NULL, NULL);
	commit(T1);

	/* All three users are deleted from the LMS. */
	with_inputs(IN_USERS | IN_ENR);
	begin(T2);
	exec5("INSERT INTO stage.stg_x_lms_user (src_file, src_line, Id, LMS_User_Id__c, Contact__c)"
	      " VALUES (3, 2, 'a03000000000001AAA', 'acme:102', '003000000000002AAA')",
	      NULL, NULL, NULL, NULL, NULL);
	unenroll(T2);
	assert_text("SELECT group_concat(key, ';') FROM (SELECT key FROM stage.crm_out ORDER BY key)",
		    "acme:101:C1:;acme:102:C1:");
	assert_text("SELECT kind || '|' || entity || '|' || key || '|' || reason || '|'"
		    " || coalesce(src_line, '-') FROM stage.exceptions",
		    "user_missing|enrollments|carol|unenrolled from course 'C1' session 'S1'; the"
		    " user is in neither the LMS users export nor an earlier run's LMS_User__c rows,"
		    " so its Enrollment_Key__c is unknown and nothing is sent|-");
	cr_assert_eq(count("SELECT count(*) FROM enrollment_baseline"), 0);
}

Test(UNENROLL_SUITE, enrollment_never_sent_is_reported_not_marked)
{
	begin(T1);
	add_user("dave", "104", NULL);
	add_enr("dave", "C1", NULL, "in_progress", "2");
	unenroll(T1);
	commit(T1);

	begin(T2);
	add_user("dave", "104", NULL);
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_text("SELECT key || '|' || action || '|' || after FROM stage.changes",
		    "acme:104:C1:|unenroll|not in crm");
	cr_assert_eq(count("SELECT count(*) FROM enrollment_baseline"), 0);
}

Test(UNENROLL_SUITE, enrollment_an_earlier_run_emitted_is_marked_after_unlinking)
{
	begin(T1);
	add_user("erin", "105", CONTACT);
	add_enr("erin", "C1", NULL, "in_progress", "2");
	unenroll(T1);
	exec5("INSERT INTO emitted (run_id, target, object, key, op, fields)"
	      " VALUES (1, 'crm', 'LMS_Enrollment__c', 'acme:105:C1:', 'upsert', '{}')",
	      NULL, NULL, NULL, NULL, NULL);
	commit(T1);

	/* Sync back unlinked erin; her enrollment then vanished. */
	begin(T2);
	add_user("erin", "105", NULL);
	unenroll(T2);
	assert_text("SELECT op || '|' || key FROM stage.crm_out", "upsert|acme:105:C1:");
}

Test(UNENROLL_SUITE, item_types_not_sent_leave_the_baseline_silently)
{
	job.enroll.items = ITEM_COURSE;
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_course("W1", "webinar");
	add_enr("alice", "C1", NULL, "in_progress", "2");
	add_enr("alice", "W1", "S1", "in_progress", "3");
	add_enr("alice", "X1", "S2", "in_progress", "4");
	add_plan_enr("alice", "P1", "enrolled");
	unenroll(T1);
	commit(T1);

	/* Everything is gone; X1 is no longer in the courses export but has a
	 * session, so it was a classroom or webinar course. */
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_course("W1", "webinar");
	unenroll(T2);
	assert_text("SELECT group_concat(key, ';') FROM stage.crm_out", "acme:101:C1:");
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 1);
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_baseline"), 0);
}

Test(UNENROLL_SUITE, reenrolled_enrollment_keeps_its_first_run)
{
	first_run();
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C2", NULL, "passed", "3");
	add_enr("alice", "C3", NULL, "enrolled", "4");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	assert_baseline("item_code || '|' || status || '|' || first_run || '|' || last_run",
			"item_code", "C1|completed|1|1;C2|passed|1|2;C3|enrolled|2|2");
}

Test(UNENROLL_SUITE, key_listed_twice_leaves_its_last_row_in_the_baseline)
{
	first_run();
	/* C1 twice: the baseline's value first, a new one last. C2 twice:
	 * a new value first, the baseline's value last. */
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C1", NULL, "failed", "3");
	add_enr("alice", "C2", NULL, "passed", "4");
	add_enr("alice", "C2", NULL, "in_progress", "5");
	unenroll(T2);
	assert_baseline("item_code || '|' || status", "item_code", "C1|failed;C2|in_progress");
}

Test(UNENROLL_SUITE, unchanged_enrollment_is_not_rewritten)
{
	first_run();
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C2", NULL, "passed", "3");
	unenroll(T2);
	/* C1 is as run 1 left it; C2 changed in run 2. */
	assert_baseline("item_code || '|' || last_run", "item_code", "C1|1;C2|2");
}

/* alice passed C1, C2 and C3 (the times and scores as in the first run
 * below unless given), the rule run in a new run at `now`. */
static void alice_passed_three(const char *now, const char *c2_score, const char *c3_completed)
{
	static const char *const courses[] = { "C1", "C2", "C3" };

	begin(now);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	for (int i = 0; i < 3; i++) {
		const char *completed = i == 2 ? c3_completed : "2024-01-05T10:00:00.000Z";
		add_enr("alice", courses[i], NULL, "passed", i == 0 ? "2" : i == 1 ? "3" : "4");
		exec5("UPDATE enr.stg_enrollment SET enrolled_at = '2024-01-02', completed_at = ?2,"
		      " updated_at = ?2, score = CAST(?3 AS REAL) WHERE course_code = ?1", courses[i],
		      completed, i == 1 ? c2_score : "85", NULL, NULL);
	}
	unenroll(now);
}

/* The baseline keeps a digest of the times and score: a row whose status
 * is the same and whose score or time changed is written again; one with
 * the same values is not. */
Test(UNENROLL_SUITE, enrollment_changed_only_in_a_time_or_score_is_rewritten)
{
	alice_passed_three(T1, "85", "2024-01-05T10:00:00.000Z");
	commit(T1);
	assert_baseline("item_code || '|' || (digest = lmsrecon_hash('2024-01-02',"
			" '2024-01-05T10:00:00.000Z', '2024-01-05T10:00:00.000Z', 85.0))",
			"item_code", "C1|1;C2|1;C3|1");

	alice_passed_three(T2, "90.5", "2024-01-06T09:00:00.000Z");
	assert_baseline("item_code || '|' || status || '|' || last_run", "item_code",
			"C1|passed|1;C2|passed|2;C3|passed|2");
	assert_baseline("item_code || '|' || (digest = (SELECT lmsrecon_hash(x.enrolled_at,"
			" x.completed_at, x.updated_at, x.score) FROM enr.stg_enrollment x"
			" WHERE x.username = 'alice' AND x.course_code = item_code))", "item_code",
			"C1|1;C2|1;C3|1");
}

/* Rows of one key on one line (records of a minified XML file) count in
 * their input order: the last one stays in the baseline, on a first run
 * and on a later one. */
Test(UNENROLL_SUITE, rows_of_one_line_count_in_input_order)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_enr("alice", "C1", NULL, "failed", "4");
	add_enr("alice", "C1", NULL, "completed", "4");
	/* With the staging indexes, as in a run: the user index puts rows of
	 * one line in the order of their other columns. */
	cr_assert_eq(snap_stage_index(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	unenroll(T1);
	commit(T1);
	assert_baseline("item_code || '|' || status", "item_code", "C1|completed");

	begin(T2);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_enr("alice", "C1", NULL, "passed", "7");
	add_enr("alice", "C1", NULL, "in_progress", "7");
	add_enr("alice", "C1", NULL, "unenrolled", "3");
	cr_assert_eq(snap_stage_index(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	unenroll(T2);
	assert_baseline("item_code || '|' || status || '|' || last_run", "item_code",
			"C1|in_progress|2");
	cr_assert_eq(count("SELECT count(*) FROM stage.ue_gone"), 0);
}

/* An enrollment moved to another session of its course: the new session
 * enters the baseline, the old one is gone (from a row the export no
 * longer has, so without a source line), and a third user's item in
 * between is left alone. */
Test(UNENROLL_SUITE, enrollment_moved_to_another_session_leaves_the_first_one)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_user("bob", "102", CONTACT);
	add_course("C1", "classroom");
	add_enr("alice", "C1", "S1", "enrolled", "2");
	add_enr("bob", "C1", "S1", "enrolled", "3");
	unenroll(T1);
	commit(T1);

	begin(T2);
	add_user("alice", "101", CONTACT);
	add_user("bob", "102", CONTACT);
	add_course("C1", "classroom");
	add_enr("bob", "C1", "S1", "enrolled", "2");
	add_enr("alice", "C1", "S2", "enrolled", "3");
	unenroll(T2);
	assert_text("SELECT group_concat(username || '|' || session_code || '|' || outcome || '|'"
		    " || coalesce(src_line, '-'), ';') FROM stage.ue_gone",
		    "alice|S1|marked|-");
	assert_baseline("username || '|' || session_code || '|' || last_run", "username, session_code",
			"alice|S2|2;bob|S1|1");
}

/* A user renamed in the LMS keeps its user id, so its enrollments keep
 * their Enrollment_Key__c: the old username's rows are not unenrollments. */
Test(UNENROLL_SUITE, renamed_user_is_not_unenrolled)
{
	first_run_of_alice_with_learner_record();
	begin(T2);
	add_user("alice.new", "101", CONTACT);
	add_enr("alice.new", "C1", NULL, "completed", "2");
	add_enr("alice.new", "C2", NULL, "in_progress", "3");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM stage.crm_out"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.changes"), 0);
	cr_assert_eq(count("SELECT count(*) FROM stage.exceptions"), 0);
	assert_baseline("username || '|' || item_code", "username, item_code",
			"alice.new|C1;alice.new|C2");
}

/* ---- the base and the delta (migration 7) ---------------------------- */

/* alice's rows of `table` (enrollment_base, enrollment_delta or the view
 * enrollment_baseline), `expr` of each joined by ';' in key order. */
static void assert_table(const char *table, const char *expr, const char *want)
{
	char *from = xasprintf("%s WHERE username = 'alice'", table);
	assert_rows(from, expr, "kind, username, item_code, session_code", want);
	free(from);
}

/* zoe's 20 enrollments, the same in every run: with them the export has
 * more than eight rows for each row the tests below change. */
static void add_zoe(void)
{
	add_user("zoe", "120", CONTACT);
	for (int i = 0; i < 20; i++) {
		char code[8];
		snprintf(code, sizeof code, "Z%02d", i);
		add_enr("zoe", code, NULL, "enrolled", "9");
	}
}

/* first_run with zoe's enrollments, then a second run in which alice
 * still has C1, C2 is gone and C3 is new. */
static void second_run_in_the_delta(void)
{
	begin(T1);
	add_user("alice", "101", CONTACT);
	add_course("C1", "elearning");
	add_course("C2", "elearning");
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C2", NULL, "in_progress", "3");
	add_zoe();
	unenroll(T1);
	commit(T1);
	second_run_without_c2();
	add_enr("alice", "C3", NULL, "enrolled", "4");
	add_zoe();
	unenroll(T2);
}

/* After second_run_in_the_delta, committed: a third run in which alice
 * has C1 as `c1_status`, C2 (in progress) when `has_c2`, and C3. */
static void third_run(const char *c1_status, int has_c2)
{
	commit(T2);
	begin(T3);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, c1_status, "2");
	if (has_c2)
		add_enr("alice", "C2", NULL, "in_progress", "3");
	add_enr("alice", "C3", NULL, "enrolled", "4");
	add_zoe();
	unenroll(T3);
}

#define DELTA_ROW "item_code || '|' || coalesce(status, '-') || '|' || is_gone || '|'" \
	" || first_run || '|' || last_run"

/* A later run writes what changed into the delta (a row gone as is_gone)
 * and leaves the base alone; the view shows the delta's rows over the
 * base's. */
Test(UNENROLL_SUITE, later_run_writes_its_changes_into_the_delta)
{
	second_run_in_the_delta();
	assert_table("enrollment_base", "item_code || '|' || status", "C1|completed;C2|in_progress");
	assert_table("enrollment_delta", DELTA_ROW, "C2|-|1|2|2;C3|enrolled|0|2|2");
	assert_table("enrollment_baseline", "item_code || '|' || status || '|' || first_run",
		     "C1|completed|1;C3|enrolled|2");
	cr_assert_eq(count("SELECT count(*) FROM enrollment_baseline WHERE username = 'zoe'"), 20);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_delta WHERE username = 'zoe'"), 0);
}

/* Once the delta holds more than an eighth as many rows of a kind as the
 * export, it is folded into the base: 3 rows of 22, against 2 of 22. */
Test(UNENROLL_SUITE, delta_past_an_eighth_of_the_export_is_folded_into_the_base)
{
	second_run_in_the_delta();
	third_run("passed", 0);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_delta"), 0);
	assert_table("enrollment_base", "item_code || '|' || status || '|' || first_run || '|'"
		     " || last_run", "C1|passed|1|3;C3|enrolled|2|2");
	cr_assert_eq(count("SELECT count(*) FROM enrollment_base WHERE username = 'zoe'"
			   " AND first_run = 1 AND last_run = 1"), 20);
}

/* A full run reads every username and folds the delta into the base. */
Test(UNENROLL_SUITE, full_run_folds_the_delta_into_the_base)
{
	second_run_in_the_delta();
	job.enroll.rebuild = 1;
	third_run("completed", 0);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_delta"), 0);
	assert_table("enrollment_base", "item_code || '|' || status || '|' || first_run || '|'"
		     " || last_run", "C1|completed|1|1;C3|enrolled|2|2");
	cr_assert_eq(count("SELECT count(*) FROM enrollment_base"), 22);
}

/* An enrollment gone and back starts again: its first run is the run
 * that sees it back, as for one never seen. */
Test(UNENROLL_SUITE, enrollment_gone_and_back_starts_again)
{
	second_run_in_the_delta();
	third_run("completed", 1);
	assert_table("enrollment_delta", DELTA_ROW, "C2|in_progress|0|3|3;C3|enrolled|0|2|2");
	assert_table("enrollment_baseline", "item_code || '|' || first_run || '|' || last_run",
		     "C1|1|1;C2|3|3;C3|2|2");
}

/* A key listed twice, both rows as the baseline has it, changes nothing:
 * nothing is written into the delta. */
Test(UNENROLL_SUITE, key_listed_twice_as_the_baseline_has_it_writes_nothing)
{
	first_run();
	begin(T2);
	add_user("alice", "101", CONTACT);
	add_enr("alice", "C1", NULL, "completed", "2");
	add_enr("alice", "C1", NULL, "completed", "5");
	add_enr("alice", "C2", NULL, "in_progress", "3");
	unenroll(T2);
	cr_assert_eq(count("SELECT count(*) FROM enrollment_delta"), 0);
	assert_baseline("item_code || '|' || last_run", "item_code", "C1|1;C2|1");
}
