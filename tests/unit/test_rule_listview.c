/* SPDX-License-Identifier: MIT */
/* Tests of R4, list views: parsing and refusals (with the whole message and
 * its position), the column-name translation, every operation on records
 * on both sides of it, comma lists, checkboxes, booleanFilter, the Account
 * join, and every real list view of the shared corpus. Each test stages
 * records in an in-memory snapshot and reads stage.people.in_view back. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "entity.h"
#include "rule_listview.h"
#include "snap.h"
#include "util.h"

#define CORPUS "../shared/corpora/salesforce-metadata"

static char tmpdir[64];     /* this test's directory */
static FILE *diag_out;      /* the memstream every diag writes to */
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct snap *s;      /* in-memory snapshot with a run begun */
static struct rule_listview *lv;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void setup(void)
{
	long long id;

	strcpy(tmpdir, "/tmp/test_lv.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	cr_assert_eq(snap_open(&d, "mem.db", SNAP_MEMORY | SNAP_CREATE, &s), RC_OK);
	cr_assert_eq(snap_run_begin(s, "check", "2026-03-01T00:00:00Z", &id), RC_OK);
	lv = NULL;
}

static void teardown(void)
{
	rule_listview_free(lv);
	snap_close(s);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(rule_listview, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Forgets what was printed so far. */
static void reset_printed(void)
{
	fclose(diag_out);
	free(diag_buf);
	diag_buf = NULL;
	diag_out = open_memstream(&diag_buf, &diag_len);
	d.out = diag_out;
}

/* ---- list views written by the tests ---- */

/* One filter line item; value NULL leaves the <value> element out. */
struct filt {
	const char *field, *op, *value;
};

/* Writes `text` to <tmpdir>/<name>; returns the path (caller frees). */
static char *write_file(const char *name, const char *text)
{
	char *path = path_join(tmpdir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* A list view file in the layout Salesforce writes: line 1 the XML
 * declaration, 2 <ListView>, 3 fullName, 4 booleanFilter (when given), then
 * filterScope and five lines per filter. Returns its path (caller frees). */
static char *write_lv(const char *scope, const char *boolean_filter,
		      const struct filt *f, size_t n)
{
	struct buf b = BUF_INIT;
	char *path;

	buf_init(&b);
	buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<ListView xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"
		 "    <fullName>Test</fullName>\n");
	if (boolean_filter)
		buf_addf(&b, "    <booleanFilter>%s</booleanFilter>\n", boolean_filter);
	buf_addf(&b, "    <filterScope>%s</filterScope>\n", scope);
	for (size_t i = 0; i < n; i++) {
		buf_addf(&b, "    <filters>\n        <field>%s</field>\n"
			 "        <operation>%s</operation>\n", f[i].field, f[i].op);
		if (f[i].value)
			buf_addf(&b, "        <value>%s</value>\n", f[i].value);
		else
			buf_adds(&b, "        <!-- no value -->\n");
		buf_adds(&b, "    </filters>\n");
	}
	buf_adds(&b, "    <label>Test</label>\n</ListView>\n");
	path = write_file("Test.listView-meta.xml", b.buf);
	buf_release(&b);
	return path;
}

/* Opens a list view for entity `id`; returns the code. */
static enum rc open_lv(const char *path, enum entity_id id)
{
	return rule_listview_open(&d, path, "Test.listView-meta.xml", entity_get(id), &lv);
}

/* Opens a list view of one filter for Contacts, which must parse. */
static void open_one(enum entity_id id, const char *field, const char *op, const char *value)
{
	struct filt f = { field, op, value };
	char *path = write_lv("Everything", NULL, &f, 1);
	cr_assert_eq(open_lv(path, id), RC_OK, "%s", printed());
	free(path);
}

/* ---- staged records ---- */

/* A staged Contact; NULL fields are empty. */
struct contact {
	const char *id, *email, *account_id, *department, *title;
	const char *is_person_account; /* "0"/"1" or NULL */
	const char *modified;
	const char *extra;             /* JSON object or NULL */
};

static int nrows; /* rows staged by this test, for src_line */

/* Binds v (NULL = SQL NULL) to parameter i. */
static void bind(struct snap_stmt *st, int i, const char *v)
{
	if (v)
		snap_bind_text(st, i, v, strlen(v));
	else
		snap_bind_null(st, i);
}

/* Stages a people row of `source` for a record. */
static void person(const char *source, const char *id, int line)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.people (source, crm_id, src_file, src_line) VALUES (?1, ?2, 0, ?3)");
	cr_assert_not_null(st);
	bind(st, 1, source);
	bind(st, 2, id);
	snap_bind_int(st, 3, line);
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
}

/* Stages Contacts and their people rows, in order. */
static void contacts(const struct contact *c, size_t n)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.stg_contact (src_file, src_line, Id, FirstName, LastName, Email,"
		" AccountId, Department, Title, IsPersonAccount, LastModifiedDate, extra)"
		" VALUES (0, ?1, ?2, 'Ann', 'Lee', ?3, ?4, ?5, ?6, CAST(?7 AS INTEGER), ?8, ?9)");
	cr_assert_not_null(st);
	for (size_t i = 0; i < n; i++) {
		int line = 2 + nrows++;
		snap_bind_int(st, 1, line);
		bind(st, 2, c[i].id);
		bind(st, 3, c[i].email);
		bind(st, 4, c[i].account_id);
		bind(st, 5, c[i].department);
		bind(st, 6, c[i].title);
		bind(st, 7, c[i].is_person_account);
		bind(st, 8, c[i].modified);
		bind(st, 9, c[i].extra);
		cr_assert_eq(snap_step(st), 0, "%s", printed());
		person("Contact", c[i].id, line);
	}
	snap_finalize(st);
}

/* Applies lv to the Contacts and returns in_view of every Contact person
 * in staging order as a string of 0 and 1 (caller frees). */
static char *apply_views(const char *source)
{
	struct buf b = BUF_INIT;
	struct snap_stmt *st;

	cr_assert_eq(rule_listview_apply(&d, lv, s, source), RC_OK, "%s", printed());
	st = snap_prepare(s, "SELECT in_view FROM stage.people WHERE source = ?1 ORDER BY src_line");
	cr_assert_not_null(st);
	bind(st, 1, source);
	buf_init(&b);
	while (snap_step(st) == 1)
		buf_addch(&b, snap_col_int(st, 0) ? '1' : '0');
	snap_finalize(st);
	return buf_detach(&b, NULL);
}

/* Asserts that the Contacts' in_view reads `want`. */
static void expect_views(const char *want)
{
	char *got = apply_views("Contact");
	cr_assert_str_eq(got, want, "in_view %s, expected %s", got, want);
	free(got);
}

/* Departments: Sales, SALES, Marketing, none. */
static const struct contact by_department[] = {
	{ "003000000000001AAA", "a@acme.com", NULL, "Sales", NULL, NULL, NULL, NULL },
	{ "003000000000002AAA", "b@ACME.com", NULL, "SALES", NULL, NULL, NULL, NULL },
	{ "003000000000003AAA", "c@globex.com", NULL, "Marketing", NULL, NULL, NULL, NULL },
	{ "003000000000004AAA", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

/* ---- operations ---- */

Test(rule_listview, equals_compares_text_ignoring_case)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "equals", "sales");
	expect_views("1100");
}

Test(rule_listview, equals_with_no_value_means_the_field_is_empty)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "equals", NULL);
	expect_views("0001");
}

