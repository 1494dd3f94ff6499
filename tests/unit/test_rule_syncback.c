/* SPDX-License-Identifier: MIT */
/* Tests of rule_syncback (R7): matching learners with Contacts (one, none,
 * several, Person Accounts), the three account rules and missing Accounts,
 * moves, the department scope with and without sub-departments (and a
 * cycle in the LMS tree), unlink and relink across two runs, administrators,
 * and learners the people rules already wrote. Each test stages rows into an
 * in-memory snapshot, runs the rule and reads back stage.user_out,
 * stage.crm_out, the exceptions, the changes and the links. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "job.h"
#include "rule_syncback.h"
#include "snap.h"
#include "util.h"

#define ACC_A "001000000000001AAA"
#define ACC_B "001000000000002AAA"
#define ACC_C "001000000000003AAA"
#define CON_1 "003000000000001AAA"
#define CON_2 "003000000000002AAA"
#define CON_3 "003000000000003AAA"
#define USR_1 "005000000000001AAA"

static FILE *diag_out;
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct snap *s;
static long long run_id;
static struct job job;

static void setup(void)
{
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	cr_assert_eq(snap_open(&d, "state.db", SNAP_MEMORY | SNAP_CREATE, &s), RC_OK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-01T10:00:00Z", &run_id), RC_OK);
	memset(&job, 0, sizeof job);
	job.path = "job.xml";
	job.lms_instance = "acme";
	job.syncback.is_enabled = 1;
	job.syncback.department = "PARTNERS";
	job.syncback.account_rule = ACCOUNT_DEFAULT;
	job.syncback.account_id = ACC_A;
	job.syncback.match_field = "Email";
	job.syncback.line = 21;
}

static void teardown(void)
{
	snap_close(s);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
}

TestSuite(rule_syncback, .init = setup, .fini = teardown);

static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Runs `sql` binding `n` text parameters (NULL = SQL NULL). */
static void exec_n(const char *sql, int n, ...)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	va_list ap;
	cr_assert_not_null(st, "%s", sql);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *v = va_arg(ap, const char *);
		snap_bind_text(st, i + 1, v, v ? strlen(v) : 0);
	}
	va_end(ap);
	cr_assert_eq(snap_step(st), 0, "%s", sql);
	snap_finalize(st);
}

/* An LMS user of the export (src_file 4); `active` "0"/"1". */
static void add_user(const char *username, const char *first, const char *last,
		     const char *email, const char *branch, const char *active,
		     const char *sfdc_id, const char *extra, const char *line)
{
	exec_n("INSERT INTO stage.stg_lms_user (src_file, src_line, user_id, username,"
	       " firstname, lastname, email, branch_code, active, sfdc_id, extra)"
	       " VALUES (4, ?1, 'u-' || ?2, ?2, ?3, ?4, ?5, ?6, CAST(?7 AS INTEGER), ?8, ?9)",
	       9, line, username, first, last, email, branch, active, sfdc_id, extra);
}

static void add_contact(const char *id, const char *email, const char *account,
			const char *is_person)
{
	exec_n("INSERT INTO stage.stg_contact (src_file, src_line, Id, LastName, Email,"
	       " AccountId, IsPersonAccount) VALUES (1, 2, ?1, 'X', ?2, ?3, CAST(?4 AS INTEGER))",
	       4, id, email, account, is_person);
}

static void add_account(const char *id, const char *name, const char *is_person)
{
	exec_n("INSERT INTO stage.stg_account (src_file, src_line, Id, Name, IsPersonAccount)"
	       " VALUES (0, 2, ?1, ?2, CAST(?3 AS INTEGER))", 3, id, name, is_person);
}

static void add_branch(const char *code, const char *name, const char *parent)
{
	exec_n("INSERT INTO stage.stg_branch (src_file, src_line, code, name, parent_code)"
	       " VALUES (5, 2, ?1, ?2, ?3)", 3, code, name, parent);
}

/* Every row of `sql` as "col|col|...\n" (NULL shown as "-"). Caller frees. */
static char *rows(const char *sql, int ncols)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	struct buf b = BUF_INIT;
	cr_assert_not_null(st, "%s", sql);
	while (snap_step(st) == 1) {
		for (int i = 0; i < ncols; i++) {
			const char *v = snap_col_text(st, i);
			buf_addf(&b, "%s%s", i ? "|" : "", v ? v : "-");
		}
		buf_addch(&b, '\n');
	}
	snap_finalize(st);
	buf_addch(&b, '\0');
	return buf_detach(&b, NULL);
}

