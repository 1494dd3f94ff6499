/* SPDX-License-Identifier: MIT */
/* Tests of emit_crm (the crm/ CSV and .sdl files from stage.crm_out) and of
 * the Salesforce metadata in formats/salesforce that those files load into:
 * each emit test fills stage.crm_out in an in-memory snapshot, writes the
 * files into a temporary directory through emit_out, and compares whole
 * file contents; the metadata tests parse every file of formats/salesforce
 * and check it against the contract of the CRM files. */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "diag.h"
#include "emit_crm.h"
#include "emit_out.h"
#include "job.h"
#include "snap.h"
#include "util.h"

#define META "formats/salesforce"
#define MDNS "http://soap.sforce.com/2006/04/metadata"

static FILE *diag_out;
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct snap *s;
static long long run_id;
static char tmpdir[64];

/* The job emit_crm sees: its inputs (only their entities matter) and the
 * sync-back switch. */
static struct job_input inputs[2];
static struct job job;

#define ENROLLMENT_HEADER "Enrollment_Key__c,LMS_User__r.LMS_User_Id__c," \
	"Course__r.LMS_Course_Key__c,Session__r.LMS_Session_Key__c,Item_Name__c," \
	"Item_Type__c,Status__c,Enrolled_At__c,Completed_At__c,Score__c,Unenrolled_At__c\n"
#define USER_HEADER "LMS_User_Id__c,Name,Username__c,LMS_Instance__c,Contact__c,User__c," \
	"Last_Access__c,Enrolled_Count__c,Completed_Count__c,Passed_Count__c," \
	"Failed_Count__c,In_Progress_Count__c,Pending_Review_Count__c\n"
#define COURSE_HEADER "LMS_Course_Key__c,Name,Code__c,Type__c,LMS_Instance__c\n"
#define SESSION_HEADER "LMS_Session_Key__c,Name,Code__c,Course__r.LMS_Course_Key__c," \
	"Start_Date__c,LMS_Instance__c\n"
#define PLAN_HEADER "LMS_Learning_Plan_Key__c,Name,Code__c,Course_Count__c,LMS_Instance__c\n"
#define PLAN_ENROLLMENT_HEADER "Enrollment_Key__c,LMS_User__r.LMS_User_Id__c," \
	"Learning_Plan__r.LMS_Learning_Plan_Key__c,Status__c,Enrolled_At__c,Completed_At__c," \
	"Score__c,Course_Count__c,Completed_Course_Count__c,Unenrolled_At__c\n"

/* nftw callback: removes one file or (depth first) directory. */
static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

/* A fresh in-memory snapshot with a run begun, a learning job without
 * sync back, and an empty temporary output directory. */
