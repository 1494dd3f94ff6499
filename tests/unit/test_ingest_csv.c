/* SPDX-License-Identifier: MIT */
/* Tests for the CSV reader and the byte source under it: every input is
 * replayed at every read size from 1 byte to its length, and must give the
 * same records, lines and messages each time. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "diag.h"
#include "ingest.h"
#include "sha256.h"
#include "util.h"
#include "rectext.h"
#include "tmpfiles.h"

#define CORPORA "../shared/corpora"

TestSuite(ingest_csv, .init = make_tmpdir, .fini = remove_tmpdir);

/* What one read produced: the records as text, the messages, the code. */
struct result {
	enum rc rc;
	char *recs;                /* "LINE:v1|v2\n" per record, "~" for NULL; owned */
	char *msgs;                /* everything printed; owned */
	struct ingest_stats st;
	enum rc stop_at;           /* callback: return this at record `stop_after` */
	unsigned long stop_after;  /* 0: never */
	unsigned long ncalls;
	int hide_lines;            /* write every line as 0 */
	struct buf out;
};

/* The record callback of the tests: appends the record to r->out. */
static enum rc collect(void *ctx, const struct ingest_rec *rec)
{
	struct result *r = ctx;

	rectext_add(&r->out, r->hide_lines ? 0 : rec->line, rec);
	if (++r->ncalls == r->stop_after)
		return r->stop_at;
	return RC_OK;
}

/* Reads `path` (shown as `name`) with the given columns and read size. */
static void run(const char *path, const char *name, const struct ingest_cols *cols,
		size_t chunk, unsigned long max_errors, struct result *r)
{
	struct ingest_fmt fmt = { INGEST_CSV, 0, 0, NULL, chunk };
	struct diag d;
	char *mbuf = NULL;
	size_t mlen = 0;
	FILE *mf = open_memstream(&mbuf, &mlen);

	cr_assert_not_null(mf);
	diag_init(&d, mf);
	d.max_errors = max_errors;
	buf_init(&r->out);
	r->ncalls = 0;
	r->rc = ingest_csv_read(&d, path, name, &fmt, cols, collect, r, &r->st);
	fclose(mf);
	diag_release(&d);
	r->recs = buf_detach(&r->out, NULL);
	r->msgs = mbuf;
}

static void result_release(struct result *r)
{
	free(r->recs);
	free(r->msgs);
	r->recs = r->msgs = NULL;
}

