/* SPDX-License-Identifier: MIT */
/* Tests for ingest_read_piped: the parser in a thread of its own gives the
 * records, the messages, the bad-record count and the result a read in one
 * thread gives, whatever stops the read and wherever. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "diag.h"
#include "ingest.h"
#include "util.h"
#include "rectext.h"
#include "tmpfiles.h"

TestSuite(ingest_pipe, .init = make_tmpdir, .fini = remove_tmpdir);

/* Writes `data` to `name`, gzip-compressed when `gz`. Caller frees the path. */
static char *write_input(const char *name, const void *data, size_t len, int gz)
{
	return gz ? write_gz(name, data, len) : write_file(name, data, len);
}

/* What one read gave. */
struct result {
	enum rc rc;
	char *recs;      /* "LINE:v1|v2\n" per record, "~" for an absent value; owned */
	char *msgs;      /* everything printed; owned */
	char *kept;      /* the bad records kept for the report; owned */
	unsigned long nbad, nrecords;
	unsigned char sha256[32];
	enum rc stop_at; /* the callback returns this at record stop_after (0: never) */
	unsigned long stop_after, ncalls;
	struct buf out;
};

static enum rc collect(void *ctx, const struct ingest_rec *rec)
{
	struct result *r = ctx;

	rectext_add(&r->out, rec->line, rec);
	if (++r->ncalls == r->stop_after)
		return r->stop_at;
	return RC_OK;
}

static void run(int piped, const char *path, const struct ingest_fmt *fmt,
		const struct ingest_cols *cols, unsigned long max_errors, struct result *r)
{
	struct ingest_stats st;
	struct diag d;
	struct buf kept = BUF_INIT;
	char *mbuf = NULL;
	size_t mlen = 0;
	FILE *mf = open_memstream(&mbuf, &mlen);

	cr_assert_not_null(mf);
	diag_init(&d, mf);
	d.max_errors = max_errors;
	buf_init(&r->out);
	buf_init(&kept);
	r->ncalls = 0;
	memset(&st, 0, sizeof st);
	if (piped)
		r->rc = ingest_read_piped(&d, path, "in", fmt, cols, collect, r, &st);
	else if (fmt->kind == INGEST_CSV)
		r->rc = ingest_csv_read(&d, path, "in", fmt, cols, collect, r, &st);
	else
		r->rc = ingest_xml_read(&d, path, "in", fmt, cols, collect, r, &st);
	fclose(mf);
	for (size_t i = 0; i < d.nbad_kept; i++)
		buf_addf(&kept, "%s:%lu:%lu: %s\n", d.bad[i].file, d.bad[i].line, d.bad[i].col,
			 d.bad[i].msg);
	r->nbad = d.nbad;
	r->nrecords = st.nrecords;
	memcpy(r->sha256, st.sha256, sizeof r->sha256);
	diag_release(&d);
	r->recs = buf_detach(&r->out, NULL);
	r->kept = buf_detach(&kept, NULL);
	r->msgs = mbuf;
}

static void result_release(struct result *r)
{
	free(r->recs);
	free(r->msgs);
	free(r->kept);
}

/* Reads `path` both ways with each limit and each stop and asserts the
 * same outcome; returns how many of the reads failed, so that a case
 * can check it reached what it meant to. */
static unsigned compare(const char *path, const struct ingest_fmt *fmt,
			const struct ingest_cols *cols)
{
	static const unsigned long limits[] = { 0, 2, 1000000 };
	static const unsigned long stops[] = { 0, 1, 4999, 60000 };
	unsigned nfailed = 0;

	for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
		for (size_t j = 0; j < sizeof stops / sizeof *stops; j++) {
			struct result a = { 0 }, b = { 0 };

			a.stop_at = b.stop_at = RC_CONFIG;
			a.stop_after = b.stop_after = stops[j];
			run(0, path, fmt, cols, limits[i], &a);
			run(1, path, fmt, cols, limits[i], &b);
			cr_assert_eq(b.rc, a.rc, "max-errors %lu, stop %lu: %d against %d", limits[i],
				     stops[j], (int)b.rc, (int)a.rc);
			cr_assert_str_eq(b.msgs, a.msgs, "max-errors %lu, stop %lu", limits[i],
					 stops[j]);
			cr_assert(strcmp(b.recs, a.recs) == 0, "max-errors %lu, stop %lu: records differ",
				  limits[i], stops[j]);
			cr_assert_str_eq(b.kept, a.kept);
			cr_assert_eq(b.nbad, a.nbad);
			cr_assert_eq(b.nrecords, a.nrecords);
			if (a.rc == RC_OK)
				cr_assert_eq(memcmp(b.sha256, a.sha256, 32), 0);
			nfailed += a.rc != RC_OK;
			result_release(&a);
			result_release(&b);
		}
	}
	return nfailed;
}