#define assert_rows(sql, ncols, want) do { \
	char *got_ = rows(sql, ncols); \
	cr_assert_str_eq(got_, want); \
	free(got_); \
} while (0)

#define USER_OUT "SELECT username, action, firstname, lastname, email, branch_code, active," \
	" sfdc_id, force_password_change, fields, src_file, src_line FROM stage.user_out ORDER BY username"
#define CRM_OUT "SELECT object, op, key, fields, rule, src_file, src_line FROM stage.crm_out" \
	" ORDER BY object, op, key"
#define EXCEPTIONS "SELECT kind, entity, key, candidates, reason, src_file, src_line" \
	" FROM stage.exceptions ORDER BY rowid"
#define CHANGES "SELECT entity, key, action, field, before, after, src_file, src_line, rule" \
	" FROM stage.changes ORDER BY rowid"
#define LINKS "SELECT crm_id, lms_instance, lms_username, source, first_run, last_run" \
	" FROM links ORDER BY crm_id"

static long long count(const char *table)
{
	char *sql = xasprintf("SELECT count(*) FROM %s", table);
	long long n = snap_query_int(s, sql);
	free(sql);
	return n;
}

/* Asserts the one links row, with first and last run. */
static void assert_link(const char *crm_id, const char *username, long long first, long long last)
{
	char *want = xasprintf("%s|acme|%s|Contact|%lld|%lld\n", crm_id, username, first, last);
	assert_rows(LINKS, 6, want);
	free(want);
}

/* ---- matching ----------------------------------------------------------- */

Test(rule_syncback, one_match_links_the_learner_and_records_the_link)
{
	add_account(ACC_A, "Acme", "0");
	/* Matching is trimmed and case-insensitive on both sides. */
	add_contact(CON_1, "  Ann@Example.com ", ACC_A, "0");
	add_contact(CON_2, "someone@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", "ann@example.com", "PARTNERS", "1", NULL,
		 "{\"company\":\"Acme\"}", "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(USER_OUT, 12,
		    "ann@example.com|update|Ann|Lee|ann@example.com|PARTNERS|1|" CON_1
		    "|0|{\"company\":\"Acme\"}|4|7\n");
	assert_rows(CHANGES, 9, "lms.users|ann@example.com|link|sfdc_id|-|" CON_1 "|4|7|R7\n");
	assert_link(CON_1, "ann@example.com", run_id, run_id);
	/* Already in the rule's Account: nothing to write to the CRM. */
	cr_assert_eq(count("stage.crm_out"), 0);
	cr_assert_eq(count("stage.exceptions"), 0);
	cr_assert_str_eq(printed(), "");
}

Test(rule_syncback, one_match_under_another_account_is_linked_and_moved)
{
	add_account(ACC_A, "Acme", "0");
	add_account(ACC_B, "Old Co", "0");
	add_contact(CON_1, "ann@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(CRM_OUT, 7,
		    "Contact|update|" CON_1 "|{\"Id\":\"" CON_1 "\",\"AccountId\":\"" ACC_A "\"}|R7|4|7\n");
	assert_rows("SELECT username, sfdc_id, fields FROM stage.user_out", 3,
		    "ann@example.com|" CON_1 "|{}\n");
	assert_link(CON_1, "ann@example.com", run_id, run_id);
}

Test(rule_syncback, several_matches_are_ambiguous_and_nothing_is_written)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_2, "ann@example.com", ACC_A, "0");
	add_contact(CON_1, "ANN@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(EXCEPTIONS, 7,
		    "ambiguous|users|ann@example.com|" CON_1 ";" CON_2 "|several Contacts match"
		    " the username on 'Email'; nothing written|4|7\n");
	cr_assert_eq(count("stage.user_out"), 0);
	cr_assert_eq(count("stage.crm_out"), 0);
	cr_assert_eq(count("stage.changes"), 0);
	cr_assert_eq(count("links"), 0);
}

