/* SPDX-License-Identifier: MIT */
/* Tests of job.c: loading fixtures/jobs/full, every schema and semantic
 * error with its message and line, all problems reported at once, missing
 * inputs, and the starter job of `lmsrecon init`. Most jobs are written by
 * the test into a temporary directory that becomes the working directory,
 * so messages read `job.xml:LINE`. */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"

/* ---- helpers ----------------------------------------------------------- */

static char saved_cwd[PATH_MAX];
static char tmp_dir[] = "/tmp/test_job.XXXXXX";
static char *msgs;        /* what the last load printed; owned */
static struct job *job;   /* what the last load returned; owned */

/* Creates the directories leading to `path`. */
static void make_parents(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		cr_assert(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s", buf);
		*p = '/';
	}
}

/* Writes `text` to `path`, creating its directories. */
static void write_file(const char *path, const char *text)
{
	make_parents(path);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
}

/* Input files the jobs below name. */
static const char *const inputs[] = {
	"crm/Account.csv", "crm/Contact.csv", "crm/User.xml", "crm/Volunteer__c.csv",
	"lms/users.csv", "lms/branches.csv",
	"crm/All_Contacts.listView-meta.xml",
	"meta/A.field-meta.xml", "meta/B.field-meta.xml",
	"meta/C.field-meta.xml", "meta/D.field-meta.xml",
};

/* Makes a temporary directory with the input files and enters it. */
static void enter_tmp(void)
{
	cr_assert_not_null(getcwd(saved_cwd, sizeof saved_cwd));
	cr_assert_not_null(mkdtemp(tmp_dir));
	cr_assert_eq(chdir(tmp_dir), 0);
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
		write_file(inputs[i], "");
}

