/* SPDX-License-Identifier: MIT */
/* Tests of rule_branch (R6): single branch, the Account hierarchy with its
 * cycles, missing parents, person accounts and codeless namesakes, and the
 * dependent picklists of fixtures/branch and of the Salesforce metadata
 * corpus. Each test stages rows into an in-memory snapshot, runs the rule,
 * and reads back stage.people, stage.branch_out, the exceptions, the
 * changes and branches_created. */
#include <criterion/criterion.h>
#include "snaptest.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "job.h"
#include "rule_branch.h"
#include "snap.h"
#include "util.h"
#include "value.h"

#define CORPUS "../shared/corpora/salesforce-metadata/gsa-sf-workspace/objects"

/* Account ids (18 characters, as the loader stores them). */
#define ACC_A "001000000000001AAA"
#define ACC_B "001000000000002AAA"
#define ACC_C "001000000000003AAA"
#define ACC_D "001000000000004AAA"

static char tmpdir[64];

/* The job the rule sees: only its input names matter (messages). */
static struct job_input inputs[3] = {
	{ .name = "crm/Account.csv" },
	{ .name = "crm/Contact.csv" },
	{ .name = "lms/branches.csv" },
};
static struct job job = { .path = "job.xml", .inputs = inputs, .ninputs = 3 };
static struct job_people pe;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void setup(void)
{
	snaptest_open("2024-05-01T10:00:00Z");
	memset(&pe, 0, sizeof pe);
	pe.source = ENT_CONTACT;
	pe.destination_branch = "CUSTOMERS";
	pe.line = 12;
	strcpy(tmpdir, "/tmp/test_rule_branch.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	snaptest_close();
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(rule_branch, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Runs a statement with up to four text parameters (NULL = SQL NULL). */
static void exec4(const char *sql, const char *a, const char *b, const char *c,
		  const char *e)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	const char *v[4] = { a, b, c, e };
	cr_assert_not_null(st, "%s", sql);
	for (int i = 0; i < 4; i++)
		if (strstr(sql, (const char[]){ '?', (char)('1' + i), 0 }))
			snap_bind_text(st, i + 1, v[i], v[i] ? strlen(v[i]) : 0);
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
}

static void add_account(const char *id, const char *name, const char *parent,
			const char *is_person, const char *line)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.stg_account (src_file, src_line, Id, Name, ParentId, IsPersonAccount)"
		" VALUES (0, ?1, ?2, ?3, ?4, ?5)");
	snap_bind_text(st, 1, line, strlen(line));
	snap_bind_text(st, 2, id, strlen(id));
	snap_bind_text(st, 3, name, strlen(name));
	snap_bind_text(st, 4, parent, parent ? strlen(parent) : 0);
	snap_bind_text(st, 5, is_person, strlen(is_person));
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
}

/* A staged Contact and its stage.people row, as rule_people_collect
 * writes it (the Contact's IsPersonAccount in is_person). */
static void add_contact(const char *id, const char *account, const char *is_person,
			const char *extra, const char *line)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.stg_contact (src_file, src_line, Id, AccountId, IsPersonAccount, extra)"
		" VALUES (1, ?1, ?2, ?3, ?4, ?5)");
	snap_bind_text(st, 1, line, strlen(line));
	snap_bind_text(st, 2, id, strlen(id));
	snap_bind_text(st, 3, account, account ? strlen(account) : 0);
	snap_bind_text(st, 4, is_person, strlen(is_person));
	snap_bind_text(st, 5, extra, extra ? strlen(extra) : 0);
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
	exec4("INSERT INTO stage.people (source, crm_id, account_id, src_file, src_line, is_person)"
	      " VALUES ('Contact', ?1, ?2, 1, ?3, ?4)", id, account, line, is_person);
}

static void add_branch(const char *code, const char *name, const char *parent,
		       const char *line)
{
	exec4("INSERT INTO stage.stg_branch (src_file, src_line, code, name, parent_code)"
	      " VALUES (2, ?4, ?1, ?2, ?3)", code, name, parent, line);
}

#define PEOPLE "SELECT crm_id, branch_code, is_rejected FROM stage.people ORDER BY crm_id"
#define BRANCHES "SELECT code, name, parent_code, depth, origin, origin_key, is_new" \
	" FROM stage.branch_out ORDER BY depth, code"
#define EXCEPTIONS "SELECT kind, entity, key, candidates, reason, src_file, src_line" \
	" FROM stage.exceptions ORDER BY rowid"

/* ---- single ------------------------------------------------------------ */

Test(rule_branch, single_puts_everyone_not_rejected_in_the_destination)
{
	add_contact("003000000000001AAA", ACC_A, "0", NULL, "2");
	add_contact("003000000000002AAA", NULL, "0", NULL, "3");
	exec4("UPDATE stage.people SET is_rejected = 1 WHERE crm_id = ?1",
	      "003000000000002AAA", NULL, NULL, NULL);
	pe.orgchart = ORG_SINGLE;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|CUSTOMERS|0\n"
		    "003000000000002AAA|-|1\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out"), 0);
	cr_assert_str_eq(printed(), "");
}

/* ---- accounts ---------------------------------------------------------- */

