/* SPDX-License-Identifier: MIT */
/* Tests of profile.c: the built-in profiles, status words, and the
 * messages for unknown and malformed profiles. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "entity.h"
#include "profile.h"

/* Messages printed by the code under test, and the temporary folder. */
static struct diag d;
static char *msgs;
static size_t msgs_len;
static FILE *msgs_f;
static char tmpdir[] = "/tmp/test_profile.XXXXXX";
static struct profile *prof;
static const struct srcpos job_pos = { "job.xml", 7, 12 };

static void setup(void)
{
	msgs_f = open_memstream(&msgs, &msgs_len);
	diag_init(&d, msgs_f);
	cr_assert_not_null(mkdtemp(tmpdir));
	prof = NULL;
}

static void teardown(void)
{
	char cmd[128];

	profile_free(prof);
	diag_release(&d);
	fclose(msgs_f);
	free(msgs);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

/* The messages printed so far. */
static const char *printed(void)
{
	fflush(msgs_f);
	return msgs;
}

/* Writes `text` to tmpdir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads a profile from text written to a file; returns the rc. The path
 * is left in *path. */
static enum rc load_text(const char *text, const char **path)
{
	*path = write_file("p.xml", text);
	return profile_load(&d, *path, &job_pos, &prof);
}

/* Asserts that the headers of `id` in `p` are exactly the NULL-ended list. */
static void assert_headers(const struct profile *p, enum entity_id id,
			   const char *const *want)
{
	const struct entity *e = entity_get(id);
	size_t n = 0;

	cr_assert(p->ents[id].is_supported, "%s not supported", e->name);
	while (want[n])
		n++;
	cr_assert_eq(e->ncols, n, "%s has %zu columns", e->name, e->ncols);
	for (size_t i = 0; i < n; i++) {
		cr_assert_not_null(p->ents[id].headers[i], "%s column %zu", e->name, i);
		cr_assert_str_eq(p->ents[id].headers[i], want[i]);
	}
}

TestSuite(profile, .init = setup, .fini = teardown);

Test(profile, docebo_describes_every_lms_entity_with_the_spec_headers)
{
	static const char *const users[] = { "user_id", "username", "firstname", "lastname",
		"email", "branch_code", "active", "sfdc_id", "last_access", NULL };
	static const char *const branches[] = { "code", "name", "parent_code", NULL };
	static const char *const courses[] = { "course_id", "code", "name", "type", NULL };
	static const char *const sessions[] = { "session_id", "code", "course_code", "name",
		"start_date", NULL };
	static const char *const plans[] = { "code", "name", NULL };
	static const char *const plan_courses[] = { "plan_code", "course_code", NULL };
	static const char *const enrollments[] = { "username", "course_code", "session_code",
		"status", "enrolled_at", "completed_at", "score", "updated_at", NULL };
	static const char *const plan_enrollments[] = { "username", "plan_code", "status",
		"enrolled_at", "completed_at", "score", "updated_at", NULL };

	cr_assert_eq(profile_load(&d, "docebo", &job_pos, &prof), RC_OK, "%s", printed());
	cr_assert_str_eq(printed() ? printed() : "", "");
	cr_assert_str_eq(prof->name, "docebo");
	cr_assert_eq(prof->side, SIDE_LMS);
	cr_assert_eq(prof->delim, ',');
	cr_assert_eq(prof->quote, '"');
	cr_assert_null(prof->null_token);
	cr_assert_null(prof->date_pattern);
	assert_headers(prof, ENT_LMS_USER, users);
	assert_headers(prof, ENT_BRANCH, branches);
	assert_headers(prof, ENT_COURSE, courses);
	assert_headers(prof, ENT_SESSION, sessions);
	assert_headers(prof, ENT_PLAN, plans);
	assert_headers(prof, ENT_PLAN_COURSE, plan_courses);
	assert_headers(prof, ENT_ENROLLMENT, enrollments);
	assert_headers(prof, ENT_PLAN_ENROLLMENT, plan_enrollments);
	for (int i = 0; i < ENT_COUNT; i++) {
		const struct entity *e = entity_get((enum entity_id)i);
		if (e->side == SIDE_LMS)
			cr_assert_str_eq(prof->ents[i].record_elem, "item");
		else
			cr_assert_not(prof->ents[i].is_supported, "%s", e->name);
	}
}

Test(profile, salesforce_describes_the_crm_entities_with_api_names)
{
	static const char *const account[] = { "Id", "Name", "ParentId", "IsPersonAccount",
		"LastModifiedDate", NULL };
	static const char *const contact[] = { "Id", "FirstName", "LastName", "Email",
		"AccountId", "Department", "Title", "IsPersonAccount", "LastModifiedDate", NULL };
	static const char *const user[] = { "Id", "Username", "FirstName", "LastName", "Email",
		"IsActive", "Department", "LastModifiedDate", NULL };
	static const char *const custom[] = { "Id", "LastModifiedDate", NULL };

	cr_assert_eq(profile_load(&d, "salesforce", &job_pos, &prof), RC_OK, "%s", printed());
	cr_assert_str_eq(prof->name, "salesforce");
	cr_assert_eq(prof->side, SIDE_CRM);
	cr_assert_eq(prof->delim, ',');
	cr_assert_eq(prof->quote, '"');
	cr_assert_null(prof->null_token);
	assert_headers(prof, ENT_ACCOUNT, account);
	assert_headers(prof, ENT_CONTACT, contact);
	assert_headers(prof, ENT_CRM_USER, user);
	assert_headers(prof, ENT_CUSTOM, custom);
	for (int i = 0; i < ENT_COUNT; i++) {
		const struct entity *e = entity_get((enum entity_id)i);
		if (e->side == SIDE_CRM)
			cr_assert_str_eq(prof->ents[i].record_elem, "records");
		else
			cr_assert_not(prof->ents[i].is_supported, "%s", e->name);
	}
	cr_assert_eq(prof->nstatus, 0);
}

/* profile_status on a NUL-terminated word: the status name, or "-". */
static const char *st(const char *word)
{
	enum status s;

	if (profile_status(prof, word, strlen(word), &s) != 0)
		return "-";
	return profile_status_name(s);
}

Test(profile, docebo_status_words_map_case_insensitively)
{
	cr_assert_eq(profile_load(&d, "docebo", &job_pos, &prof), RC_OK);
	cr_assert_str_eq(st("subscribed"), "enrolled");
	cr_assert_str_eq(st("Subscribed"), "enrolled");
	cr_assert_str_eq(st("COMPLETED"), "completed");
	cr_assert_str_eq(st("In Progress"), "in_progress");
	cr_assert_str_eq(st("in_progress"), "in_progress");
	cr_assert_str_eq(st("IN-PROGRESS"), "in_progress");
	cr_assert_str_eq(st("Passed"), "passed");
	cr_assert_str_eq(st("Not Passed"), "failed");
	cr_assert_str_eq(st("failed"), "failed");
	cr_assert_str_eq(st("Waiting"), "waiting");
	cr_assert_str_eq(st("waiting_list"), "waiting");
	cr_assert_str_eq(st("Overbooking"), "waiting");
	cr_assert_str_eq(st("to_confirm"), "waiting");
	cr_assert_str_eq(st("Suspended"), "suspended");
	cr_assert_str_eq(st("Pending Review"), "pending_review");
	cr_assert_str_eq(st("Unsubscribed"), "unenrolled");
	cr_assert_str_eq(st("removed"), "unenrolled");
}

Test(profile, docebo_accepts_every_lmsrecon_status_name)
{
	cr_assert_eq(profile_load(&d, "docebo", &job_pos, &prof), RC_OK);
	for (int s = 0; s < ST_COUNT; s++)
		cr_assert_str_eq(st(profile_status_name((enum status)s)),
				 profile_status_name((enum status)s));
}

Test(profile, status_words_must_match_whole)
{
	enum status s = ST_COUNT;

	cr_assert_eq(profile_load(&d, "docebo", &job_pos, &prof), RC_OK);
	cr_assert_str_eq(st(""), "-");
	cr_assert_str_eq(st("done"), "-");
	cr_assert_str_eq(st("complete"), "-");
	cr_assert_str_eq(st("completed "), "-");
	cr_assert_str_eq(st(" completed"), "-");
	cr_assert_str_eq(st("completedx"), "-");
	cr_assert_str_eq(st("in  progress"), "-");
	/* Only `len` bytes are the word. */
	cr_assert_eq(profile_status(prof, "passedXYZ", 6, &s), 0);
	cr_assert_eq(s, ST_PASSED);
	cr_assert_eq(profile_status(prof, "pass", 4, &s), -1);
}

Test(profile, status_names_and_finished_statuses)
{
	static const char *const names[ST_COUNT] = { "enrolled", "in_progress", "completed",
		"passed", "failed", "pending_review", "waiting", "suspended", "unenrolled" };

	for (int s = 0; s < ST_COUNT; s++) {
		cr_assert_str_eq(profile_status_name((enum status)s), names[s]);
		cr_assert_eq(profile_status_is_finished((enum status)s),
			     s == ST_COMPLETED || s == ST_PASSED || s == ST_FAILED, "%s", names[s]);
	}
}

Test(profile, unknown_profile_is_reported_at_the_job_position)
{
	cr_assert_eq(profile_load(&d, "foo", &job_pos, &prof), RC_CONFIG);
	cr_assert_null(prof);
	cr_assert_str_eq(printed(),
			 "lmsrecon: job.xml:7:12: unknown profile 'foo' (built-in: docebo, salesforce)\n");
}

Test(profile, schema_files_are_not_profiles)
{
	cr_assert_eq(profile_load(&d, "profile", &job_pos, &prof), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: job.xml:7:12: unknown profile 'profile' (built-in: docebo, salesforce)\n");
}

Test(profile, missing_profile_file_is_reported_at_the_job_position)
{
	char path[256], want[512];

	snprintf(path, sizeof path, "%s/none.xml", tmpdir);
	snprintf(want, sizeof want,
		 "lmsrecon: job.xml:7:12: cannot read profile '%s': no such file or directory\n",
		 path);
	cr_assert_eq(profile_load(&d, path, &job_pos, &prof), RC_CONFIG);
	cr_assert_str_eq(printed(), want);
}

/* A valid profile for another LMS, exercising every element. */
static const char other_lms[] =
	"<?xml version=\"1.0\"?>\n"
	"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"acme\" side=\"lms\">\n"
	"  <csv delimiter=\"&#9;\" quote=\"'\"/>\n"
	"  <null token=\"N/A\"/>\n"
	"  <dates pattern=\"DD/MM/YYYY hh:mm\"/>\n"
	"  <entity name=\"users\">\n"
	"    <column key=\"username\" header=\"Login\"/>\n"
	"    <column key=\"email\" header=\"E-mail address\"/>\n"
	"  </entity>\n"
	"  <entity name=\"enrollments\" record=\"row\">\n"
	"    <column key=\"username\" header=\"Login\"/>\n"
	"    <column key=\"course_code\" header=\"Course\"/>\n"
	"    <column key=\"status\" header=\"State\"/>\n"
	"  </entity>\n"
	"  <status word=\"Done\" value=\"completed\"/>\n"
	"  <status word=\"Started\" value=\"in_progress\"/>\n"
	"</profile>\n";

Test(profile, a_profile_file_sets_every_field)
{
	const char *path;
	const struct entity *users = entity_get(ENT_LMS_USER);

	cr_assert_eq(load_text(other_lms, &path), RC_OK, "%s", printed());
	cr_assert_str_eq(prof->name, "acme");
	cr_assert_eq(prof->side, SIDE_LMS);
	cr_assert_eq(prof->delim, '\t');
	cr_assert_eq(prof->quote, '\'');
	cr_assert_str_eq(prof->null_token, "N/A");
	cr_assert_str_eq(prof->date_pattern, "DD/MM/YYYY hh:mm");
	cr_assert(prof->ents[ENT_LMS_USER].is_supported);
	cr_assert_str_eq(prof->ents[ENT_LMS_USER].record_elem, "record");
	for (size_t i = 0; i < users->ncols; i++) {
		const char *h = prof->ents[ENT_LMS_USER].headers[i];
		if (strcmp(users->cols[i].key, "username") == 0)
			cr_assert_str_eq(h, "Login");
		else if (strcmp(users->cols[i].key, "email") == 0)
			cr_assert_str_eq(h, "E-mail address");
		else
			cr_assert_null(h, "%s", users->cols[i].key);
	}
	cr_assert_str_eq(prof->ents[ENT_ENROLLMENT].record_elem, "row");
	cr_assert_not(prof->ents[ENT_COURSE].is_supported);
	cr_assert_str_eq(st("DONE"), "completed");
	cr_assert_str_eq(st("started"), "in_progress");
	cr_assert_str_eq(st("completed"), "-");
	cr_assert_eq(prof->nstatus, 2);
	cr_assert_str_eq(prof->status_words[0], "done");
}

/* Loads `text` from a file, expects RC_CONFIG and exactly the messages in
 * `want`, where each "@" stands for the file's path. */
static void assert_load_fails(const char *text, const char *want)
{
	const char *path;
	char expect[4096];
	size_t n = 0;

	cr_assert_eq(load_text(text, &path), RC_CONFIG, "%s", printed());
	cr_assert_null(prof);
	for (const char *w = want; *w && n < sizeof expect - 256; w++) {
		if (*w == '@')
			n += (size_t)snprintf(expect + n, sizeof expect - n, "%s", path);
		else
			expect[n++] = *w;
	}
	expect[n] = '\0';
	cr_assert_str_eq(printed(), expect);
}

Test(profile, unknown_column_is_reported_at_its_line)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <entity name=\"users\">\n"
		"    <column key=\"userid\" header=\"id\"/>\n"
		"  </entity>\n"
		"</profile>\n",
		"lmsrecon: @:3: unknown column 'userid' of entity 'users' (columns: user_id, "
		"username, firstname, lastname, email, branch_code, active, sfdc_id, last_access)\n");
}

