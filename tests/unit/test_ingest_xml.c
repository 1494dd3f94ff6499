/* SPDX-License-Identifier: MIT */
/* Tests of the XML reader: every input is replayed at every chunk size and
 * must give the same records, lines and messages. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "diag.h"
#include "ingest.h"
#include "util.h"
#include "tmpfiles.h"

#define FIXTURES "fixtures/ingest-xml"
#define ATTACKS "../shared/corpora/xml-attacks"
#define SF_METADATA "../shared/corpora/salesforce-metadata"

/* The columns of the Bulk API sample, with Id required. */
static const char *const contact_names[] = {
	"Id", "Email", "FirstName", "LastName", "Title", "AccountId",
	"account.name", "Account.Owner.Email", "Description", "Phone",
};
static const unsigned char contact_req[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const struct ingest_cols contact_cols = { 10, contact_names, contact_req };

/* Size of a file in bytes. */
static size_t file_size(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "cannot stat %s", path);
	return (size_t)sb.st_size;
}

/* Writes each record as `LINE: [v1] - [v3]` (- for NULL), checking that
 * lens agree with the values. */
static enum rc collect(void *ctx, const struct ingest_rec *rec)
{
	struct buf *b = ctx;

	buf_addf(b, "%lu:", rec->line);
	for (size_t i = 0; i < rec->n; i++) {
		if (!rec->vals[i]) {
			cr_assert_eq(rec->lens[i], 0);
			buf_adds(b, " -");
			continue;
		}
		cr_assert_eq(strlen(rec->vals[i]), rec->lens[i]);
		buf_adds(b, " [");
		buf_add(b, rec->vals[i], rec->lens[i]);
		buf_adds(b, "]");
	}
	buf_addch(b, '\n');
	return RC_OK;
}

/* What one read produced. */
struct result {
	enum rc rc;
	char *recs;               /* collect()'s text; owned */
	char *msgs;               /* everything printed; owned */
	struct ingest_stats st;
};

static void result_free(struct result *res)
{
	free(res->recs);
	free(res->msgs);
}

/* Reads `path` once with the given chunk size and record element. */
static struct result read_once(const char *path, const char *name, const char *elem,
			       const struct ingest_cols *cols, size_t chunk,
			       unsigned long max_errors)
{
	struct ingest_fmt fmt = { INGEST_XML, ',', '"', elem, chunk };
	struct result res;
	struct buf recs = BUF_INIT;
	struct diag d;
	size_t mlen;
	FILE *out;

	memset(&res, 0, sizeof res);
	buf_init(&recs);
	out = open_memstream(&res.msgs, &mlen);
	cr_assert_not_null(out);
	diag_init(&d, out);
	d.max_errors = max_errors;
	res.rc = ingest_xml_read(&d, path, name, &fmt, cols, collect, &recs, &res.st);
	diag_release(&d);
	fclose(out);
	res.recs = buf_detach(&recs, NULL);
	return res;
}

/* Reads `path` at every chunk size from 1 to its length (and the default)
 * and asserts the same outcome each time. When the read fails, the reader
 * may have delivered fewer of the records before the fault, depending on
 * how far libxml2 had parsed ahead: those it delivered must be the first
 * ones of `recs`. */
static void expect_all_chunks(const char *path, const char *name, const char *elem,
			      const struct ingest_cols *cols, unsigned long max_errors,
			      enum rc rc, const char *recs, const char *msgs)
{
	size_t len = file_size(path);

	for (size_t chunk = 0; chunk <= len; chunk++) {
		struct result res = read_once(path, name, elem, cols, chunk, max_errors);
		size_t rlen = strlen(res.recs);

		cr_assert_eq(res.rc, rc, "chunk %zu: rc %d, expected %d; messages:\n%s",
			     chunk, res.rc, rc, res.msgs);
		if (rc == RC_OK)
			cr_assert_str_eq(res.recs, recs, "chunk %zu: records\n%s\nexpected\n%s",
					 chunk, res.recs, recs);
		else
			cr_assert(!strncmp(res.recs, recs, rlen) &&
				  (rlen == 0 || res.recs[rlen - 1] == '\n'),
				  "chunk %zu: records\n%s\nnot a prefix of\n%s", chunk, res.recs, recs);
		cr_assert_str_eq(res.msgs, msgs, "chunk %zu: messages\n%s\nexpected\n%s", chunk,
				 res.msgs, msgs);
		result_free(&res);
	}
}