Test(rule_listview, not_equal_keeps_other_values_and_empty_ones)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "notEqual", "Sales");
	expect_views("0011");
}

Test(rule_listview, not_equal_with_no_value_means_not_empty)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "notEqual", NULL);
	expect_views("1110");
}

Test(rule_listview, equals_comma_list_means_any_of_the_values)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "equals", "Marketing, sales");
	expect_views("1110");
}

Test(rule_listview, not_equal_comma_list_means_none_of_the_values)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "notEqual", "Marketing,Sales");
	expect_views("0001");
}

Test(rule_listview, quoted_item_keeps_its_comma)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", NULL, NULL, "Sales, EMEA", NULL, NULL, NULL, NULL },
		{ "003000000000002AAA", NULL, NULL, "Sales", NULL, NULL, NULL, NULL },
		{ "003000000000003AAA", NULL, NULL, "EMEA", NULL, NULL, NULL, NULL },
	};
	contacts(c, 3);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "equals", "\"Sales, EMEA\",Support");
	expect_views("100");
}

Test(rule_listview, contains_ignores_case)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.EMAIL", "contains", "@Acme.COM");
	expect_views("1100");
}

Test(rule_listview, contains_comma_list_means_either)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.EMAIL", "contains", "b@,globex");
	expect_views("0110");
}

Test(rule_listview, not_contain_comma_list_means_none_and_keeps_empty)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.EMAIL", "notContain", "a@,GLOBEX");
	expect_views("0101");
}

Test(rule_listview, starts_with_ignores_case_and_takes_a_list)
{
	contacts(by_department, 4);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "startsWith", "sal,Mark");
	expect_views("1110");
	rule_listview_free(lv);
	lv = NULL;
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "startsWith", "ales");
	expect_views("0000");
}

/* Scores 9, 10, 100 in an extra field: as text "9" would sort last. */
static const struct contact by_score[] = {
	{ "003000000000001AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"9\"}" },
	{ "003000000000002AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"10\"}" },
	{ "003000000000003AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"100\"}" },
	{ "003000000000004AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{}" },
};

Test(rule_listview, less_than_compares_numbers_numerically)
{
	contacts(by_score, 4);
	open_one(ENT_CONTACT, "Score__c", "lessThan", "10");
	expect_views("1000");
}

Test(rule_listview, greater_than_compares_numbers_numerically)
{
	contacts(by_score, 4);
	open_one(ENT_CONTACT, "Score__c", "greaterThan", "9.5");
	expect_views("0110");
}

Test(rule_listview, less_or_equal_includes_the_value)
{
	contacts(by_score, 4);
	open_one(ENT_CONTACT, "Score__c", "lessOrEqual", "10.0");
	expect_views("1100");
}

