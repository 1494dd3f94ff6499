/* SPDX-License-Identifier: MIT */
/* Tests of rule_crmdiff ("only changes" on the CRM side): records equal to
 * the CRM export row, or to what an earlier committed run emitted, are
 * dropped; changed, new, forced, inserted and deleted records stay, with
 * their change rows and `emitted` rows. Each test stages crm_out rows (and
 * export rows) into an in-memory snapshot and runs the rule. */
#include <criterion/criterion.h>
#include "snaptest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "job.h"
#include "rule_crmdiff.h"
#include "rule_learning.h"
#include "snap.h"
#include "util.h"

#define CONTACT_A "003000000000001AAA"
#define ACCOUNT_A "001000000000001AAA"
#define ACCOUNT_B "001000000000002AAA"


/* Inputs a test may give the job: the CRM exports of the objects. */
static struct job_input inputs[4] = {
	{ .name = "crm/LMS_Course__c.csv" },
	{ .name = "crm/LMS_Enrollment__c.csv" },
	{ .name = "crm/Contact.csv" },
	{ .name = "lms/courses.csv" },
};
static struct job job;

static void setup(void)
{
	inputs[0].entity = entity_get(ENT_X_COURSE);
	inputs[1].entity = entity_get(ENT_X_ENROLLMENT);
	inputs[2].entity = entity_get(ENT_CONTACT);
	inputs[3].entity = entity_get(ENT_COURSE);
	memset(&job, 0, sizeof job);
	job.path = "job.xml";
	job.inputs = inputs;
	job.ninputs = 4;
	job.lms_instance = "acme";
	snaptest_open("2024-05-01T10:00:00Z");
}

static void teardown(void)
{
	snaptest_close();
}

TestSuite(rule_crmdiff, .init = setup, .fini = teardown);

/* A crm_out row; `forced` "0" or "1". */
static void add_out(const char *object, const char *op, const char *key, const char *fields,
		    const char *rule, const char *forced, const char *line)
{
	EXEC("INSERT INTO stage.crm_out (object, op, key, fields, rule, is_forced, src_file,"
	     " src_line) VALUES (?1, ?2, ?3, ?4, ?5, CAST(?6 AS INTEGER), 3, CAST(?7 AS INTEGER))",
	     object, op, key, fields, rule, forced, line);
}

static void add_x_course(const char *id, const char *key, const char *name, const char *code,
			 const char *type)
{
	EXEC("INSERT INTO stage.stg_x_course (src_file, src_line, Id, LMS_Course_Key__c, Name,"
	     " Code__c, Type__c) VALUES (0, 2, ?1, ?2, ?3, ?4, ?5)", id, key, name, code, type);
}

#define OUT "SELECT object, op, key FROM stage.crm_out ORDER BY object, op, key"
#define CHANGES "SELECT entity, key, action, field, before, after, src_file, src_line, rule" \
	" FROM stage.changes ORDER BY rowid"
#define EMITTED "SELECT run_id, target, object, key, op, fields FROM emitted" \
	" ORDER BY run_id, object, op, key"

#define COURSE_FIELDS(name) "{\"LMS_Course_Key__c\":\"acme:SAFE\",\"Name\":\"" name "\"," \
	"\"Code__c\":\"SAFE\",\"Type__c\":\"elearning\",\"LMS_Instance__c\":\"acme\"}"

/* ---- against the export ------------------------------------------------ */

Test(rule_crmdiff, record_equal_to_the_export_is_dropped)
{
	add_out("LMS_Course__c", "upsert", "acme:SAFE", COURSE_FIELDS("Safety"), "R8", "0", "4");
	add_x_course("a01000000000001AAA", "acme:SAFE", "Safety", "SAFE", "elearning");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "");
	assert_rows(CHANGES, 9, "");
	assert_rows(EMITTED, 6, "");
	cr_assert_str_eq(diag_buf ? diag_buf : "", "");
}