/* The records of fixtures/ingest-xml/bulk-contacts.xml. */
static const char contacts_expected[] =
	"3: [0035g00000AbCdEAAV] [ada@example.com] [Ada] [Lovelace] - - - - - -\n"
	"12: [0035g00000AbCdFAAV] [rene@example.com] [Ren\xc3\xa9]"
	" [Descartes & Fils <Paris> \xe2\x80\x94 \"R'D\"] - [0015g00000XyZaBAAV]"
	" [Acme & Co] - - -\n"
	"21: [0035g00000AbCdGAAV] [] [Zo\xc3\xab] [  O'Brien  ] [<b>Head</b> & of R&D]"
	" [0015g00000XyZaCAAV] [\xc3\x9cn\xc3\xaf" "code \xe6\x97\xa5\xe6\x9c\xac GmbH]"
	" [owner@example.com] - -\n"
	"36: [0035g00000AbCdHAAV] [] - - - - - - [first line\nsecond line\n] -\n";

TestSuite(ingest_xml, .init = make_tmpdir, .fini = remove_tmpdir);

Test(ingest_xml, bulk_api_result_gives_fields_nil_empty_nested_and_entities)
{
	expect_all_chunks(FIXTURES "/bulk-contacts.xml", "contacts.xml", "records",
			  &contact_cols, 0, RC_OK, contacts_expected, "");
}

Test(ingest_xml, stats_count_bytes_and_records)
{
	const char *path = FIXTURES "/bulk-contacts.xml";
	struct result res = read_once(path, "contacts.xml", "records", &contact_cols, 0, 0);

	cr_assert_eq(res.rc, RC_OK);
	cr_assert_eq(res.st.nrecords, 4);
	cr_assert_eq(res.st.bytes, file_size(path));
	cr_assert_eq(res.st.raw_bytes, file_size(path));
	cr_assert_eq(res.st.is_gzip, 0);
	result_free(&res);
}

Test(ingest_xml, gzip_compressed_file_gives_the_same_records)
{
	size_t len;
	char *xml = slurp(FIXTURES "/bulk-contacts.xml", &len);
	char *path = write_gz("contacts.xml.gz", xml, len);
	struct result res;

	expect_all_chunks(path, "contacts.xml.gz", "records", &contact_cols, 0, RC_OK,
			  contacts_expected, "");
	res = read_once(path, "contacts.xml.gz", "records", &contact_cols, 0, 0);
	cr_assert_eq(res.st.is_gzip, 1);
	cr_assert_eq(res.st.raw_bytes, len);
	cr_assert_eq(res.st.bytes, file_size(path));
	cr_assert_eq(res.st.nrecords, 4);
	result_free(&res);
	free(path);
	free(xml);
}

Test(ingest_xml, truncated_gzip_reports_the_source_error_not_malformed_xml)
{
	size_t len, glen;
	char *xml = slurp(FIXTURES "/bulk-contacts.xml", &len);
	char *path = write_gz("full.gz", xml, len), *gzbytes, *cut;
	struct result res;

	gzbytes = slurp(path, &glen);
	cut = write_file("cut.xml.gz", gzbytes, glen / 2);
	res = read_once(cut, "cut.xml.gz", "records", &contact_cols, 0, 0);
	cr_assert_eq(res.rc, RC_DATA);
	cr_assert_str_eq(res.msgs, "lmsrecon: cut.xml.gz: truncated gzip stream\n");
	result_free(&res);
	free(cut);
	free(gzbytes);
	free(path);
	free(xml);
}