Test(rule_listview, greater_or_equal_includes_the_value)
{
	contacts(by_score, 4);
	open_one(ENT_CONTACT, "Score__c", "greaterOrEqual", "10");
	expect_views("0110");
}

Test(rule_listview, equals_on_an_extra_field_compares_numbers_numerically)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"10.0\"}" },
		{ "003000000000002AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"10\"}" },
		{ "003000000000003AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Score__c\":\"100\"}" },
	};
	contacts(c, 3);
	open_one(ENT_CONTACT, "Score__c", "equals", "10");
	expect_views("110");
}

Test(rule_listview, text_field_that_looks_like_a_number_compares_as_text)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"MailingPostalCode\":\"01234\"}" },
		{ "003000000000002AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"MailingPostalCode\":\"1234\"}" },
	};
	contacts(c, 2);
	open_one(ENT_CONTACT, "CONTACT.MAILING_ZIP", "equals", "1234");
	expect_views("01");
}

/* Modified times around 2026-01-01 (staged form: UTC, normalised). */
static const struct contact by_date[] = {
	{ "003000000000001AAA", NULL, NULL, NULL, NULL, NULL, "2025-12-31T23:00:00.000Z", NULL },
	{ "003000000000002AAA", NULL, NULL, NULL, NULL, NULL, "2026-01-01T10:00:00.000Z", NULL },
	{ "003000000000003AAA", NULL, NULL, NULL, NULL, NULL, "2026-01-02T00:00:00.000Z", NULL },
	{ "003000000000004AAA", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

Test(rule_listview, date_filter_compares_the_day_of_a_date_time)
{
	contacts(by_date, 4);
	open_one(ENT_CONTACT, "CONTACT.LAST_UPDATE", "greaterThan", "2026-01-01");
	expect_views("0010");
	rule_listview_free(lv);
	lv = NULL;
	open_one(ENT_CONTACT, "CONTACT.LAST_UPDATE", "lessOrEqual", "2026-01-01");
	expect_views("1100");
	rule_listview_free(lv);
	lv = NULL;
	open_one(ENT_CONTACT, "LastModifiedDate", "equals", "2026-01-01");
	expect_views("0100");
}

Test(rule_listview, date_time_filter_compares_instants)
{
	contacts(by_date, 4);
	open_one(ENT_CONTACT, "CONTACT.LAST_UPDATE", "lessThan", "2026-01-01T12:00:01+02:00");
	expect_views("1100");
}

Test(rule_listview, less_than_on_text_compares_ignoring_case)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", NULL, NULL, NULL, "analyst", NULL, NULL, NULL },
		{ "003000000000002AAA", NULL, NULL, NULL, "Manager", NULL, NULL, NULL },
		{ "003000000000003AAA", NULL, NULL, NULL, "Zoologist", NULL, NULL, NULL },
	};
	contacts(c, 3);
	open_one(ENT_CONTACT, "CONTACT.TITLE", "lessThan", "MANAGER");
	expect_views("100");
	rule_listview_free(lv);
	lv = NULL;
	open_one(ENT_CONTACT, "CONTACT.TITLE", "greaterOrEqual", "manager");
	expect_views("011");
}

/* A multi-select picklist in an extra field, exported ';'-separated. */
static const struct contact by_interests[] = {
	{ "003000000000001AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Interests__c\":\"Golf;Tennis\"}" },
	{ "003000000000002AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Interests__c\":\"golf\"}" },
	{ "003000000000003AAA", NULL, NULL, NULL, NULL, NULL, NULL, "{\"Interests__c\":\"Chess\"}" },
	{ "003000000000004AAA", NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

Test(rule_listview, includes_comma_list_means_any_value)
{
	contacts(by_interests, 4);
	open_one(ENT_CONTACT, "Interests__c", "includes", "Tennis,chess");
	expect_views("1010");
}

Test(rule_listview, includes_semicolon_means_all_values)
{
	contacts(by_interests, 4);
	open_one(ENT_CONTACT, "Interests__c", "includes", "golf;TENNIS");
	expect_views("1000");
}

Test(rule_listview, includes_matches_whole_values_only)
{
	contacts(by_interests, 4);
	open_one(ENT_CONTACT, "Interests__c", "includes", "Ten");
	expect_views("0000");
}

Test(rule_listview, excludes_keeps_records_without_the_values)
{
	contacts(by_interests, 4);
	open_one(ENT_CONTACT, "Interests__c", "excludes", "Golf");
	expect_views("0011");
}

/* ---- checkboxes ---- */

static const struct contact by_checkbox[] = {
	{ "003000000000001AAA", NULL, NULL, NULL, NULL, "1", NULL, "{\"Opt_In__c\":\"true\"}" },
	{ "003000000000002AAA", NULL, NULL, NULL, NULL, "0", NULL, "{\"Opt_In__c\":\"FALSE\"}" },
	{ "003000000000003AAA", NULL, NULL, NULL, NULL, "1", NULL, "{\"Opt_In__c\":\"0\"}" },
};

Test(rule_listview, checkbox_values_true_false_1_0_in_any_case)
{
	static const char *const yes[] = { "1", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "false", "False" };

	contacts(by_checkbox, 3);
	for (size_t i = 0; i < 4; i++) {
		open_one(ENT_CONTACT, "IsPersonAccount", "equals", yes[i]);
		expect_views("101");
		rule_listview_free(lv);
		lv = NULL;
	}
	for (size_t i = 0; i < 3; i++) {
		open_one(ENT_CONTACT, "IsPersonAccount", "equals", no[i]);
		expect_views("010");
		rule_listview_free(lv);
		lv = NULL;
	}
}

Test(rule_listview, checkbox_in_an_extra_field_as_exported)
{
	contacts(by_checkbox, 3);
	open_one(ENT_CONTACT, "Opt_In__c", "equals", "1");
	expect_views("100");
	rule_listview_free(lv);
	lv = NULL;
	open_one(ENT_CONTACT, "Opt_In__c", "notEqual", "True");
	expect_views("011");
}

/* ---- booleanFilter ---- */

static const struct filt three[] = {
	{ "CONTACT.DEPARTMENT", "equals", "Sales" },
	{ "CONTACT.EMAIL", "contains", "globex" },
	{ "CONTACT.EMAIL", "startsWith", "b@" },
};

Test(rule_listview, no_boolean_filter_means_all_filters_hold)
{
	char *path = write_lv("Everything", NULL, three, 2);
	contacts(by_department, 4);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_OK, "%s", printed());
	expect_views("0000");
	free(path);
}

Test(rule_listview, boolean_filter_with_or_not_and_parentheses_in_mixed_case)
{
	char *path = write_lv("Everything", "(1 or 2) AND not 3", three, 3);
	contacts(by_department, 4);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_OK, "%s", printed());
	expect_views("1010");
	free(path);
}