/* nftw callback removing one entry. */
static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Frees the last load's results and removes the temporary directory. */
static void leave_tmp(void)
{
	job_free(job);
	job = NULL;
	free(msgs);
	msgs = NULL;
	if (saved_cwd[0] && chdir(saved_cwd) == 0 && tmp_dir[strlen(tmp_dir) - 1] != 'X')
		nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Frees the last load's results (tests that stay in the repository). */
static void free_results(void)
{
	job_free(job);
	job = NULL;
	free(msgs);
	msgs = NULL;
}

/* Loads `path`, capturing the messages in `msgs` and the job in `job`. */
static enum rc load_path(const char *path)
{
	struct diag d;
	size_t len;
	FILE *out;

	free(msgs);
	job_free(job);
	job = NULL;
	out = open_memstream(&msgs, &len);
	diag_init(&d, out);
	enum rc rc = job_load(&d, path, &job);
	diag_release(&d);
	fclose(out);
	if (rc == RC_OK)
		cr_assert_not_null(job);
	else
		cr_assert_null(job);
	return rc;
}

/* Writes `text` as job.xml in the current directory and loads it. */
static enum rc load_text(const char *text)
{
	write_file("job.xml", text);
	return load_path("job.xml");
}

/* Lines 1-12 of most jobs below: the snapshot, output, crm and lms parts. */
#define HEAD \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"               /* 1 */ \
	"<job xmlns=\"urn:lmsrecon:job:1\">\n"                       /* 2 */ \
	"  <snapshot path=\"state/s.sqlite\"/>\n"                    /* 3 */ \
	"  <output path=\"out\"/>\n"                                 /* 4 */ \
	"  <crm profile=\"salesforce\">\n"                           /* 5 */ \
	"    <input entity=\"Account\" path=\"crm/Account.csv\"/>\n" /* 6 */ \
	"    <input entity=\"Contact\" path=\"crm/Contact.csv\"/>\n" /* 7 */ \
	"  </crm>\n"                                                 /* 8 */ \
	"  <lms profile=\"docebo\">\n"                               /* 9 */ \
	"    <input entity=\"users\" path=\"lms/users.csv\"/>\n"     /* 10 */ \
	"    <input entity=\"branches\" path=\"lms/branches.csv\"/>\n" /* 11 */ \
	"  </lms>\n"                                                 /* 12 */

/* The three mandatory mappings, one line each. */
#define MAPS \
	"    <map lms=\"username\" crm=\"Email\"/>\n" \
	"    <map lms=\"firstname\" crm=\"FirstName\"/>\n" \
	"    <map lms=\"lastname\" crm=\"LastName\"/>\n"

/* A valid Contact people source, lines 13-18. */
#define PEOPLE \
	"  <people source=\"Contact\">\n" MAPS \
	"    <orgchart destination-branch=\"CUSTOMERS\"/>\n" \
	"  </people>\n"

#define END "</job>\n"

TestSuite(job_full, .fini = free_results);
TestSuite(job_defaults, .init = enter_tmp, .fini = leave_tmp);
TestSuite(job_read, .init = enter_tmp, .fini = leave_tmp);
TestSuite(job_schema, .init = enter_tmp, .fini = leave_tmp);
TestSuite(job_check, .init = enter_tmp, .fini = leave_tmp);
TestSuite(job_files, .init = enter_tmp, .fini = leave_tmp);
TestSuite(job_starter, .init = enter_tmp, .fini = leave_tmp);

/* ---- a full job -------------------------------------------------------- */

#define FULL "fixtures/jobs/full"

Test(job_full, every_field_is_filled_and_paths_are_relative_to_the_job)
{
	cr_assert_eq(load_path(FULL "/job.xml"), RC_OK, "%s", msgs);
	cr_assert_str_empty(msgs);
	cr_assert_str_eq(job->path, FULL "/job.xml");
	cr_assert_str_eq(job->dir, FULL);
	cr_assert_str_eq(job->snapshot, FULL "/state/lmsrecon.sqlite");
	cr_assert_str_eq(job->output, FULL "/out");
	cr_assert_str_eq(job->lms_instance, "acme");
	cr_assert_eq(job->max_errors, 25);
	cr_assert_not_null(job->crm_profile);
	cr_assert_not_null(job->lms_profile);
	cr_assert_str_eq(job->crm_profile->name, "salesforce");
	cr_assert_str_eq(job->lms_profile->name, "docebo");

	cr_assert_eq(job->ninputs, 7);
	static const struct {
		enum entity_id id;
		const char *name;
		enum ingest_kind kind;
		unsigned long line;
	} want[] = {
		{ ENT_ACCOUNT, "crm/Account.csv", INGEST_CSV, 8 },
		{ ENT_CONTACT, "crm/Contact.csv.gz", INGEST_CSV, 9 },
		{ ENT_CRM_USER, "crm/User.xml", INGEST_XML, 13 },
		{ ENT_CUSTOM, "crm/Volunteer__c.csv", INGEST_XML, 14 },   /* format="xml" */
		{ ENT_LMS_USER, "lms/users.csv", INGEST_CSV, 17 },
		{ ENT_BRANCH, "lms/branches.xml", INGEST_CSV, 18 },      /* format="csv" */
		{ ENT_ENROLLMENT, "lms/enrollments.xml.gz", INGEST_XML, 19 },
	};
	for (size_t i = 0; i < 7; i++) {
		const struct job_input *in = &job->inputs[i];
		char path[PATH_MAX];
		snprintf(path, sizeof path, FULL "/%s", want[i].name);
		cr_assert_eq(in->entity->id, want[i].id, "input %zu", i);
		cr_assert_str_eq(in->name, want[i].name);
		cr_assert_str_eq(in->path, path);
		cr_assert_eq(in->kind, want[i].kind, "input %s", in->name);
		cr_assert_eq(in->line, want[i].line, "input %s", in->name);
		cr_assert_eq(in->profile, in->entity->side == SIDE_CRM ?
			     job->crm_profile : job->lms_profile);
		cr_assert_eq(job_input_of(job, want[i].id), in);
	}
	cr_assert_null(job_input_of(job, ENT_COURSE));
	cr_assert_null(job->inputs[0].object);
	cr_assert_str_eq(job->inputs[3].object, "Volunteer__c");

	const struct job_input *contact = &job->inputs[1];
	cr_assert_eq(contact->ncolumns, 2);
	cr_assert_str_eq(contact->columns[0].key, "Email");
	cr_assert_str_eq(contact->columns[0].header, "Email__c");
	cr_assert_str_eq(contact->columns[1].key, "Region__c");
	cr_assert_str_eq(contact->columns[1].header, "Region__c");
	cr_assert_eq(job->inputs[0].ncolumns, 0);

	cr_assert_eq(job->npeople, 3);
	const struct job_people *c = &job->people[0];
	cr_assert_eq(c->source, ENT_CONTACT);
	cr_assert_eq(c->line, 21);
	cr_assert_eq(c->provision, 1);
	cr_assert_eq(c->update_existing, 1);
	cr_assert_eq(c->incremental, 0);
	cr_assert_eq(c->force_password_change, 1);
	cr_assert_eq(c->deactivate_missing, 0);
	cr_assert_str_eq(c->listview, FULL "/crm/All_Contacts.listView-meta.xml");
	cr_assert_str_eq(c->match_field, "Email");
	cr_assert_eq(c->match_norm, NORM_CASEFOLD | NORM_TRIM);
	cr_assert_eq(c->nmaps, 5);
	cr_assert_str_eq(c->maps[0].lms, "username");
	cr_assert_str_eq(c->maps[0].crm, "Email");
	cr_assert_eq(c->maps[0].line, 25);
	cr_assert_str_eq(c->maps[4].lms, "job_title");
	cr_assert_str_eq(c->maps[4].crm, "Title");
	cr_assert_eq(c->orgchart, ORG_ACCOUNTS);
	cr_assert_str_eq(c->destination_branch, "CUSTOMERS");
	cr_assert_eq(c->destination_line, 30);
	cr_assert_null(c->picklist_field);
	cr_assert_eq(c->npicklist_meta, 0);

	const struct job_people *u = &job->people[1];
	cr_assert_eq(u->source, ENT_CRM_USER);
	cr_assert_eq(u->provision, 0);
	cr_assert_eq(u->incremental, 1);
	cr_assert_eq(u->deactivate_missing, 1);
	cr_assert_null(u->listview);
	cr_assert_str_eq(u->match_field, "Email");  /* the default */
	cr_assert_eq(u->match_norm, 0);
	cr_assert_eq(u->orgchart, ORG_PICKLIST);
	cr_assert_str_eq(u->picklist_field, "Region__c");
	cr_assert_str_eq(u->destination_branch, "EMEA");
	cr_assert_eq(u->npicklist_meta, 2);
	cr_assert_str_eq(u->picklist_meta[0], FULL "/meta/Region__c.field-meta.xml");
	cr_assert_str_eq(u->picklist_meta[1], FULL "/meta/Country__c.field-meta.xml");

	const struct job_people *v = &job->people[2];
	cr_assert_eq(v->source, ENT_CUSTOM);
	cr_assert_str_eq(v->match_field, "Email__c");
	cr_assert_eq(v->match_norm, 0);  /* normalise="exact" */
	cr_assert_eq(v->orgchart, ORG_SINGLE);
	cr_assert_str_eq(v->destination_branch, "VOLUNTEERS");

	cr_assert_eq(job->syncback.is_enabled, 1);
	cr_assert_eq(job->syncback.line, 48);
	cr_assert_str_eq(job->syncback.department, "PARTNERS");
	cr_assert_eq(job->syncback.with_subdepartments, 1);
	cr_assert_eq(job->syncback.account_rule, ACCOUNT_DEFAULT);
	/* The 15-character id is stored in its 18-character form. */
	cr_assert_str_eq(job->syncback.account_id, "0015g00000AbCdEAAV");
	cr_assert_null(job->syncback.account_field);
	cr_assert_str_eq(job->syncback.match_field, "Email");

	cr_assert_eq(job->enroll.items, ITEM_COURSE | ITEM_WEBINAR);
	cr_assert_eq(job->enroll.unenroll, UNENROLL_DELETE_UNFINISHED);
	cr_assert_str_eq(job->enroll.since, "2026-01-01");
	/* Converted to UTC. */
	cr_assert_str_eq(job->enroll.until, "2026-03-31T21:59:59.000Z");
	cr_assert_eq(job->enroll.line, 51);
}

/* ---- defaults ---------------------------------------------------------- */

Test(job_defaults, a_minimal_job_gets_the_documented_defaults)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s.sqlite\"/>\n"
		"  <output path=\"/tmp/out\"/>\n"
		"  <crm><input entity=\"Contact\" path=\"crm/Contact.csv\"/></crm>\n"
		"  <lms/>\n"
		PEOPLE
		END), RC_OK, "%s", msgs);
	cr_assert_str_empty(msgs);
	cr_assert_str_eq(job->dir, ".");
	cr_assert_str_eq(job->snapshot, "s.sqlite");
	cr_assert_str_eq(job->output, "/tmp/out");  /* absolute paths stay */
	cr_assert_str_eq(job->crm_profile->name, "salesforce");
	cr_assert_str_eq(job->lms_profile->name, "docebo");
	cr_assert_str_eq(job->lms_instance, "default");
	cr_assert_eq(job->max_errors, 0);
	cr_assert_eq(job->people[0].provision | job->people[0].update_existing |
		     job->people[0].incremental | job->people[0].force_password_change |
		     job->people[0].deactivate_missing, 0);
	cr_assert_str_eq(job->people[0].match_field, "Email");
	cr_assert_eq(job->people[0].match_norm, 0);
	cr_assert_eq(job->people[0].orgchart, ORG_SINGLE);
	cr_assert_eq(job->syncback.is_enabled, 0);
	cr_assert_eq(job->enroll.items, ITEM_COURSE | ITEM_PLAN | ITEM_CLASSROOM | ITEM_WEBINAR);
	cr_assert_eq(job->enroll.unenroll, UNENROLL_MARK);
	cr_assert_null(job->enroll.since);
	cr_assert_null(job->enroll.until);
}