static void setup(void)
{
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	cr_assert_eq(snap_open(&d, "state.db", SNAP_MEMORY | SNAP_CREATE, &s), RC_OK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-01T10:00:00Z", &run_id), RC_OK);
	memset(inputs, 0, sizeof inputs);
	inputs[0].entity = entity_get(ENT_ENROLLMENT);
	inputs[0].name = "lms/enrollments.csv";
	inputs[1].entity = entity_get(ENT_CONTACT);
	inputs[1].name = "crm/Contact.csv";
	memset(&job, 0, sizeof job);
	job.path = "job.xml";
	job.lms_instance = "acme";
	job.inputs = inputs;
	job.ninputs = 2;
	strcpy(tmpdir, "/tmp/test_emit_crm.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

/* Frees everything setup made and removes the output directory. */
static void teardown(void)
{
	snap_close(s);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(emit_crm, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* One row of stage.crm_out. */
static void add(const char *object, const char *op, const char *key, const char *fields)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.crm_out (object, op, key, fields, rule) VALUES (?1, ?2, ?3, ?4, 'R9')");
	cr_assert_not_null(st);
	snap_bind_text(st, 1, object, strlen(object));
	snap_bind_text(st, 2, op, strlen(op));
	snap_bind_text(st, 3, key, strlen(key));
	snap_bind_text(st, 4, fields, strlen(fields));
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
}

/* Runs emit_crm into tmpdir and commits the output set. */
static void emit(void)
{
	struct emit_out *o = emit_out_new(&d, tmpdir);
	cr_assert_eq(emit_crm(&job, s, o), RC_OK, "%s", printed());
	cr_assert_eq(emit_out_commit(o), RC_OK, "%s", printed());
	emit_out_free(o);
}

/* The whole content of tmpdir/rel, or NULL when the file is absent.
 * Caller frees. */
static char *slurp(const char *rel)
{
	char *path = path_join(tmpdir, rel);
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	free(path);
	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	buf_addch(&b, '\0');
	return buf_detach(&b, NULL);
}

/* Asserts that tmpdir/rel holds exactly `want`. */
#define assert_file(rel, want) do { \
	char *got_ = slurp(rel); \
	cr_assert_not_null(got_, "%s is missing", rel); \
	cr_assert_str_eq(got_, want, "%s", rel); \
	free(got_); \
} while (0)

/* Asserts that tmpdir/rel was not written. */
#define assert_absent(rel) do { \
	char *got_ = slurp(rel); \
	cr_assert_null(got_, "%s should not be written", rel); \
} while (0)

/* ---- rows -------------------------------------------------------------- */

Test(emit_crm, enrollment_rows_follow_the_header_in_key_order)
{
	add("LMS_Enrollment__c", "upsert", "acme:12:SAFE-2:",
	    "{\"Enrollment_Key__c\":\"acme:12:SAFE-2:\",\"LMS_User__r.LMS_User_Id__c\":\"acme:12\","
	    "\"Course__r.LMS_Course_Key__c\":\"acme:SAFE-2\",\"Item_Name__c\":\"Safety 2\","
	    "\"Item_Type__c\":\"elearning\",\"Status__c\":\"completed\","
	    "\"Enrolled_At__c\":\"2024-03-01T08:00:00.000Z\","
	    "\"Completed_At__c\":\"2024-03-02T09:30:00.000Z\",\"Score__c\":85.5}");
	add("LMS_Enrollment__c", "upsert", "acme:12:ILT-1:S-7",
	    "{\"Score__c\":\"90\",\"Status__c\":\"enrolled\",\"Item_Type__c\":\"classroom\","
	    "\"Session__r.LMS_Session_Key__c\":\"acme:S-7\",\"Item_Name__c\":\"First aid\","
	    "\"Enrollment_Key__c\":\"acme:12:ILT-1:S-7\",\"LMS_User__r.LMS_User_Id__c\":\"acme:12\","
	    "\"Course__r.LMS_Course_Key__c\":\"acme:ILT-1\"}");
	emit();
	assert_file("crm/LMS_Enrollment__c.upsert.csv", ENROLLMENT_HEADER
		    "acme:12:ILT-1:S-7,acme:12,acme:ILT-1,acme:S-7,First aid,classroom,enrolled,,,90,\n"
		    "acme:12:SAFE-2:,acme:12,acme:SAFE-2,,Safety 2,elearning,completed,"
		    "2024-03-01T08:00:00.000Z,2024-03-02T09:30:00.000Z,85.5,\n");
	cr_assert_str_eq(printed(), "");
}

Test(emit_crm, value_with_comma_quote_and_newline_is_quoted)
{
	add("LMS_Course__c", "upsert", "acme:C1",
	    "{\"LMS_Course_Key__c\":\"acme:C1\",\"Name\":\"Fire, \\\"Smoke\\\"\\nand exits\","
	    "\"Code__c\":\"C1\",\"Type__c\":\"webinar\",\"LMS_Instance__c\":\"acme\"}");
	add("LMS_Course__c", "upsert", "acme:C2",
	    "{\"LMS_Course_Key__c\":\"acme:C2\",\"Name\":\" Padded \",\"Code__c\":\"C2\","
	    "\"Type__c\":\"elearning\",\"LMS_Instance__c\":\"acme\"}");
	emit();
	assert_file("crm/LMS_Course__c.upsert.csv", COURSE_HEADER
		    "acme:C1,\"Fire, \"\"Smoke\"\"\nand exits\",C1,webinar,acme\n"
		    "acme:C2,\" Padded \",C2,elearning,acme\n");
}

Test(emit_crm, absent_and_null_fields_are_empty_and_na_is_kept)
{
	add("LMS_User__c", "upsert", "acme:12",
	    "{\"LMS_User_Id__c\":\"acme:12\",\"Name\":\"jdoe\",\"Username__c\":\"jdoe\","
	    "\"LMS_Instance__c\":\"acme\",\"Contact__c\":\"003000000000001AAA\","
	    "\"User__c\":null,\"Last_Access__c\":\"#N/A\",\"Enrolled_Count__c\":3,"
	    "\"Completed_Count__c\":0,\"Passed_Count__c\":\"1\",\"Failed_Count__c\":0,"
	    "\"In_Progress_Count__c\":2}");
	emit();
	assert_file("crm/LMS_User__c.upsert.csv", USER_HEADER
		    "acme:12,jdoe,jdoe,acme,003000000000001AAA,,#N/A,3,0,1,0,2,\n");
}

Test(emit_crm, unknown_fields_and_other_operations_stay_out_of_a_file)
{
	add("LMS_Enrollment__c", "delete", "a0B000000000002AAA", "{\"Id\":\"a0B000000000002AAA\"}");
	add("LMS_Enrollment__c", "delete", "a0B000000000001AAA",
	    "{\"Id\":\"a0B000000000001AAA\",\"Status__c\":\"enrolled\"}");
	add("LMS_Enrollment__c", "upsert", "acme:1:C:",
	    "{\"Enrollment_Key__c\":\"acme:1:C:\",\"Bogus__c\":\"x\"}");
	emit();
	assert_file("crm/LMS_Enrollment__c.delete.csv",
		    "Id\na0B000000000001AAA\na0B000000000002AAA\n");
	assert_file("crm/LMS_Enrollment__c.upsert.csv", ENROLLMENT_HEADER
		    "acme:1:C:,,,,,,,,,,\n");
}

Test(emit_crm, parents_and_plans_have_their_columns)
{
	add("LMS_Session__c", "upsert", "acme:S-7",
	    "{\"LMS_Session_Key__c\":\"acme:S-7\",\"Name\":\"May session\",\"Code__c\":\"S-7\","
	    "\"Course__r.LMS_Course_Key__c\":\"acme:ILT-1\","
	    "\"Start_Date__c\":\"2024-05-20T07:00:00.000Z\",\"LMS_Instance__c\":\"acme\"}");
	add("LMS_Learning_Plan__c", "upsert", "acme:LP1",
	    "{\"LMS_Learning_Plan_Key__c\":\"acme:LP1\",\"Name\":\"Onboarding\","
	    "\"Code__c\":\"LP1\",\"Course_Count__c\":4,\"LMS_Instance__c\":\"acme\"}");
	add("LMS_Learning_Plan_Enrollment__c", "upsert", "acme:12:plan:LP1",
	    "{\"Enrollment_Key__c\":\"acme:12:plan:LP1\",\"LMS_User__r.LMS_User_Id__c\":\"acme:12\","
	    "\"Learning_Plan__r.LMS_Learning_Plan_Key__c\":\"acme:LP1\",\"Status__c\":\"in_progress\","
	    "\"Enrolled_At__c\":\"2024-04-01T00:00:00.000Z\",\"Course_Count__c\":4,"
	    "\"Completed_Course_Count__c\":1,\"Unenrolled_At__c\":\"#N/A\"}");
	emit();
	assert_file("crm/LMS_Session__c.upsert.csv", SESSION_HEADER
		    "acme:S-7,May session,S-7,acme:ILT-1,2024-05-20T07:00:00.000Z,acme\n");
	assert_file("crm/LMS_Learning_Plan__c.upsert.csv", PLAN_HEADER
		    "acme:LP1,Onboarding,LP1,4,acme\n");
	assert_file("crm/LMS_Learning_Plan_Enrollment__c.upsert.csv", PLAN_ENROLLMENT_HEADER
		    "acme:12:plan:LP1,acme:12,acme:LP1,in_progress,2024-04-01T00:00:00.000Z,,,4,1,#N/A\n");
}

/* ---- which files ------------------------------------------------------- */

Test(emit_crm, nothing_to_write_gives_header_only_files)
{
	emit();
	assert_file("crm/LMS_User__c.upsert.csv", USER_HEADER);
	assert_file("crm/LMS_Course__c.upsert.csv", COURSE_HEADER);
	assert_file("crm/LMS_Session__c.upsert.csv", SESSION_HEADER);
	assert_file("crm/LMS_Learning_Plan__c.upsert.csv", PLAN_HEADER);
	assert_file("crm/LMS_Enrollment__c.upsert.csv", ENROLLMENT_HEADER);
	assert_file("crm/LMS_Enrollment__c.delete.csv", "Id\n");
	assert_file("crm/LMS_Learning_Plan_Enrollment__c.upsert.csv", PLAN_ENROLLMENT_HEADER);
	assert_absent("crm/Contact.insert.csv");
	assert_absent("crm/Contact.update.csv");
	assert_absent("crm/Contact.insert.sdl");
}

Test(emit_crm, contact_files_only_with_syncback)
{
	add("Contact", "insert", "acme:jdoe",
	    "{\"FirstName\":\"Jane\",\"LastName\":\"Doe\",\"Email\":\"jane@example.com\","
	    "\"AccountId\":\"001000000000001AAA\"}");
	add("Contact", "update", "003000000000009AAA",
	    "{\"Id\":\"003000000000009AAA\",\"AccountId\":\"001000000000002AAA\"}");
	job.ninputs = 0;
	emit();
	assert_absent("crm/Contact.insert.csv");
	assert_absent("crm/Contact.update.csv");
	assert_absent("crm/LMS_User__c.upsert.csv");

	job.syncback.is_enabled = 1;
	job.inputs = &inputs[1]; /* sync back alone: no LMS learning input */
	job.ninputs = 1;
	emit();
	assert_file("crm/Contact.insert.csv", "FirstName,LastName,Email,AccountId\n"
		    "Jane,Doe,jane@example.com,001000000000001AAA\n");
	assert_file("crm/Contact.update.csv", "Id,AccountId\n"
		    "003000000000009AAA,001000000000002AAA\n");
	assert_file("crm/Contact.insert.sdl", "#Mapping values\nFirstName=FirstName\n"
		    "LastName=LastName\nEmail=Email\nAccountId=AccountId\n");
	assert_absent("crm/LMS_User__c.upsert.csv");
	assert_absent("crm/LMS_Enrollment__c.upsert.sdl");
}

Test(emit_crm, syncback_with_learning_writes_every_file)
{
	job.syncback.is_enabled = 1;
	emit();
	assert_file("crm/Contact.insert.csv", "FirstName,LastName,Email,AccountId\n");
	assert_file("crm/Contact.update.csv", "Id,AccountId\n");
	assert_file("crm/Contact.update.sdl", "#Mapping values\nId=Id\nAccountId=AccountId\n");
	assert_file("crm/LMS_Enrollment__c.delete.csv", "Id\n");
}

Test(emit_crm, any_learning_input_calls_for_the_learning_files)
{
	static const enum entity_id ids[] = { ENT_COURSE, ENT_SESSION, ENT_PLAN,
					      ENT_ENROLLMENT, ENT_PLAN_ENROLLMENT };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char *got;
		inputs[0].entity = entity_get(ids[i]);
		emit();
		got = slurp("crm/LMS_Course__c.upsert.csv");
		cr_assert_not_null(got, "input %s", entity_get(ids[i])->name);
		free(got);
		nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		cr_assert_eq(mkdir(tmpdir, 0700), 0);
	}
	inputs[0].entity = entity_get(ENT_LMS_USER); /* people alone */
	emit();
	assert_absent("crm/LMS_Course__c.upsert.csv");
}

Test(emit_crm, a_rerun_writes_the_same_bytes)
{
	char *first;
	add("LMS_Course__c", "upsert", "acme:C1",
	    "{\"LMS_Course_Key__c\":\"acme:C1\",\"Name\":\"Fire\",\"Code__c\":\"C1\"}");
	emit();
	first = slurp("crm/LMS_Course__c.upsert.csv");
	emit();
	assert_file("crm/LMS_Course__c.upsert.csv", first);
	free(first);
}

/* ---- mapping files ----------------------------------------------------- */

Test(emit_crm, sdl_maps_parents_by_external_id_in_data_loader_form)
{
	emit();
	assert_file("crm/LMS_Enrollment__c.upsert.sdl",
		    "#Mapping values\n"
		    "Enrollment_Key__c=Enrollment_Key__c\n"
		    "LMS_User__r.LMS_User_Id__c=LMS_User__r\\:LMS_User__c-LMS_User_Id__c\n"
		    "Course__r.LMS_Course_Key__c=Course__r\\:LMS_Course__c-LMS_Course_Key__c\n"
		    "Session__r.LMS_Session_Key__c=Session__r\\:LMS_Session__c-LMS_Session_Key__c\n"
		    "Item_Name__c=Item_Name__c\n"
		    "Item_Type__c=Item_Type__c\n"
		    "Status__c=Status__c\n"
		    "Enrolled_At__c=Enrolled_At__c\n"
		    "Completed_At__c=Completed_At__c\n"
		    "Score__c=Score__c\n"
		    "Unenrolled_At__c=Unenrolled_At__c\n");
	assert_file("crm/LMS_Learning_Plan_Enrollment__c.upsert.sdl",
		    "#Mapping values\n"
		    "Enrollment_Key__c=Enrollment_Key__c\n"
		    "LMS_User__r.LMS_User_Id__c=LMS_User__r\\:LMS_User__c-LMS_User_Id__c\n"
		    "Learning_Plan__r.LMS_Learning_Plan_Key__c="
		    "Learning_Plan__r\\:LMS_Learning_Plan__c-LMS_Learning_Plan_Key__c\n"
		    "Status__c=Status__c\n"
		    "Enrolled_At__c=Enrolled_At__c\n"
		    "Completed_At__c=Completed_At__c\n"
		    "Score__c=Score__c\n"
		    "Course_Count__c=Course_Count__c\n"
		    "Completed_Course_Count__c=Completed_Course_Count__c\n"
		    "Unenrolled_At__c=Unenrolled_At__c\n");
	assert_file("crm/LMS_Session__c.upsert.sdl",
		    "#Mapping values\n"
		    "LMS_Session_Key__c=LMS_Session_Key__c\n"
		    "Name=Name\n"
		    "Code__c=Code__c\n"
		    "Course__r.LMS_Course_Key__c=Course__r\\:LMS_Course__c-LMS_Course_Key__c\n"
		    "Start_Date__c=Start_Date__c\n"
		    "LMS_Instance__c=LMS_Instance__c\n");
	assert_file("crm/LMS_Enrollment__c.delete.sdl", "#Mapping values\nId=Id\n");
}

Test(emit_crm, an_unwritable_output_is_reported)
{
	struct emit_out *o;
	char *want, *blocker = path_join(tmpdir, "crm");
	FILE *f = fopen(blocker, "w"); /* a file where the crm/ directory should be */
	cr_assert_not_null(f);
	fclose(f);
	o = emit_out_new(&d, tmpdir);
	cr_assert_eq(emit_crm(&job, s, o), RC_CANTCREAT);
	emit_out_free(o);
	want = xasprintf("lmsrecon: %s/crm/LMS_User__c.upsert.csv: cannot create: %s\n",
			 tmpdir, strerror(ENOTDIR));
	cr_assert_str_eq(printed(), want);
	free(want);
	free(blocker);
}

/* ---- the Salesforce metadata ------------------------------------------- */

/* The fields of the contract that the metadata must define, per object
 * (NULL-terminated); `Rel__r.ExtId__c` names a parent by external id. */
struct contract {
	const char *object;
	const char *ext_id;
	const char *fields[16];
};

static const struct contract contract[] = {
	{ "LMS_User__c", "LMS_User_Id__c",
	  { "LMS_User_Id__c", "Name", "Username__c", "LMS_Instance__c", "Contact__c", "User__c",
	    "Last_Access__c", "Enrolled_Count__c", "Completed_Count__c", "Passed_Count__c",
	    "Failed_Count__c", "In_Progress_Count__c", "Pending_Review_Count__c", NULL } },
	{ "LMS_Course__c", "LMS_Course_Key__c",
	  { "LMS_Course_Key__c", "Name", "Code__c", "Type__c", "LMS_Instance__c", NULL } },
	{ "LMS_Session__c", "LMS_Session_Key__c",
	  { "LMS_Session_Key__c", "Name", "Code__c", "Course__r.LMS_Course_Key__c",
	    "Start_Date__c", "LMS_Instance__c", NULL } },
	{ "LMS_Learning_Plan__c", "LMS_Learning_Plan_Key__c",
	  { "LMS_Learning_Plan_Key__c", "Name", "Code__c", "Course_Count__c", "LMS_Instance__c",
	    NULL } },
	{ "LMS_Enrollment__c", "Enrollment_Key__c",
	  { "Enrollment_Key__c", "LMS_User__r.LMS_User_Id__c", "Course__r.LMS_Course_Key__c",
	    "Session__r.LMS_Session_Key__c", "Item_Name__c", "Item_Type__c", "Status__c",
	    "Enrolled_At__c", "Completed_At__c", "Score__c", "Unenrolled_At__c", NULL } },
	{ "LMS_Learning_Plan_Enrollment__c", "Enrollment_Key__c",
	  { "Enrollment_Key__c", "LMS_User__r.LMS_User_Id__c",
	    "Learning_Plan__r.LMS_Learning_Plan_Key__c", "Status__c", "Enrolled_At__c",
	    "Completed_At__c", "Score__c", "Course_Count__c", "Completed_Course_Count__c",
	    "Unenrolled_At__c", NULL } },
};

/* The first child element of `n` named `name` (in the metadata namespace). */
static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* The text of child `name` of `n`, or "" when there is none. Caller frees. */
static char *child_text(xmlNode *n, const char *name)
{
	xmlNode *c = child(n, name);
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
	char *r = xstrdup(t ? (const char *)t : "");
	xmlFree(t);
	return r;
}

/* Parses a metadata file (no network, no entities); NULL when absent or
 * not well-formed. */
static xmlDoc *parse(const char *path)
{
	return xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The field file of object.field. Caller frees the document. */
static xmlDoc *field_doc(const char *object, const char *field)
{
	char *path = xasprintf(META "/objects/%s/fields/%s.field-meta.xml", object, field);
	xmlDoc *doc = parse(path);
	free(path);
	return doc;
}

/* Whether element `name` of field object.field has text `want`. */
static int field_has(const char *object, const char *field, const char *name, const char *want)
{
	xmlDoc *doc = field_doc(object, field);
	char *t;
	int ok;
	if (!doc)
		return 0;
	t = child_text(xmlDocGetRootElement(doc), name);
	ok = strcmp(t, want) == 0;
	free(t);
	xmlFreeDoc(doc);
	return ok;
}

/* Skips the test when it does not run from the repository root. */
static void skip_without_metadata(void)
{
	struct stat st;
	if (stat(META "/objects", &st) != 0)
		cr_skip_test("formats/salesforce not found (tests run from the repository root)");
}

/* Every file nftw visits, checked as it goes; counts in these. */
static unsigned nobjects, nfields, nproblems;
static char problems[4096];

/* Records one problem of a metadata file for the failure message. */
static void problem(const char *path, const char *what)
{
	size_t used = strlen(problems);
	nproblems++;
	snprintf(problems + used, sizeof problems - used, "%s: %s\n", path, what);
}

/* nftw callback: checks one file of formats/salesforce (known kind,
 * well-formed, root element and namespace, fullName = file name). */
static int check_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base, *suffix = NULL, *root_name = NULL;
	size_t stem_len;
	xmlDoc *doc;
	xmlNode *root;

	(void)sb;
	if (flag != FTW_F)
		return 0;
	if (strstr(base, ".object-meta.xml")) {
		suffix = ".object-meta.xml";
		root_name = "CustomObject";
		nobjects++;
	} else if (strstr(base, ".field-meta.xml")) {
		suffix = ".field-meta.xml";
		root_name = "CustomField";
		nfields++;
	} else if (strcmp(base, "package.xml") == 0) {
		root_name = "Package";
	} else if (strcmp(base, "sfdx-project.json") == 0) {
		return 0;
	} else {
		problem(path, "not a metadata file");
		return 0;
	}
	doc = parse(path);
	if (!doc) {
		problem(path, "not well-formed");
		return 0;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, root_name) != 0)
		problem(path, "wrong root element");
	else if (!root->ns || strcmp((const char *)root->ns->href, MDNS) != 0)
		problem(path, "root not in the metadata namespace");
	if (root && suffix) {
		char *full = child_text(root, "fullName");
		stem_len = strlen(base) - strlen(suffix);
		/* An object's file may leave fullName out: its name is the file's. */
		if ((full[0] || strcmp(suffix, ".field-meta.xml") == 0) &&
		    (strlen(full) != stem_len || strncmp(full, base, stem_len) != 0))
			problem(path, "fullName does not match the file name");
		free(full);
	}
	xmlFreeDoc(doc);
	return 0;
}