/* `nrows` CSV rows of three columns, over many batches; the line numbers
 * in `bad` (0-terminated) get a fourth field. */
static char *csv_rows(size_t nrows, const size_t *bad, size_t *len)
{
	struct buf b = BUF_INIT;

	buf_init(&b);
	buf_adds(&b, "a,b,c\n");
	for (size_t i = 0; i < nrows; i++) {
		size_t line = i + 2;

		buf_addf(&b, "%zu,\"Name %zu,\nJr.\",user%zu@example.com", i, i % 977, i);
		for (const size_t *x = bad; *x; x++)
			if (*x == line)
				buf_adds(&b, ",extra");
		buf_addch(&b, '\n');
	}
	return buf_detach(&b, len);
}

static const char *const abc_names[] = { "a", "b", "c" };
static const unsigned char abc_req[] = { 1, 1, 1 };
static const struct ingest_cols abc = { 3, abc_names, abc_req };

Test(ingest_pipe, csv_clean_and_gzip)
{
	static const size_t none[] = { 0 };
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	size_t len;
	char *data = csv_rows(100000, none, &len);

	for (int gz = 0; gz < 2; gz++) {
		char *path = write_input(gz ? "t.csv.gz" : "t.csv", data, len, gz);

		/* Only the stops fail these reads: three limits, three stops. */
		cr_assert_eq(compare(path, &fmt, &abc), 9);
		free(path);
	}
	free(data);
}

Test(ingest_pipe, csv_bad_records_and_a_malformed_field)
{
	/* Each record takes two lines: rows start at even lines. */
	static const size_t bad[] = { 4, 10, 30000, 150000, 0 };
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 4093 };
	size_t len;
	char *data = csv_rows(100000, bad, &len);
	char *path = write_input("bad.csv", data, len, 0);
	char *q;

	/* Three bad records (rows 2, 8 and 29998): every read fails but the
	 * one with no stop and no limit reached. */
	cr_assert_eq(compare(path, &fmt, &abc), 11);
	free(path);

	/* A stray quote at 90% of the file: every read fails. */
	q = data + len / 10 * 9;
	q = strstr(q, "\n9");
	cr_assert_not_null(q);
	q[2] = '"';
	path = write_input("quote.csv", data, len, 0);
	cr_assert_eq(compare(path, &fmt, &abc), 12);
	free(path);
	free(data);
}

Test(ingest_pipe, csv_header_errors_and_bad_utf8)
{
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	const char *dup = "a,b,a,b\n1,2,3,4\n";
	const char *missing = "a,x\n1,2\n";
	const char *utf8 = "a,b,c\n1,2,3\n4,\xff,6\n";
	char *p;

	p = write_input("dup.csv", dup, strlen(dup), 0);
	cr_assert_eq(compare(p, &fmt, &abc), 12);
	free(p);
	p = write_input("missing.csv", missing, strlen(missing), 0);
	cr_assert_eq(compare(p, &fmt, &abc), 12);
	free(p);
	p = write_input("utf8.csv", utf8, strlen(utf8), 1);
	cr_assert_eq(compare(p, &fmt, &abc), 12);
	free(p);
}

Test(ingest_pipe, xml_missing_fields_and_a_truncated_end)
{
	static const char *const names[] = { "Id", "Email", "Name" };
	static const unsigned char req[] = { 1, 1, 0 };
	const struct ingest_cols cols = { 3, names, req };
	struct ingest_fmt fmt = { INGEST_XML, ',', '"', "records", 0 };
	struct buf b = BUF_INIT;
	size_t len;
	char *data, *path;

	buf_init(&b);
	buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r xmlns:xsi="
		     "\"http://www.w3.org/2001/XMLSchema-instance\">\n");
	for (size_t i = 0; i < 80000; i++) {
		if (i == 3 || i == 41000)
			buf_addf(&b, "<records><Id>%zu</Id></records>\n", i);
		else if (i % 7 == 0)
			buf_addf(&b, "<records><Id>%zu</Id><Email>u%zu@x.example</Email>"
				     "<Name xsi:nil=\"true\"/></records>\n", i, i);
		else
			buf_addf(&b, "<records><Id>%zu</Id><Email>u%zu@x.example</Email>"
				     "<Name>N &amp; %zu</Name></records>\n", i, i, i);
	}
	len = b.len;
	buf_adds(&b, "</r>\n");
	data = buf_detach(&b, NULL);

	path = write_input("t.xml", data, len + 5, 0);
	/* Two missing fields fail the reads at limit 0, the stops the rest. */
	cr_assert_eq(compare(path, &fmt, &cols), 4 + 3 + 3);
	free(path);
	/* Cut short: every read fails. */
	path = write_input("cut.xml.gz", data, len - 20, 1);
	cr_assert_eq(compare(path, &fmt, &cols), 12);
	free(path);
	free(data);
}