Test(job_defaults, syncback_defaults_to_this_department_and_email)
{
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\"PARTNERS\"><account rule=\"field\" field=\"company\"/></syncback>\n"
		END), RC_OK, "%s", msgs);
	cr_assert_eq(job->syncback.with_subdepartments, 0);
	cr_assert_str_eq(job->syncback.match_field, "Email");
	cr_assert_eq(job->syncback.account_rule, ACCOUNT_FIELD);
	cr_assert_str_eq(job->syncback.account_field, "company");
	cr_assert_null(job->syncback.account_id);
}

Test(job_defaults, an_18_character_id_is_kept_and_items_are_read_word_by_word)
{
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\"P\"><account rule=\"default\" id=\"0015g00000AbCdEAAV\"/></syncback>\n"
		"  <enrollments items=\" learning-plan  classroom \" since=\"2026-01-01T10:00:00Z\" until=\"2026-01-01T10:00:00Z\"/>\n"
		END), RC_OK, "%s", msgs);
	cr_assert_str_eq(job->syncback.account_id, "0015g00000AbCdEAAV");
	cr_assert_eq(job->enroll.items, ITEM_PLAN | ITEM_CLASSROOM);
	cr_assert_str_eq(job->enroll.since, "2026-01-01T10:00:00.000Z");
}