Test(crm_metadata, every_file_is_well_formed_metadata_named_after_its_file)
{
	skip_without_metadata();
	nobjects = nfields = nproblems = 0;
	problems[0] = '\0';
	cr_assert_eq(nftw(META, check_one, 8, FTW_PHYS), 0);
	cr_assert_eq(nproblems, 0, "%s", problems);
	cr_assert_eq(nobjects, 6);
	cr_assert_eq(nfields, 46);
}

/* The object whose external id is `ext_id` (the parent a `Rel__r.ExtId__c`
 * column points at), or NULL. Enrollment_Key__c is nobody's parent key. */
static const char *object_of_ext_id(const char *ext_id)
{
	for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++)
		if (strcmp(contract[i].ext_id, ext_id) == 0 &&
		    strcmp(ext_id, "Enrollment_Key__c") != 0)
			return contract[i].object;
	return NULL;
}

/* Checks that column `col` of `object` is defined by the metadata; for a
 * `Rel__r.ExtId__c` column, that Rel__c is a lookup or master-detail to
 * `parent` and that ExtId__c is the parent's external id. */
static void assert_column_defined(const char *object, const char *col, const char *parent)
{
	const char *dot = strchr(col, '.');
	if (strcmp(col, "Name") == 0) {
		char *path = xasprintf(META "/objects/%s/%s.object-meta.xml", object, object);
		xmlDoc *doc = parse(path);
		char *type;
		cr_assert_not_null(doc, "%s", path);
		type = child_text(child(xmlDocGetRootElement(doc), "nameField"), "type");
		cr_assert_str_eq(type, "Text", "%s.Name must be writable text", object);
		free(type);
		xmlFreeDoc(doc);
		free(path);
	} else if (dot) {
		char *rel = xstrndup(col, (size_t)(dot - col));
		size_t n = strlen(rel);
		xmlDoc *doc;
		xmlNode *root;
		char *type, *to;

		cr_assert(n > 3 && strcmp(rel + n - 3, "__r") == 0, "%s: not a Rel__r name", col);
		rel[n - 1] = 'c';
		doc = field_doc(object, rel);
		cr_assert_not_null(doc, "%s.%s is missing", object, rel);
		root = xmlDocGetRootElement(doc);
		type = child_text(root, "type");
		to = child_text(root, "referenceTo");
		cr_assert(strcmp(type, "Lookup") == 0 || strcmp(type, "MasterDetail") == 0,
			  "%s.%s is a %s", object, rel, type);
		cr_assert_str_eq(to, parent, "%s.%s points at %s", object, rel, to);
		cr_assert(field_has(parent, dot + 1, "externalId", "true"),
			  "%s.%s is not an external id", parent, dot + 1);
		free(type);
		free(to);
		free(rel);
		xmlFreeDoc(doc);
	} else {
		xmlDoc *doc = field_doc(object, col);
		cr_assert_not_null(doc, "%s.%s is missing", object, col);
		xmlFreeDoc(doc);
	}
}