/* Three required columns a, b, c: what most cases use. */
static const char *const abc_names[] = { "a", "b", "c" };
static const unsigned char all_required[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static const struct ingest_cols abc = { 3, abc_names, all_required };

/* Writes `data` as "t.csv" and reads it at every read size from 1 to
 * len+1 and with the default, expecting the same outcome each time. */
static void replay_cols(const char *data, size_t len, const struct ingest_cols *cols,
			unsigned long max_errors, enum rc want_rc, const char *want_recs,
			const char *want_msgs)
{
	char *path = write_file("t.csv", data, len);

	for (size_t chunk = 0; chunk <= len + 1; chunk++) {
		struct result r = { 0 };

		run(path, "t.csv", cols, chunk, max_errors, &r);
		cr_assert_str_eq(r.msgs, want_msgs, "read size %zu", chunk);
		cr_assert_str_eq(r.recs, want_recs, "read size %zu", chunk);
		cr_assert_eq(r.rc, want_rc, "read size %zu: rc %d", chunk, (int)r.rc);
		result_release(&r);
	}
	unlink(path);
	free(path);
}

/* replay_cols for a C string with columns a, b, c. */
static void replay(const char *data, enum rc want_rc, const char *want_recs,
		   const char *want_msgs)
{
	replay_cols(data, strlen(data), &abc, 100, want_rc, want_recs, want_msgs);
}

Test(ingest_csv, simple_file_gives_records_with_lines)
{
	replay("a,b,c\n1,2,3\n4,5,6\n", RC_OK, "2:1|2|3\n3:4|5|6\n", "");
}

Test(ingest_csv, leading_bom_is_stripped_from_the_header)
{
	static const char *const names[] = { "Email", "b" };
	static const struct ingest_cols cols = { 2, names, all_required };
	const char *data = "\xEF\xBB\xBF" "Email,b\nx@y.z,2\n";

	replay("\xEF\xBB\xBF" "a,b,c\n1,2,3\n", RC_OK, "2:1|2|3\n", "");
	replay_cols(data, strlen(data), &cols, 0, RC_OK, "2:x@y.z|2\n", "");
}

Test(ingest_csv, crlf_line_endings)
{
	replay("a,b,c\r\n1,2,3\r\n4,5,6\r\n", RC_OK, "2:1|2|3\n3:4|5|6\n", "");
}

Test(ingest_csv, quoted_field_with_delimiter)
{
	replay("a,b,c\n\"x,y\",2,\"\"\n", RC_OK, "2:x,y|2|\n", "");
}

Test(ingest_csv, doubled_quotes_are_one_quote)
{
	replay("a,b,c\n\"he said \"\"hi\"\"\",\"\"\"\",3\n", RC_OK,
	       "2:he said \"hi\"|\"|3\n", "");
}

Test(ingest_csv, embedded_newlines_keep_later_lines_right)
{
	replay("a,b,c\n\"l1\nl2\n\",2,3\n4,5,6\n", RC_OK, "2:l1\nl2\n|2|3\n5:4|5|6\n", "");
	replay("a,b,c\r\n1,\"x\r\ny\",3\r\n4,5,6\r\n", RC_OK, "2:1|x\r\ny|3\n4:4|5|6\n", "");
}

Test(ingest_csv, bare_cr_ends_a_record_on_the_same_line)
{
	replay("a,b,c\n\"x\ny\",2,3\r4,5,6\n7,8,9\n", RC_OK,
	       "2:x\ny|2|3\n3:4|5|6\n4:7|8|9\n", "");
}

Test(ingest_csv, last_line_without_newline)
{
	replay("a,b,c\n1,2,3", RC_OK, "2:1|2|3\n", "");
	replay("a,b,c\n1,2,\"3\"", RC_OK, "2:1|2|3\n", "");
	replay("a,b,c\r\n1,2,", RC_OK, "2:1|2|\n", "");
}

Test(ingest_csv, header_only_file_has_no_records)
{
	replay("a,b,c\n", RC_OK, "", "");
	replay("a,b,c", RC_OK, "", "");
}

Test(ingest_csv, blank_lines_are_skipped)
{
	replay("a,b,c\n\n1,2,3\n\n\r\n\n4,5,6\n\n", RC_OK, "3:1|2|3\n7:4|5|6\n", "");
	replay("\n\na,b,c\n1,2,3\n", RC_OK, "4:1|2|3\n", "");
}

Test(ingest_csv, spaces_around_unquoted_fields_are_trimmed)
{
	/* libcsv's default: padding around an unquoted field (and after a
	 * closing quote) is dropped; inside quotes it is data. */
	replay("a,b,c\n 1 , 2 ,\t3\n", RC_OK, "2:1|2|3\n", "");
	replay("a,b,c\n\" 1 \" ,\"\t\",  \"3\"\n", RC_OK, "2: 1 |\t|3\n", "");
}

Test(ingest_csv, columns_come_in_the_callers_order_any_case)
{
	static const char *const names[] = { "c", "A", "extra" };
	static const unsigned char req[] = { 1, 1, 0 };
	static const struct ingest_cols cols = { 3, names, req };
	const char *data = "a,B,C,d\n1,2,3,4\n";

	replay_cols(data, strlen(data), &cols, 0, RC_OK, "2:3|1|~\n", "");
}

Test(ingest_csv, missing_required_columns_are_all_reported)
{
	static const char *const names[] = { "a", "Email", "c", "Phone", "x" };
	static const unsigned char req[] = { 1, 1, 1, 1, 0 };
	static const struct ingest_cols cols = { 5, names, req };
	const char *data = "a,c\n1,3\n";

	replay_cols(data, strlen(data), &cols, 100, RC_DATA, "",
		    "lmsrecon: t.csv:1: missing required column 'Email'\n"
		    "lmsrecon: t.csv:1: missing required column 'Phone'\n");
}

Test(ingest_csv, duplicate_wanted_column_is_reported_at_its_column)
{
	replay("a,b,c,A\n1,2,3,4\n", RC_DATA, "",
	       "lmsrecon: t.csv:1:7: duplicate column 'A'\n");
	replay("a,\"b\",\"x,y\",\"b\",c\n", RC_DATA, "",
	       "lmsrecon: t.csv:1:13: duplicate column 'b'\n");
	/* A column nobody wants may appear twice. */
	replay("a,b,c,x,x\n1,2,3,4,5\n", RC_OK, "2:1|2|3\n", "");
}

Test(ingest_csv, ragged_row_is_skipped_and_reading_goes_on)
{
	replay("a,b,c\n1,2,3\n4,5\n7,8,9\n10,11,12,13\n", RC_OK, "2:1|2|3\n4:7|8|9\n",
	       "lmsrecon: t.csv:3: expected 3 fields, found 2\n"
	       "lmsrecon: t.csv:5: expected 3 fields, found 4\n");
}

Test(ingest_csv, ragged_row_past_max_errors_fails_the_read)
{
	const char *data = "a,b,c\n1,2,3\n4,5\n7,8,9\n";

	replay_cols(data, strlen(data), &abc, 0, RC_DATA, "2:1|2|3\n",
		    "lmsrecon: t.csv:3: expected 3 fields, found 2\n");
}

Test(ingest_csv, unterminated_quote_reports_start_line)
{
	replay("a,b,c\n1,2,3\n4,\"5\n6\n7\n", RC_DATA, "2:1|2|3\n",
	       "lmsrecon: t.csv:3: unterminated quoted field\n");
	/* The open field starts a record. */
	replay("a,b,c\n1,2,3\n\"4,5\n6\n", RC_DATA, "2:1|2|3\n",
	       "lmsrecon: t.csv:3: unterminated quoted field\n");
	/* The open field is the second one of the record, on a later line. */
	replay("a,b,c\n\"x\ny\",\"z\n\n", RC_DATA, "",
	       "lmsrecon: t.csv:3: unterminated quoted field\n");
}

Test(ingest_csv, stray_quote_reports_line_and_column)
{
	replay("a,b,c\n1,2,3\n1,2\"x,3\n", RC_DATA, "2:1|2|3\n",
	       "lmsrecon: t.csv:3:4: unexpected quote in unquoted field\n");
	replay("a,b,c\n1,\"2\"x,3\n", RC_DATA, "",
	       "lmsrecon: t.csv:2:6: text after closing quote\n");
	replay("a,b,c\n1,\"2\" x,3\n", RC_DATA, "",
	       "lmsrecon: t.csv:2:7: text after closing quote\n");
	/* After a field with a newline, columns count from the new line. */
	replay("a,b,c\n1,\"x\ny\"z,3\n", RC_DATA, "",
	       "lmsrecon: t.csv:3:3: text after closing quote\n");
}

Test(ingest_csv, invalid_utf8_reports_line_and_column)
{
	replay("a,b,c\n1,2,3\n1,\xC3\x28,3\n", RC_DATA, "2:1|2|3\n",
	       "lmsrecon: t.csv:3:3: invalid UTF-8\n");
	replay("a,b,c\n1,\x80,3\n", RC_DATA, "", "lmsrecon: t.csv:2:3: invalid UTF-8\n");
	replay("a,b,c\n1,x\xC0\x80,3\n", RC_DATA, "", "lmsrecon: t.csv:2:4: invalid UTF-8\n");
	replay("a,b,c\n1,\xED\xA0\x80,3\n", RC_DATA, "", "lmsrecon: t.csv:2:3: invalid UTF-8\n");
	replay("a,b,c\n1,\xF4\x90\x80\x80,3\n", RC_DATA, "", "lmsrecon: t.csv:2:3: invalid UTF-8\n");
	/* A sequence cut by the end of the line or of the file. */
	replay("a,b,c\n1,2,\xE2\x82\n", RC_DATA, "", "lmsrecon: t.csv:2:5: invalid UTF-8\n");
	replay("a,b,c\n1,2,\xE2\x82", RC_DATA, "", "lmsrecon: t.csv:2:5: invalid UTF-8\n");
	/* Valid multi-byte text passes untouched. */
	replay("a,b,c\n\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n", RC_OK,
	       "2:\xC3\xA9|\xE2\x82\xAC|\xF0\x9F\x98\x80\n", "");
}

Test(ingest_csv, nul_byte_reports_line_and_column)
{
	static const char data[] = "a,b,c\n1,2,3\n1,2\0,3\n";

	replay_cols(data, sizeof data - 1, &abc, 0, RC_DATA, "2:1|2|3\n",
		    "lmsrecon: t.csv:3:4: NUL byte in input\n");
}

Test(ingest_csv, bom_in_the_middle_is_an_error)
{
	replay("a,b,c\n1,\xEF\xBB\xBF" "2,3\n", RC_DATA, "",
	       "lmsrecon: t.csv:2:3: byte order mark in the middle of the file\n");
	/* Columns of line 1 count from after a leading BOM. */
	replay("\xEF\xBB\xBF" "a,\xEF\xBB\xBF" "b,c\n", RC_DATA, "",
	       "lmsrecon: t.csv:1:3: byte order mark in the middle of the file\n");
}

Test(ingest_csv, empty_file_needs_a_header)
{
	replay("", RC_DATA, "", "lmsrecon: t.csv: empty file, expected a header line\n");
	replay("\xEF\xBB\xBF", RC_DATA, "", "lmsrecon: t.csv: empty file, expected a header line\n");
	replay("\n\r\n", RC_DATA, "", "lmsrecon: t.csv: empty file, expected a header line\n");
}

Test(ingest_csv, custom_delimiter_and_quote)
{
	struct ingest_fmt fmt = { INGEST_CSV, ';', '\'', NULL, 3 };
	const char *data = "a;b;c\n'x;''y';2;3\n";
	char *path = write_file("semi.csv", data, strlen(data));
	struct result r = { 0 };
	struct diag d;

	diag_init(&d, stderr);
	buf_init(&r.out);
	r.rc = ingest_csv_read(&d, path, "semi.csv", &fmt, &abc, collect, &r, NULL);
	r.recs = buf_detach(&r.out, NULL);
	cr_assert_eq(r.rc, RC_OK);
	cr_assert_str_eq(r.recs, "2:x;'y|2|3\n");
	free(r.recs);
	free(path);
	diag_release(&d);
}

Test(ingest_csv, callback_failure_stops_the_read)
{
	const char *data = "a,b,c\n1,2,3\n4,5,6\n7,8,9\n";
	char *path = write_file("t.csv", data, strlen(data));

	for (size_t chunk = 1; chunk <= strlen(data); chunk++) {
		struct result r = { 0 };

		r.stop_after = 2;
		r.stop_at = RC_CONFIG;
		run(path, "t.csv", &abc, chunk, 0, &r);
		cr_assert_eq(r.rc, RC_CONFIG);
		cr_assert_str_eq(r.recs, "2:1|2|3\n3:4|5|6\n");
		cr_assert_str_eq(r.msgs, "");
		cr_assert_eq(r.st.nrecords, 2);
		result_release(&r);
	}
	free(path);
}

/* A file with one field of `n` bytes, quoted or not, and then `tail`. */
static char *long_field_file(size_t n, int is_quoted, const char *tail, size_t *len)
{
	struct buf b = BUF_INIT;
	char *field = xmalloc(n);

	buf_init(&b);
	memset(field, 'x', n);
	buf_adds(&b, "a,b,c\n1,");
	if (is_quoted)
		buf_addch(&b, '"');
	buf_add(&b, field, n);
	if (is_quoted)
		buf_addch(&b, '"');
	buf_adds(&b, tail);
	free(field);
	return buf_detach(&b, len);
}

Test(ingest_csv, field_longer_than_the_limit_fails_the_read)
{
	static const size_t chunks[] = { 0, 1000, 4096, 65535, 1024 * 1024 + 7, 4 * 1024 * 1024 };
	const char *want = "lmsrecon: t.csv:2: field longer than 1048576 bytes\n";

	for (int is_quoted = 0; is_quoted <= 1; is_quoted++) {
		for (int over = 0; over <= 1; over++) {
			size_t len;
			/* Padding after the field is not part of it. */
			char *data = long_field_file(INGEST_MAX_FIELD + (size_t)over, is_quoted, "  ,3\n",
						     &len);
			char *path = write_file("t.csv", data, len);

			for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
				struct result r = { 0 };

				run(path, "t.csv", &abc, chunks[i], 0, &r);
				if (over) {
					cr_assert_eq(r.rc, RC_DATA);
					cr_assert_str_eq(r.msgs, want, "read size %zu", chunks[i]);
					cr_assert_str_eq(r.recs, "");
				} else {
					cr_assert_eq(r.rc, RC_OK, "read size %zu: %s", chunks[i], r.msgs);
					cr_assert_eq(r.st.nrecords, 1);
				}
				result_release(&r);
			}
			free(path);
			free(data);
		}
	}
}