/* Every row ragged (a trailing comma on each): once the caller stops at the
 * first bad record, the parser stops too, rather than reading the rest of
 * the file into batches no one reads. */
Test(ingest_pipe, parser_stops_with_the_caller_on_bad_records_alone)
{
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	struct buf b = BUF_INIT;
	struct ingest_stats st;
	struct diag d;
	struct result r = { 0 };
	char *mbuf = NULL, *path;
	size_t mlen = 0, len;
	FILE *mf;
	enum rc rc;

	buf_init(&b);
	buf_adds(&b, "a,b,c\n");
	for (size_t i = 0; i < 500000; i++)
		buf_addf(&b, "%zu,n%zu,u%zu,\n", i, i, i);
	len = b.len;
	path = write_input("ragged.csv", b.buf, len, 0);
	buf_release(&b);

	mf = open_memstream(&mbuf, &mlen);
	cr_assert_not_null(mf);
	diag_init(&d, mf);
	buf_init(&r.out);
	rc = ingest_read_piped(&d, path, "in", &fmt, &abc, collect, &r, &st);
	fclose(mf);
	cr_assert_eq(rc, RC_DATA);
	cr_assert_str_eq(mbuf, "lmsrecon: in:2: expected 3 fields, found 4\n");
	cr_assert_eq(d.nbad, 1);
	cr_assert_eq(r.ncalls, 0);
	cr_assert_lt(st.bytes, len / 2, "the parser read %llu of %zu bytes", st.bytes, len);
	cr_assert_gt(len, 8u * 1024 * 1024);
	diag_release(&d);
	buf_release(&r.out);
	free(mbuf);

	/* And the same outcome as a direct read, at every limit and stop:
	 * no record reaches a stop, and 500,000 bad records fail the reads
	 * at the limits 0 and 2 only. */
	cr_assert_eq(compare(path, &fmt, &abc), 8);
	free(path);
}

/* Reads `path` piped with the N-th thread start failing (LMSRECON_TEST_AT
 * "thread:N:fail", see testhook.h), then directly, and asserts the same
 * outcome: no thread to be had is no reason to fail a read. Each Test
 * runs in a process of its own, where the hook counts from the start. */
static void compare_without_thread(const char *spec, const char *path,
				   const struct ingest_fmt *fmt, const struct ingest_cols *cols,
				   enum rc expect)
{
	struct result a = { 0 }, b = { 0 };

	cr_assert_eq(setenv("LMSRECON_TEST_AT", spec, 1), 0);
	run(1, path, fmt, cols, 0, &b);
	cr_assert_eq(unsetenv("LMSRECON_TEST_AT"), 0);
	run(0, path, fmt, cols, 0, &a);
	cr_assert_eq(a.rc, expect);
	cr_assert_eq(b.rc, expect, "%s: %s", spec, b.msgs);
	cr_assert_str_eq(b.msgs, a.msgs);
	cr_assert(strcmp(b.recs, a.recs) == 0, "%s: records differ", spec);
	cr_assert_eq(b.nrecords, a.nrecords);
	if (expect == RC_OK)
		cr_assert_eq(memcmp(b.sha256, a.sha256, 32), 0);
	result_release(&a);
	result_release(&b);
}

/* The CSV rows of csv_clean_and_gzip, plain or gzip, read as
 * compare_without_thread does. */
static void rows_without_thread(const char *spec, int gz)
{
	static const size_t none[] = { 0 };
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	size_t len;
	char *data = csv_rows(100000, none, &len);
	char *path = write_input(gz ? "t.csv.gz" : "t.csv", data, len, gz);

	compare_without_thread(spec, path, &fmt, &abc, RC_OK);
	free(path);
	free(data);
}

/* The parser's thread cannot start: the read runs in the caller's thread. */
Test(ingest_pipe, no_parser_thread_reads_in_the_callers_thread)
{
	rows_without_thread("thread:1:fail", 0);
}

/* The byte source's thread cannot start (the second thread a piped read
 * starts): the parser fills each slot itself, plain and gzip. */
Test(ingest_pipe, no_reading_thread_fills_the_slots_inline)
{
	rows_without_thread("thread:2:fail", 0);
}

Test(ingest_pipe, no_reading_thread_inflates_inline)
{
	rows_without_thread("thread:2:fail", 1);
}

/* A gzip stream cut short, inflated inline: the records before the cut,
 * then the error, as a read in one thread gives them. */
Test(ingest_pipe, no_reading_thread_reports_a_truncated_stream_in_place)
{
	static const size_t none[] = { 0 };
	struct ingest_fmt fmt = { INGEST_CSV, ',', '"', NULL, 0 };
	size_t len;
	char *data = csv_rows(100000, none, &len);
	char *path = write_input("cut.csv.gz", data, len, 1);
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(truncate(path, sb.st_size / 2), 0);
	compare_without_thread("thread:2:fail", path, &fmt, &abc, RC_DATA);
	free(path);
	free(data);
}