Test(crm_metadata, every_contract_field_exists_for_its_object)
{
	skip_without_metadata();
	for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++)
		for (const char *const *f = contract[i].fields; *f; f++) {
			const char *dot = strchr(*f, '.');
			assert_column_defined(contract[i].object, *f,
					      dot ? object_of_ext_id(dot + 1) : NULL);
		}
}

Test(crm_metadata, external_ids_are_unique_case_insensitive_text)
{
	skip_without_metadata();
	for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++) {
		const char *o = contract[i].object, *x = contract[i].ext_id;
		cr_assert(field_has(o, x, "externalId", "true"), "%s.%s", o, x);
		cr_assert(field_has(o, x, "unique", "true"), "%s.%s", o, x);
		cr_assert(field_has(o, x, "caseSensitive", "false"), "%s.%s", o, x);
		cr_assert(field_has(o, x, "type", "Text"), "%s.%s", o, x);
		cr_assert(field_has(o, x, "length", "255"), "%s.%s", o, x);
	}
	cr_assert(field_has("LMS_User__c", "LMS_Instance__c", "length", "40"));
	cr_assert(field_has("LMS_User__c", "Username__c", "length", "255"));
	cr_assert(field_has("LMS_User__c", "Contact__c", "referenceTo", "Contact"));
	cr_assert(field_has("LMS_User__c", "User__c", "referenceTo", "User"));
	cr_assert(field_has("LMS_Enrollment__c", "Enrolled_At__c", "type", "DateTime"));
	cr_assert(field_has("LMS_Enrollment__c", "Score__c", "type", "Number"));
}