Test(profile, entity_of_the_other_side_is_unknown)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"crm\">\n"
		"  <entity name=\"Contact\"><column key=\"Id\" header=\"Id\"/></entity>\n"
		"  <entity name=\"users\"><column key=\"username\" header=\"u\"/></entity>\n"
		"</profile>\n",
		"lmsrecon: @:3: unknown entity 'users' on the crm side (known: Account, Contact, "
		"User, custom, LMS_User__c, LMS_Course__c, LMS_Session__c, LMS_Learning_Plan__c, "
		"LMS_Enrollment__c, LMS_Learning_Plan_Enrollment__c)\n");
}

Test(profile, bad_status_value_and_repeats_are_all_reported)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <entity name=\"users\">\n"
		"    <column key=\"username\" header=\"u\"/>\n"
		"    <column key=\"email\" header=\"u\"/>\n"
		"    <column key=\"username\" header=\"v\"/>\n"
		"  </entity>\n"
		"  <entity name=\"users\"><column key=\"email\" header=\"e\"/></entity>\n"
		"  <status word=\"Done\" value=\"finished\"/>\n"
		"  <status word=\"OK\" value=\"passed\"/>\n"
		"  <status word=\"ok\" value=\"passed\"/>\n"
		"</profile>\n",
		"lmsrecon: @:4: header 'u' is given to both 'username' and 'email'\n"
		"lmsrecon: @:5: column 'username' of entity 'users' is listed twice\n"
		"lmsrecon: @:7: entity 'users' is described twice\n"
		"lmsrecon: @:8: unknown status 'finished' for word 'Done' (statuses: enrolled, "
		"in_progress, completed, passed, failed, pending_review, waiting, suspended, "
		"unenrolled)\n"
		"lmsrecon: @:10: status word 'ok' is listed twice\n");
}