Test(rule_listview, boolean_filter_nested_not)
{
	char *path = write_lv("Everything", "NOT (1 Or NOT (2 and 3)) or ((3))", three, 3);
	/* NOT(1 OR NOT(2 AND 3)) OR 3: 2 and 3 never both hold, so only 3 counts. */
	contacts(by_department, 4);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_OK, "%s", printed());
	expect_views("0100");
	free(path);
}

/* Opens a list view of the three filters with that booleanFilter, which
 * must be refused with exactly `want`. */
static void expect_bf_error(const char *bf, const char *want)
{
	char *path = write_lv("Everything", bf, three, 3);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_null(lv);
	cr_assert_str_eq(printed(), want);
	free(path);
}

/* The booleanFilter text starts at column 20 of line 4. */
Test(rule_listview, boolean_filter_missing_parenthesis_points_at_the_end)
{
	expect_bf_error("1 AND (2 OR 3",
			"lmsrecon: Test.listView-meta.xml:4:33: expected ')' but found the end of booleanFilter\n");
}

Test(rule_listview, boolean_filter_number_out_of_range_points_at_it)
{
	expect_bf_error("1 AND 2 AND 3 AND 4",
			"lmsrecon: Test.listView-meta.xml:4:38: filter number 4 is out of range: the list view has 3 filters\n");
}

Test(rule_listview, boolean_filter_zero_is_out_of_range)
{
	expect_bf_error("0 OR 1 OR 2 OR 3",
			"lmsrecon: Test.listView-meta.xml:4:20: filter number 0 is out of range: the list view has 3 filters\n");
}

Test(rule_listview, boolean_filter_mixing_and_or_needs_parentheses)
{
	expect_bf_error("1 AND 2 OR 3",
			"lmsrecon: Test.listView-meta.xml:4:28: AND and OR must not be mixed without parentheses\n");
}

Test(rule_listview, boolean_filter_dangling_operator)
{
	expect_bf_error("1 AND 2 AND 3 AND",
			"lmsrecon: Test.listView-meta.xml:4:37: expected a filter number, '(' or NOT but found the end of booleanFilter\n");
}

Test(rule_listview, boolean_filter_unknown_word_is_quoted)
{
	expect_bf_error("1 AND 2 XOR 3",
			"lmsrecon: Test.listView-meta.xml:4:28: expected AND, OR or the end of booleanFilter but found 'XOR'\n");
}

Test(rule_listview, boolean_filter_stray_character_is_quoted)
{
	expect_bf_error("1 + 2 + 3",
			"lmsrecon: Test.listView-meta.xml:4:22: expected AND, OR or the end of booleanFilter but found '+'\n");
}

Test(rule_listview, boolean_filter_stray_closing_parenthesis)
{
	expect_bf_error("(1 AND 2)) OR 3",
			"lmsrecon: Test.listView-meta.xml:4:29: expected AND, OR or the end of booleanFilter but found ')'\n");
}

Test(rule_listview, boolean_filter_must_reference_every_filter)
{
	expect_bf_error("1 AND 3",
			"lmsrecon: Test.listView-meta.xml:4: filter 2 ('CONTACT.EMAIL') is not used in booleanFilter '1 AND 3': Salesforce requires every filter to be referenced\n");
}

