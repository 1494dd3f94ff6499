/* SPDX-License-Identifier: MIT */
/* Tests of meta_picklist: the dependent picklists of fixtures/branch read
 * into fields, values, labels and controlling values; global value sets;
 * the checks of the chain; and the messages of files that cannot be used,
 * written by the tests into a temporary directory. */
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "meta_picklist.h"
#include "util.h"

#define FIX "fixtures/branch/"
#define FIELD_HEAD "<?xml version=\"1.0\"?>\n" \
	"<CustomField xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"

static char tmpdir[64];     /* this test's directory */
static FILE *diag_out;      /* the memstream every diag writes to */
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct meta_picklist *pl; /* what the test opened; freed by teardown */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void setup(void)
{
	strcpy(tmpdir, "/tmp/test_meta_pl.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	pl = NULL;
}

static void teardown(void)
{
	meta_picklist_free(pl);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(meta_picklist, .init = setup, .fini = teardown);

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* Writes `text` to <tmpdir>/<name>; returns the path (caller frees). */
static char *write_tmp(const char *name, const char *text)
{
	char *path = path_join(tmpdir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Opens one file written to tmpdir, expecting `want_rc` and, on failure,
 * the whole message "lmsrecon: " + tmpdir + want_tail. */
static void open_tmp(const char *name, const char *text, const char *field,
		     enum rc want_rc, const char *want_tail)
{
	char *path = write_tmp(name, text);
	char *paths[1] = { path };
	cr_assert_eq(meta_picklist_open(&d, paths, 1, field, &pl), want_rc, "%s", printed());
	if (want_tail) {
		char *want = xasprintf("lmsrecon: %s%s", tmpdir, want_tail);
		cr_assert_str_eq(printed(), want);
		cr_assert_null(pl);
		free(want);
	}
	free(path);
}

Test(meta_picklist, chain_reads_active_values_labels_and_controlling_values)
{
	char *paths[3] = { FIX "Region__c.field-meta.xml", FIX "Country__c.field-meta.xml",
			   FIX "City__c.field-meta.xml" };
	cr_assert_eq(meta_picklist_open(&d, paths, 3, "region__c", &pl), RC_OK, "%s", printed());
	cr_assert_str_eq(printed(), "");
	cr_assert_eq(pl->nfields, 3);

	const struct meta_picklist_field *r = &pl->fields[0];
	cr_assert_str_eq(r->name, "Region__c");
	cr_assert_str_eq(r->stem, "Region__c");
	cr_assert_str_eq(r->path, paths[0]);
	cr_assert_neq(r->path, paths[0], "the path is a copy");
	cr_assert_null(r->controlling);
	cr_assert_eq(r->root_line, 2);
	/* APAC is inactive. */
	cr_assert_eq(r->nvals, 2);
	cr_assert_str_eq(r->vals[0].name, "EMEA");
	cr_assert_str_eq(r->vals[0].label, "Europe, Middle East & Africa");
	cr_assert_str_eq(r->vals[1].name, "AMER");
	cr_assert_eq(r->vals[1].nctrl, 0);

	const struct meta_picklist_field *c = &pl->fields[1];
	cr_assert_str_eq(c->controlling, "Region__c");
	cr_assert_eq(c->controlling_line, 8);
	cr_assert_eq(c->nvals, 5);
	cr_assert_str_eq(c->vals[3].name, "Remote");
	cr_assert_str_eq(c->vals[3].label, "Remote workers");
	cr_assert_eq(c->vals[3].nctrl, 2);
	cr_assert_str_eq(c->vals[3].ctrl[0], "EMEA");
	cr_assert_str_eq(c->vals[3].ctrl[1], "AMER");
	cr_assert_str_eq(c->vals[4].name, "Atlantis");
	cr_assert_eq(c->vals[4].nctrl, 0, "Atlantis sits under no Region");
	cr_assert_str_eq(pl->fields[2].controlling, "Country__c");
}

Test(meta_picklist, global_value_set_beside_the_field_gives_the_values)
{
	char *paths[1] = { FIX "Tier__c.field-meta.xml" };
	cr_assert_eq(meta_picklist_open(&d, paths, 1, NULL, &pl), RC_OK, "%s", printed());
	cr_assert_eq(pl->fields[0].nvals, 2);
	cr_assert_str_eq(pl->fields[0].vals[0].name, "Gold");
	cr_assert_str_eq(pl->fields[0].vals[0].label, "Gold partners");
	cr_assert_str_eq(pl->fields[0].vals[1].name, "Silver");
}

Test(meta_picklist, object_prefix_of_full_name_is_dropped_and_repeats_kept_once)
{
	open_tmp("Level__c.field-meta.xml", FIELD_HEAD
		 "    <fullName>Contact.Level__c</fullName>\n    <type>Picklist</type>\n"
		 "    <valueSet>\n        <controllingField>Tier__c</controllingField>\n"
		 "        <valueSetDefinition>\n"
		 "            <value><fullName>Gold</fullName></value>\n"
		 "            <value><fullName>Gold</fullName><label>Again</label></value>\n"
		 "            <value><fullName></fullName></value>\n"
		 "        </valueSetDefinition>\n"
		 "        <valueSettings>\n"
		 "            <controllingFieldValue>A</controllingFieldValue>\n"
		 "            <controllingFieldValue>A</controllingFieldValue>\n"
		 "            <controllingFieldValue>B</controllingFieldValue>\n"
		 "            <valueName>Gold</valueName>\n"
		 "        </valueSettings>\n"
		 "        <valueSettings>\n"
		 "            <controllingFieldValue>A</controllingFieldValue>\n"
		 "            <valueName>Missing</valueName>\n"
		 "        </valueSettings>\n"
		 "    </valueSet>\n</CustomField>\n", "level__c", RC_OK, NULL);
	const struct meta_picklist_field *f = &pl->fields[0];
	cr_assert_str_eq(f->name, "Level__c");
	cr_assert_eq(f->nvals, 1);
	cr_assert_null(f->vals[0].label);
	cr_assert_eq(f->vals[0].nctrl, 2);
	cr_assert_str_eq(f->vals[0].ctrl[0], "A");
	cr_assert_str_eq(f->vals[0].ctrl[1], "B");
}

Test(meta_picklist, first_field_is_checked_only_when_one_is_named)
{
	char *paths[1] = { FIX "Country__c.field-meta.xml" };
	cr_assert_eq(meta_picklist_open(&d, paths, 1, NULL, &pl), RC_OK, "%s", printed());
	meta_picklist_free(pl);
	pl = NULL;
	cr_assert_eq(meta_picklist_open(&d, paths, 1, "Region__c", &pl), RC_CONFIG);
	cr_assert_null(pl);
	cr_assert_str_eq(printed(), "lmsrecon: " FIX "Country__c.field-meta.xml:2: field"
			 " 'Country__c' is not the org chart field 'Region__c'\n");
}

Test(meta_picklist, dependent_field_without_a_controlling_field_stops_the_chain)
{
	/* The third file does not exist: reading stops at the second. */
	char *paths[3] = { FIX "Region__c.field-meta.xml", FIX "Tier__c.field-meta.xml",
			   FIX "Nothing__c.field-meta.xml" };
	cr_assert_eq(meta_picklist_open(&d, paths, 3, NULL, &pl), RC_CONFIG);
	cr_assert_null(pl);
	cr_assert_str_eq(printed(), "lmsrecon: " FIX "Tier__c.field-meta.xml:2: field"
			 " 'Tier__c' has no controlling field, so it cannot depend on 'Region__c'\n");
}

Test(meta_picklist, missing_file_is_no_input)
{
	char *paths[1] = { FIX "Nothing__c.field-meta.xml" };
	cr_assert_eq(meta_picklist_open(&d, paths, 1, NULL, &pl), RC_NOINPUT);
	cr_assert_null(pl);
	cr_assert_str_eq(printed(), "lmsrecon: " FIX "Nothing__c.field-meta.xml: cannot open:"
			 " No such file or directory\n");
}

Test(meta_picklist, name_that_does_not_match_the_file_is_refused)
{
	open_tmp("Region__c.field-meta.xml", FIELD_HEAD
		 "    <fullName>Contact.Area__c</fullName>\n    <type>Picklist</type>\n"
		 "</CustomField>\n", NULL, RC_CONFIG,
		 "/Region__c.field-meta.xml:3: field name 'Area__c' does not match the file"
		 " name 'Region__c.field-meta.xml'\n");
}

Test(meta_picklist, other_metadata_is_not_a_field)
{
	open_tmp("Region__c.field-meta.xml", "<?xml version=\"1.0\"?>\n\n<ListView/>\n",
		 NULL, RC_CONFIG,
		 "/Region__c.field-meta.xml:3: not a field metadata file: the root element is"
		 " 'ListView', not 'CustomField'\n");
}

Test(meta_picklist, standard_value_set_is_unsupported)
{
	open_tmp("Region__c.field-meta.xml", FIELD_HEAD
		 "    <fullName>Region__c</fullName>\n    <type>Picklist</type>\n"
		 "</CustomField>\n", NULL, RC_CONFIG,
		 "/Region__c.field-meta.xml:2: field 'Region__c' has no <valueSet>: standard"
		 " value sets are not supported\n");
}

Test(meta_picklist, empty_file_is_malformed)
{
	open_tmp("Region__c.field-meta.xml", "", NULL, RC_CONFIG,
		 "/Region__c.field-meta.xml:1: malformed XML: document is empty\n");
}