Test(rule_crmdiff, changed_record_is_kept_with_one_change_per_field)
{
	add_out("LMS_Course__c", "upsert", "acme:SAFE", COURSE_FIELDS("Safety first"), "R8", "0", "4");
	add_x_course("a01000000000001AAA", "acme:SAFE", "Safety", "SAFE", "classroom");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Course__c|upsert|acme:SAFE\n");
	assert_rows(CHANGES, 9,
		    "crm.LMS_Course__c|acme:SAFE|upsert|Name|Safety|Safety first|3|4|R8\n"
		    "crm.LMS_Course__c|acme:SAFE|upsert|Type__c|classroom|elearning|3|4|R8\n");
	assert_rows(EMITTED, 6,
		    "1|crm|LMS_Course__c|acme:SAFE|upsert|" COURSE_FIELDS("Safety first") "\n");
}

Test(rule_crmdiff, record_not_in_the_export_is_new_with_one_change_row)
{
	/* Its values are in the import file: the report says it is new once. */
	add_out("LMS_Course__c", "upsert", "acme:SAFE", COURSE_FIELDS("Safety"), "R8", "0", "4");
	add_x_course("a01000000000001AAA", "acme:OTHER", "Safety", "SAFE", "elearning");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Course__c|upsert|acme:SAFE\n");
	assert_rows(CHANGES, 9, "crm.LMS_Course__c|acme:SAFE|upsert|-|-|-|3|4|R8\n");
}

Test(rule_crmdiff, numbers_dates_and_empties_compare_by_value)
{
	/* Score 85 against 85.0, a date against its midnight, '#N/A' against
	 * an empty cell; relationship fields are not in the export. */
	add_out("LMS_Enrollment__c", "upsert", "acme:7:SAFE:",
		"{\"Enrollment_Key__c\":\"acme:7:SAFE:\",\"LMS_User__r.LMS_User_Id__c\":\"acme:7\","
		"\"Session__r.LMS_Session_Key__c\":null,\"Status__c\":\"passed\","
		"\"Enrolled_At__c\":\"2024-03-01T00:00:00.000Z\",\"Completed_At__c\":\"#N/A\","
		"\"Score__c\":85}", "R9", "0", "5");
	add_out("LMS_Enrollment__c", "upsert", "acme:8:SAFE:",
		"{\"Enrollment_Key__c\":\"acme:8:SAFE:\",\"Status__c\":\"passed\","
		"\"Completed_At__c\":\"2024-03-02T00:00:00.000Z\",\"Score__c\":90}", "R9", "0", "6");
	EXEC("INSERT INTO stage.stg_x_enrollment (src_file, src_line, Id, Enrollment_Key__c,"
	     " Status__c, Enrolled_At__c, Completed_At__c, Score__c)"
	     " VALUES (1, 2, 'a02000000000001AAA', ?1, 'passed', '2024-03-01', NULL, 85.0),"
	     " (1, 3, 'a02000000000002AAA', ?2, 'passed', NULL, NULL, 85.5)",
	     "acme:7:SAFE:", "acme:8:SAFE:");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Enrollment__c|upsert|acme:8:SAFE:\n");
	assert_rows(CHANGES, 9,
		    "crm.LMS_Enrollment__c|acme:8:SAFE:|upsert|Completed_At__c|-|2024-03-02T00:00:00.000Z|3|6|R9\n"
		    "crm.LMS_Enrollment__c|acme:8:SAFE:|upsert|Score__c|85.5|90|3|6|R9\n");
}