Test(rule_listview, boolean_filter_empty_is_refused)
{
	expect_bf_error("  ", "lmsrecon: Test.listView-meta.xml:4: booleanFilter is empty\n");
}

Test(rule_listview, boolean_filter_error_on_a_later_line_of_the_element)
{
	char *path = path_join("fixtures/listview", "Bad_Logic.listView-meta.xml");
	cr_assert_eq(rule_listview_open(&d, path, "Bad_Logic.listView-meta.xml",
					entity_get(ENT_CONTACT), &lv), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Bad_Logic.listView-meta.xml:5:16: expected ')' but found the end of booleanFilter\n");
	free(path);
}

Test(rule_listview, boolean_filter_with_a_character_reference_gives_the_column_in_the_expression)
{
	/* &#32; is a space: the text does not stand in the file as is. */
	expect_bf_error("1&#32;AND 2 AND 3 AND 5",
			"lmsrecon: Test.listView-meta.xml:4: booleanFilter column 19: filter number 5 is out of range: the list view has 3 filters\n");
}

Test(rule_listview, boolean_filter_too_deep_is_refused)
{
	struct buf b = BUF_INIT;
	buf_init(&b);
	for (int i = 0; i < 70; i++)
		buf_adds(&b, "(");
	buf_adds(&b, "1 AND 2 AND 3");
	for (int i = 0; i < 70; i++)
		buf_adds(&b, ")");
	expect_bf_error(b.buf,
			"lmsrecon: Test.listView-meta.xml:4:84: booleanFilter is nested too deeply (more than 64 levels)\n");
	buf_release(&b);
}

/* ---- refusals ---- */

Test(rule_listview, filter_scope_mine_is_refused)
{
	char *path = path_join("fixtures/listview", "My_Contacts.listView-meta.xml");
	cr_assert_eq(rule_listview_open(&d, path, "My_Contacts.listView-meta.xml",
					entity_get(ENT_CONTACT), &lv), RC_CONFIG);
	cr_assert_null(lv);
	cr_assert_str_eq(printed(),
			 "lmsrecon: My_Contacts.listView-meta.xml:5: filterScope 'Mine' needs a user context; only Everything can be evaluated offline\n");
	free(path);
}

Test(rule_listview, unknown_operation_is_named)
{
	struct filt f = { "CONTACT.EMAIL", "within", "x" };
	char *path = write_lv("Everything", NULL, &f, 1);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:7: unknown operation 'within' in filter 1 (expected one of: equals, notEqual, lessThan, greaterThan, lessOrEqual, greaterOrEqual, contains, notContain, startsWith, includes, excludes)\n");
	free(path);
}

Test(rule_listview, unknown_standard_column_is_named)
{
	struct filt f = { "CONTACT.SHOE_SIZE", "equals", "42" };
	char *path = write_lv("Everything", NULL, &f, 1);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:6: unknown list view column 'CONTACT.SHOE_SIZE' for Contact: only the standard columns listed in docs/listviews.md, custom fields and API names can be evaluated\n");
	free(path);
}

Test(rule_listview, relative_date_is_refused_on_a_date_field)
{
	struct filt f = { "CONTACT.CREATED_DATE", "greaterThan", "LAST_N_DAYS:30" };
	char *path = write_lv("Everything", NULL, &f, 1);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:8: relative date 'LAST_N_DAYS:30' is not supported offline: use a date such as 2026-01-31\n");
	free(path);
}

Test(rule_listview, word_like_a_date_literal_is_text_on_a_text_field)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", NULL, NULL, NULL, "Today", NULL, NULL, NULL },
		{ "003000000000002AAA", NULL, NULL, NULL, "Tomorrow", NULL, NULL, NULL },
	};
	contacts(c, 2);
	open_one(ENT_CONTACT, "CONTACT.TITLE", "equals", "TODAY");
	expect_views("10");
}

Test(rule_listview, every_problem_is_reported)
{
	static const struct filt f[] = {
		{ "CONTACT.SHOE_SIZE", "equals", "42" },
		{ "CONTACT.EMAIL", "matches", "x" },
	};
	char *path = write_lv("Team", NULL, f, 2);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:6: unknown list view column 'CONTACT.SHOE_SIZE' for Contact: only the standard columns listed in docs/listviews.md, custom fields and API names can be evaluated\n"
			 "lmsrecon: Test.listView-meta.xml:12: unknown operation 'matches' in filter 2 (expected one of: equals, notEqual, lessThan, greaterThan, lessOrEqual, greaterOrEqual, contains, notContain, startsWith, includes, excludes)\n"
			 "lmsrecon: Test.listView-meta.xml:4: filterScope 'Team' needs a user context; only Everything can be evaluated offline\n");
	free(path);
}