Test(rule_branch, accounts_nest_three_levels_with_parents_first)
{
	add_account(ACC_A, "Acme Group", NULL, "0", "2");
	add_account(ACC_B, "Acme Europe", ACC_A, "0", "3");
	add_account(ACC_C, "Acme France", ACC_B, "0", "4");
	add_account(ACC_D, "Unrelated Ltd", NULL, "0", "5");
	add_contact("003000000000001AAA", ACC_C, "0", NULL, "2");
	add_contact("003000000000002AAA", ACC_B, "0", NULL, "3");
	add_contact("003000000000003AAA", NULL, "0", NULL, "4");
	add_contact("003000000000004AAA", ACC_A, "0", NULL, "5");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);

	assert_rows(BRANCHES, 7,
		    "SF-" ACC_A "|Acme Group|CUSTOMERS|1|account|" ACC_A "|1\n"
		    "SF-" ACC_B "|Acme Europe|SF-" ACC_A "|2|account|" ACC_B "|1\n"
		    "SF-" ACC_C "|Acme France|SF-" ACC_B "|3|account|" ACC_C "|1\n");
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|SF-" ACC_C "|0\n"
		    "003000000000002AAA|SF-" ACC_B "|0\n"
		    "003000000000003AAA|CUSTOMERS|0\n"
		    "003000000000004AAA|SF-" ACC_A "|0\n");
	assert_rows("SELECT entity, key, action, after, src_file, src_line, rule FROM stage.changes"
		    " ORDER BY rowid", 7,
		    "lms.branches|SF-" ACC_A "|create|Acme Group|0|2|R6\n"
		    "lms.branches|SF-" ACC_B "|create|Acme Europe|0|3|R6\n"
		    "lms.branches|SF-" ACC_C "|create|Acme France|0|4|R6\n");
	char *want = xasprintf("SF-" ACC_A "|CUSTOMERS|account|%lld\n"
			       "SF-" ACC_B "|SF-" ACC_A "|account|%lld\n"
			       "SF-" ACC_C "|SF-" ACC_B "|account|%lld\n", run_id, run_id, run_id);
	assert_rows("SELECT code, parent_code, origin, run_id FROM branches_created ORDER BY code",
		    4, want);
	free(want);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.exceptions"), 0);
}

Test(rule_branch, parent_id_exported_in_15_characters_nests_like_the_18_character_id)
{
	char parent18[19];
	/* The Account export lists the parent with its 18-character Id; the
	 * child's ParentId came as 15 characters and the loader converted it. */
	cr_assert_eq(value_sfid18("0015g00000AbCdE", 15, parent18), 0);
	cr_assert_str_eq(parent18, "0015g00000AbCdEAAV");
	add_account("0015g00000AbCdEAAV", "Parent Co", NULL, "0", "2");
	add_account(ACC_B, "Child Co", parent18, "0", "3");
	add_contact("003000000000001AAA", ACC_B, "0", NULL, "2");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows("SELECT code, parent_code, depth FROM stage.branch_out ORDER BY depth", 3,
		    "SF-0015g00000AbCdEAAV|CUSTOMERS|1\n"
		    "SF-" ACC_B "|SF-0015g00000AbCdEAAV|2\n");
}

Test(rule_branch, account_cycle_rejects_contacts_in_and_under_it_naming_every_id)
{
	add_account(ACC_A, "Alpha", ACC_B, "0", "2");
	add_account(ACC_B, "Beta", ACC_A, "0", "3");
	add_account(ACC_C, "Gamma", ACC_B, "0", "4");
	add_contact("003000000000001AAA", ACC_B, "0", NULL, "7");
	add_contact("003000000000002AAA", ACC_C, "0", NULL, "8");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|-|1\n"
		    "003000000000002AAA|-|1\n");
	assert_rows(EXCEPTIONS, 7,
		    "account_cycle|Contact|003000000000001AAA|" ACC_A ";" ACC_B "|"
		    "the Account hierarchy above Account '" ACC_B "' has a cycle: '" ACC_A "' -> '"
		    ACC_B "' -> '" ACC_A "', so the contact's place in the tree is unknown|1|7\n"
		    "account_cycle|Contact|003000000000002AAA|" ACC_A ";" ACC_B "|"
		    "the Account hierarchy above Account '" ACC_C "' has a cycle: '" ACC_A "' -> '"
		    ACC_B "' -> '" ACC_A "', so the contact's place in the tree is unknown|1|8\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out"), 0);
}

Test(rule_branch, missing_parent_rejects_the_contact_naming_both_ids)
{
	add_account(ACC_B, "Beta", ACC_D, "0", "3");
	add_account(ACC_C, "Gamma", ACC_B, "0", "4");
	add_contact("003000000000001AAA", ACC_C, "0", NULL, "5");
	add_contact("003000000000002AAA", ACC_A, "0", NULL, "6");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "account_missing|Contact|003000000000001AAA|" ACC_B ";" ACC_D "|"
		    "the parent '" ACC_D "' of Account '" ACC_B "' is not in the Account export,"
		    " so the contact's place in the tree is unknown|1|5\n"
		    "account_missing|Contact|003000000000002AAA|" ACC_A "|"
		    "Account '" ACC_A "' of the contact is not in the Account export,"
		    " so its place in the tree is unknown|1|6\n");
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|-|1\n"
		    "003000000000002AAA|-|1\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out"), 0);
}

