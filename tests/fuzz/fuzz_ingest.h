/* SPDX-License-Identifier: MIT */
/* fuzz_ingest: the part of the CSV and XML harnesses that is the same. The
 * first byte of the input picks how the reader is driven, the rest is the
 * file: bits 0-5 the read size (0 = the default 64 KiB, else 1..63 bytes,
 * so that every record and character straddles reads), bit 6 whether bad
 * records are tolerated (max_errors 0 or 50), bit 7 whether the first
 * wanted column is required. The callback checks what ingest.h promises of
 * every record. */
#ifndef LMSRECON_FUZZ_INGEST_H
#define LMSRECON_FUZZ_INGEST_H

#include "fuzz.h"
#include "fuzz_xmltrap.h"
#include "ingest.h"
#include "value.h"

/* What the callback saw of one read. */
struct fuzz_seen {
	size_t ncols;          /* columns asked for */
	unsigned long nrecords;/* records handed over */
	unsigned long last_line;/* line of the previous record */
	int bad_utf8;          /* a value was not UTF-8 or held a NUL */
};

/* Checks one record against the contract of ingest.h. */
static enum rc fuzz_ingest_cb(void *ctx, const struct ingest_rec *rec)
{
	struct fuzz_seen *seen = ctx;

	fuzz_check(rec->n == seen->ncols);
	fuzz_check(rec->line >= 1);
	fuzz_check(rec->line >= seen->last_line);
	for (size_t i = 0; i < rec->n; i++) {
		if (!rec->vals[i]) {
			fuzz_check(rec->lens[i] == 0);
			continue;
		}
		fuzz_check(rec->lens[i] <= INGEST_MAX_FIELD);
		fuzz_check(rec->vals[i][rec->lens[i]] == '\0');
		if (strlen(rec->vals[i]) != rec->lens[i] ||
		    value_utf8_check((const unsigned char *)rec->vals[i], rec->lens[i]) != rec->lens[i])
			seen->bad_utf8 = 1;
	}
	seen->last_line = rec->line;
	seen->nrecords++;
	return RC_OK;
}

/* Runs one read of `data` as a file of `fmt0` with the columns `names`. */
static void fuzz_ingest_run(const uint8_t *data, size_t size, const char *file,
			    struct ingest_fmt fmt, const char *const *names, size_t n)
{
	unsigned char req[8] = { 0 };
	struct ingest_cols cols = { n, names, req };
	struct fuzz_seen seen = { n, 0, 0, 0 };
	struct ingest_stats st;
	struct diag d;
	char *path;
	enum rc rc;

	if (size < 1 || n > sizeof req)
		return;
	fmt.chunk = data[0] & 0x3f;
	req[0] = (data[0] & 0x80) != 0;
	diag_init(&d, fuzz_devnull());
	d.max_errors = data[0] & 0x40 ? 50 : 0;
	path = fuzz_write(file, data + 1, size - 1);
	memset(&st, 0, sizeof st);
	fuzz_xml_trap_set();
	rc = ingest_read(&d, path, file, &fmt, &cols, fuzz_ingest_cb, &seen, &st);
	fuzz_xml_trap_check();
	fuzz_check(rc == RC_OK || rc == RC_DATA || rc == RC_IO);
	fuzz_check(st.nrecords == seen.nrecords);
	/* A read that succeeds handed over only clean text. */
	fuzz_check(rc != RC_OK || !seen.bad_utf8);
	fuzz_check(rc != RC_OK || d.nbad <= d.max_errors);
	diag_release(&d);
	free(path);
}

#endif