Test(ingest_csv, endless_field_is_stopped_at_the_limit)
{
	/* 8 MiB of one unterminated field, compressed to a few KiB: the
	 * reader must stop at the limit, not at the end. */
	size_t n = 8u * 1024 * 1024, len;
	char *data = long_field_file(n, 1, "", &len);
	char *path = write_gz("bomb.csv.gz", data, len);
	struct result r = { 0 };

	run(path, "bomb.csv.gz", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_DATA);
	cr_assert_str_eq(r.msgs, "lmsrecon: bomb.csv.gz:2: field longer than 1048576 bytes\n");
	cr_assert_lt(r.st.raw_bytes, 2u * 1024 * 1024);
	result_release(&r);
	free(path);
	free(data);
}

/* SHA-256 of a file's bytes, as hex. */
static void file_sha256(const char *path, char hex[65])
{
	size_t len;
	char *data = slurp(path, &len);
	struct sha256 c;
	unsigned char dg[32];

	cr_assert_not_null(data);
	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
	free(data);
}

Test(ingest_csv, plain_file_stats)
{
	const char *data = "a,b,c\n1,2,3\n4,5,6\n";
	char *path = write_file("t.csv", data, strlen(data));
	char want[65], got[65];

	file_sha256(path, want);
	for (size_t chunk = 1; chunk <= strlen(data) + 1; chunk++) {
		struct result r = { 0 };

		run(path, "t.csv", &abc, chunk, 0, &r);
		cr_assert_eq(r.rc, RC_OK);
		cr_assert_eq(r.st.bytes, strlen(data));
		cr_assert_eq(r.st.raw_bytes, strlen(data));
		cr_assert_eq(r.st.nrecords, 2);
		cr_assert_eq(r.st.is_gzip, 0);
		sha256_hex(r.st.sha256, got);
		cr_assert_str_eq(got, want);
		result_release(&r);
	}
	free(path);
}