Test(rule_branch, person_accounts_are_rejected_by_account_or_contact_flag)
{
	add_account(ACC_A, "Jane Doe", NULL, "1", "2");
	add_account(ACC_B, "Acme", NULL, "0", "3");
	add_contact("003000000000001AAA", ACC_A, "0", NULL, "2");
	add_contact("003000000000002AAA", ACC_B, "1", NULL, "3");
	add_contact("003000000000003AAA", ACC_B, "0", NULL, "4");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(EXCEPTIONS, 7,
		    "person_account|Contact|003000000000001AAA|" ACC_A "|Account '" ACC_A
		    "' is a Person Account: person accounts are not supported|1|2\n"
		    "person_account|Contact|003000000000002AAA|" ACC_B "|Account '" ACC_B
		    "' is a Person Account: person accounts are not supported|1|3\n");
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|-|1\n"
		    "003000000000002AAA|-|1\n"
		    "003000000000003AAA|SF-" ACC_B "|0\n");
	assert_rows("SELECT code FROM stage.branch_out", 1, "SF-" ACC_B "\n");
}

Test(rule_branch, codeless_branch_with_the_account_name_sends_contacts_to_destination)
{
	add_branch("CUSTOMERS", "Customers", NULL, "2");
	add_branch(NULL, "Acme Europe", "CUSTOMERS", "4");
	add_account(ACC_A, "Acme Group", NULL, "0", "2");
	add_account(ACC_B, "Acme Europe", ACC_A, "0", "3");
	add_account(ACC_C, "Acme France", ACC_B, "0", "4");
	add_contact("003000000000001AAA", ACC_B, "0", NULL, "2");
	add_contact("003000000000002AAA", ACC_C, "0", NULL, "3");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	cr_assert_str_eq(printed(),
		"lmsrecon: lms/branches.csv:4: warning: branch 'Acme Europe' has no code, so it is"
		" not used for Account '" ACC_B "': the Account's contacts go to destination"
		" branch 'CUSTOMERS'\n");
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|CUSTOMERS|0\n"
		    "003000000000002AAA|SF-" ACC_C "|0\n");
	/* Acme Europe gets no branch; its child Account sits under the
	 * destination, and Acme Group, above it, still gets its branch. */
	assert_rows("SELECT code, parent_code, depth FROM stage.branch_out ORDER BY depth, code", 3,
		    "SF-" ACC_A "|CUSTOMERS|1\n"
		    "SF-" ACC_C "|CUSTOMERS|1\n");
	assert_rows("SELECT kind, entity, key, candidates, src_file, src_line FROM stage.exceptions",
		    6, "branch_without_code|branches|Acme Europe|" ACC_B "|2|4\n");
}

Test(rule_branch, branch_already_in_the_lms_is_not_new)
{
	add_branch("SF-" ACC_A, "Acme Group", "CUSTOMERS", "3");
	add_branch(NULL, "Acme Group", "CUSTOMERS", "4");
	add_account(ACC_A, "Acme Group", NULL, "0", "2");
	add_account(ACC_B, "Acme Europe", ACC_A, "0", "3");
	add_contact("003000000000001AAA", ACC_B, "0", NULL, "2");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	/* The LMS has our code, so its codeless namesake does not matter. */
	cr_assert_str_eq(printed(), "");
	assert_rows("SELECT code, is_new FROM stage.branch_out ORDER BY depth", 2,
		    "SF-" ACC_A "|0\n"
		    "SF-" ACC_B "|1\n");
	assert_rows("SELECT key FROM stage.changes", 1, "SF-" ACC_B "\n");
	assert_rows("SELECT code FROM branches_created", 1, "SF-" ACC_B "\n");
}

Test(rule_branch, codeless_namesakes_warn_in_the_order_contacts_reach_them)
{
	add_branch("CUSTOMERS", "Customers", NULL, "2");
	add_branch(NULL, "Alpha", "CUSTOMERS", "3");
	add_branch(NULL, "Beta", "CUSTOMERS", "4");
	add_branch(NULL, "Delta", "CUSTOMERS", "5");
	add_account(ACC_A, "Alpha", NULL, "0", "2");
	add_account(ACC_B, "Beta", ACC_A, "0", "3");
	add_account(ACC_C, "Gamma", ACC_B, "0", "4");
	add_account(ACC_D, "Delta", NULL, "0", "5");
	/* Input order: D first, then C (walking up to B, then A), then B
	 * again, which warns no more. */
	add_contact("003000000000009AAA", ACC_D, "0", NULL, "2");
	add_contact("003000000000001AAA", ACC_C, "0", NULL, "3");
	add_contact("003000000000005AAA", ACC_B, "0", NULL, "4");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	cr_assert_str_eq(printed(),
		"lmsrecon: lms/branches.csv:5: warning: branch 'Delta' has no code, so it is"
		" not used for Account '" ACC_D "': the Account's contacts go to destination"
		" branch 'CUSTOMERS'\n"
		"lmsrecon: lms/branches.csv:4: warning: branch 'Beta' has no code, so it is"
		" not used for Account '" ACC_B "': the Account's contacts go to destination"
		" branch 'CUSTOMERS'\n"
		"lmsrecon: lms/branches.csv:3: warning: branch 'Alpha' has no code, so it is"
		" not used for Account '" ACC_A "': the Account's contacts go to destination"
		" branch 'CUSTOMERS'\n");
	assert_rows("SELECT key, candidates, src_line FROM stage.exceptions ORDER BY rowid", 3,
		    "Delta|" ACC_D "|5\n"
		    "Beta|" ACC_B "|4\n"
		    "Alpha|" ACC_A "|3\n");
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|SF-" ACC_C "|0\n"
		    "003000000000005AAA|CUSTOMERS|0\n"
		    "003000000000009AAA|CUSTOMERS|0\n");
	assert_rows("SELECT code, parent_code, depth FROM stage.branch_out", 3,
		    "SF-" ACC_C "|CUSTOMERS|1\n");
}