Test(rule_listview, doctype_is_refused)
{
	char *path = write_file("Test.listView-meta.xml",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE ListView [ <!ENTITY a \"aaaaaaaaaa\"> ]>\n"
		"<ListView xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"
		"<filterScope>Everything</filterScope></ListView>\n");
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:2: a DOCTYPE is not allowed in a list view\n");
	free(path);
}

Test(rule_listview, malformed_xml_is_reported_at_its_position)
{
	char *path = write_file("Test.listView-meta.xml",
		"<?xml version=\"1.0\"?>\n"
		"<ListView xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"
		"  <filterScope>Everything</filterScop>\n"
		"</ListView>\n");
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert(strncmp(printed(), "lmsrecon: Test.listView-meta.xml:3:", 35) == 0, "%s", printed());
	cr_assert(strstr(printed(), ": malformed XML: ") != NULL, "%s", printed());
	free(path);
}

Test(rule_listview, other_root_element_is_not_a_list_view)
{
	char *path = write_file("Test.listView-meta.xml",
		"<?xml version=\"1.0\"?>\n<CustomField/>\n");
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml:2: not a list view: the root element must be <ListView>\n");
	free(path);
}

Test(rule_listview, missing_file_is_no_input)
{
	char *path = path_join(tmpdir, "absent.listView-meta.xml");
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_NOINPUT);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Test.listView-meta.xml: cannot open: No such file or directory\n");
	free(path);
}

/* ---- fields and joins ---- */

Test(rule_listview, fields_are_translated_api_names_each_once)
{
	static const struct filt f[] = {
		{ "CONTACT.EMAIL", "contains", "@" },
		{ "Region__c", "equals", "EMEA" },
		{ "CONTACT.MAILING_COUNTRY", "equals", "France" },
		{ "ACCOUNT.NAME", "equals", "Acme" },
		{ "email", "notEqual", NULL },
		{ "Contact.Nickname__c", "equals", "x" },
	};
	const char *const *fields;
	char *path = write_lv("Everything", NULL, f, 6);
	size_t n;

	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_OK, "%s", printed());
	n = rule_listview_fields(lv, &fields);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(fields[0], "Email");
	cr_assert_str_eq(fields[1], "Region__c");
	cr_assert_str_eq(fields[2], "MailingCountry");
	cr_assert_str_eq(fields[3], "Contact.Nickname__c");
	free(path);
}

Test(rule_listview, custom_object_prefix_is_dropped)
{
	const char *const *fields;
	open_one(ENT_CUSTOM, "Volunteer__c.Skill_Level__c", "equals", "3");
	cr_assert_eq(rule_listview_fields(lv, &fields), 1);
	cr_assert_str_eq(fields[0], "Skill_Level__c");
}

/* Stages an Account. */
static void account(const char *id, const char *name)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.stg_account (src_file, src_line, Id, Name) VALUES (1, 2, ?1, ?2)");
	cr_assert_not_null(st);
	bind(st, 1, id);
	bind(st, 2, name);
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
}

Test(rule_listview, account_name_is_read_through_the_contact_account)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", "x@acme.com", "001000000000001AAA", NULL, "Engineer", NULL, NULL, NULL },
		{ "003000000000002AAA", "y@partner.example", "001000000000002AAA", NULL, "Intern", NULL, NULL, NULL },
		{ "003000000000003AAA", "z@partner.example", NULL, NULL, NULL, NULL, NULL, NULL },
		{ "003000000000004AAA", "w@initech.com", "001000000000003AAA", NULL, NULL, NULL, NULL, NULL },
		{ "003000000000005AAA", "v@globex.com", "001000000000002AAA", NULL, NULL, NULL, NULL, NULL },
	};
	char *path = path_join("fixtures/listview", "Partner_Contacts.listView-meta.xml");
	const char *const *fields;

	account("001000000000001AAA", "ACME Corporation");
	account("001000000000002AAA", "Globex");
	account("001000000000003AAA", "Initech");
	contacts(c, 5);
	cr_assert_eq(rule_listview_open(&d, path, "Partner_Contacts.listView-meta.xml",
					entity_get(ENT_CONTACT), &lv), RC_OK, "%s", printed());
	/* The Account's name is not a field of the Contact export. */
	cr_assert_eq(rule_listview_fields(lv, &fields), 2);
	cr_assert_str_eq(fields[0], "Email");
	cr_assert_str_eq(fields[1], "Title");
	expect_views("10101");
	free(path);
}

Test(rule_listview, account_name_without_the_account_export_is_an_error)
{
	static const struct contact c[] = {
		{ "003000000000001AAA", "x@acme.com", "001000000000001AAA", NULL, NULL, NULL, NULL, NULL },
	};
	char *path = path_join("fixtures/listview", "Partner_Contacts.listView-meta.xml");

	contacts(c, 1);
	cr_assert_eq(rule_listview_open(&d, path, "Partner_Contacts.listView-meta.xml",
					entity_get(ENT_CONTACT), &lv), RC_OK, "%s", printed());
	cr_assert_eq(rule_listview_apply(&d, lv, s, "Contact"), RC_CONFIG);
	cr_assert_str_eq(printed(),
			 "lmsrecon: Partner_Contacts.listView-meta.xml:10: the filter on 'ACCOUNT.NAME' needs the Account export: add an Account input to the job\n");
	free(path);
}