Test(rule_syncback, match_on_a_configured_extra_contact_field)
{
	add_account(ACC_A, "Acme", "0");
	exec_n("INSERT INTO stage.stg_contact (src_file, src_line, Id, LastName, Email, AccountId,"
	       " IsPersonAccount, extra) VALUES (1, 2, ?1, 'Lee', 'other@example.com', ?2, 0,"
	       " '{\"LMS_Username__c\":\"ANN\"}')", 2, CON_3, ACC_A);
	job.syncback.match_field = "LMS_Username__c";
	add_user("ann", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT username, sfdc_id FROM stage.user_out", 2, "ann|" CON_3 "\n");
}

Test(rule_syncback, contact_already_linked_to_another_learner_is_a_conflict)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	add_user("ann.lee", "Ann", "Lee", NULL, "OTHER", "1", CON_1, NULL, "8");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "conflict|users|ann@example.com|" CON_1 "|Contact '" CON_1 "' is already linked"
		    " to LMS user 'ann.lee'; nothing written|4|7\n");
	cr_assert_eq(count("stage.user_out"), 0);
	cr_assert_eq(count("links"), 0);
}

/* ---- creating Contacts -------------------------------------------------- */

Test(rule_syncback, no_match_creates_a_contact_under_the_default_account)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "someone@example.com", ACC_A, "0");
	add_user("bob@example.com", "Bob", "Stone", "bob@example.com", "PARTNERS", "1", NULL, NULL, "9");
	/* No email in the LMS: the username is the Contact's Email. */
	add_user("cy@example.com", NULL, "Cole", NULL, "PARTNERS", "1", NULL, NULL, "10");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(CRM_OUT, 7,
		    "Contact|insert|acme:bob@example.com|{\"FirstName\":\"Bob\",\"LastName\":\"Stone\","
		    "\"Email\":\"bob@example.com\",\"AccountId\":\"" ACC_A "\"}|R7|4|9\n"
		    "Contact|insert|acme:cy@example.com|{\"LastName\":\"Cole\","
		    "\"Email\":\"cy@example.com\",\"AccountId\":\"" ACC_A "\"}|R7|4|10\n");
	/* The LMS side waits for the Contact's Id (next run's match). */
	cr_assert_eq(count("stage.user_out"), 0);
	cr_assert_eq(count("stage.changes"), 0);
	cr_assert_eq(count("stage.exceptions"), 0);
}

Test(rule_syncback, no_match_creates_a_contact_under_the_account_named_like_the_branch)
{
	job.syncback.account_rule = ACCOUNT_DEPARTMENT;
	job.syncback.account_id = NULL;
	add_branch("PARTNERS", "Partner Network", NULL);
	/* The exact name wins over a name differing only in case. */
	add_account(ACC_B, "PARTNER NETWORK", "0");
	add_account(ACC_C, "Partner Network", "0");
	add_branch("RESELLERS", "resellers", "PARTNERS");
	add_account(ACC_A, "Resellers", "0");
	job.syncback.with_subdepartments = 1;
	add_user("bob@example.com", "Bob", "Stone", NULL, "PARTNERS", "1", NULL, NULL, "9");
	add_user("eve@example.com", "Eve", "Ray", NULL, "RESELLERS", "1", NULL, NULL, "11");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows("SELECT key, json_extract(fields, '$.AccountId') FROM stage.crm_out ORDER BY key", 2,
		    "acme:bob@example.com|" ACC_C "\n"
		    "acme:eve@example.com|" ACC_A "\n");
	cr_assert_eq(count("stage.exceptions"), 0);
}

Test(rule_syncback, no_match_creates_a_contact_under_the_account_named_by_the_user_field)
{
	job.syncback.account_rule = ACCOUNT_FIELD;
	job.syncback.account_id = NULL;
	job.syncback.account_field = "company";
	add_account(ACC_B, "Globex", "0");
	add_account(ACC_C, "Initech", "0");
	add_user("bob@example.com", "Bob", "Stone", NULL, "PARTNERS", "1", NULL,
		 "{\"company\":\"Initech\"}", "9");
	add_user("dan@example.com", "Dan", "Hill", NULL, "PARTNERS", "1", NULL, "{}", "12");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows("SELECT key, json_extract(fields, '$.AccountId') FROM stage.crm_out ORDER BY key", 2,
		    "acme:bob@example.com|" ACC_C "\n");
	assert_rows(EXCEPTIONS, 7,
		    "account_missing|users|dan@example.com|-|the learner's field 'company' is empty,"
		    " so its Account is unknown|4|12\n");
}