Test(ingest_xml, missing_file_is_noinput)
{
	char *path = path_join(tmpdir, "absent.xml");
	struct result res = read_once(path, "absent.xml", "records", &contact_cols, 0, 0);

	cr_assert_eq(res.rc, RC_NOINPUT);
	cr_assert_str_eq(res.msgs, "lmsrecon: absent.xml: cannot open: no such file or directory\n");
	cr_assert_str_eq(res.recs, "");
	result_free(&res);
	free(path);
}

Test(ingest_xml, records_over_many_lines_report_their_start_tag_line)
{
	static const char xml[] =
		"<?xml version=\"1.0\"?>\n"
		"<!-- a comment\n spanning lines -->\n"
		"<root>\n"
		"\n"
		"  <row>\n"
		"    <a>1</a>\n"
		"    <b>x\ny\nz</b>\n"
		"  </row>\n"
		"\n\n\n"
		"  <row><a>2</a><b/></row><row><a>3</a></row>\n"
		"  <other><row><a>4</a></row></other>\n"
		"  <row\n"
		"    ><a>5</a></row>\n"
		"</root>\n";
	static const char *const names[] = { "a", "B" };
	static const struct ingest_cols cols = { 2, names, NULL };
	char *path = write_file("lines.xml", xml, sizeof xml - 1);

	/* libxml2 places an element at the line where its start tag ends, so
	 * the last record, whose start tag spans lines 17-18, is at 18. */
	expect_all_chunks(path, "lines.xml", "row", &cols, 0, RC_OK,
			  "6: [1] [x\ny\nz]\n"
			  "15: [2] []\n"
			  "15: [3] -\n"
			  "16: [4] -\n"
			  "18: [5] -\n", "");
	free(path);
}