Test(crm_metadata, emitted_columns_are_the_contract_and_exist)
{
	const struct emit_crm_file *files;
	size_t n = emit_crm_files(&files), nlearning = 0;

	skip_without_metadata();
	for (size_t i = 0; i < n; i++) {
		const struct emit_crm_file *f = &files[i];
		const struct contract *c = NULL;
		if (f->is_syncback) {
			cr_assert_str_eq(f->object, "Contact");
			continue;
		}
		nlearning++;
		for (size_t k = 0; k < sizeof contract / sizeof contract[0]; k++)
			if (strcmp(contract[k].object, f->object) == 0)
				c = &contract[k];
		cr_assert_not_null(c, "%s is not an object of the contract", f->object);
		if (strcmp(f->op, "delete") == 0) {
			cr_assert_eq(f->ncols, 1);
			cr_assert_str_eq(f->cols[0].name, "Id");
			cr_assert_null(f->ext_id);
			continue;
		}
		cr_assert_str_eq(f->op, "upsert");
		cr_assert_str_eq(f->ext_id, c->ext_id);
		for (size_t k = 0; k < f->ncols; k++) {
			cr_assert_str_eq(f->cols[k].name, c->fields[k], "%s column %zu", f->object, k);
			assert_column_defined(f->object, f->cols[k].name, f->cols[k].parent);
		}
		cr_assert_null(c->fields[f->ncols], "%s lacks %s", f->object, c->fields[f->ncols]);
	}
	cr_assert_eq(nlearning, 7);
}