Test(rule_syncback, missing_default_account_fails_every_learner_needing_it)
{
	add_account(ACC_B, "Other", "0");
	add_contact(CON_1, "ann@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	add_user("bob@example.com", "Bob", "Stone", NULL, "PARTNERS", "1", NULL, NULL, "9");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(EXCEPTIONS, 7,
		    "account_missing|users|ann@example.com|-|the default Account '" ACC_A "' is not in"
		    " the Account export; Accounts are never created|4|7\n"
		    "account_missing|users|bob@example.com|-|the default Account '" ACC_A "' is not in"
		    " the Account export; Accounts are never created|4|9\n");
	/* The link does not need the Account; the move and the creation do. */
	assert_rows("SELECT username, sfdc_id FROM stage.user_out", 2, "ann@example.com|" CON_1 "\n");
	cr_assert_eq(count("stage.crm_out"), 0);
}

Test(rule_syncback, department_account_missing_or_ambiguous_is_an_exception)
{
	job.syncback.account_rule = ACCOUNT_DEPARTMENT;
	job.syncback.account_id = NULL;
	job.syncback.with_subdepartments = 1;
	add_branch("PARTNERS", "Partner Network", NULL);
	add_branch("EAST", "East", "PARTNERS");
	add_branch("WEST", "West", "PARTNERS");
	add_account(ACC_A, "WEST", "0");
	add_account(ACC_B, "west", "0");
	/* A Person Account never takes Contacts, even with the right name. */
	add_account(ACC_C, "Partner Network", "1");
	add_user("a@example.com", "A", "Aa", NULL, "PARTNERS", "1", NULL, NULL, "2");
	add_user("b@example.com", "B", "Bb", NULL, "WEST", "1", NULL, NULL, "3");
	add_user("c@example.com", "C", "Cc", NULL, "EAST", "1", NULL, NULL, "4");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(EXCEPTIONS, 7,
		    "account_missing|users|a@example.com|-|no Account is named 'Partner Network'"
		    " (the name of the learner's branch 'PARTNERS'); Accounts are never created|4|2\n"
		    "ambiguous|users|b@example.com|" ACC_A ";" ACC_B "|several Accounts are named 'West'"
		    " (the name of the learner's branch 'WEST'); the Contact cannot be placed|4|3\n"
		    "account_missing|users|c@example.com|-|no Account is named 'East'"
		    " (the name of the learner's branch 'EAST'); Accounts are never created|4|4\n");
	cr_assert_eq(count("stage.crm_out"), 0);
}

Test(rule_syncback, learner_without_last_name_cannot_become_a_contact)
{
	add_account(ACC_A, "Acme", "0");
	add_user("bob@example.com", "Bob", "  ", NULL, "PARTNERS", "1", NULL, NULL, "9");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "mandatory|users|bob@example.com|-|no Contact matches and the learner has no last"
		    " name, which a Contact requires; no Contact created|4|9\n");
	cr_assert_eq(count("stage.crm_out"), 0);
}

Test(rule_syncback, person_account_contact_is_not_matched_nor_duplicated)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_B, "1");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	/* The Person-Account contact is not linked, and no second Contact is
	 * made for the same person: the learner is reported. */
	cr_assert_eq(count("stage.crm_out"), 0);
	cr_assert_eq(count("stage.user_out"), 0);
	cr_assert_eq(count("links"), 0);
	assert_rows("SELECT kind, candidates FROM stage.exceptions", 2,
		    "person_account|" CON_1 "\n");
}

/* ---- scope -------------------------------------------------------------- */

/* PARTNERS > EU > FR, and FR is also given as the parent of PARTNERS: a
 * cycle the walk must survive. */
static void add_tree(void)
{
	add_account(ACC_A, "Acme", "0");
	add_branch("PARTNERS", "Partners", "FR");
	add_branch("EU", "Europe", "PARTNERS");
	add_branch("FR", "France", "EU");
	add_branch("OTHER", "Other", NULL);
	add_user("fr@example.com", "Fr", "Ance", NULL, "FR", "1", NULL, NULL, "3");
	add_user("other@example.com", "Ot", "Her", NULL, "OTHER", "1", NULL, NULL, "4");
	add_user("p@example.com", "Pa", "Rtner", NULL, "PARTNERS", "1", NULL, NULL, "5");
}