Test(rule_crmdiff, clearing_a_value_the_export_has_is_a_change)
{
	add_out("LMS_Enrollment__c", "upsert", "acme:7:SAFE:",
		"{\"Enrollment_Key__c\":\"acme:7:SAFE:\",\"Score__c\":\"#N/A\"}", "R9", "0", "5");
	EXEC("INSERT INTO stage.stg_x_enrollment (src_file, src_line, Id, Enrollment_Key__c,"
	     " Score__c) VALUES (1, 2, 'a02000000000001AAA', ?1, 70)", "acme:7:SAFE:");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(CHANGES, 9,
		    "crm.LMS_Enrollment__c|acme:7:SAFE:|upsert|Score__c|70|#N/A|3|5|R9\n");
}

Test(rule_crmdiff, forced_record_is_kept_unchanged)
{
	add_out("LMS_Course__c", "upsert", "acme:SAFE", COURSE_FIELDS("Safety"), "R9", "1", "4");
	add_x_course("a01000000000001AAA", "acme:SAFE", "Safety", "SAFE", "elearning");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Course__c|upsert|acme:SAFE\n");
	assert_rows(CHANGES, 9, "crm.LMS_Course__c|acme:SAFE|upsert|-|-|-|3|4|R11\n");
	assert_rows("SELECT count(*) FROM emitted", 1, "1\n");
}

Test(rule_crmdiff, contact_update_equal_to_the_contact_export_is_dropped)
{
	add_out("Contact", "update", CONTACT_A,
		"{\"Id\":\"" CONTACT_A "\",\"AccountId\":\"" ACCOUNT_A "\"}", "R7", "0", "9");
	add_out("Contact", "update", "003000000000002AAA",
		"{\"Id\":\"003000000000002AAA\",\"AccountId\":\"" ACCOUNT_B "\"}", "R7", "0", "10");
	EXEC("INSERT INTO stage.stg_contact (src_file, src_line, Id, AccountId)"
	     " VALUES (2, 2, ?1, ?2), (2, 3, '003000000000002AAA', ?2)", CONTACT_A, ACCOUNT_A);
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "Contact|update|003000000000002AAA\n");
	assert_rows(CHANGES, 9,
		    "crm.Contact|003000000000002AAA|update|AccountId|" ACCOUNT_A "|" ACCOUNT_B "|3|10|R7\n");
}

/* ---- deletes and inserts ----------------------------------------------- */

Test(rule_crmdiff, delete_is_kept_and_emitted_without_fields)
{
	add_out("LMS_Enrollment__c", "delete", "a02000000000001AAA",
		"{\"Id\":\"a02000000000001AAA\"}", "R10", "0", "7");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Enrollment__c|delete|a02000000000001AAA\n");
	assert_rows(CHANGES, 9,
		    "crm.LMS_Enrollment__c|a02000000000001AAA|delete|-|-|-|3|7|R10\n");
	assert_rows(EMITTED, 6, "1|crm|LMS_Enrollment__c|a02000000000001AAA|delete|-\n");
}

/* ---- against what an earlier run emitted ------------------------------- */

/* Commits the run in flight and begins the next one. */
static void next_run(void)
{
	cr_assert_eq(snap_run_commit(s, "2024-05-01T10:05:00Z", "{}"), RC_OK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-02T10:00:00Z", &run_id), RC_OK);
	cr_assert_eq(snap_stage_index(s), RC_OK);
	cr_assert_eq(snap_enr_wait(s), RC_OK);
}

Test(rule_crmdiff, without_the_export_unchanged_since_the_last_run_is_dropped)
{
	job.ninputs = 0;
	add_out("LMS_Course__c", "upsert", "acme:SAFE", COURSE_FIELDS("Safety"), "R8", "0", "4");
	add_out("LMS_Course__c", "upsert", "acme:FORK",
		"{\"LMS_Course_Key__c\":\"acme:FORK\",\"Name\":\"Forklift\"}", "R8", "0", "5");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Course__c|upsert|acme:FORK\nLMS_Course__c|upsert|acme:SAFE\n");
	next_run();

	/* Same fields in another order: dropped; a new name: kept. */
	add_out("LMS_Course__c", "upsert", "acme:SAFE",
		"{\"Type__c\":\"elearning\",\"Code__c\":\"SAFE\",\"Name\":\"Safety\","
		"\"LMS_Course_Key__c\":\"acme:SAFE\",\"LMS_Instance__c\":\"acme\"}", "R8", "0", "4");
	add_out("LMS_Course__c", "upsert", "acme:FORK",
		"{\"LMS_Course_Key__c\":\"acme:FORK\",\"Name\":\"Forklift driving\"}", "R8", "0", "5");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "LMS_Course__c|upsert|acme:FORK\n");
	assert_rows(CHANGES, 9,
		    "crm.LMS_Course__c|acme:FORK|upsert|Name|Forklift|Forklift driving|3|5|R8\n");
	assert_rows("SELECT run_id, key FROM emitted ORDER BY run_id, key", 2,
		    "1|acme:FORK\n1|acme:SAFE\n2|acme:FORK\n");
}