Test(profile, schema_errors_name_the_element_and_attribute)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <csv delimiter=\";;\"/>\n"
		"</profile>\n",
		"lmsrecon: @:2: bad value ';;' for attribute 'delimiter' of element 'csv' "
		"(expected one character)\n");
}

Test(profile, missing_attribute_is_named)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <entity name=\"users\">\n"
		"    <column key=\"username\"/>\n"
		"  </entity>\n"
		"</profile>\n",
		"lmsrecon: @:3: element 'column' lacks attribute 'header'\n");
}

Test(profile, bad_side_is_named)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"both\"/>\n",
		"lmsrecon: @:1: bad value 'both' for attribute 'side' of element 'profile' "
		"(expected 'crm' or 'lms')\n");
}

Test(profile, unknown_and_misplaced_elements_are_named)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <entity name=\"users\"><column key=\"email\" header=\"e\"/></entity>\n"
		"  <csv/>\n"
		"</profile>\n",
		"lmsrecon: @:3: element 'csv' is out of place (the order is csv, null, dates, "
		"entity, status; csv, null and dates at most once)\n");
	fclose(msgs_f);
	free(msgs);
	msgs = NULL;
	msgs_f = open_memstream(&msgs, &msgs_len);
	diag_init(&d, msgs_f);
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <entity name=\"users\">\n"
		"    <column key=\"email\" header=\"e\"/>\n"
		"    <alias key=\"email\" header=\"mail\"/>\n"
		"  </entity>\n"
		"</profile>\n",
		"lmsrecon: @:4: unknown element 'alias'\n");
}