/* ---- reading the file -------------------------------------------------- */

Test(job_read, a_missing_job_file_is_no_input)
{
	cr_assert_eq(load_path("nope.xml"), RC_NOINPUT);
	cr_assert_str_eq(msgs, "lmsrecon: nope.xml: cannot open: No such file or directory\n");
}

Test(job_read, a_directory_is_not_a_job_file)
{
	cr_assert_eq(load_path("crm"), RC_NOINPUT);
	cr_assert_str_eq(msgs, "lmsrecon: crm: cannot open: Is a directory\n");
}

Test(job_read, malformed_xml_names_line_and_column)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s.sqlite\">\n"
		"  <output path=\"out\"/>\n"
		"</job>\n"), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:4:7: malformed XML: "
			 "opening and ending tag mismatch: snapshot line 2 and job\n");
}

Test(job_read, an_empty_file_is_malformed)
{
	cr_assert_eq(load_text(""), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:1:1: malformed XML: document is empty\n");
	cr_assert_eq(load_text("\n\n"), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:3:1: malformed XML: start tag expected, '<' not found\n");
}

Test(job_read, a_doctype_is_refused_before_any_entity_is_expanded)
{
	cr_assert_eq(load_text(
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE job [\n"
		"  <!ENTITY a \"aaaaaaaaaa\">\n"
		"  <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		"]>\n"
		"<job xmlns=\"urn:lmsrecon:job:1\"><snapshot path=\"&b;\"/></job>\n"), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:2: a DOCTYPE is not allowed in a job file\n");
}

Test(job_read, another_root_or_namespace_is_not_a_job)
{
	cr_assert_eq(load_text("<job xmlns=\"urn:lmsrecon:job:2\"/>\n"), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:1: not a job file: the root element "
			 "must be <job xmlns=\"urn:lmsrecon:job:1\">\n");
	cr_assert_eq(load_text("<?xml version=\"1.0\"?>\n<profile/>\n"), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:2: not a job file: the root element "
			 "must be <job xmlns=\"urn:lmsrecon:job:1\">\n");
}

/* ---- schema errors ----------------------------------------------------- */

Test(job_schema, a_missing_attribute_is_named)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n"                  /* 13 */
		"    <map lms=\"username\" crm=\"Email\"/>\n"      /* 14 */
		"    <map lms=\"firstname\"/>\n"                   /* 15 */
		"    <map lms=\"lastname\" crm=\"LastName\"/>\n"
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:15: element 'map' is missing attribute 'crm'\n");
}

Test(job_schema, an_unknown_attribute_is_named)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\" provison=\"true\">\n" MAPS
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:13: element 'people' does not take attribute 'provison'\n");
}

Test(job_schema, a_value_outside_its_choices_lists_them)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Lead\" provision=\"yes\">\n" MAPS
		"    <orgchart mode=\"tree\" destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: attribute 'source' of element 'people' is 'Lead'; "
		"expected one of: Contact, User, custom\n"
		"lmsrecon: job.xml:13: attribute 'provision' of element 'people' is 'yes'; "
		"expected one of: true, false, 1, 0\n"
		"lmsrecon: job.xml:17: attribute 'mode' of element 'orgchart' is 'tree'; "
		"expected one of: single, accounts, picklist\n");
}