Test(rule_branch, first_row_of_a_duplicated_account_id_wins)
{
	add_account(ACC_A, "First Name", NULL, "0", "2");
	add_account(ACC_A, "Second Name", ACC_D, "1", "3");
	add_contact("003000000000001AAA", ACC_A, "0", NULL, "2");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3, "003000000000001AAA|SF-" ACC_A "|0\n");
	assert_rows("SELECT code, name, parent_code, depth FROM stage.branch_out", 4,
		    "SF-" ACC_A "|First Name|CUSTOMERS|1\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.exceptions"), 0);
}

Test(rule_branch, account_that_is_its_own_parent_is_a_cycle)
{
	add_account(ACC_A, "Alpha", ACC_A, "0", "2");
	add_account(ACC_B, "Beta", ACC_A, "0", "3");
	add_contact("003000000000001AAA", ACC_B, "0", NULL, "2");
	add_contact("003000000000002AAA", ACC_A, "0", NULL, "3");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows("SELECT key, candidates, reason FROM stage.exceptions ORDER BY rowid", 3,
		    "003000000000001AAA|" ACC_A "|the Account hierarchy above Account '" ACC_B
		    "' has a cycle: '" ACC_A "' -> '" ACC_A "', so the contact's place in the tree"
		    " is unknown\n"
		    "003000000000002AAA|" ACC_A "|the Account hierarchy above Account '" ACC_A
		    "' has a cycle: '" ACC_A "' -> '" ACC_A "', so the contact's place in the tree"
		    " is unknown\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out"), 0);
}

Test(rule_branch, accounts_no_contact_sits_under_raise_nothing)
{
	add_branch(NULL, "Delta", "CUSTOMERS", "2");
	add_account(ACC_A, "Alpha", ACC_B, "0", "2");  /* a cycle */
	add_account(ACC_B, "Beta", ACC_A, "0", "3");
	add_account(ACC_C, "Gamma", "001000000000009AAA", "0", "4"); /* parent missing */
	add_account(ACC_D, "Delta", NULL, "0", "5");  /* a codeless namesake */
	add_account("001000000000005AAA", "Epsilon", NULL, "0", "6");
	add_contact("003000000000001AAA", "001000000000005AAA", "0", NULL, "2");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	cr_assert_str_eq(printed(), "");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.exceptions"), 0);
	assert_rows("SELECT code, depth FROM stage.branch_out", 2, "SF-001000000000005AAA|1\n");
}

/* R5: an incremental run leaves alone the people not modified since the
 * last run. They are not placed (nothing reads their branch), but they are
 * still checked and their Accounts' branches still listed, as a full run
 * does. */
Test(rule_branch, people_an_incremental_run_leaves_alone_are_checked_but_not_placed)
{
	add_account(ACC_A, "Acme Group", NULL, "0", "2");
	add_account(ACC_B, "Acme Europe", ACC_A, "0", "3");
	add_account(ACC_C, "Acme France", ACC_A, "0", "4");
	add_contact("003000000000001AAA", ACC_C, "0", NULL, "2");
	add_contact("003000000000002AAA", ACC_B, "0", NULL, "3");
	add_contact("003000000000003AAA", ACC_D, "0", NULL, "4");
	add_contact("003000000000004AAA", NULL, "0", NULL, "5");
	exec4("UPDATE stage.people SET is_unchanged = 1 WHERE crm_id <> ?1",
	      "003000000000001AAA", NULL, NULL, NULL);
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|SF-" ACC_C "|0\n"
		    "003000000000002AAA|-|0\n"
		    "003000000000003AAA|-|1\n"
		    "003000000000004AAA|-|0\n");
	assert_rows("SELECT kind, key FROM stage.exceptions ORDER BY rowid", 2,
		    "account_missing|003000000000003AAA\n");
	assert_rows("SELECT code, parent_code FROM stage.branch_out ORDER BY depth, code", 2,
		    "SF-" ACC_A "|CUSTOMERS\n"
		    "SF-" ACC_B "|SF-" ACC_A "\n"
		    "SF-" ACC_C "|SF-" ACC_A "\n");
}