Test(profile, wrong_namespace_is_reported)
{
	assert_load_fails("<profile name=\"x\" side=\"lms\"/>\n",
			  "lmsrecon: @:1: element 'profile' is not in namespace "
			  "'urn:lmsrecon:profile:1'\n");
}

Test(profile, malformed_xml_is_reported_by_us_not_by_libxml2,
     .init = cr_redirect_stderr)
{
	assert_load_fails(
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\">\n"
		"  <csv>\n"
		"</profile>\n",
		"lmsrecon: @:3: opening and ending tag mismatch: csv line 2 and profile\n"
		"lmsrecon: @:4: premature end of data in tag profile line 1\n");
	fflush(stderr);
	cr_assert_stderr_eq_str("");
}

Test(profile, document_type_declarations_are_refused)
{
	assert_load_fails(
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE profile [<!ENTITY a \"b\">]>\n"
		"<profile xmlns=\"urn:lmsrecon:profile:1\" name=\"x\" side=\"lms\"/>\n",
		"lmsrecon: @:2: a profile may not have a document type declaration\n");
}

Test(profile, builtin_profiles_load_repeatedly_without_leaks)
{
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(profile_load(&d, "docebo", &job_pos, &prof), RC_OK);
		profile_free(prof);
		cr_assert_eq(profile_load(&d, "salesforce", &job_pos, &prof), RC_OK);
		profile_free(prof);
		prof = NULL;
	}
	cr_assert_str_eq(printed() ? printed() : "", "");
}