Test(job_schema, a_bad_word_in_a_list_is_named)
{
	cr_assert_eq(load_text(HEAD
		"  <enrollments items=\"course ilt\"/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: attribute 'items' of element 'enrollments' has 'ilt'; "
		"its words must be among: course, learning-plan, classroom, webinar\n");
}

Test(job_schema, an_empty_path_and_a_bad_instance_name_are_refused)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"\"/>\n"
		"  <crm/>\n"
		"  <lms instance=\"two words\"/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:3: attribute 'path' of element 'output' must not be empty\n"
		"lmsrecon: job.xml:5: attribute 'instance' of element 'lms' is 'two words', "
		"which does not match '[A-Za-z0-9_\\-]{1,40}'\n");
}

Test(job_schema, an_unknown_element_is_named_with_its_parent)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS
		"    <filter field=\"x\"/>\n"                      /* 17 */
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:17: element 'filter' is not allowed in 'people'\n");
}

Test(job_schema, elements_out_of_order_show_the_order)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <output path=\"out\"/>\n"
		"  <snapshot path=\"s\"/>\n"
		"  <crm/>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:3: element 'snapshot' is out of order in 'job' (the order is: "
		"snapshot, output, options (optional), crm, lms, people (any number), "
		"syncback (optional), enrollments (optional))\n");
}

Test(job_schema, a_missing_element_and_a_repeated_one_are_named)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <output path=\"out2\"/>\n"
		"  <crm/>\n"
		"  <people source=\"Contact\">\n" MAPS
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:1: element 'job' is missing element 'lms'\n"
		"lmsrecon: job.xml:4: element 'output' may appear only once in 'job'\n"
		"lmsrecon: job.xml:6: element 'people' is missing element 'orgchart'\n");
}

Test(job_schema, text_inside_an_element_is_refused)
{
	cr_assert_eq(load_text(HEAD
		"  <enrollments>all</enrollments>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:13: element 'enrollments' must not contain text\n");
}

Test(job_schema, an_element_of_another_namespace_is_named)
{
	cr_assert_eq(load_text(HEAD
		"  <x:note xmlns:x=\"urn:other\"/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: element 'note' is not in the namespace 'urn:lmsrecon:job:1'\n");
}

Test(job_schema, every_schema_error_is_reported_at_once)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot/>\n"
		"  <output path=\"out\" mode=\"x\"/>\n"
		"  <crm><input path=\"a.csv\"/></crm>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:2: element 'snapshot' is missing attribute 'path'\n"
		"lmsrecon: job.xml:3: element 'output' does not take attribute 'mode'\n"
		"lmsrecon: job.xml:4: element 'input' is missing attribute 'entity'\n");
}

Test(job_schema, schema_errors_stop_before_the_semantic_checks)
{
	/* The unknown entity would be a semantic error; only the schema speaks. */
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm><input entity=\"Lead\" path=\"a.csv\"/></crm>\n"
		"  <lms/>\n"
		"  <bogus/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:6: element 'bogus' is not allowed in 'job'\n");
}

/* ---- semantic checks --------------------------------------------------- */

Test(job_check, an_unknown_entity_lists_the_side_s_entities)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm><input entity=\"Lead\" path=\"crm/Account.csv\"/></crm>\n"
		"  <lms><input entity=\"Contact\" path=\"crm/Contact.csv\"/></lms>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:4: unknown CRM entity 'Lead'; expected Account, Contact, User, custom, "
		"LMS_User__c, LMS_Course__c, LMS_Session__c, LMS_Learning_Plan__c, LMS_Enrollment__c "
		"or LMS_Learning_Plan_Enrollment__c\n"
		"lmsrecon: job.xml:5: unknown LMS entity 'Contact'; expected users, branches, courses, "
		"sessions, plans, plan_courses, enrollments or plan_enrollments\n");
}

Test(job_check, an_entity_given_twice_points_at_the_first)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm>\n"
		"    <input entity=\"Contact\" path=\"crm/Contact.csv\"/>\n"
		"    <input entity=\"Contact\" path=\"crm/Contact.csv\"/>\n"
		"  </crm>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:6: input 'Contact' is given twice (first at line 5)\n");
}

Test(job_check, a_custom_input_needs_its_object_and_only_it_takes_one)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm>\n"
		"    <input entity=\"custom\" path=\"crm/Volunteer__c.csv\"/>\n"
		"    <input entity=\"Account\" object=\"Account\" path=\"crm/Account.csv\"/>\n"
		"  </crm>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:5: input 'custom' needs attribute 'object' (the API name of the custom object)\n"
		"lmsrecon: job.xml:6: attribute 'object' is only for input 'custom'\n");
}