Test(rule_syncback, sub_department_learner_is_in_scope_with_subdepartments)
{
	add_tree();
	job.syncback.with_subdepartments = 1;
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key FROM stage.crm_out ORDER BY key", 1,
		    "acme:fr@example.com\n"
		    "acme:p@example.com\n");
}

Test(rule_syncback, sub_department_learner_is_out_of_scope_without_subdepartments)
{
	add_tree();
	job.syncback.with_subdepartments = 0;
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key FROM stage.crm_out ORDER BY key", 1, "acme:p@example.com\n");
}

Test(rule_syncback, administrators_are_out_of_scope)
{
	add_account(ACC_A, "Acme", "0");
	add_user("admin@example.com", "Ad", "Min", NULL, "PARTNERS", "1", NULL,
		 "{\"level\":\"superadmin\"}", "2");
	add_user("power@example.com", "Po", "Wer", NULL, "PARTNERS", "1", NULL,
		 "{\"level\":\" PowerUser \"}", "3");
	add_user("plain@example.com", "Pl", "Ain", NULL, "PARTNERS", "1", NULL,
		 "{\"level\":\"user\"}", "4");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT key FROM stage.crm_out ORDER BY key", 1, "acme:plain@example.com\n");
	cr_assert_eq(count("stage.exceptions"), 0);
}

Test(rule_syncback, disabled_sync_back_does_nothing)
{
	job.syncback.is_enabled = 0;
	add_account(ACC_A, "Acme", "0");
	add_user("bob@example.com", "Bob", "Stone", NULL, "PARTNERS", "1", NULL, NULL, "9");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(count("stage.crm_out"), 0);
}

Test(rule_syncback, learner_linked_to_a_crm_user_is_left_alone)
{
	add_account(ACC_A, "Acme", "0");
	add_user("emp@example.com", "Em", "Ployee", NULL, "PARTNERS", "1", USR_1, NULL, "2");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(count("stage.crm_out") + count("stage.user_out") + count("stage.exceptions"), 0);
}

/* ---- linked learners ---------------------------------------------------- */

Test(rule_syncback, linked_learner_is_confirmed_and_moved)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_2, "not-the-username@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", CON_2, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows(CRM_OUT, 7,
		    "Contact|update|" CON_2 "|{\"Id\":\"" CON_2 "\",\"AccountId\":\"" ACC_A "\"}|R7|4|7\n");
	assert_link(CON_2, "ann@example.com", run_id, run_id);
	cr_assert_eq(count("stage.user_out"), 0);
	cr_assert_eq(count("stage.changes"), 0);
}

Test(rule_syncback, linked_learner_whose_contact_is_gone_is_an_exception)
{
	add_account(ACC_A, "Acme", "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", CON_2, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "contact_missing|users|ann@example.com|" CON_2 "|the learner is linked to Contact '"
		    CON_2 "', which is not in the Contact export; nothing written|4|7\n");
	cr_assert_eq(count("stage.crm_out") + count("links"), 0);
}

/* ---- unlink and relink -------------------------------------------------- */

Test(rule_syncback, deactivated_learner_is_unlinked_and_the_contact_stays)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", "ann@example.com", "PARTNERS", "0", CON_1, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(USER_OUT, 12,
		    "ann@example.com|update|Ann|Lee|ann@example.com|PARTNERS|0||0|{}|4|7\n");
	assert_rows(CHANGES, 9, "lms.users|ann@example.com|unlink|sfdc_id|" CON_1 "|-|4|7|R7\n");
	/* The link is remembered for a reactivation; no move, no Contact written. */
	assert_link(CON_1, "ann@example.com", run_id, run_id);
	cr_assert_eq(count("stage.crm_out"), 0);
}

/* An unlink keeps the link as the run before it left it (R7): the memory
 * of the Contact for a later relink, not a link this run saw. */
