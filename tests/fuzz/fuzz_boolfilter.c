/* SPDX-License-Identifier: MIT */
/* fuzz_boolfilter: libFuzzer harness for the list view booleanFilter
 * parser, through the public rule_listview_open. The input is the text of
 * <booleanFilter> (with &, < and > escaped so that it stays one text node)
 * in a Contact list view whose filters are fixed: the first byte of the
 * input says how many of them the view has (1 to 12, so that a filter
 * number of two digits can be valid), the rest is the filter text. */
#include "fuzz.h"
#include "fuzz_xmltrap.h"
#include "rule_listview.h"
#include "util.h"

/* Most filters a generated view has. */
#define BF_MAX_FILTERS 12

/* The fixed filters: column, operation, value. */
static const char *const bf_filters[BF_MAX_FILTERS][3] = {
	{ "CONTACT.EMAIL", "contains", "@example.com" },
	{ "CONTACT.TITLE", "startsWith", "Intern" },
	{ "ACCOUNT.NAME", "equals", "Acme,Globex" },
	{ "CONTACT.BIRTHDATE", "lessThan", "2000-01-01" },
	{ "CONTACT.DO_NOT_CALL", "equals", "1" },
	{ "CONTACT.MAILING_COUNTRY", "notEqual", "France" },
	{ "CONTACT.DEPARTMENT", "notContain", "Sales" },
	{ "CONTACT.CREATED_DATE", "greaterOrEqual", "2024-01-01T00:00:00Z" },
	{ "CONTACT.LEAD_SOURCE", "includes", "Web;Phone" },
	{ "FULL_NAME", "greaterThan", "M" },
	{ "CONTACT.FIRST_NAME", "lessOrEqual", "Z" },
	{ "CONTACT.LAST_NAME", "excludes", "Smith" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_listview *lv = NULL;
	struct buf x = BUF_INIT;
	struct diag d;
	const char *const *fields;
	size_t nfilters, nfields;
	char *path;
	enum rc rc;

	if (size < 1)
		return 0;
	nfilters = 1 + data[0] % BF_MAX_FILTERS;
	buf_adds(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<ListView xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n"
		 "    <fullName>Fuzz</fullName>\n"
		 "    <booleanFilter>");
	for (size_t i = 1; i < size; i++) {
		if (data[i] == '&')
			buf_adds(&x, "&amp;");
		else if (data[i] == '<')
			buf_adds(&x, "&lt;");
		else if (data[i] == '>')
			buf_adds(&x, "&gt;");
		else
			buf_addch(&x, data[i]);
	}
	buf_adds(&x, "</booleanFilter>\n    <filterScope>Everything</filterScope>\n");
	for (size_t i = 0; i < nfilters; i++)
		buf_addf(&x, "    <filters>\n        <field>%s</field>\n"
			 "        <operation>%s</operation>\n"
			 "        <value>%s</value>\n    </filters>\n",
			 bf_filters[i][0], bf_filters[i][1], bf_filters[i][2]);
	buf_adds(&x, "    <label>Fuzz</label>\n</ListView>\n");

	diag_init(&d, fuzz_devnull());
	path = fuzz_write("Fuzz.listView-meta.xml", x.buf, x.len);
	fuzz_xml_trap_set();
	rc = rule_listview_open(&d, path, "Fuzz.listView-meta.xml",
				entity_get(ENT_CONTACT), &lv);
	fuzz_xml_trap_check();
	fuzz_check(rc == RC_OK || rc == RC_CONFIG);
	fuzz_check((rc == RC_OK) == (lv != NULL));
	if (lv) {
		/* Every filter is used, so every field but the Account's is read. */
		nfields = rule_listview_fields(lv, &fields);
		fuzz_check(nfields <= nfilters);
		for (size_t i = 0; i < nfields; i++)
			fuzz_check(fields[i] && fields[i][0]);
	}
	rule_listview_free(lv);
	diag_release(&d);
	buf_release(&x);
	free(path);
	return 0;
}