/* Relationship fields: the parent and the child relationship name, which
 * Salesforce wants unique per parent. */
static char rels[64][128];
static size_t nrels;
static unsigned nmaster;

/* nftw callback: records parent.relationshipName of a relationship field. */
static int collect_rel(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	xmlDoc *doc;
	char *type, *to, *name;
	(void)sb; (void)ftw;
	if (flag != FTW_F || !strstr(path, ".field-meta.xml"))
		return 0;
	doc = parse(path);
	cr_assert_not_null(doc, "%s", path);
	type = child_text(xmlDocGetRootElement(doc), "type");
	to = child_text(xmlDocGetRootElement(doc), "referenceTo");
	name = child_text(xmlDocGetRootElement(doc), "relationshipName");
	if (strcmp(type, "Lookup") == 0 || strcmp(type, "MasterDetail") == 0) {
		cr_assert_neq(name[0], '\0', "%s has no relationshipName", path);
		cr_assert_lt(nrels, 64);
		snprintf(rels[nrels++], sizeof rels[0], "%s.%s", to, name);
		nmaster += strcmp(type, "MasterDetail") == 0;
	}
	free(type);
	free(to);
	free(name);
	xmlFreeDoc(doc);
	return 0;
}

Test(crm_metadata, child_relationship_names_are_unique_per_parent)
{
	skip_without_metadata();
	nrels = 0;
	nmaster = 0;
	cr_assert_eq(nftw(META "/objects", collect_rel, 8, FTW_PHYS), 0);
	cr_assert_eq(nrels, 8);
	cr_assert_eq(nmaster, 2);
	for (size_t i = 0; i < nrels; i++)
		for (size_t k = i + 1; k < nrels; k++)
			cr_assert_str_neq(rels[i], rels[k]);
}