Test(job_check, an_unknown_profile_is_reported_at_its_element)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm profile=\"hubspot\"/>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert(strncmp(msgs, "lmsrecon: job.xml:4: unknown profile 'hubspot'", 46) == 0, "%s", msgs);
	cr_assert_eq(strchr(msgs, '\n')[1], '\0', "one message: %s", msgs);
}

Test(job_check, a_profile_of_the_other_side_is_refused)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm profile=\"docebo\"/>\n"
		"  <lms profile=\"salesforce\"/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:4: profile 'docebo' describes an LMS, not a CRM\n"
		"lmsrecon: job.xml:5: profile 'salesforce' describes a CRM, not an LMS\n");
}

Test(job_check, every_mandatory_mapping_is_required)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n"                       /* 13 */
		"    <map lms=\"firstname\" crm=\"FirstName\"/>\n"
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: people source 'Contact' must map 'username'\n"
		"lmsrecon: job.xml:13: people source 'Contact' must map 'lastname'\n");
}

Test(job_check, a_field_mapped_twice_is_refused)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS                 /* 13-16 */
		"    <map lms=\"username\" crm=\"Id\"/>\n"              /* 17 */
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:17: LMS field 'username' is mapped twice (first at line 14)\n");
}

Test(job_check, a_people_source_needs_its_crm_input)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"User\">\n" MAPS
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:13: people source 'User' needs a 'User' input in <crm>\n");
}

Test(job_check, a_people_source_given_twice_points_at_the_first)
{
	cr_assert_eq(load_text(HEAD PEOPLE PEOPLE END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:19: people source 'Contact' is given twice (first at line 13)\n");
}

Test(job_check, a_custom_source_needs_a_match_field)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm><input entity=\"custom\" object=\"V__c\" path=\"crm/Volunteer__c.csv\"/></crm>\n"
		"  <lms/>\n"
		"  <people source=\"custom\">\n" MAPS
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:6: people source 'custom' needs a "
			 "<match field=\"...\"/>: a custom object has no default match field\n");
}

Test(job_check, accounts_mode_is_for_contacts_with_an_account_input)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm>\n"
		"    <input entity=\"Contact\" path=\"crm/Contact.csv\"/>\n"
		"    <input entity=\"User\" path=\"crm/User.xml\"/>\n"
		"  </crm>\n"
		"  <lms/>\n"
		"  <people source=\"Contact\">\n" MAPS                    /* 9 */
		"    <orgchart mode=\"accounts\" destination-branch=\"X\"/>\n" /* 13 */
		"  </people>\n"
		"  <people source=\"User\">\n" MAPS                       /* 15 */
		"    <orgchart mode=\"accounts\" destination-branch=\"X\"/>\n" /* 19 */
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: org chart mode 'accounts' needs an 'Account' input in <crm>\n"
		"lmsrecon: job.xml:19: org chart mode 'accounts' is only for people source 'Contact', not 'User'\n");
}

Test(job_check, picklist_mode_needs_a_field_and_one_to_three_files)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS                      /* 13 */
		"    <orgchart mode=\"picklist\" destination-branch=\"X\"/>\n" /* 17 */
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:17: org chart mode 'picklist' needs attribute 'field' (the picklist field)\n"
		"lmsrecon: job.xml:17: org chart mode 'picklist' needs a <picklist> file\n");
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS
		"    <orgchart mode=\"picklist\" field=\"A\" destination-branch=\"X\">\n"
		"      <picklist path=\"meta/A.field-meta.xml\"/>\n"
		"      <picklist path=\"meta/B.field-meta.xml\"/>\n"
		"      <picklist path=\"meta/C.field-meta.xml\"/>\n"
		"      <picklist path=\"meta/D.field-meta.xml\"/>\n"
		"    </orgchart>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:17: org chart mode 'picklist' takes at most 3 <picklist> files "
		"(controlling, then dependent), not 4\n");
}

Test(job_check, picklist_parts_belong_to_picklist_mode)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS
		"    <orgchart field=\"A\" destination-branch=\"X\">\n"
		"      <picklist path=\"meta/A.field-meta.xml\"/>\n"
		"    </orgchart>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:17: attribute 'field' is only for org chart mode 'picklist'\n"
		"lmsrecon: job.xml:17: <picklist> files are only for org chart mode 'picklist'\n");
}

Test(job_check, the_root_branch_cannot_be_a_destination)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n" MAPS
		"    <orgchart destination-branch=\"\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:17: the root branch cannot be a destination: "
			 "'destination-branch' must be a branch code\n");
}

