/* SPDX-License-Identifier: MIT */
/* Tests of meta_listview: what a parsed list view holds — filters with
 * translated fields, kinds, operations and split values; the compiled
 * booleanFilter as nodes; the checkbox reading — for list views the tests
 * write into a temporary directory. Evaluation is tested with
 * rule_listview. */
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "entity.h"
#include "meta_listview.h"
#include "util.h"

static char tmpdir[64];     /* this test's directory */
static FILE *diag_out;      /* the memstream every diag writes to */
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct meta_listview *mv; /* what the test opened; freed by teardown */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void setup(void)
{
	strcpy(tmpdir, "/tmp/test_meta_lv.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	mv = NULL;
}

static void teardown(void)
{
	meta_listview_free(mv);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(meta_listview, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Writes a list view whose body (after <fullName>, from line 4) is `body`
 * and opens it for entity `id`; returns the code. */
static enum rc open_body(enum entity_id id, const char *body)
{
	char *path = path_join(tmpdir, "T.listView-meta.xml");
	FILE *f = fopen(path, "w");
	enum rc rc;

	cr_assert_not_null(f);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListView xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"
		"    <fullName>T</fullName>\n%s</ListView>\n", body);
	fclose(f);
	rc = meta_listview_open(&d, path, "T.listView-meta.xml", entity_get(id), &mv);
	free(path);
	return rc;
}

/* One <filters> element on one line. */
#define FILTER(field, op, value) "    <filters><field>" field "</field><operation>" op \
	"</operation><value>" value "</value></filters>\n"
#define EVERYTHING "    <filterScope>Everything</filterScope>\n"

Test(meta_listview, filters_are_translated_with_their_values_read)
{
	cr_assert_eq(open_body(ENT_CONTACT, EVERYTHING
			       FILTER("CONTACT.EMAIL", "equals", " a@x.com , \"b,c\" ")
			       FILTER("ACCOUNT.NAME", "startsWith", "Acme")
			       FILTER("Level__c", "greaterThan", "2.5")
			       FILTER("CONTACT.BIRTHDATE", "lessThan", "2000-01-31")
			       FILTER("Contact__c.Opt_In__c", "equals", "TRUE")),
		     RC_OK, "%s", printed());
	cr_assert_str_eq(printed(), "");
	cr_assert_eq(mv->nfilters, 5);
	cr_assert_str_eq(mv->name, "T.listView-meta.xml");

	const struct meta_listview_filter *f = &mv->filters[0];
	cr_assert_str_eq(f->column, "CONTACT.EMAIL");
	cr_assert_str_eq(f->field, "Email");
	cr_assert_eq(f->kind, LV_KIND_TEXT);
	cr_assert_eq(f->op, LV_OP_EQUALS);
	cr_assert_eq(f->line, 5);
	cr_assert_eq(f->nitems, 2);
	cr_assert_str_eq(f->items[0].text, "a@x.com");
	cr_assert_eq(f->items[0].len, 7);
	cr_assert_str_eq(f->items[1].text, "b,c");
	cr_assert_not(f->is_account);

	f = &mv->filters[1];
	cr_assert_str_eq(f->field, "Name");
	cr_assert(f->is_account);
	cr_assert_eq(f->op, LV_OP_STARTS_WITH);

	f = &mv->filters[2];
	cr_assert_str_eq(f->field, "Level__c");
	cr_assert_eq(f->kind, LV_KIND_UNKNOWN);
	cr_assert(f->items[0].is_number);
	cr_assert_float_eq(f->items[0].number, 2.5, 1e-12);
	cr_assert_eq(f->items[0].boolean, -1);

	f = &mv->filters[3];
	cr_assert_eq(f->kind, LV_KIND_DATE);
	cr_assert(f->items[0].is_date);
	cr_assert(f->items[0].is_date_only);
	cr_assert_str_eq(f->items[0].date, "2000-01-31");

	f = &mv->filters[4];
	cr_assert_str_eq(f->field, "Opt_In__c", "the object prefix is dropped");
	cr_assert_eq(f->items[0].boolean, 1);
}

Test(meta_listview, boolean_filter_compiles_to_nodes)
{
	cr_assert_eq(open_body(ENT_CRM_USER, "    <booleanFilter>1 AND (2 OR NOT 3)</booleanFilter>\n"
			       EVERYTHING
			       FILTER("CORE.USERS.ACTIVE", "equals", "1")
			       FILTER("CORE.USERS.TITLE", "contains", "dev")
			       FILTER("CORE.USERS.DEPARTMENT", "notEqual", "")),
		     RC_OK, "%s", printed());
	const struct meta_listview_node *n = mv->nodes;
	const struct meta_listview_node *root = &n[mv->root];
	cr_assert_eq(mv->filters[0].kind, LV_KIND_CHECKBOX);
	cr_assert_eq(mv->filters[2].nitems, 1);
	cr_assert_eq(mv->filters[2].items[0].len, 0, "no value is one empty item");
	cr_assert_eq(root->kind, LV_NODE_AND);
	cr_assert_eq(n[root->a].kind, LV_NODE_FILTER);
	cr_assert_eq(n[root->a].a, 0);
	const struct meta_listview_node *or = &n[root->b];
	cr_assert_eq(or->kind, LV_NODE_OR);
	cr_assert_eq(n[or->a].kind, LV_NODE_FILTER);
	cr_assert_eq(n[or->a].a, 1);
	cr_assert_eq(n[or->b].kind, LV_NODE_NOT);
	cr_assert_eq(n[n[or->b].a].kind, LV_NODE_FILTER);
	cr_assert_eq(n[n[or->b].a].a, 2);
}

Test(meta_listview, no_boolean_filter_ands_every_filter_in_order)
{
	cr_assert_eq(open_body(ENT_CUSTOM, EVERYTHING FILTER("NAME", "equals", "a")
			       FILTER("NAME", "equals", "b") FILTER("NAME", "equals", "c")),
		     RC_OK, "%s", printed());
	const struct meta_listview_node *n = mv->nodes;
	const struct meta_listview_node *root = &n[mv->root];
	/* ((1 AND 2) AND 3) */
	cr_assert_eq(root->kind, LV_NODE_AND);
	cr_assert_eq(n[root->b].kind, LV_NODE_FILTER);
	cr_assert_eq(n[root->b].a, 2);
	cr_assert_eq(n[root->a].kind, LV_NODE_AND);
	cr_assert_eq(n[n[root->a].a].a, 0);
	cr_assert_eq(n[n[root->a].b].a, 1);
}

Test(meta_listview, a_refused_list_view_gives_nothing_back)
{
	cr_assert_eq(open_body(ENT_CONTACT, "    <booleanFilter>1 OR</booleanFilter>\n"
			       "    <filterScope>Mine</filterScope>\n"
			       FILTER("CONTACT.EMAIL", "equals", "x")),
		     RC_CONFIG);
	cr_assert_null(mv);
	cr_assert_str_eq(printed(),
			 "lmsrecon: T.listView-meta.xml:5: filterScope 'Mine' needs a user context;"
			 " only Everything can be evaluated offline\n"
			 "lmsrecon: T.listView-meta.xml:4:24: expected a filter number, '(' or NOT"
			 " but found the end of booleanFilter\n");
}

Test(meta_listview, checkbox_reads_one_zero_true_false_in_any_case)
{
	cr_assert_eq(meta_listview_checkbox("1", 1), 1);
	cr_assert_eq(meta_listview_checkbox("0", 1), 0);
	cr_assert_eq(meta_listview_checkbox("TrUe", 4), 1);
	cr_assert_eq(meta_listview_checkbox("FALSE", 5), 0);
	cr_assert_eq(meta_listview_checkbox("yes", 3), -1);
	cr_assert_eq(meta_listview_checkbox("10", 2), -1);
	cr_assert_eq(meta_listview_checkbox("true", 3), -1, "the length counts");
}

Test(meta_listview, more_filters_than_are_read_is_refused)
{
	struct buf body = BUF_INIT;

	buf_adds(&body, EVERYTHING);
	for (int i = 0; i <= META_LISTVIEW_MAX_FILTERS; i++)
		buf_adds(&body, FILTER("CONTACT.EMAIL", "contains", "x"));
	cr_assert_eq(open_body(ENT_CONTACT, body.buf), RC_CONFIG);
	cr_assert_str_eq(printed(), "lmsrecon: T.listView-meta.xml:2: the list view has 65"
			 " filters; at most 64 are read\n");
	cr_assert_null(mv);
	buf_release(&body);
}