/* Contact-like rows, enough to span several gzip and read blocks. */
static char *many_rows(size_t nrows, size_t *len)
{
	struct buf b = BUF_INIT;

	buf_init(&b);
	buf_adds(&b, "a,b,c\n");
	for (size_t i = 0; i < nrows; i++)
		buf_addf(&b, "%zu,\"Name %zu, Jr.\",user%zu@example.com\n", i, i * 7919 % 1000, i);
	return buf_detach(&b, len);
}

Test(ingest_csv, gzip_input_at_every_read_size)
{
	const char *data = "a,b,c\n1,\"x,y\",3\n4,5,6\n";
	char *path = write_gz("t.csv.gz", data, strlen(data));
	struct stat sb;
	char want[65], got[65];

	cr_assert_eq(stat(path, &sb), 0);
	file_sha256(path, want);
	for (size_t chunk = 0; chunk <= strlen(data) + 1; chunk++) {
		struct result r = { 0 };

		run(path, "t.csv.gz", &abc, chunk, 0, &r);
		cr_assert_eq(r.rc, RC_OK);
		cr_assert_str_eq(r.msgs, "");
		cr_assert_str_eq(r.recs, "2:1|x,y|3\n3:4|5|6\n");
		cr_assert_eq(r.st.is_gzip, 1);
		cr_assert_eq(r.st.raw_bytes, strlen(data));
		cr_assert_eq(r.st.bytes, (unsigned long long)sb.st_size);
		sha256_hex(r.st.sha256, got);
		cr_assert_str_eq(got, want);
		result_release(&r);
	}
	free(path);
}