Test(ingest_xml, line_numbers_past_65535_are_exact)
{
	struct buf b = BUF_INIT;
	static const char *const names[] = { "a" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path;
	struct result res;

	buf_init(&b);
	buf_adds(&b, "<root>\n");
	for (int i = 0; i < 70000; i++)
		buf_adds(&b, "<row><a>x</a></row>\n");
	buf_adds(&b, "</root>\n");
	path = write_file("big.xml", b.buf, b.len);
	res = read_once(path, "big.xml", "row", &cols, 0, 0);
	cr_assert_eq(res.rc, RC_OK, "%s", res.msgs);
	cr_assert_eq(res.st.nrecords, 70000);
	cr_assert(strstr(res.recs, "\n65535: [x]\n65536: [x]\n65537: [x]\n"));
	cr_assert(strstr(res.recs, "\n70001: [x]\n"));
	result_free(&res);
	buf_release(&b);
	free(path);
}

Test(ingest_xml, missing_required_field_skips_the_record_and_reads_on)
{
	static const char xml[] =
		"<queryResult xmlns=\"http://www.force.com/2009/06/asyncapi/dataload\">\n"
		"<records><Id>001</Id><Email>a@b.c</Email></records>\n"
		"<records>\n"
		"  <Email>no-id@b.c</Email>\n"
		"</records>\n"
		"<records><Id>003</Id></records>\n"
		"</queryResult>\n";
	static const char *const names[] = { "Email", "Id" };
	static const unsigned char req[] = { 0, 1 };
	static const struct ingest_cols cols = { 2, names, req };
	char *path = write_file("req.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "contacts.xml", "records", &cols, 10, RC_OK,
			  "2: [a@b.c] [001]\n"
			  "6: - [003]\n",
			  "lmsrecon: contacts.xml:3: record is missing required field 'Id'\n");
	/* With no bad record tolerated, the first one stops the read. */
	expect_all_chunks(path, "contacts.xml", "records", &cols, 0, RC_DATA,
			  "2: [a@b.c] [001]\n",
			  "lmsrecon: contacts.xml:3: record is missing required field 'Id'\n");
	free(path);
}

Test(ingest_xml, nil_required_field_is_present_but_null)
{
	static const char xml[] =
		"<r xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
		"<records><Id xsi:nil=\"true\"/><Email xsi:nil=\"false\">e</Email></records></r>";
	static const char *const names[] = { "Id", "Email" };
	static const unsigned char req[] = { 1, 1 };
	static const struct ingest_cols cols = { 2, names, req };
	char *path = write_file("nil.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "nil.xml", "records", &cols, 0, RC_OK, "1: - [e]\n", "");
	free(path);
}

Test(ingest_xml, field_longer_than_the_limit_is_a_bad_record)
{
	struct buf b = BUF_INIT;
	static const char *const names[] = { "Id", "Notes" };
	static const struct ingest_cols cols = { 2, names, NULL };
	char *path;
	struct result res;

	buf_init(&b);
	buf_adds(&b, "<r>\n<records><Id>1</Id><Notes>");
	for (size_t i = 0; i < INGEST_MAX_FIELD; i++)
		buf_addch(&b, 'n');
	buf_adds(&b, "</Notes></records>\n<records>\n<Id>2</Id><Notes>");
	for (size_t i = 0; i <= INGEST_MAX_FIELD; i++)
		buf_addch(&b, 'n');
	buf_adds(&b, "</Notes></records>\n<records><Id>3</Id></records>\n</r>\n");
	path = write_file("long.xml", b.buf, b.len);
	for (size_t chunk = 0; chunk <= 4096; chunk += 1023) {
		res = read_once(path, "long.xml", "records", &cols, chunk, 5);
		cr_assert_eq(res.rc, RC_OK);
		cr_assert_str_eq(res.msgs, "lmsrecon: long.xml:3: field longer than 1048576 bytes\n");
		cr_assert_eq(res.st.nrecords, 2);
		cr_assert_eq(strncmp(res.recs, "2: [1] [nnn", 11), 0);
		cr_assert(strstr(res.recs, "nnn]\n5: [3] -\n"));
		cr_assert_eq(strlen(res.recs), strlen("2: [1] []\n5: [3] -\n") + INGEST_MAX_FIELD);
		result_free(&res);
	}
	buf_release(&b);
	free(path);
}

Test(ingest_xml, unclosed_tag_is_malformed_with_line_and_column)
{
	static const char xml[] =
		"<queryResult>\n"
		"<records><Id>1</Id></records>\n"
		"<records><Id>2</Id>\n"
		"</queryResult>\n";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("unclosed.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "unclosed.xml", "records", &cols, 0, RC_DATA, "2: [1]\n",
			  "lmsrecon: unclosed.xml:4:15: malformed XML: opening and ending tag"
			  " mismatch: records line 3 and queryResult\n");
	free(path);
}

Test(ingest_xml, document_ending_inside_an_element_is_malformed)
{
	static const char xml[] = "<queryResult>\n<records><Id>1</Id>";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("cut.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "cut.xml", "records", &cols, 0, RC_DATA, "",
			  "lmsrecon: cut.xml:2:20: malformed XML: premature end of data"
			  " in element 'records'\n");
	free(path);
}

Test(ingest_xml, invalid_utf8_is_malformed_with_a_position)
{
	static const char xml[] = "<r>\n<records><Name>Caf\xe9 au lait</Name></records>\n</r>\n";
	static const char *const names[] = { "Name" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("latin1.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "latin1.xml", "records", &cols, 0, RC_DATA, "",
			  "lmsrecon: latin1.xml:2:19: malformed XML: input is not proper UTF-8,"
			  " indicate encoding\n");
	free(path);
}

Test(ingest_xml, empty_file_is_refused)
{
	char *path = write_file("empty.xml", "", 0);
	struct result res = read_once(path, "empty.xml", "records", &contact_cols, 0, 0);

	cr_assert_eq(res.rc, RC_DATA);
	cr_assert_str_eq(res.msgs, "lmsrecon: empty.xml: empty file, expected an XML document\n");
	result_free(&res);
	free(path);
}

Test(ingest_xml, document_without_record_elements_has_no_records)
{
	static const char xml[] = "<?xml version=\"1.0\"?>\n<queryResult><done>true</done></queryResult>\n";
	char *path = write_file("none.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "none.xml", "records", &contact_cols, 0, RC_OK, "", "");
	free(path);
}

Test(ingest_xml, doctype_is_refused_at_its_line)
{
	static const char xml[] =
		"<?xml version=\"1.0\"?>\n"
		"<!-- <!DOCTYPE in a comment is fine -->\n"
		"<?pi <!DOCTYPE in a PI is fine?>\n"
		"<!DOCTYPE queryResult>\n"
		"<queryResult><records><Id>1</Id></records></queryResult>\n";
	char *path = write_file("doctype.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "doctype.xml", "records", &contact_cols, 0, RC_DATA, "",
			  "lmsrecon: doctype.xml:4: document type declarations are not allowed\n");
	free(path);
}

Test(ingest_xml, doctype_in_utf16_is_refused)
{
	static const char ascii[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"
				    "<!DOCTYPE r [<!ENTITY e \"x\">]>\n<r><records>&e;</records></r>\n";
	char u16[2 * sizeof ascii + 2], *path;
	size_t n = 0;

	u16[n++] = (char)0xff;
	u16[n++] = (char)0xfe;
	for (size_t i = 0; i < sizeof ascii - 1; i++) {
		u16[n++] = ascii[i];
		u16[n++] = 0;
	}
	path = write_file("u16.xml", u16, n);
	expect_all_chunks(path, "u16.xml", "records", &contact_cols, 0, RC_DATA, "",
			  "lmsrecon: u16.xml:2: document type declarations are not allowed\n");
	free(path);
}

Test(ingest_xml, external_entity_is_refused_and_nothing_is_read)
{
	char *secret = write_file("secret.txt", "TOP-SECRET", 10);
	char *xml = xasprintf("<?xml version=\"1.0\"?>\n"
			      "<!DOCTYPE r [\n<!ENTITY ee SYSTEM \"file://%s\">\n]>\n"
			      "<r><records><Id>&ee;</Id></records></r>\n", secret);
	char *path = write_file("xxe.xml", xml, strlen(xml));
	xmlExternalEntityLoader before = xmlGetExternalEntityLoader();

	expect_all_chunks(path, "xxe.xml", "records", &contact_cols, 0, RC_DATA, "",
			  "lmsrecon: xxe.xml:2: document type declarations are not allowed\n");
	cr_assert_eq(xmlGetExternalEntityLoader(), before, "entity loader not restored");
	free(path);
	free(xml);
	free(secret);
}

Test(ingest_xml, billion_laughs_is_refused)
{
	static const char xml[] =
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n"
		"<lolz><records><Id>&lol9;</Id></records></lolz>\n";
	char *path = write_file("lol.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "lol.xml", "records", &contact_cols, 0, RC_DATA, "",
			  "lmsrecon: lol.xml:1: document type declarations are not allowed\n");
	free(path);
}

Test(ingest_xml, undeclared_entity_is_malformed)
{
	static const char xml[] = "<r>\n<records><Id>&ee;</Id></records></r>\n";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("undeclared.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "undeclared.xml", "records", &cols, 0, RC_DATA, "",
			  "lmsrecon: undeclared.xml:2:18: malformed XML: entity 'ee' not defined\n");
	free(path);
}

/* A document nesting `depth` <a> elements, one per line, with the record
 * element innermost. */
static char *deep_doc(int depth, size_t *len)
{
	struct buf b = BUF_INIT;

	buf_init(&b);
	for (int i = 0; i < depth; i++)
		buf_adds(&b, "<a>\n");
	buf_adds(&b, "<records><Id>1</Id></records>\n");
	for (int i = 0; i < depth; i++)
		buf_adds(&b, "</a>\n");
	return buf_detach(&b, len);
}

Test(ingest_xml, nesting_deeper_than_256_is_refused_quickly)
{
	static const size_t chunks[] = { 0, 1, 2, 7, 100, 512, 4096, 65536 };
	size_t len;
	char *doc = deep_doc(10000, &len);
	char *path = write_file("deep.xml", doc, len);

	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct result res = read_once(path, "deep.xml", "records", &contact_cols,
					      chunks[i], 0);

		cr_assert_eq(res.rc, RC_DATA);
		cr_assert_str_eq(res.msgs, "lmsrecon: deep.xml:258: elements nested deeper than 256\n",
				 "chunk %zu", chunks[i]);
		/* The fault is about 1 KB in: reading stops within a chunk of it. */
		cr_assert_leq(res.st.raw_bytes, 1100 + (chunks[i] ? chunks[i] : 65536),
			      "chunk %zu: read too far: %llu", chunks[i], res.st.raw_bytes);
		result_free(&res);
	}
	free(path);
	free(doc);
}

Test(ingest_xml, nesting_of_256_is_accepted)
{
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	size_t len;
	char *doc = deep_doc(255, &len);
	char *path = write_file("deep.xml", doc, len);
	struct result res = read_once(path, "deep.xml", "records", &cols, 0, 0);

	/* The root is at depth 0, so the record's Id is at depth 256. */
	cr_assert_eq(res.rc, RC_OK, "%s", res.msgs);
	cr_assert_str_eq(res.recs, "256: [1]\n");
	result_free(&res);
	free(path);
	free(doc);
}

Test(ingest_xml, column_names_match_ignoring_ascii_case_only)
{
	static const char xml[] = "<r><records><EMAIL>e</EMAIL><Stra\xc3\x9f" "e>s</Stra\xc3\x9f" "e></records></r>";
	static const char *const names[] = { "email", "STRASSE", "Stra\xc3\x9f" "E" };
	static const struct ingest_cols cols = { 3, names, NULL };
	char *path = write_file("case.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "case.xml", "records", &cols, 0, RC_OK, "1: [e] - [s]\n", "");
	free(path);
}

Test(ingest_xml, group_element_is_not_a_value_but_its_children_are)
{
	static const char xml[] =
		"<r><records><Account>\n  <Name>n</Name>\n</Account><Plain>  </Plain></records></r>";
	static const char *const names[] = { "Account", "Account.Name", "Plain" };
	static const struct ingest_cols cols = { 3, names, NULL };
	char *path = write_file("group.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "group.xml", "records", &cols, 0, RC_OK, "1: - [n] [  ]\n", "");
	free(path);
}

/* Stops after the first record. */
static enum rc stop_at_first(void *ctx, const struct ingest_rec *rec)
{
	(void)rec;
	++*(int *)ctx;
	return RC_CANTCREAT;
}

Test(ingest_xml, callback_failure_stops_the_read_and_is_returned)
{
	struct ingest_fmt fmt = { INGEST_XML, ',', '"', "records", 0 };
	struct diag d;
	int calls = 0;
	char *msgs = NULL;
	size_t mlen;
	FILE *out = open_memstream(&msgs, &mlen);
	enum rc rc;

	diag_init(&d, out);
	rc = ingest_xml_read(&d, FIXTURES "/bulk-contacts.xml", "contacts.xml", &fmt,
			     &contact_cols, stop_at_first, &calls, NULL);
	diag_release(&d);
	fclose(out);
	cr_assert_eq(rc, RC_CANTCREAT);
	cr_assert_eq(calls, 1);
	cr_assert_str_eq(msgs, "");
	free(msgs);
}

/* Whether a file's bytes contain `s`. */
static int file_has(const char *path, const char *s)
{
	size_t len;
	char *p = slurp(path, &len);
	int has = memmem(p, len, s, strlen(s)) != NULL;

	free(p);
	return has;
}

/* Calls fn for every regular file under dir, recursively, in name order. */
static void walk_files(const char *dir, void (*fn)(const char *path, void *arg), void *arg)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	cr_assert_geq(n, 0, "cannot read %s", dir);
	for (int i = 0; i < n; i++) {
		char *path = path_join(dir, ents[i]->d_name);
		struct stat sb;

		if (ents[i]->d_name[0] != '.' && stat(path, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				walk_files(path, fn, arg);
			else if (S_ISREG(sb.st_mode))
				fn(path, arg);
		}
		free(path);
		free(ents[i]);
	}
	free(ents);
}

/* One corpus attack file: refused with RC_DATA and a message naming the
 * file, and nothing delivered. Files without a DTD are the corpus's
 * well-formed control cases and must read cleanly. */
static void check_attack(const char *path, void *arg)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 8, 13, 64, 512, 4096 };
	int is_attack = file_has(path, "<!DOCTYPE") || file_has(path, "<!ENTITY");
	char *prefix = xasprintf("lmsrecon: %s:", path);

	++*(int *)arg;
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct result res = read_once(path, path, "data", &contact_cols, chunks[i], 0);

		if (is_attack) {
			cr_assert_eq(res.rc, RC_DATA, "%s: rc %d", path, res.rc);
			cr_assert_eq(strncmp(res.msgs, prefix, strlen(prefix)), 0, "%s: %s", path,
				     res.msgs);
			cr_assert_eq(strchr(res.msgs, '\n'), res.msgs + strlen(res.msgs) - 1,
				     "%s: more than one message: %s", path, res.msgs);
			cr_assert_str_eq(res.recs, "", "%s", path);
			cr_assert_lt(res.st.raw_bytes, 1024 * 1024, "%s", path);
		} else {
			cr_assert_eq(res.rc, RC_OK, "%s: %s", path, res.msgs);
			cr_assert_str_eq(res.msgs, "", "%s", path);
		}
		result_free(&res);
	}
	free(prefix);
}

Test(ingest_xml, corpus_xml_attacks_are_all_refused)
{
	struct stat sb;
	int n = 0;

	if (stat(ATTACKS, &sb) != 0)
		cr_skip("%s is absent", ATTACKS);
	walk_files(ATTACKS, check_attack, &n);
	cr_assert_gt(n, 0);
}

Test(ingest_xml, corpus_attack_messages_say_what_was_refused)
{
	static const struct { const char *file, *msg; } cases[] = {
		{ "defusedxml/xmlbomb.xml", ":1: document type declarations are not allowed\n" },
		{ "defusedxml/quadratic.xml", ":1: document type declarations are not allowed\n" },
		{ "defusedxml/external_file.xml", ":1: document type declarations are not allowed\n" },
		{ "defusedxml/dtd.xml", ":2: document type declarations are not allowed\n" },
		{ "payloadsallthethings/classic-xxe-etc-passwd.xml",
		  ":2: document type declarations are not allowed\n" },
		{ "payloadsallthethings/xxe-oob-yunusov-2013.txt.xml",
		  ":1:1: malformed XML: document is empty\n" },
	};
	struct stat sb;

	if (stat(ATTACKS, &sb) != 0)
		cr_skip("%s is absent", ATTACKS);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *path = path_join(ATTACKS, cases[i].file);
		char *want = xasprintf("lmsrecon: %s%s", cases[i].file, cases[i].msg);
		struct result res;

		if (stat(path, &sb) != 0) {
			free(path);
			free(want);
			continue;
		}
		res = read_once(path, cases[i].file, "data", &contact_cols, 0, 0);
		cr_assert_eq(res.rc, RC_DATA);
		cr_assert_str_eq(res.msgs, want);
		result_free(&res);
		free(path);
		free(want);
	}
}

/* Counts non-overlapping occurrences of `s` in a file. */
static unsigned long count_in_file(const char *path, const char *s)
{
	size_t len;
	char *p = slurp(path, &len), *q = p;
	unsigned long n = 0;

	while ((q = memmem(q, len - (size_t)(q - p), s, strlen(s))) != NULL) {
		n++;
		q += strlen(s);
	}
	free(p);
	return n;
}

/* Reads a Salesforce metadata file with <filters> as the record element. */
static void check_metadata(const char *path, void *arg)
{
	static const char *const names[] = { "field", "operation", "value" };
	static const unsigned char req[] = { 1, 1, 0 };
	static const struct ingest_cols cols = { 3, names, req };
	struct result res;
	size_t len = strlen(path);

	if (len < 4 || strcmp(path + len - 4, ".xml"))
		return;
	res = read_once(path, path, "filters", &cols, 0, 0);
	cr_assert_eq(res.rc, RC_OK, "%s: %s", path, res.msgs);
	cr_assert_str_eq(res.msgs, "", "%s", path);
	cr_assert_eq(res.st.nrecords, count_in_file(path, "<filters>"), "%s", path);
	*(unsigned long *)arg += res.st.nrecords;
	result_free(&res);
}

Test(ingest_xml, corpus_salesforce_metadata_reads_cleanly)
{
	struct stat sb;
	unsigned long nfilters = 0;

	if (stat(SF_METADATA, &sb) != 0)
		cr_skip("%s is absent", SF_METADATA);
	walk_files(SF_METADATA, check_metadata, &nfilters);
	cr_assert_gt(nfilters, 0);
}

Test(ingest_xml, undefined_namespace_prefix_is_malformed)
{
	static const char xml[] = "<r>\n<records><Id xsi:nil=\"true\"/></records>\n<records/></r>\n";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("ns.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "ns.xml", "records", &cols, 0, RC_DATA, "",
			  "lmsrecon: ns.xml:2:28: malformed XML: namespace prefix xsi for nil"
			  " on Id is not defined\n");
	free(path);
}

Test(ingest_xml, fields_are_found_past_the_path_cache_limit)
{
	static const char *const names[] = { "f3", "late.x", "f69999" };
	static const struct ingest_cols cols = { 3, names, NULL };
	static const size_t chunks[] = { 0, 1000, 4096 };
	struct buf b = BUF_INIT;
	char *path;

	/* 70,000 distinct element names fill the cache of paths; the
	 * columns after them are still found. */
	buf_init(&b);
	buf_adds(&b, "<r><records>");
	for (int i = 0; i < 70000; i++)
		buf_addf(&b, "<f%d>%d</f%d>", i, i, i);
	buf_adds(&b, "<late><x>v</x></late></records><records><late><x>w</x></late></records></r>");
	path = write_file("wide.xml", b.buf, b.len);
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct result res = read_once(path, "wide.xml", "records", &cols, chunks[i], 0);

		cr_assert_eq(res.rc, RC_OK, "%s", res.msgs);
		cr_assert_str_eq(res.recs, "1: [3] [v] [69999]\n1: - [w] -\n");
		result_free(&res);
	}
	buf_release(&b);
	free(path);
}

/* Found by tests/fuzz/fuzz_xml: a byte the declared encoding's converter
 * refuses halted libxml2 without a parser error, so the read succeeded and
 * every record after the byte was dropped silently. */
Test(ingest_xml, byte_invalid_in_declared_encoding_fails_the_read)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n"
		"<queryResult>\n"
		"<records><Id>1</Id></records>\n"
		"\x80\n"
		"<records><Id>2</Id></records>\n"
		"</queryResult>\n";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("utf7.xml", xml, sizeof xml - 1);

	expect_all_chunks(path, "utf7.xml", "records", &cols, 0, RC_DATA, "3: [1]\n",
			  "lmsrecon: utf7.xml: malformed XML: bytes not valid in the declared"
			  " encoding 'UTF-7'\n");
	free(path);
}

/* The same input used to make libxml2 print its own lines ("encoding
 * error : ...") on stderr besides our message. */
Test(ingest_xml, encoding_failure_prints_nothing_of_libxml2s_own)
{
	static const char xml[] = "<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n"
				  "<r><records><Id>1</Id></records>\x80</r>\n";
	static const char *const names[] = { "Id" };
	static const struct ingest_cols cols = { 1, names, NULL };
	char *path = write_file("utf7.xml", xml, sizeof xml - 1);
	char *errpath = path_join(tmpdir, "stderr.txt");
	int saved = dup(2), fd;
	struct result res;

	cr_assert_geq(saved, 0);
	fflush(stderr);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, 2), 0);
	close(fd);
	res = read_once(path, "utf7.xml", "records", &cols, 0, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	cr_assert_eq(res.rc, RC_DATA);
	cr_assert_str_eq(res.msgs, "lmsrecon: utf7.xml: malformed XML: bytes not valid in"
			 " the declared encoding 'UTF-7'\n");
	cr_assert_eq(file_size(errpath), 0, "libxml2 wrote to stderr");
	result_free(&res);
	free(errpath);
	free(path);
}