/* Element `name` of an object file. Caller frees. */
static char *object_elem(const char *object, const char *parent_elem, const char *name)
{
	char *path = xasprintf(META "/objects/%s/%s.object-meta.xml", object, object);
	xmlDoc *doc = parse(path);
	xmlNode *n;
	char *t;
	cr_assert_not_null(doc, "%s", path);
	n = xmlDocGetRootElement(doc);
	if (parent_elem)
		n = child(n, parent_elem);
	t = child_text(n, name);
	xmlFreeDoc(doc);
	free(path);
	return t;
}

Test(crm_metadata, enrollments_are_auto_numbered_details_of_the_learner)
{
	skip_without_metadata();
	for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++) {
		const char *o = contract[i].object;
		int is_detail = strstr(o, "Enrollment") != NULL;
		char *type = object_elem(o, "nameField", "type");
		char *sharing = object_elem(o, NULL, "sharingModel");
		char *status = object_elem(o, NULL, "deploymentStatus");
		char *reports = object_elem(o, NULL, "enableReports");
		cr_assert_str_eq(type, is_detail ? "AutoNumber" : "Text", "%s", o);
		cr_assert_str_eq(sharing, is_detail ? "ControlledByParent" : "ReadWrite", "%s", o);
		cr_assert_str_eq(status, "Deployed", "%s", o);
		cr_assert_str_eq(reports, "true", "%s", o);
		if (is_detail)
			cr_assert(field_has(o, "LMS_User__c", "type", "MasterDetail"), "%s", o);
		free(type);
		free(sharing);
		free(status);
		free(reports);
	}
}