Test(ingest_csv, gzip_of_many_blocks_matches_plain)
{
	size_t len;
	char *data = many_rows(50000, &len);
	char *plain = write_file("big.csv", data, len);
	char *gz = write_gz("big.csv.gz", data, len);
	static const size_t chunks[] = { 0, 1, 4093, 100000 };

	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct result p = { 0 }, g = { 0 };

		/* One byte at a time over 2 MB is slow under sanitizers but
		 * still seconds; it is the case most likely to break. */
		run(plain, "big.csv", &abc, chunks[i], 0, &p);
		run(gz, "big.csv.gz", &abc, chunks[i], 0, &g);
		cr_assert_eq(p.rc, RC_OK);
		cr_assert_eq(g.rc, RC_OK);
		cr_assert_eq(p.st.nrecords, 50000);
		cr_assert_str_eq(p.recs, g.recs);
		cr_assert_eq(g.st.raw_bytes, len);
		result_release(&p);
		result_release(&g);
	}
	free(plain);
	free(gz);
	free(data);
}

Test(ingest_csv, truncated_gzip_is_an_error)
{
	size_t len, glen;
	char *data = many_rows(5000, &len);
	char *gz = write_gz("full.csv.gz", data, len);
	char *gdata = slurp(gz, &glen);
	static const size_t cuts[] = { 2, 10, 0, 1, 4, 8 }; /* 0: half; else bytes from the end */

	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		size_t keep = i < 2 ? cuts[i] : cuts[i] ? glen - cuts[i] : glen / 2;
		char *path = write_file("cut.csv.gz", gdata, keep);
		struct result r = { 0 };

		run(path, "cut.csv.gz", &abc, 0, 0, &r);
		cr_assert_eq(r.rc, RC_DATA, "kept %zu of %zu bytes", keep, glen);
		cr_assert_str_eq(r.msgs, "lmsrecon: cut.csv.gz: truncated gzip stream\n",
				 "kept %zu of %zu bytes", keep, glen);
		result_release(&r);
		free(path);
	}
	free(gz);
	free(gdata);
	free(data);
}

/* The lines zlib can inflate whole from the first `len` bytes of a gzip
 * stream, not counting the header line. */
static unsigned long whole_lines_inflated(const unsigned char *gz, size_t len)
{
	unsigned char out[65536];
	unsigned long nl = 0;
	z_stream zs;
	int zrc;

	memset(&zs, 0, sizeof zs);
	cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)gz;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof out;
		zrc = inflate(&zs, Z_NO_FLUSH);
		for (unsigned char *p = out; p < zs.next_out; p++)
			nl += *p == '\n';
	} while (zrc == Z_OK && zs.avail_out == 0);
	inflateEnd(&zs);
	return nl - 1;
}

/* The bytes are read and inflated ahead of the parser, in another thread;
 * an error found there waits behind everything inflated before it. */
Test(ingest_csv, truncated_gzip_hands_over_every_record_before_the_cut)
{
	size_t len, glen;
	char *data = many_rows(200000, &len);
	char *gz = write_gz("full.csv.gz", data, len);
	unsigned char *gdata = (unsigned char *)slurp(gz, &glen);
	size_t keep = glen / 2;
	char *path = write_file("cut.csv.gz", gdata, keep);
	unsigned long want = whole_lines_inflated(gdata, keep);
	static const size_t chunks[] = { 0, 1, 4093, 1024 * 1024 + 7 };

	cr_assert_gt(len, 4 * 4 * 256 * 1024, "the file spans many hand-over slots");
	cr_assert_gt(want, 1000);
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct result r = { 0 };

		run(path, "cut.csv.gz", &abc, chunks[i], 0, &r);
		cr_assert_eq(r.rc, RC_DATA, "read size %zu", chunks[i]);
		cr_assert_str_eq(r.msgs, "lmsrecon: cut.csv.gz: truncated gzip stream\n",
				 "read size %zu", chunks[i]);
		cr_assert_eq(r.ncalls, want, "read size %zu: %lu records, %lu whole lines",
			     chunks[i], r.ncalls, want);
		result_release(&r);
	}
	free(path);
	free(gz);
	free(gdata);
	free(data);
}