Test(job_check, the_default_account_rule_needs_a_salesforce_id)
{
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\"P\">\n"
		"    <account rule=\"default\"/>\n"
		"  </syncback>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:14: account rule 'default' needs attribute 'id' (the Account id)\n");
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\"P\">\n"
		"    <account rule=\"default\" id=\"001-not-an-id\"/>\n"
		"  </syncback>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:14: account rule 'default': '001-not-an-id' is not a Salesforce id\n");
	/* A wrong case-safe suffix. */
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\"P\">\n"
		"    <account rule=\"default\" id=\"0015g00000AbCdEAAA\"/>\n"
		"  </syncback>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:14: account rule 'default': '0015g00000AbCdEAAA' is not a Salesforce id\n");
}

Test(job_check, the_field_account_rule_needs_a_field_and_extras_are_refused)
{
	cr_assert_eq(load_text(HEAD
		"  <syncback department=\" \">\n"                                 /* 13 */
		"    <account rule=\"field\" id=\"0015g00000AbCdE\"/>\n"          /* 14 */
		"  </syncback>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: sync-back 'department' must be a branch code (the root branch has none)\n"
		"lmsrecon: job.xml:14: attribute 'id' is only for account rule 'default'\n"
		"lmsrecon: job.xml:14: account rule 'field' needs attribute 'field' (an LMS user field)\n");
}

Test(job_check, syncback_needs_the_contact_input)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm/>\n"
		"  <lms/>\n"
		"  <syncback department=\"P\"><account rule=\"department\"/></syncback>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:6: sync back needs a 'Contact' input in <crm>\n");
}

Test(job_check, since_and_until_must_be_dates_in_order)
{
	cr_assert_eq(load_text(HEAD
		"  <enrollments since=\"2026-13-01\" until=\"yesterday\"/>\n"
		END), RC_CONFIG);
	static const char since_msg[] =
		"lmsrecon: job.xml:13: since '2026-13-01' is not a date or date-time: ";
	cr_assert(strncmp(msgs, since_msg, strlen(since_msg)) == 0, "%s", msgs);
	cr_assert_not_null(strstr(msgs, "\nlmsrecon: job.xml:13: until 'yesterday' is not a date or date-time: "),
			   "%s", msgs);
	cr_assert_eq(load_text(HEAD
		"  <enrollments since=\"2026-03-02\" until=\"2026-03-01T23:59:59Z\"/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:13: since '2026-03-02' is after until '2026-03-01T23:59:59Z'\n");
}

Test(job_check, max_errors_must_be_a_number)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <options max-errors=\"ten\"/>\n"
		"  <crm/>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:4: max-errors 'ten' is not a number (a count of bad records, 0 or more)\n");
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <options max-errors=\"-1\"/>\n"
		"  <crm/>\n"
		"  <lms/>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:4: max-errors '-1' is not a number (a count of bad records, 0 or more)\n");
}

Test(job_check, two_problems_give_two_messages_in_line_order)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n"                          /* 13 */
		"    <map lms=\"username\" crm=\"Email\"/>\n"
		"    <map lms=\"firstname\" crm=\"FirstName\"/>\n"
		"    <orgchart destination-branch=\"\"/>\n"               /* 16 */
		"  </people>\n"
		"  <enrollments since=\"2026-02-01\" until=\"2026-01-01\"/>\n" /* 18 */
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:13: people source 'Contact' must map 'lastname'\n"
		"lmsrecon: job.xml:16: the root branch cannot be a destination: "
		"'destination-branch' must be a branch code\n"
		"lmsrecon: job.xml:18: since '2026-02-01' is after until '2026-01-01'\n");
}

/* ---- input files ------------------------------------------------------- */

Test(job_files, a_missing_input_is_no_input_at_its_line)
{
	cr_assert_eq(remove("crm/Contact.csv"), 0);
	cr_assert_eq(load_text(HEAD PEOPLE END), RC_NOINPUT);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:7: input 'crm/Contact.csv' not found\n");
}

Test(job_files, missing_list_view_and_picklist_files_are_named)
{
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n"
		"    <listview path=\"crm/Gone.listView-meta.xml\"/>\n"   /* 14 */
		MAPS
		"    <orgchart mode=\"picklist\" field=\"A\" destination-branch=\"X\">\n"
		"      <picklist path=\"meta/A.field-meta.xml\"/>\n"
		"      <picklist path=\"meta/Gone.field-meta.xml\"/>\n"   /* 20 */
		"    </orgchart>\n"
		"  </people>\n"
		END), RC_NOINPUT);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:14: list view 'crm/Gone.listView-meta.xml' not found\n"
		"lmsrecon: job.xml:20: picklist 'meta/Gone.field-meta.xml' not found\n");
}