Test(rule_syncback, unlink_leaves_the_remembered_link_as_it_was)
{
	long long run2;

	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", "ann@example.com", "PARTNERS", "1", CON_1, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_link(CON_1, "ann@example.com", run_id, run_id);
	cr_assert_eq(snap_run_commit(s, "2024-05-01T10:05:00Z", NULL), RC_OK);

	cr_assert_eq(snap_run_begin(s, "full", "2024-05-02T10:00:00Z", &run2), RC_OK);
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", "ann@example.com", "PARTNERS", "0", CON_1, NULL, "8");
	cr_assert_eq(rule_syncback(&d, &job, s, run2), RC_OK);

	assert_rows(CHANGES, 9, "lms.users|ann@example.com|unlink|sfdc_id|" CON_1 "|-|4|8|R7\n");
	assert_link(CON_1, "ann@example.com", run_id, run_id);
}

Test(rule_syncback, reactivated_learner_is_linked_again_to_its_contact)
{
	long long run2;

	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann.lee@corp.example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "0", CON_1, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(snap_run_commit(s, "2024-05-01T10:05:00Z", NULL), RC_OK);

	/* The import cleared sfdc_id; the learner is active again. Its username
	 * matches no Contact, so only the remembered link can find it. */
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-02T10:00:00Z", &run2), RC_OK);
	cr_assert_gt(run2, run_id);
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann.lee@corp.example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "8");
	cr_assert_eq(rule_syncback(&d, &job, s, run2), RC_OK);

	assert_rows("SELECT username, active, sfdc_id FROM stage.user_out", 3,
		    "ann@example.com|1|" CON_1 "\n");
	assert_rows(CHANGES, 9, "lms.users|ann@example.com|relink|sfdc_id|-|" CON_1 "|4|8|R7\n");
	assert_link(CON_1, "ann@example.com", run_id, run2);
	cr_assert_eq(count("stage.crm_out"), 0);
}

Test(rule_syncback, contact_written_by_an_earlier_run_is_not_written_again)
{
	long long run2;
	char *run_text;

	add_account(ACC_A, "Acme", "0");
	add_user("jdoe", "John", "Doe", "john@example.com", "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	cr_assert_eq(count("stage.crm_out"), 1);
	/* What the CRM step of the run records for the Contact it emits. */
	run_text = xasprintf("%lld", run_id);
	exec_n("INSERT INTO emitted (run_id, target, object, key, op, fields)"
	       " SELECT CAST(?1 AS INTEGER), 'crm', object, key, op, fields FROM stage.crm_out", 1,
	       run_text);
	free(run_text);
	cr_assert_eq(snap_run_commit(s, "2024-05-01T10:05:00Z", NULL), RC_OK);

	/* The Contact came with Email john@example.com, which the username
	 * 'jdoe' cannot match: creating it again would duplicate it. */
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-02T10:00:00Z", &run2), RC_OK);
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_3, "john@example.com", ACC_A, "0");
	add_user("jdoe", "John", "Doe", "john@example.com", "PARTNERS", "1", NULL, NULL, "7");
	cr_assert_eq(rule_syncback(&d, &job, s, run2), RC_OK);
	cr_assert_eq(count("stage.crm_out"), 0);
	char *want = xasprintf("contact_pending|users|jdoe|-|run %lld already wrote a Contact for this"
			       " learner and the Contact export still has none whose 'Email' matches"
			       " the username; no Contact created|4|7\n", run_id);
	assert_rows(EXCEPTIONS, 7, want);
	free(want);
}

/* ---- after the people rules --------------------------------------------- */

Test(rule_syncback, user_out_row_of_the_people_rules_gets_the_sfdc_id_and_keeps_its_values)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	exec_n("INSERT INTO stage.user_out (username, action, firstname, lastname, branch_code,"
	       " active, fields, src_file, src_line) VALUES ('ann@example.com', 'update', 'Annie',"
	       " 'Lee', 'PARTNERS', 1, '{\"title\":\"CEO\"}', 1, 30)", 0);
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(USER_OUT, 12,
		    "ann@example.com|update|Annie|Lee|-|PARTNERS|1|" CON_1
		    "|-|{\"title\":\"CEO\"}|1|30\n");
	assert_rows(CHANGES, 9, "lms.users|ann@example.com|link|sfdc_id|-|" CON_1 "|4|7|R7\n");
	assert_link(CON_1, "ann@example.com", run_id, run_id);
}

