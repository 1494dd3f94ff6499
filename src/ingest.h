/* SPDX-License-Identifier: MIT */
/* ingest: the readers' common contract. A reader streams one input file
 * (CSV through libcsv, XML through libxml2's SAX2 push parser, either one
 * optionally gzip-compressed) and hands each record to a callback as the
 * values of the columns the caller asked for. Readers know nothing of the
 * snapshot. */
#ifndef LMSRECON_INGEST_H
#define LMSRECON_INGEST_H

#include <stddef.h>
#include "diag.h"

/* Longest field a reader accepts, in bytes; longer is a data error. */
#define INGEST_MAX_FIELD (1024u * 1024u)

enum ingest_kind { INGEST_CSV, INGEST_XML };

/* How an input file is written (from the format profile and the job). */
struct ingest_fmt {
	enum ingest_kind kind;
	unsigned char delim;     /* CSV field separator, ',' by default */
	unsigned char quote;     /* CSV quote character, '"' by default */
	const char *record_elem; /* XML: local name of the repeated record element; borrowed */
	size_t chunk;            /* bytes per read; 0 = 64 KiB. Tests vary it. */
};

/* The columns wanted from every record, in the order the callback sees them.
 * For CSV a name is a header; for XML the local name of a child element of
 * the record element (a nested child is named `Parent.Child`). */
struct ingest_cols {
	size_t n;
	const char *const *names;         /* borrowed */
	const unsigned char *is_required; /* n flags: missing from the header/records is an error; may be NULL */
};

/* One record as the callback sees it. Everything is borrowed and valid only
 * during the callback. */
struct ingest_rec {
	unsigned long line;     /* line where the record starts (1-based) */
	size_t n;               /* == cols->n */
	const char *const *vals;/* NUL-terminated values; NULL when the column is absent
				   (XML: element missing or xsi:nil="true") */
	const size_t *lens;     /* byte lengths of vals (0 for NULL) */
};

/* Called once per record. A non-OK return stops the reader, which returns it. */
typedef enum rc (*ingest_cb)(void *ctx, const struct ingest_rec *rec);

/* What a reader measured, for progress and the summary. After a read that
 * failed, bytes and sha256 may cover bytes read ahead of the parser. */
struct ingest_stats {
	unsigned long long bytes;    /* bytes read from the file (compressed size if gzip) */
	unsigned long long raw_bytes;/* bytes after decompression */
	unsigned long nrecords;      /* records handed to the callback */
	unsigned char sha256[32];    /* digest of the file's bytes as stored on disk */
	int is_gzip;
};

/* Reads `path` (shown in messages as `name`, e.g. the path as written in the
 * job) and calls `cb` for each record.
 *
 * File-level problems (cannot open: RC_NOINPUT; read error: RC_IO; empty
 * file, missing or duplicate required header, unterminated quoted field,
 * stray quote, invalid UTF-8, NUL byte, byte order mark past the start, a
 * DTD or entity in XML, malformed XML, truncated gzip, a field longer than
 * INGEST_MAX_FIELD: RC_DATA) are printed through `d` with FILE:LINE[:COL]
 * and stop the read; a too-long field stops it early so that memory stays
 * bounded whatever the input.
 * Record-level problems (a row with the wrong number of fields, an XML
 * record missing a required field) go through diag_bad_record(): the record
 * is skipped and reading goes on until that returns RC_DATA.
 * CSV follows libcsv: spaces around an unquoted field are not part of it.
 * `st` may be NULL. Returns RC_OK or the first failing code. */
enum rc ingest_read(struct diag *d, const char *path, const char *name,
		    const struct ingest_fmt *fmt, const struct ingest_cols *cols,
		    ingest_cb cb, void *ctx, struct ingest_stats *st);

/* ingest_read with the parser in a thread of its own whatever the file's
 * size (ingest_read does so for files of a megabyte and more): the same
 * records, messages and result. */
enum rc ingest_read_piped(struct diag *d, const char *path, const char *name,
			  const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			  ingest_cb cb, void *ctx, struct ingest_stats *st);

enum rc ingest_csv_read(struct diag *d, const char *path, const char *name,
			const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			ingest_cb cb, void *ctx, struct ingest_stats *st);
enum rc ingest_xml_read(struct diag *d, const char *path, const char *name,
			const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			ingest_cb cb, void *ctx, struct ingest_stats *st);

/* A byte source over a plain or gzip file (detected by magic bytes), with a
 * running SHA-256 of the stored bytes. ingest_gz.c. */
struct ingest_src;
/* Opens `path`; on failure prints (RC_NOINPUT) and returns non-OK. */
enum rc ingest_src_open(struct diag *d, const char *path, const char *name,
			struct ingest_src **out);
/* Reads up to `len` bytes into `p`; *got 0 means end of input. A read error
 * or a truncated/corrupt gzip stream prints and returns RC_IO / RC_DATA. */
enum rc ingest_src_read(struct ingest_src *s, void *p, size_t len, size_t *got);
/* Fills in bytes, raw_bytes, sha256 and is_gzip. */
void ingest_src_stats(struct ingest_src *s, struct ingest_stats *st);
void ingest_src_close(struct ingest_src *s);

#endif