/* Stages a CRM User with extra fields and its people row. */
static void user(const char *id, const char *is_active, const char *extra)
{
	struct snap_stmt *st = snap_prepare(s,
		"INSERT INTO stage.stg_crm_user (src_file, src_line, Id, Username, IsActive, extra)"
		" VALUES (0, ?1, ?2, ?2, CAST(?3 AS INTEGER), ?4)");
	int line = 2 + nrows++;
	cr_assert_not_null(st);
	snap_bind_int(st, 1, line);
	bind(st, 2, id);
	bind(st, 3, is_active);
	bind(st, 4, extra);
	cr_assert_eq(snap_step(st), 0, "%s", printed());
	snap_finalize(st);
	person("User", id, line);
}

Test(rule_listview, user_list_view_with_profile_and_multi_select)
{
	char *path = path_join("fixtures/listview", "Active_Learners.listView-meta.xml");
	const char *const *fields;
	char *got;

	user("005000000000001AAA", "1", "{\"Profile.Name\":\"Standard User\",\"Learning_Region__c\":\"EMEA;APAC\"}");
	user("005000000000002AAA", "0", "{\"Profile.Name\":\"Standard User\",\"Learning_Region__c\":\"EMEA\"}");
	user("005000000000003AAA", "1", "{\"Profile.Name\":\"system administrator\",\"Learning_Region__c\":\"EMEA\"}");
	user("005000000000004AAA", "1", "{\"Profile.Name\":\"Partner\",\"Learning_Region__c\":\"APAC\"}");
	user("005000000000005AAA", "1", "{\"Learning_Region__c\":\"emea\"}");
	contacts(by_department, 1); /* another source: left alone */
	cr_assert_eq(rule_listview_open(&d, path, "Active_Learners.listView-meta.xml",
					entity_get(ENT_CRM_USER), &lv), RC_OK, "%s", printed());
	cr_assert_eq(rule_listview_fields(lv, &fields), 3);
	cr_assert_str_eq(fields[0], "IsActive");
	cr_assert_str_eq(fields[1], "Profile.Name");
	cr_assert_str_eq(fields[2], "Learning_Region__c");
	got = apply_views("User");
	cr_assert_str_eq(got, "10001");
	free(got);
	cr_assert_eq(snap_query_int(s, "SELECT in_view FROM stage.people WHERE source = 'Contact'"), 1);
	free(path);
}

Test(rule_listview, person_without_a_staged_record_is_out_of_the_view)
{
	contacts(by_department, 2);
	person("Contact", "003000000000009AAA", 99);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "notEqual", "Marketing");
	expect_views("110");
}

Test(rule_listview, duplicate_id_uses_the_person_own_row)
{
	struct snap_stmt *st;

	/* The same Id staged first at line 1 with another department and no
	 * person, then as the person's own row (Sales, line 2). */
	st = snap_prepare(s, "INSERT INTO stage.stg_contact (src_file, src_line, Id, Department)"
			  " VALUES (0, 1, '003000000000001AAA', 'Marketing')");
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
	contacts(by_department, 1);
	open_one(ENT_CONTACT, "CONTACT.DEPARTMENT", "equals", "Sales");
	expect_views("1");
}

Test(rule_listview, view_with_no_filters_takes_everyone)
{
	char *path = write_lv("Everything", NULL, NULL, 0);
	contacts(by_department, 4);
	cr_assert_eq(snap_exec(s, "UPDATE stage.people SET in_view = 0"), RC_OK);
	cr_assert_eq(open_lv(path, ENT_CONTACT), RC_OK, "%s", printed());
	expect_views("1111");
	free(path);
}

/* ---- the real list views of the corpus ---- */

/* The entity a list view of the corpus is about, from its folder name. */
static enum entity_id entity_of_path(const char *path)
{
	if (strstr(path, "/objects/Contact/"))
		return ENT_CONTACT;
	if (strstr(path, "/objects/User/"))
		return ENT_CRM_USER;
	return ENT_CUSTOM;
}

static char **corpus_files;
static size_t ncorpus;