Test(rule_syncback, people_rules_link_to_another_contact_is_a_conflict)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_contact(CON_2, "other@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	exec_n("INSERT INTO stage.user_out (username, action, active, sfdc_id, src_file, src_line)"
	       " VALUES ('ann@example.com', 'update', 1, ?1, 1, 30)", 1, CON_2);
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);

	assert_rows(EXCEPTIONS, 7,
		    "conflict|users|ann@example.com|" CON_1 ";" CON_2 "|the people rules link this"
		    " learner to '" CON_2 "' but Contact '" CON_1 "' matches its username; nothing"
		    " written|4|7\n");
	assert_rows("SELECT username, sfdc_id FROM stage.user_out", 2, "ann@example.com|" CON_2 "\n");
	cr_assert_eq(count("stage.crm_out") + count("links") + count("stage.changes"), 0);
}

Test(rule_syncback, people_rules_link_is_followed_when_sync_back_finds_no_other)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_2, "other@example.com", ACC_B, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	exec_n("INSERT INTO stage.user_out (username, action, active, sfdc_id, src_file, src_line)"
	       " VALUES ('ann@example.com', 'update', 1, ?1, 1, 30)", 1, CON_2);
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	/* No second Contact: the one the people rules link is moved. */
	assert_rows("SELECT op, key FROM stage.crm_out", 2, "update|" CON_2 "\n");
	cr_assert_eq(count("stage.exceptions"), 0);
}

Test(rule_syncback, unusable_match_field_is_reported_at_the_job_line)
{
	job.syncback.match_field = "Email; DROP";
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: job.xml:21: sync-back match field 'Email; DROP' is not a Contact"
			 " field name\n");
}

Test(rule_syncback, username_repeated_in_the_export_is_decided_once_from_its_first_row)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "7");
	add_user("ann@example.com", "Anna", "Leigh", NULL, "PARTNERS", "1", NULL, NULL, "8");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT username, firstname, sfdc_id, src_line FROM stage.user_out", 4,
		    "ann@example.com|Ann|" CON_1 "|7\n");
	cr_assert_eq(count("stage.changes"), 1);
}

/* The first row decides the scope too: a username whose first row is in
 * another branch is out of scope, though a later row is in it; and one
 * whose first row is in scope is in, though a later row is not. */
Test(rule_syncback, username_repeated_in_the_export_is_in_scope_by_its_first_row)
{
	add_account(ACC_A, "Acme", "0");
	add_contact(CON_1, "ann@example.com", ACC_A, "0");
	add_contact(CON_2, "bob@example.com", ACC_A, "0");
	add_user("ann@example.com", "Ann", "Lee", NULL, "CUSTOMERS", "1", NULL, NULL, "7");
	add_user("ann@example.com", "Ann", "Lee", NULL, "PARTNERS", "1", NULL, NULL, "8");
	add_user("bob@example.com", "Bob", "Ray", NULL, "PARTNERS", "1", NULL, NULL, "9");
	add_user("bob@example.com", "Bob", "Ray", NULL, "CUSTOMERS", "1", NULL, NULL, "10");
	cr_assert_eq(rule_syncback(&d, &job, s, run_id), RC_OK);
	assert_rows("SELECT username, sfdc_id, src_line FROM stage.user_out", 3,
		    "bob@example.com|" CON_2 "|9\n");
}

/* ---- user_out in username order ------------------------------------------ */

/* The LMS user rows are stored in username order whatever order they are
 * written in: the steps after the people rules read the table in that
 * order without sorting it (a scan of the table itself), and a username
 * is still written once. */
Test(rule_syncback, user_out_is_stored_in_username_order)
{
	static const char *const names[] = { "carl", "anna", "dora", "bella" };

	for (int i = 0; i < 4; i++)
		exec_n("INSERT INTO stage.user_out (username, action, firstname, sfdc_id,"
		       " force_password_change, fields, src_file, src_line)"
		       " VALUES (?1, 'create', upper(?1), NULL, 1, '{\"x\":1}', 0, length(?1))",
		       1, names[i]);
	assert_rows("SELECT username FROM stage.user_out NOT INDEXED", 1,
		    "anna\nbella\ncarl\ndora\n");
	exec_n("INSERT OR IGNORE INTO stage.user_out (username, action) VALUES ('anna', 'update')", 0);
	assert_rows("SELECT action FROM stage.user_out WHERE username = 'anna'", 1, "create\n");
	cr_assert_eq(count("stage.user_out"), 4);
}