Test(rule_branch, single_leaves_the_people_an_incremental_run_leaves_alone_unplaced)
{
	add_contact("003000000000001AAA", NULL, "0", NULL, "2");
	add_contact("003000000000002AAA", NULL, "0", NULL, "3");
	exec4("UPDATE stage.people SET is_unchanged = 1 WHERE crm_id = ?1",
	      "003000000000002AAA", NULL, NULL, NULL);
	pe.orgchart = ORG_SINGLE;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|CUSTOMERS|0\n"
		    "003000000000002AAA|-|0\n");
}

/* Account i of a chain: "001000000C" and five digits, then "AAA". */
static void chain_id(char id[19], int i)
{
	snprintf(id, 19, "001000000C%05dAAA", i);
}

Test(rule_branch, deep_chain_nests_every_level_under_its_parent)
{
	enum { LEVELS = 300 };
	char id[19], parent[19], line[16];
	struct buf want = BUF_INIT;

	for (int i = 0; i < LEVELS; i++) {
		chain_id(id, i);
		chain_id(parent, i - 1);
		snprintf(line, sizeof line, "%d", i + 2);
		add_account(id, id, i ? parent : NULL, "0", line);
	}
	chain_id(id, LEVELS - 1);
	add_contact("003000000000001AAA", id, "0", NULL, "2");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	for (int i = 0; i < LEVELS; i++) {
		chain_id(id, i);
		chain_id(parent, i - 1);
		buf_addf(&want, "SF-%s|%s%s|%d\n", id, i ? "SF-" : "", i ? parent : "CUSTOMERS", i + 1);
	}
	assert_rows("SELECT code, parent_code, depth FROM stage.branch_out ORDER BY depth", 3, want.buf);
	buf_release(&want);
	chain_id(id, LEVELS - 1);
	assert_rows(PEOPLE, 3, "003000000000001AAA|SF-001000000C00299AAA|0\n");
}

Test(rule_branch, cycle_at_the_top_of_a_deep_chain_rejects_its_contacts)
{
	enum { LEVELS = 100 };
	char id[19], parent[19], line[16];

	for (int i = 0; i < LEVELS; i++) {
		chain_id(id, i);
		chain_id(parent, i ? i - 1 : LEVELS - 1);
		snprintf(line, sizeof line, "%d", i + 2);
		add_account(id, id, parent, "0", line);
	}
	chain_id(parent, 0);
	add_account(ACC_A, "Below", parent, "0", "200");
	add_contact("003000000000001AAA", ACC_A, "0", NULL, "2");
	add_contact("003000000000002AAA", "001000000C00050AAA", "0", NULL, "3");
	pe.orgchart = ORG_ACCOUNTS;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK);
	assert_rows(PEOPLE, 3,
		    "003000000000001AAA|-|1\n"
		    "003000000000002AAA|-|1\n");
	/* Every id of the cycle, and the cycle from its smallest id upwards. */
	assert_rows("SELECT kind, substr(candidates, 1, 37), length(candidates),"
		    " substr(reason, 1, instr(reason, ' -> ') + 23) FROM stage.exceptions ORDER BY rowid", 4,
		    "account_cycle|001000000C00000AAA;001000000C00001AAA|1899|"
		    "the Account hierarchy above Account '" ACC_A "' has a cycle:"
		    " '001000000C00000AAA' -> '001000000C00099AAA'\n"
		    "account_cycle|001000000C00000AAA;001000000C00001AAA|1899|"
		    "the Account hierarchy above Account '001000000C00050AAA' has a cycle:"
		    " '001000000C00000AAA' -> '001000000C00099AAA'\n");
}

Test(rule_branch, accounts_mode_is_for_contacts_only)
{
	pe.orgchart = ORG_ACCOUNTS;
	pe.source = ENT_CRM_USER;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_CONFIG);
	cr_assert_str_eq(printed(),
		"lmsrecon: job.xml:12: org chart 'accounts' is for the 'Contact' source only, not 'User'\n");
}

/* ---- picklists --------------------------------------------------------- */

static char *fixture_meta[3] = {
	"fixtures/branch/Region__c.field-meta.xml",
	"fixtures/branch/Country__c.field-meta.xml",
	"fixtures/branch/City__c.field-meta.xml",
};

/* Branches by value path: origin_key, name, parent's origin_key (or the
 * destination), depth. */
#define PICKLIST_TREE "SELECT o.origin_key, o.name, coalesce(p.origin_key, o.parent_code), o.depth" \
	" FROM stage.branch_out o LEFT JOIN stage.branch_out p ON p.code = o.parent_code" \
	" ORDER BY o.depth, o.origin_key"

/* Every branch_out code is the code of its value path. */
static void assert_codes_follow_paths(void)
{
	struct snap_stmt *st = snap_prepare(s, "SELECT code, origin_key FROM stage.branch_out");
	while (snap_step(st) == 1) {
		char code[RULE_BRANCH_CODE_MAX];
		rule_branch_picklist_code(snap_col_text(st, 1), code);
		cr_assert_str_eq(snap_col_text(st, 0), code);
	}
	snap_finalize(st);
}

/* The branch code of a value path. */
static const char *code_of(const char *key)
{
	static char code[RULE_BRANCH_CODE_MAX];
	rule_branch_picklist_code(key, code);
	return code;
}