/* nftw callback: collects the list view files. */
static int collect(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	size_t len = strlen(p), sl = strlen(".listView-meta.xml");
	(void)sb; (void)ftw;
	if (flag == FTW_F && len > sl && strcmp(p + len - sl, ".listView-meta.xml") == 0) {
		corpus_files = xreallocarray(corpus_files, ncorpus + 1, sizeof *corpus_files);
		corpus_files[ncorpus++] = xstrdup(p);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(rule_listview, every_corpus_list_view_parses_or_is_refused_with_a_reason)
{
	/* Those written with booleanFilter, comma lists or checkbox values,
	 * all with filterScope Everything and fields that can be read. */
	static const char *const must_parse[] = {
		"PBS_Small_Projects_Historical_Database__c/listViews/Additional_Keywords", /* booleanFilter, checkboxes */
		"NCMT_Project__c/listViews/Template_Projects", /* checkbox 1 */
		"NCMT_Project__c/listViews/Projects_with_Draft_Status", /* checkbox TRUE */
		"PBS_AAAP_Offer__c/listViews/NCR_Offers", /* booleanFilter in lower case, checkbox, comma list */
		"PBS_AAAP_Agency_Requirement__c/listViews/NCR_Active_Requirements", /* comma lists, NAME */
		"Opportunity/listViews/To_Be_Acknowledged", /* comma list */
		"User/listViews/SNA_Admins",
		"User/listViews/IG_Accounts",
		"User/listViews/AllUsers",
	};
	size_t nok = 0, nrefused = 0;

	if (access(CORPUS, F_OK) != 0)
		cr_skip("%s is absent", CORPUS);
	nftw(CORPUS, collect, 16, FTW_PHYS);
	cr_assert_gt(ncorpus, 0);
	qsort(corpus_files, ncorpus, sizeof *corpus_files, cmp_str);
	for (size_t i = 0; i < ncorpus; i++) {
		const char *p = corpus_files[i];
		const char *base = p + strlen(CORPUS) + 1;
		int is_must = 0;
		enum rc rc;

		reset_printed();
		rc = rule_listview_open(&d, p, base, entity_get(entity_of_path(p)), &lv);
		for (size_t k = 0; k < sizeof must_parse / sizeof must_parse[0]; k++)
			if (strstr(p, must_parse[k]))
				is_must = 1;
		if (rc == RC_OK) {
			cr_assert_str_eq(printed(), "");
			fprintf(stderr, "parses:  %s\n", base);
			nok++;
		} else {
			const char *msg = printed();
			cr_assert_eq(rc, RC_CONFIG, "%s", msg);
			cr_assert(!is_must, "%s must parse: %s", base, msg);
			cr_assert(!strstr(msg, "malformed") && !strstr(msg, "booleanFilter"), "%s", msg);
			/* A reason: the file's name and line, then words. */
			cr_assert(strncmp(msg, "lmsrecon: ", 10) == 0 && strstr(msg, base) &&
				  strlen(msg) > strlen(base) + 20, "%s", msg);
			cr_assert(strstr(msg, "filterScope '") || strstr(msg, "relative date '") ||
				  strstr(msg, "unknown list view column '"), "%s", msg);
			fprintf(stderr, "refused: %s", msg);
			nrefused++;
		}
		rule_listview_free(lv);
		lv = NULL;
		free(corpus_files[i]);
	}
	free(corpus_files);
	fprintf(stderr, "%zu list views parse, %zu are refused\n", nok, nrefused);
	cr_assert_gt(nok, 0);
}

Test(rule_listview, corpus_view_with_boolean_filter_checkbox_and_comma_list_applies)
{
	static const char *const rows[][2] = {
		{ "a00000000000001AAA", "{\"Formula_RLP_Region__c\":\"National Capital Region\",\"PBS_AAAP_Is_Offer_Valid__c\":\"true\",\"PBS_AAAP_Offer_Status__c\":\"Awarded/Selected\"}" },
		{ "a00000000000002AAA", "{\"Formula_RLP_Region__c\":\"National Capital Region\",\"PBS_AAAP_Is_Offer_Valid__c\":\"false\",\"PBS_AAAP_Offer_Status__c\":\"Submitted\"}" },
		{ "a00000000000003AAA", "{\"Formula_RLP_Region__c\":\"national capital region\",\"PBS_AAAP_Is_Offer_Valid__c\":\"1\",\"PBS_AAAP_Offer_Status__c\":\"Draft\"}" },
		{ "a00000000000004AAA", "{\"Formula_RLP_Region__c\":\"Northwest/Arctic\",\"PBS_AAAP_Is_Offer_Valid__c\":\"1\",\"PBS_AAAP_Offer_Status__c\":\"Awarded\"}" },
		{ "a00000000000005AAA", "{\"Formula_RLP_Region__c\":\"National Capital Region\",\"PBS_AAAP_Is_Offer_Valid__c\":\"1\",\"PBS_AAAP_Offer_Status__c\":\"SUBMITTED\"}" },
	};
	const char *path = CORPUS "/gsa-sf-workspace/objects/PBS_AAAP_Offer__c/listViews/NCR_Offers.listView-meta.xml";
	const char *const *fields;
	char *got;

	if (access(path, F_OK) != 0)
		cr_skip("%s is absent", path);
	for (size_t i = 0; i < 5; i++) {
		struct snap_stmt *st = snap_prepare(s,
			"INSERT INTO stage.stg_custom (src_file, src_line, Id, extra) VALUES (0, ?1, ?2, ?3)");
		snap_bind_int(st, 1, (long long)i + 2);
		bind(st, 2, rows[i][0]);
		bind(st, 3, rows[i][1]);
		cr_assert_eq(snap_step(st), 0, "%s", printed());
		snap_finalize(st);
		person("custom", rows[i][0], (int)i + 2);
	}
	cr_assert_eq(rule_listview_open(&d, path, "NCR_Offers.listView-meta.xml",
					entity_get(ENT_CUSTOM), &lv), RC_OK, "%s", printed());
	cr_assert_eq(rule_listview_fields(lv, &fields), 3);
	cr_assert_str_eq(fields[1], "PBS_AAAP_Is_Offer_Valid__c");
	got = apply_views("custom");
	cr_assert_str_eq(got, "10001");
	free(got);
}