Test(rule_crmdiff, compares_with_the_latest_run_that_emitted_the_record)
{
	job.ninputs = 0;
	add_out("LMS_Course__c", "upsert", "acme:FORK",
		"{\"LMS_Course_Key__c\":\"acme:FORK\",\"Name\":\"Forklift\"}", "R8", "0", "5");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	next_run();
	add_out("LMS_Course__c", "upsert", "acme:FORK",
		"{\"LMS_Course_Key__c\":\"acme:FORK\",\"Name\":\"Forklift driving\"}", "R8", "0", "5");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	next_run();
	add_out("LMS_Course__c", "upsert", "acme:FORK",
		"{\"LMS_Course_Key__c\":\"acme:FORK\",\"Name\":\"Forklift driving\"}", "R8", "0", "5");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "");
}

Test(rule_crmdiff, contact_insert_is_sent_again_while_the_contact_is_missing)
{
	const char *fields = "{\"FirstName\":\"Ann\",\"LastName\":\"Lee\","
		"\"Email\":\"ann@example.com\",\"AccountId\":\"" ACCOUNT_A "\"}";
	add_out("Contact", "insert", "acme:ann", fields, "R7", "0", "8");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	next_run();
	add_out("Contact", "insert", "acme:ann", fields, "R7", "0", "8");
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "Contact|insert|acme:ann\n");
	assert_rows(CHANGES, 9, "crm.Contact|acme:ann|insert|-|-|-|3|8|R7\n");
	assert_rows("SELECT run_id, key FROM emitted ORDER BY run_id", 2,
		    "1|acme:ann\n2|acme:ann\n");
}

/* ---- with rule_learning ------------------------------------------------ */

Test(rule_crmdiff, learning_records_of_a_second_identical_run_are_all_dropped)
{
	static const char *const stage_sql =
		"INSERT INTO enr.stg_course (src_file, src_line, code, name, type)"
		" VALUES (3, 2, 'SAFE', 'Safety', 'elearning');"
		"INSERT INTO stage.stg_lms_user (src_file, src_line, user_id, username, sfdc_id)"
		" VALUES (4, 2, '7', 'ann', '" CONTACT_A "');"
		"INSERT INTO enr.stg_enrollment (src_file, src_line, username, course_code, status,"
		" enrolled_at, score) VALUES (5, 2, 'ann', 'SAFE', 'passed', '2024-03-01', 80);";
	job.ninputs = 0;
	snap_exec(s, stage_sql);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3,
		    "LMS_Course__c|upsert|acme:SAFE\n"
		    "LMS_Enrollment__c|upsert|acme:7:SAFE:\n"
		    "LMS_User__c|upsert|acme:7\n");
	next_run();
	snap_exec(s, stage_sql);
	cr_assert_eq(rule_learning(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(rule_crmdiff(&d, &job, s, run_id), RC_OK);
	assert_rows(OUT, 3, "");
	assert_rows(CHANGES, 9, "");
}