Test(job_files, a_missing_input_beside_a_job_error_is_a_job_error)
{
	cr_assert_eq(remove("lms/users.csv"), 0);
	cr_assert_eq(load_text(HEAD
		"  <people source=\"Contact\">\n"
		"    <map lms=\"firstname\" crm=\"FirstName\"/>\n"
		"    <map lms=\"lastname\" crm=\"LastName\"/>\n"
		"    <orgchart destination-branch=\"X\"/>\n"
		"  </people>\n"
		END), RC_CONFIG);
	cr_assert_str_eq(msgs,
		"lmsrecon: job.xml:10: input 'lms/users.csv' not found\n"
		"lmsrecon: job.xml:13: people source 'Contact' must map 'username'\n");
}

Test(job_files, a_directory_is_not_an_input)
{
	cr_assert_eq(load_text(
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm><input entity=\"Account\" path=\"crm\"/></crm>\n"
		"  <lms/>\n"
		END), RC_NOINPUT);
	cr_assert_str_eq(msgs, "lmsrecon: job.xml:4: input 'crm' is a directory\n");
}

Test(job_files, inputs_are_found_relative_to_a_job_in_a_subdirectory)
{
	write_file("sub/job.xml",
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm><input entity=\"Account\" path=\"crm/Account.csv\"/></crm>\n"
		"  <lms/>\n"
		END);
	cr_assert_eq(load_path("sub/job.xml"), RC_NOINPUT);
	cr_assert_str_eq(msgs, "lmsrecon: sub/job.xml:4: input 'crm/Account.csv' not found\n");
	write_file("sub/crm/Account.csv", "");
	cr_assert_eq(load_path("sub/job.xml"), RC_OK, "%s", msgs);
	cr_assert_str_eq(job->inputs[0].path, "sub/crm/Account.csv");
	cr_assert_str_eq(job->snapshot, "sub/s");
}

/* ---- the starter ------------------------------------------------------- */

Test(job_starter, the_starter_job_validates_once_its_files_exist)
{
	const char *s = job_starter();
	cr_assert_not_null(strstr(s, "<job xmlns=\"urn:lmsrecon:job:1\">"));
	write_file("starter/job.xml", s);
	/* Create every file the starter names, commented-out ones included. */
	for (const char *p = s; (p = strstr(p, "path=\"")) != NULL;) {
		p += 6;
		const char *q = strchr(p, '"');
		cr_assert_not_null(q);
		char path[PATH_MAX];
		snprintf(path, sizeof path, "starter/%.*s", (int)(q - p), p);
		if (strcmp(path, "starter/out") != 0 && !strstr(path, ".."))
			write_file(path, "");
		p = q;
	}
	cr_assert_eq(load_path("starter/job.xml"), RC_OK, "%s", msgs);
	cr_assert_str_empty(msgs);
	cr_assert_eq(job->ninputs, 10);
	cr_assert_eq(job->npeople, 1);
	cr_assert_eq(job->people[0].orgchart, ORG_ACCOUNTS);
	cr_assert_eq(job->syncback.is_enabled, 1);
	/* The same text twice. */
	cr_assert_eq(job_starter(), s);
}

Test(job_starter, the_starter_names_every_element_of_the_schema)
{
	static const char *const elems[] = {
		"<snapshot", "<output", "<options", "<crm", "<input", "<column", "<lms",
		"<people", "<listview", "<match", "<map", "<orgchart", "<picklist",
		"<syncback", "<account", "<enrollments",
	};
	for (size_t i = 0; i < sizeof elems / sizeof elems[0]; i++)
		cr_assert_not_null(strstr(job_starter(), elems[i]), "%s", elems[i]);
}

Test(job_files, a_profile_file_is_found_relative_to_the_job)
{
	char src[PATH_MAX + 32], text[65536];
	snprintf(src, sizeof src, "%s/formats/salesforce.xml", saved_cwd);
	FILE *f = fopen(src, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	write_file("sub/profiles/my-crm.xml", text);
	write_file("sub/job.xml",
		"<job xmlns=\"urn:lmsrecon:job:1\">\n"
		"  <snapshot path=\"s\"/>\n"
		"  <output path=\"out\"/>\n"
		"  <crm profile=\"profiles/my-crm.xml\"/>\n"
		"  <lms/>\n"
		END);
	cr_assert_eq(load_path("sub/job.xml"), RC_OK, "%s", msgs);
	cr_assert_eq(job->crm_profile->side, SIDE_CRM);
}