/* A read that stops early, with the reading thread still slots ahead of
 * it, ends at once and reports only what the parser reached. */
Test(ingest_csv, read_stopped_early_in_a_large_file_ends_there)
{
	size_t len;
	char *data = many_rows(200000, &len);
	char *plain = write_file("big.csv", data, len);
	char *gz = write_gz("big.csv.gz", data, len);
	struct result r = { 0 };
	char *bad;

	for (int k = 0; k < 2; k++) {
		r.stop_at = RC_CONFIG;
		r.stop_after = 3;
		run(k ? gz : plain, "big.csv", &abc, 0, 0, &r);
		cr_assert_eq(r.rc, RC_CONFIG);
		cr_assert_eq(r.ncalls, 3);
		cr_assert_str_eq(r.msgs, "");
		result_release(&r);
	}
	/* A stray quote on line 5. */
	bad = strchr(strchr(strchr(strchr(data, '\n') + 1, '\n') + 1, '\n') + 1, '\n') + 1;
	bad[1] = '"';
	free(plain);
	plain = write_file("bad.csv", data, len);
	r.stop_after = 0;
	run(plain, "bad.csv", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_DATA);
	cr_assert_eq(r.ncalls, 3);
	cr_assert_str_eq(r.msgs, "lmsrecon: bad.csv:5:2: unexpected quote in unquoted field\n");
	result_release(&r);
	free(plain);
	free(gz);
	free(data);
}

Test(ingest_csv, corrupt_gzip_checksum_is_an_error)
{
	size_t len, glen;
	char *data = many_rows(100, &len);
	char *gz = write_gz("full.csv.gz", data, len);
	char *gdata = slurp(gz, &glen);
	char *path;
	struct result r = { 0 };

	gdata[glen - 8] ^= 0x55; /* the CRC-32 of the trailer */
	path = write_file("bad.csv.gz", gdata, glen);
	run(path, "bad.csv.gz", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_DATA);
	cr_assert_str_eq(r.msgs, "lmsrecon: bad.csv.gz: corrupt gzip stream\n");
	result_release(&r);
	free(path);
	free(gz);
	free(gdata);
	free(data);
}

Test(ingest_csv, gzip_members_concatenate_and_trailing_data_is_an_error)
{
	const char *part1 = "a,b,c\n1,2,", *part2 = "3\n4,5,6\n";
	char *g1 = write_gz("p1.gz", part1, strlen(part1));
	char *g2 = write_gz("p2.gz", part2, strlen(part2));
	size_t l1, l2;
	char *d1 = slurp(g1, &l1), *d2 = slurp(g2, &l2);
	struct buf b = BUF_INIT;
	char *path;
	struct result r = { 0 };

	buf_init(&b);
	buf_add(&b, d1, l1);
	buf_add(&b, d2, l2);
	buf_add(&b, "\0\0\0", 3); /* zero padding is ignored */
	path = write_file("multi.csv.gz", b.buf, b.len);
	for (size_t chunk = 1; chunk < 20; chunk++) {
		run(path, "multi.csv.gz", &abc, chunk, 0, &r);
		cr_assert_eq(r.rc, RC_OK, "%s", r.msgs);
		cr_assert_str_eq(r.recs, "2:1|2|3\n3:4|5|6\n");
		result_release(&r);
	}
	free(path);

	buf_add(&b, "junk", 4);
	path = write_file("junk.csv.gz", b.buf, b.len);
	run(path, "junk.csv.gz", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_DATA);
	cr_assert_str_eq(r.msgs, "lmsrecon: junk.csv.gz: data after the end of the gzip stream\n");
	result_release(&r);

	free(path);
	buf_release(&b);
	free(d1);
	free(d2);
	free(g1);
	free(g2);
}

Test(ingest_csv, gzip_is_detected_by_magic_not_name)
{
	const char *data = "a,b,c\n1,2,3\n";
	char *gz = write_gz("looks-plain.csv", data, strlen(data));
	char *plain = write_file("looks-gzip.csv.gz", data, strlen(data));
	struct result r = { 0 };

	run(gz, "looks-plain.csv", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_OK);
	cr_assert_eq(r.st.is_gzip, 1);
	cr_assert_str_eq(r.recs, "2:1|2|3\n");
	result_release(&r);

	run(plain, "looks-gzip.csv.gz", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_OK);
	cr_assert_eq(r.st.is_gzip, 0);
	cr_assert_str_eq(r.recs, "2:1|2|3\n");
	result_release(&r);
	free(gz);
	free(plain);
}