Test(rule_branch, picklist_code_is_the_sha256_of_the_value_path)
{
	char code[RULE_BRANCH_CODE_MAX];
	/* printf 'Contact.Region__c:EMEA' | sha256sum */
	rule_branch_picklist_code("Contact.Region__c:EMEA", code);
	cr_assert_str_eq(code, "PL-908D8EB16F1113AF756A");
	rule_branch_account_code(ACC_A, code);
	cr_assert_str_eq(code, "SF-" ACC_A);
}

Test(rule_branch, picklist_three_levels_follow_value_settings)
{
	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Region__c";
	pe.picklist_meta = fixture_meta;
	pe.npicklist_meta = 3;
	add_branch(code_of("Contact.Region__c:EMEA"), "EMEA", "CUSTOMERS", "5");
	add_contact("003000000000001AAA", NULL, "0",
		    "{\"Region__c\":\"EMEA\",\"Country__c\":\"France\",\"City__c\":\"Paris\"}", "2");
	add_contact("003000000000002AAA", NULL, "0",
		    "{\"Region__c\":\"EMEA\",\"Country__c\":\"France\"}", "3");
	add_contact("003000000000003AAA", NULL, "0",
		    "{\"Region__c\":\"AMER\",\"Country__c\":\"Remote\"}", "4");
	add_contact("003000000000004AAA", NULL, "0", "{\"Region__c\":\"EMEA\"}", "5");
	add_contact("003000000000005AAA", NULL, "0", "{}", "6");
	add_contact("003000000000006AAA", NULL, "0", "{\"Region__c\":\"APAC\"}", "7");
	add_contact("003000000000007AAA", NULL, "0",
		    "{\"Region__c\":\"AMER\",\"Country__c\":\"Germany\"}", "8");
	add_contact("003000000000008AAA", NULL, "0",
		    "{\"Region__c\":\"EMEA\",\"Country__c\":\"France\",\"City__c\":\"Lyon/Villeurbanne\"}", "9");
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK, "%s", printed());
	cr_assert_str_eq(printed(), "");

	/* APAC is inactive and Atlantis is under no Region: no branches.
	 * Remote sits under both EMEA and AMER. */
	assert_rows(PICKLIST_TREE, 4,
		    "Contact.Region__c:AMER|Americas|CUSTOMERS|1\n"
		    "Contact.Region__c:EMEA|Europe, Middle East & Africa|CUSTOMERS|1\n"
		    "Contact.Region__c:AMER/Canada|Canada|Contact.Region__c:AMER|2\n"
		    "Contact.Region__c:AMER/Remote|Remote workers|Contact.Region__c:AMER|2\n"
		    "Contact.Region__c:EMEA/France|France|Contact.Region__c:EMEA|2\n"
		    "Contact.Region__c:EMEA/Germany|Germany|Contact.Region__c:EMEA|2\n"
		    "Contact.Region__c:EMEA/Remote|Remote workers|Contact.Region__c:EMEA|2\n"
		    "Contact.Region__c:AMER/Canada/Toronto|Toronto|Contact.Region__c:AMER/Canada|3\n"
		    "Contact.Region__c:EMEA/France/Lyon\\/Villeurbanne|Lyon and Villeurbanne|Contact.Region__c:EMEA/France|3\n"
		    "Contact.Region__c:EMEA/France/Paris|Paris|Contact.Region__c:EMEA/France|3\n");
	assert_codes_follow_paths();
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out WHERE is_new = 0"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.changes"), 9);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM branches_created WHERE origin = 'picklist'"), 9);

	char *want = xasprintf(
		"003000000000001AAA|%s\n", code_of("Contact.Region__c:EMEA/France/Paris"));
	assert_rows("SELECT crm_id, branch_code FROM stage.people WHERE crm_id = '003000000000001AAA'", 2, want);
	free(want);
	assert_rows("SELECT p.crm_id, coalesce(o.origin_key, p.branch_code) FROM stage.people p"
		    " LEFT JOIN stage.branch_out o ON o.code = p.branch_code ORDER BY p.crm_id", 2,
		    "003000000000001AAA|Contact.Region__c:EMEA/France/Paris\n"
		    "003000000000002AAA|Contact.Region__c:EMEA/France\n"
		    "003000000000003AAA|Contact.Region__c:AMER/Remote\n"
		    "003000000000004AAA|Contact.Region__c:EMEA\n"
		    "003000000000005AAA|CUSTOMERS\n"
		    "003000000000006AAA|CUSTOMERS\n"
		    "003000000000007AAA|CUSTOMERS\n"
		    "003000000000008AAA|Contact.Region__c:EMEA/France/Lyon\\/Villeurbanne\n");
	assert_rows(EXCEPTIONS, 7,
		    "picklist_value_unknown|Contact|003000000000006AAA|-|value 'APAC' of 'Region__c'"
		    " is not in the picklist: the user goes to destination branch 'CUSTOMERS'|1|7\n"
		    "picklist_value_unknown|Contact|003000000000007AAA|-|value 'Germany' of 'Country__c'"
		    " is not in the picklist under 'AMER': the user goes to destination branch 'CUSTOMERS'|1|8\n");
}