/* The picklist values of object.field as "api=label;..." and whether the
 * list is restricted. Caller frees. */
static char *picklist(const char *object, const char *field, int *is_restricted)
{
	xmlDoc *doc = field_doc(object, field);
	xmlNode *vs, *def;
	struct buf b = BUF_INIT;
	char *r;

	cr_assert_not_null(doc, "%s.%s", object, field);
	vs = child(xmlDocGetRootElement(doc), "valueSet");
	r = child_text(vs, "restricted");
	*is_restricted = strcmp(r, "true") == 0;
	free(r);
	def = child(vs, "valueSetDefinition");
	for (xmlNode *v = def ? def->children : NULL; v; v = v->next) {
		char *api, *label;
		if (v->type != XML_ELEMENT_NODE || strcmp((const char *)v->name, "value") != 0)
			continue;
		api = child_text(v, "fullName");
		label = child_text(v, "label");
		buf_addf(&b, "%s=%s;", api, label);
		free(api);
		free(label);
	}
	xmlFreeDoc(doc);
	buf_addch(&b, '\0');
	return buf_detach(&b, NULL);
}

Test(crm_metadata, picklists_hold_the_status_and_type_words)
{
	static const char status[] = "enrolled=Enrolled;in_progress=In Progress;completed=Completed;"
		"passed=Passed;failed=Failed;pending_review=Pending Review;waiting=Waiting;"
		"suspended=Suspended;";
	static const char type[] = "elearning=E-learning;classroom=Classroom;webinar=Webinar;";
	static const char *const lists[][3] = {
		{ "LMS_Enrollment__c", "Status__c", status },
		{ "LMS_Learning_Plan_Enrollment__c", "Status__c", status },
		{ "LMS_Enrollment__c", "Item_Type__c", type },
		{ "LMS_Course__c", "Type__c", type },
	};
	skip_without_metadata();
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		int is_restricted = 0;
		char *got = picklist(lists[i][0], lists[i][1], &is_restricted);
		cr_assert_str_eq(got, lists[i][2], "%s.%s", lists[i][0], lists[i][1]);
		cr_assert(is_restricted, "%s.%s", lists[i][0], lists[i][1]);
		free(got);
	}
}

Test(crm_metadata, the_manifest_lists_every_object_and_field)
{
	xmlDoc *doc;
	unsigned nfield_members = 0, nobject_members = 0;

	skip_without_metadata();
	doc = parse(META "/package.xml");
	cr_assert_not_null(doc);
	for (xmlNode *t = xmlDocGetRootElement(doc)->children; t; t = t->next) {
		char *name;
		if (t->type != XML_ELEMENT_NODE || strcmp((const char *)t->name, "types") != 0)
			continue;
		name = child_text(t, "name");
		for (xmlNode *m = t->children; m; m = m->next) {
			xmlChar *v;
			char *path;
			struct stat st;
			if (m->type != XML_ELEMENT_NODE || strcmp((const char *)m->name, "members") != 0)
				continue;
			v = xmlNodeGetContent(m);
			if (strcmp(name, "CustomField") == 0) {
				const char *dot = strchr((const char *)v, '.');
				cr_assert_not_null(dot, "%s", (const char *)v);
				path = xasprintf(META "/objects/%.*s/fields/%s.field-meta.xml",
						 (int)(dot - (const char *)v), (const char *)v, dot + 1);
				nfield_members++;
			} else {
				cr_assert_str_eq(name, "CustomObject");
				path = xasprintf(META "/objects/%s/%s.object-meta.xml",
						 (const char *)v, (const char *)v);
				nobject_members++;
			}
			cr_assert_eq(stat(path, &st), 0, "%s", path);
			free(path);
			xmlFree(v);
		}
		free(name);
	}
	xmlFreeDoc(doc);
	cr_assert_eq(nfield_members, 46);
	cr_assert_eq(nobject_members, 6);
}