Test(ingest_csv, unreadable_inputs_are_noinput)
{
	struct result r = { 0 };
	char *missing = path_join(tmpdir, "missing.csv");

	run(missing, "in/missing.csv", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_NOINPUT);
	cr_assert_str_eq(r.msgs, "lmsrecon: in/missing.csv: cannot open: no such file or directory\n");
	cr_assert_eq(r.st.nrecords, 0);
	result_release(&r);

	run(tmpdir, "in", &abc, 0, 0, &r);
	cr_assert_eq(r.rc, RC_NOINPUT);
	cr_assert_str_eq(r.msgs, "lmsrecon: in: cannot open: is a directory\n");
	result_release(&r);
	free(missing);
}

Test(ingest_csv, fixture_file_reads)
{
	static const char *const names[] = { "Id", "Email", "LastName" };
	static const struct ingest_cols cols = { 3, names, all_required };
	struct result r = { 0 };

	run("fixtures/ingest/contacts_bom_crlf.csv", "contacts_bom_crlf.csv", &cols, 0, 0, &r);
	cr_assert_eq(r.rc, RC_OK, "%s", r.msgs);
	cr_assert_str_eq(r.recs,
			 "2:003000000000001AAA|ada@example.com|Lovelace\n"
			 "3:003000000000002AAA|grace@example.com|Hopper, Jr.\n"
			 "5:003000000000003AAA|o'neil@example.com|O\"Neil\n");
	result_release(&r);
}

/* ---- conformance over shared corpora ---- */

/* A minimal JSON reader for csv-spectrum's expected files: arrays of flat
 * objects of strings (or one bare object). */
struct json {
	const char *s; /* next byte */
	int is_bad;
};

static void json_ws(struct json *j)
{
	while (*j->s == ' ' || *j->s == '\n' || *j->s == '\r' || *j->s == '\t')
		j->s++;
}

/* Reads a JSON string into `out`. */
static void json_string(struct json *j, struct buf *out)
{
	json_ws(j);
	if (*j->s != '"') {
		j->is_bad = 1;
		return;
	}
	j->s++;
	while (*j->s && *j->s != '"') {
		if (*j->s != '\\') {
			buf_addch(out, *j->s++);
			continue;
		}
		j->s++;
		switch (*j->s) {
		case 'n': buf_addch(out, '\n'); break;
		case 'r': buf_addch(out, '\r'); break;
		case 't': buf_addch(out, '\t'); break;
		case 'b': buf_addch(out, '\b'); break;
		case 'f': buf_addch(out, '\f'); break;
		case 'u': {
			unsigned cp = (unsigned)strtoul((char[5]){ j->s[1], j->s[2], j->s[3], j->s[4], 0 },
							NULL, 16);

			if (cp < 0x80) {
				buf_addch(out, (int)cp);
			} else if (cp < 0x800) {
				buf_addch(out, (int)(0xC0 | cp >> 6));
				buf_addch(out, (int)(0x80 | (cp & 0x3F)));
			} else {
				buf_addch(out, (int)(0xE0 | cp >> 12));
				buf_addch(out, (int)(0x80 | (cp >> 6 & 0x3F)));
				buf_addch(out, (int)(0x80 | (cp & 0x3F)));
			}
			j->s += 4;
			break;
		}
		default: buf_addch(out, *j->s); break;
		}
		j->s++;
	}
	if (*j->s == '"')
		j->s++;
	else
		j->is_bad = 1;
}

/* Reads one object: appends its values as a record line to `recs` and,
 * the first time, its keys to `keys` (NUL-separated, counted in *nkeys). */
static void json_object(struct json *j, struct buf *recs, struct buf *keys, size_t *nkeys,
			unsigned long line)
{
	int first = 1;

	json_ws(j);
	if (*j->s++ != '{') {
		j->is_bad = 1;
		return;
	}
	buf_addf(recs, "%lu:", line);
	for (;;) {
		struct buf k = BUF_INIT;

		json_ws(j);
		if (*j->s == '}') {
			j->s++;
			break;
		}
		if (!first) {
			if (*j->s++ != ',') {
				j->is_bad = 1;
				return;
			}
			buf_addch(recs, '|');
		}
		buf_init(&k);
		json_string(j, &k);
		if (keys && !j->is_bad) {
			buf_add(keys, k.buf, k.len + 1);
			++*nkeys;
		}
		buf_release(&k);
		json_ws(j);
		if (*j->s++ != ':') {
			j->is_bad = 1;
			return;
		}
		json_string(j, recs);
		if (j->is_bad)
			return;
		first = 0;
	}
	buf_addch(recs, '\n');
}