Test(rule_branch, global_value_set_beside_the_field_is_read)
{
	char *meta[1] = { "fixtures/branch/Tier__c.field-meta.xml" };
	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Tier__c";
	pe.picklist_meta = meta;
	pe.npicklist_meta = 1;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK, "%s", printed());
	assert_rows(PICKLIST_TREE, 4,
		    "Contact.Tier__c:Gold|Gold partners|CUSTOMERS|1\n"
		    "Contact.Tier__c:Silver|Silver partners|CUSTOMERS|1\n");
}

/* Writes `text` to <tmpdir>/<name> and returns the path (caller frees). */
static char *write_tmp(const char *name, const char *text)
{
	char *p = path_join(tmpdir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

#define FIELD_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<CustomField xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"

Test(rule_branch, orphaned_picklist_branch_is_reported_while_the_lms_has_it)
{
	char *v1 = write_tmp("Level__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Level__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet><valueSetDefinition>\n"
		"        <value><fullName>Gold</fullName></value>\n"
		"        <value><fullName>Bronze</fullName></value>\n"
		"        <value><fullName>Tin</fullName></value>\n"
		"    </valueSetDefinition></valueSet>\n</CustomField>\n");
	char *meta[1] = { v1 };
	long long run2;

	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Level__c";
	pe.picklist_meta = meta;
	pe.npicklist_meta = 1;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK, "%s", printed());
	cr_assert_eq(snap_run_commit(s, "2024-05-01T10:01:00Z", "{}"), RC_OK);

	/* Bronze and Tin leave the picklist; the LMS still has Bronze. */
	free(write_tmp("Level__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Level__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet><valueSetDefinition>\n"
		"        <value><fullName>Gold</fullName></value>\n"
		"    </valueSetDefinition></valueSet>\n</CustomField>\n"));
	cr_assert_eq(snap_run_begin(s, "full", "2024-05-02T10:00:00Z", &run2), RC_OK);
	add_branch(code_of("Contact.Level__c:Gold"), "Gold", "CUSTOMERS", "3");
	add_branch(code_of("Contact.Level__c:Bronze"), "Bronze", "CUSTOMERS", "4");
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run2), RC_OK, "%s", printed());

	char *want = xasprintf("orphaned_branch|branches|%s|-|branch 'Bronze' was made for picklist"
			       " value path 'Contact.Level__c:Bronze', which the picklist no longer"
			       " has: it is kept, delete it in the LMS if it is no longer wanted|-|-\n",
			       code_of("Contact.Level__c:Bronze"));
	assert_rows(EXCEPTIONS, 7, want);
	free(want);
	assert_rows("SELECT origin_key, is_new FROM stage.branch_out", 2, "Contact.Level__c:Gold|0\n");
	free(v1);
}

Test(rule_branch, real_three_level_dependent_chain_from_the_corpus)
{
	char *meta[3] = {
		CORPUS "/NCMT_Project__c/fields/Estimate_Type_Proj__c.field-meta.xml",
		CORPUS "/NCMT_Project__c/fields/Project_Phases__c.field-meta.xml",
		CORPUS "/NCMT_Project__c/fields/Project_SubPhases__c.field-meta.xml",
	};
	if (access(meta[0], R_OK) != 0)
		cr_skip("corpus not present");
	pe.source = ENT_CUSTOM;
	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Estimate_Type_Proj__c";
	pe.picklist_meta = meta;
	pe.npicklist_meta = 3;
	exec4("INSERT INTO stage.stg_custom (src_file, src_line, Id, extra) VALUES (1, 2, ?1, ?2)",
	      "a00000000000001AAA",
	      "{\"Estimate_Type_Proj__c\":\"Definitive Estimating\",\"Project_Phases__c\":\"Planning\"}",
	      NULL, NULL);
	exec4("INSERT INTO stage.people (source, crm_id, src_file, src_line)"
	      " VALUES ('custom', ?1, 1, 2)", "a00000000000001AAA", NULL, NULL, NULL);
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK, "%s", printed());

	assert_rows("SELECT name FROM stage.branch_out WHERE depth = 1 ORDER BY name", 1,
		    "Definitive Estimating\nParametric\n");
	/* Project_Phases__c maps four values to 'Definitive Estimating' only;
	 * 'Pre-Planning' and 'Planning' sit under no value, so get no branch. */
	assert_rows("SELECT o.name FROM stage.branch_out o JOIN stage.branch_out p"
		    " ON p.code = o.parent_code WHERE o.depth = 2 AND p.name = 'Definitive Estimating'"
		    " ORDER BY o.name", 1,
		    "Close-Out\nConstruction\nDesign\nProcurement\n");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out WHERE depth = 2"), 4);
	/* Sub-phases under the placed phases: six under Design, one each under
	 * Close-Out, Construction and Procurement. */
	assert_rows("SELECT p.name, count(*) FROM stage.branch_out o JOIN stage.branch_out p"
		    " ON p.code = o.parent_code WHERE o.depth = 3 GROUP BY p.name ORDER BY p.name", 2,
		    "Close-Out|1\nConstruction|1\nDesign|6\nProcurement|1\n");
	assert_codes_follow_paths();
	assert_rows("SELECT kind, key, reason FROM stage.exceptions", 3,
		    "picklist_value_unknown|a00000000000001AAA|value 'Planning' of 'Project_Phases__c'"
		    " is not in the picklist under 'Definitive Estimating': the user goes to"
		    " destination branch 'CUSTOMERS'\n");
	assert_rows("SELECT branch_code FROM stage.people", 1, "CUSTOMERS\n");
}