Test(ingest_csv, csv_spectrum_conformance)
{
	const char *dir = CORPORA "/csv-spectrum/csvs";
	DIR *dp = opendir(dir);
	struct dirent *e;
	int nfiles = 0;

	if (!dp)
		cr_skip("%s is absent", dir);
	while ((e = readdir(dp))) {
		size_t nlen = strlen(e->d_name), jlen, nkeys = 0;
		char *csv, *jpath, *json, *line_of;
		struct buf recs = BUF_INIT, keys = BUF_INIT;
		const char **names;
		struct ingest_cols cols;
		struct json j;
		int is_array;

		if (nlen < 5 || strcmp(e->d_name + nlen - 4, ".csv"))
			continue;
		csv = path_join(dir, e->d_name);
		jpath = xasprintf(CORPORA "/csv-spectrum/json/%.*s.json", (int)(nlen - 4), e->d_name);
		json = slurp(jpath, &jlen);
		cr_assert_not_null(json, "%s", jpath);
		buf_init(&recs);
		buf_init(&keys);
		j.s = json;
		j.is_bad = 0;
		json_ws(&j);
		is_array = *j.s == '[';
		if (is_array) {
			j.s++;
			for (size_t i = 0;; i++) {
				json_ws(&j);
				if (*j.s == ']' || j.is_bad)
					break;
				if (i && *j.s++ != ',')
					j.is_bad = 1;
				json_object(&j, &recs, i ? NULL : &keys, &nkeys, 0);
			}
		} else {
			json_object(&j, &recs, &keys, &nkeys, 0);
		}
		cr_assert_not(j.is_bad, "cannot parse %s", jpath);

		names = xcalloc(nkeys ? nkeys : 1, sizeof *names);
		line_of = keys.buf;
		for (size_t k = 0; k < nkeys; k++) {
			names[k] = line_of;
			line_of += strlen(line_of) + 1;
		}
		cols.n = nkeys;
		cols.names = names;
		cols.is_required = all_required;
		cr_assert_leq(nkeys, sizeof all_required);

		for (size_t chunk = 0; chunk < 70; chunk++) {
			struct result r = { 0 };

			/* The JSON knows no lines: records are compared without them. */
			r.hide_lines = 1;
			run(csv, e->d_name, &cols, chunk, 0, &r);
			if (!strcmp(e->d_name, "location_coordinates.csv")) {
				/* This file has literal quotes inside an unquoted field
				 * (37°36'37.8"N). Exports from the systems we read always
				 * quote such fields; strict mode rejects the file with the
				 * position of the quote rather than guess. */
				cr_assert_eq(r.rc, RC_DATA);
				cr_assert_str_eq(r.msgs, "lmsrecon: location_coordinates.csv:2:24: "
							 "unexpected quote in unquoted field\n");
				result_release(&r);
				continue;
			}
			cr_assert_eq(r.rc, RC_OK, "%s: %s", e->d_name, r.msgs);
			cr_assert_str_eq(r.recs, recs.buf, "%s at read size %zu", e->d_name, chunk);
			result_release(&r);
		}
		nfiles++;
		free(names);
		buf_release(&recs);
		buf_release(&keys);
		free(json);
		free(jpath);
		free(csv);
	}
	closedir(dp);
	cr_assert_gt(nfiles, 0);
}

/* Reads every file of a corpus folder: success, or a data error whose
 * message names the file. */
static void survive_folder(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	static const char *const names[] = { "x" };
	static const unsigned char req[] = { 0 };
	static const struct ingest_cols cols = { 1, names, req };
	int nfiles = 0;

	if (!dp)
		cr_skip("%s is absent", dir);
	while ((e = readdir(dp))) {
		char *path;
		struct stat sb;

		if (e->d_name[0] == '.')
			continue;
		path = path_join(dir, e->d_name);
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			free(path);
			continue;
		}
		for (size_t chunk = 0; chunk < 40; chunk += 13) {
			struct result r = { 0 };

			run(path, e->d_name, &cols, chunk, 1000, &r);
			cr_assert(r.rc == RC_OK || r.rc == RC_DATA, "%s: rc %d", e->d_name, (int)r.rc);
			if (r.rc == RC_DATA) {
				cr_assert(!strncmp(r.msgs, "lmsrecon: ", 10), "%s: %s", e->d_name, r.msgs);
				cr_assert_not_null(strstr(r.msgs, e->d_name), "%s: %s", e->d_name, r.msgs);
			}
			result_release(&r);
		}
		nfiles++;
		free(path);
	}
	closedir(dp);
	cr_assert_gt(nfiles, 0);
}

Test(ingest_csv, zsv_inputs_never_crash)
{
	survive_folder(CORPORA "/zsv/input");
}

Test(ingest_csv, univocity_inputs_never_crash)
{
	survive_folder(CORPORA "/univocity");
}

Test(ingest_csv, ingest_read_dispatches_csv)
{
	struct ingest_fmt fmt = { INGEST_CSV, 0, 0, NULL, 0 };
	const char *data = "a,b,c\n1,2,3\n";
	char *path = write_file("t.csv", data, strlen(data));
	struct result r = { 0 };
	struct diag d;

	diag_init(&d, stderr);
	buf_init(&r.out);
	r.rc = ingest_read(&d, path, "t.csv", &fmt, &abc, collect, &r, &r.st);
	r.recs = buf_detach(&r.out, NULL);
	cr_assert_eq(r.rc, RC_OK);
	cr_assert_str_eq(r.recs, "2:1|2|3\n");
	cr_assert_eq(r.st.nrecords, 1);
	free(r.recs);
	free(path);
	diag_release(&d);
}