Test(rule_branch, real_global_value_sets_are_found_in_the_project_folder)
{
	char *meta[2] = {
		CORPUS "/NCMT_Housing_Plan_Option_Template__c/fields/Type__c.field-meta.xml",
		CORPUS "/NCMT_Housing_Plan_Option_Template__c/fields/Sub_Type__c.field-meta.xml",
	};
	if (access(meta[0], R_OK) != 0)
		cr_skip("corpus not present");
	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Type__c";
	pe.picklist_meta = meta;
	pe.npicklist_meta = 2;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), RC_OK, "%s", printed());
	assert_rows(PICKLIST_TREE, 4,
		    "Contact.Type__c:Moving Costs|Moving Costs|CUSTOMERS|1\n"
		    "Contact.Type__c:Moving Costs/Acquisition|Acquisition|Contact.Type__c:Moving Costs|2\n"
		    "Contact.Type__c:Moving Costs/Move In|Move In|Contact.Type__c:Moving Costs|2\n"
		    "Contact.Type__c:Moving Costs/Move Out|Move Out|Contact.Type__c:Moving Costs|2\n");
}

/* ---- picklist metadata errors ------------------------------------------ */

/* Runs the rule on one or two metadata files written to tmpdir and
 * asserts the code and the whole message: "lmsrecon: " + tmpdir + want_tail. */
static void assert_meta_error(const char *name1, const char *text1, const char *name2,
			      const char *text2, enum rc want_rc, const char *want_tail)
{
	char *p1 = write_tmp(name1, text1);
	char *p2 = name2 ? write_tmp(name2, text2) : NULL;
	char *meta[2] = { p1, p2 };
	char *want = xasprintf("lmsrecon: %s%s", tmpdir, want_tail);

	pe.orgchart = ORG_PICKLIST;
	pe.picklist_field = "Region__c";
	pe.picklist_meta = meta;
	pe.npicklist_meta = name2 ? 2 : 1;
	cr_assert_eq(rule_branch_assign(&d, &job, &pe, s, run_id), want_rc, "%s", printed());
	cr_assert_str_eq(printed(), want);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.branch_out"), 0);
	free(want);
	free(p1);
	free(p2);
}

Test(rule_branch, doctype_in_metadata_is_refused)
{
	assert_meta_error("Region__c.field-meta.xml",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE x [ <!ENTITY a \"aaaa\"> ]>\n"
		"<CustomField><fullName>&a;</fullName></CustomField>\n", NULL, NULL, RC_CONFIG,
		"/Region__c.field-meta.xml:2: a DOCTYPE is not allowed in a metadata file\n");
}

Test(rule_branch, malformed_metadata_reports_line_and_column)
{
	assert_meta_error("Region__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Region__c</fullName>\n    <type>Picklist</oops>\n</CustomField>\n",
		NULL, NULL, RC_CONFIG,
		"/Region__c.field-meta.xml:4:26: malformed XML: opening and ending tag"
		" mismatch: type line 4 and oops\n");
}

Test(rule_branch, dependent_field_controlled_by_another_field_is_refused)
{
	assert_meta_error("Region__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Region__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet><valueSetDefinition><value><fullName>EMEA</fullName></value>"
		"</valueSetDefinition></valueSet>\n</CustomField>\n",
		"Country__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Country__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet>\n        <controllingField>Division__c</controllingField>\n"
		"    </valueSet>\n</CustomField>\n", RC_CONFIG,
		"/Country__c.field-meta.xml:6: field 'Country__c' is controlled by"
		" 'Division__c', not by 'Region__c', the field before it\n");
}

Test(rule_branch, global_value_set_that_cannot_be_found_is_unsupported)
{
	assert_meta_error("Region__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Region__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet>\n        <valueSetName>Regions</valueSetName>\n"
		"    </valueSet>\n</CustomField>\n", NULL, NULL, RC_CONFIG,
		"/Region__c.field-meta.xml:6: field 'Region__c' uses global value set"
		" 'Regions', which is not supported unless 'Regions.globalValueSet-meta.xml' is"
		" beside the field or in the project's globalValueSets folder\n");
}

Test(rule_branch, multi_select_picklist_is_refused)
{
	assert_meta_error("Region__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Region__c</fullName>\n    <type>MultiselectPicklist</type>\n"
		"</CustomField>\n", NULL, NULL, RC_CONFIG,
		"/Region__c.field-meta.xml:4: field 'Region__c' is a multi-select"
		" picklist: a user can be in one branch only\n");
}

Test(rule_branch, first_file_must_describe_the_org_chart_field)
{
	assert_meta_error("Country__c.field-meta.xml", FIELD_HEAD
		"    <fullName>Country__c</fullName>\n    <type>Picklist</type>\n"
		"    <valueSet/>\n</CustomField>\n", NULL, NULL, RC_CONFIG,
		"/Country__c.field-meta.xml:2: field 'Country__c' is not the org chart"
		" field 'Region__c'\n");
}
