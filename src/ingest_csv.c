/* SPDX-License-Identifier: MIT */
/* ingest_csv: the CSV reader. Streams the bytes of ingest_gz through a
 * UTF-8 check and libcsv in strict mode, one line at a time so that every
 * record and every error has its line, maps the header to the wanted
 * columns and hands each record to the caller. */
#include "ingest.h"
#include "util.h"

#include <csv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Read size when the format does not give one. */
#define CSV_CHUNK (64u * 1024u)
/* libcsv grows its field buffer by this much at a time (it grows linearly,
 * so a small step would make long fields quadratic). */
#define CSV_BLK (64u * 1024u)
/* Raw bytes of the header kept to find a column for a message. */
#define CSV_HDR_RAW_MAX (1024u * 1024u)

/* libcsv's parser states (csv_parser.pstate), as libcsv.c numbers them. */
enum {
	CSV_PS_ROW_NOT_BEGUN = 0,
	CSV_PS_FIELD_NOT_BEGUN = 1,
	CSV_PS_FIELD_BEGUN = 2,
	CSV_PS_FIELD_MIGHT_HAVE_ENDED = 3,
};

/* What the UTF-8 check found wrong. */
enum csv_bad {
	CSV_BAD_NONE,
	CSV_BAD_UTF8,  /* not UTF-8 */
	CSV_BAD_NUL,   /* a NUL byte */
	CSV_BAD_BOM,   /* U+FEFF past the start of the file */
};

/* The state of one read. */
struct csv_reader {
	struct diag *d;                 /* message sink; borrowed */
	const char *name;               /* file as shown in messages; borrowed */
	const struct ingest_cols *cols; /* wanted columns; borrowed */
	ingest_cb cb;                   /* record callback */
	void *ctx;                      /* its context; borrowed */
	struct csv_parser p;            /* libcsv */
	enum rc rc;                     /* first failure; callbacks do nothing once set */

	/* Positions. Offsets count the decompressed bytes from the start of the file. */
	unsigned long line;             /* line of the bytes being fed (1-based) */
	unsigned long long line_start;  /* offset of the first byte of that line (after a BOM) */
	unsigned long long seg_start;   /* offset of the segment being fed */
	unsigned long rec_line;         /* line where the current record starts */
	unsigned long field_line;       /* line where the current field starts */

	/* UTF-8 check, carried across reads. */
	unsigned u_need;                /* continuation bytes still expected */
	unsigned char u_lo, u_hi;       /* range of the next continuation byte */
	uint32_t u_cp;                  /* code point decoded so far */
	unsigned long long u_lead;      /* offset of the lead byte of that sequence */
	enum csv_bad bad;               /* what was found wrong */
	unsigned long long bad_at;      /* offset to report it at */

	/* Header. */
	int have_header;                /* the header record has been read */
	unsigned long hdr_line;         /* line of the header record */
	struct buf hdr_names;           /* header fields, each NUL-terminated */
	size_t *hdr_off;                /* offset of each header field in hdr_names; owned */
	size_t hdr_alloc;               /* entries allocated in hdr_off */
	struct buf hdr_raw;             /* raw bytes from the header's first line on */
	size_t nhdr;                    /* fields in the header */
	long *slot_of;                  /* per header field: index in cols, or -1; owned */

	/* Current record. */
	size_t nfield;                  /* fields seen so far */
	struct buf rec;                 /* wanted values, each NUL-terminated; reused */
	size_t *val_off;                /* per wanted column: offset in rec; owned */
	size_t *val_len;                /* per wanted column: length, 0 when absent; owned */
	const char **vals;              /* per wanted column: pointer handed out; owned */
	unsigned long nrecords;         /* records handed to the callback */
};

/* Column (1-based) of the byte at `off` on the current line. */
static unsigned long csv_col(const struct csv_reader *r, unsigned long long off)
{
	return (unsigned long)(off - r->line_start + 1);
}

/* Prints a file-level data error at LINE (col 0 leaves it out) and records
 * it as the reader's result. */
static void csv_fail(struct csv_reader *r, unsigned long line, unsigned long col,
		     const char *msg)
{
	struct srcpos pos = { r->name, line, col };

	r->rc = diag_at(r->d, RC_DATA, &pos, "%s", msg);
}

/* Reports a field over INGEST_MAX_FIELD. */
static void csv_fail_long(struct csv_reader *r)
{
	struct srcpos pos = { r->name, r->field_line, 0 };

	r->rc = diag_at(r->d, RC_DATA, &pos, "field longer than %u bytes",
			(unsigned)INGEST_MAX_FIELD);
}

/* Compares two names ignoring ASCII case, as Salesforce compares API names. */
static int csv_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* Finds where header field `idx` starts in the raw header bytes, as a
 * line and column. Returns 0 when the raw bytes were not all kept. */
static int csv_hdr_pos(const struct csv_reader *r, size_t idx, unsigned long *line,
		       unsigned long *col)
{
	const unsigned char *s = (const unsigned char *)r->hdr_raw.buf;
	unsigned char q = r->p.quote_char, dl = r->p.delim_char;
	size_t field = 0;
	int in_q = 0;

	*line = r->hdr_line;
	*col = 1;
	for (size_t i = 0; i < r->hdr_raw.len && field < idx; i++) {
		if (s[i] == q)
			in_q = !in_q;
		else if (s[i] == dl && !in_q)
			field++;
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
	return field == idx;
}

/* The header record is complete: maps its names to the wanted columns,
 * printing every missing required column and every duplicate. */
static void csv_header_done(struct csv_reader *r)
{
	const struct ingest_cols *cols = r->cols;
	int is_bad = 0;

	r->have_header = 1;
	r->hdr_line = r->rec_line;
	r->nhdr = r->nfield;
	r->slot_of = xreallocarray(NULL, r->nhdr ? r->nhdr : 1, sizeof *r->slot_of);
	for (size_t i = 0; i < r->nhdr; i++)
		r->slot_of[i] = -1;
	for (size_t k = 0; k < cols->n; k++) {
		size_t nfound = 0;

		for (size_t i = 0; i < r->nhdr; i++) {
			const char *h = r->hdr_names.buf + r->hdr_off[i];
			unsigned long line, col;

			if (!csv_name_eq(h, cols->names[k]))
				continue;
			if (nfound++ == 0) {
				r->slot_of[i] = (long)k;
				continue;
			}
			if (!csv_hdr_pos(r, i, &line, &col))
				col = 0;
			{
				struct srcpos pos = { r->name, line, col };

				diag_at(r->d, RC_DATA, &pos, "duplicate column '%s'", h);
			}
			is_bad = 1;
		}
		if (nfound == 0 && cols->is_required && cols->is_required[k]) {
			struct srcpos pos = { r->name, r->hdr_line, 0 };

			diag_at(r->d, RC_DATA, &pos, "missing required column '%s'",
				cols->names[k]);
			is_bad = 1;
		}
	}
	buf_release(&r->hdr_raw);
	if (is_bad)
		r->rc = RC_DATA;
}

/* libcsv's field callback: copies the field at once (libcsv's buffer is
 * reused for the next field). */
static void csv_on_field(void *s, size_t len, void *data)
{
	struct csv_reader *r = data;
	const char *f = s ? s : "";

	if (r->rc != RC_OK)
		return;
	if (len > INGEST_MAX_FIELD) {
		csv_fail_long(r);
		return;
	}
	if (!r->have_header) {
		if (r->nfield == r->hdr_alloc) {
			r->hdr_alloc = r->hdr_alloc ? 2 * r->hdr_alloc : 32;
			r->hdr_off = xreallocarray(r->hdr_off, r->hdr_alloc, sizeof *r->hdr_off);
		}
		r->hdr_off[r->nfield] = r->hdr_names.len;
		buf_add(&r->hdr_names, f, len);
		buf_addch(&r->hdr_names, '\0');
	} else if (r->nfield < r->nhdr && r->slot_of[r->nfield] >= 0) {
		size_t k = (size_t)r->slot_of[r->nfield];

		/* Inline rather than buf_add: this runs for every wanted field. */
		if (r->rec.alloc - r->rec.len < len + 1)
			buf_grow(&r->rec, len + 1);
		r->val_off[k] = r->rec.len;
		r->val_len[k] = len;
		memcpy(r->rec.buf + r->rec.len, f, len);
		r->rec.len += len;
		r->rec.buf[r->rec.len++] = '\0';
	}
	r->nfield++;
	r->field_line = r->line;
}

/* libcsv's record callback: the header, a ragged row, or a record for the
 * caller. */
static void csv_on_row(int c, void *data)
{
	struct csv_reader *r = data;

	(void)c;
	if (r->rc != RC_OK)
		return;
	if (!r->have_header) {
		csv_header_done(r);
	} else if (r->nfield != r->nhdr) {
		struct srcpos pos = { r->name, r->rec_line, 0 };

		r->rc = diag_bad_record(r->d, &pos, "expected %zu fields, found %zu",
					r->nhdr, r->nfield);
	} else {
		const struct ingest_cols *cols = r->cols;
		struct ingest_rec rec;

		for (size_t k = 0; k < cols->n; k++)
			r->vals[k] = r->val_off[k] == SIZE_MAX ? NULL : r->rec.buf + r->val_off[k];
		rec.line = r->rec_line;
		rec.n = cols->n;
		rec.vals = r->vals;
		rec.lens = r->val_len;
		r->rc = r->cb(r->ctx, &rec);
		r->nrecords++;
	}
	r->nfield = 0;
	r->rec.len = 0;
	r->rec_line = r->line;
	r->field_line = r->line;
}

/* Checks UTF-8 over `len` bytes at `s` (at offset `off` in the file),
 * carrying the state of a sequence across calls. Returns the index of the
 * first bad byte, with r->bad and r->bad_at set, or `len`. */
static size_t csv_utf8_scan(struct csv_reader *r, const unsigned char *s, size_t len,
			    unsigned long long off)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	unsigned need = r->u_need;
	unsigned char lo = r->u_lo, hi = r->u_hi;
	uint32_t cp = r->u_cp;
	size_t i = 0;

	while (i < len) {
		unsigned char c;

		if (need == 0) {
			/* Eight bytes at a time while they are ASCII with no NUL. */
			while (i + 8 <= len) {
				uint64_t w;

				memcpy(&w, s + i, 8);
				if ((w & high) || ((w - ones) & ~w & high))
					break;
				i += 8;
			}
			if (i == len)
				break;
			c = s[i];
			if (c < 0x80) {
				if (c == 0) {
					r->bad = CSV_BAD_NUL;
					r->bad_at = off + i;
					goto bad;
				}
				i++;
				continue;
			}
			lo = 0x80;
			hi = 0xBF;
			if (c >= 0xC2 && c <= 0xDF) {
				need = 1;
				cp = c & 0x1Fu;
			} else if (c >= 0xE0 && c <= 0xEF) {
				need = 2;
				cp = c & 0x0Fu;
				if (c == 0xE0)
					lo = 0xA0; /* no overlongs */
				else if (c == 0xED)
					hi = 0x9F; /* no surrogates */
			} else if (c >= 0xF0 && c <= 0xF4) {
				need = 3;
				cp = c & 0x07u;
				if (c == 0xF0)
					lo = 0x90; /* no overlongs */
				else if (c == 0xF4)
					hi = 0x8F; /* nothing past U+10FFFF */
			} else {
				r->bad = CSV_BAD_UTF8;
				r->bad_at = off + i;
				goto bad;
			}
			r->u_lead = off + i;
			i++;
		} else {
			c = s[i];
			if (c < lo || c > hi) {
				r->bad = CSV_BAD_UTF8;
				r->bad_at = r->u_lead;
				goto bad;
			}
			cp = cp << 6 | (c & 0x3Fu);
			lo = 0x80;
			hi = 0xBF;
			if (--need == 0 && cp == 0xFEFF) {
				r->bad = CSV_BAD_BOM;
				r->bad_at = r->u_lead;
				goto bad;
			}
			i++;
		}
	}
	r->u_need = need;
	r->u_lo = lo;
	r->u_hi = hi;
	r->u_cp = cp;
	return len;
bad:
	r->u_need = 0;
	return i;
}

/* Prints what the UTF-8 check found. Every byte before it has been fed,
 * so the current line is the line of the bad byte. */
static void csv_report_bad(struct csv_reader *r)
{
	static const char *const what[] = {
		[CSV_BAD_UTF8] = "invalid UTF-8",
		[CSV_BAD_NUL] = "NUL byte in input",
		[CSV_BAD_BOM] = "byte order mark in the middle of the file",
	};

	csv_fail(r, r->line, csv_col(r, r->bad_at), what[r->bad]);
}

/* Feeds one segment (never more than one line) to libcsv and checks what
 * it did. */
static void csv_feed(struct csv_reader *r, const unsigned char *s, size_t len)
{
	size_t used;

	/* A record or field not begun yet begins on this line. */
	if (r->p.pstate == CSV_PS_ROW_NOT_BEGUN)
		r->rec_line = r->line;
	if (r->p.pstate < CSV_PS_FIELD_BEGUN)
		r->field_line = r->line;
	if (!r->have_header) {
		if (r->p.pstate == CSV_PS_ROW_NOT_BEGUN && r->seg_start == r->line_start)
			buf_reset(&r->hdr_raw);
		if (r->hdr_raw.len < CSV_HDR_RAW_MAX)
			buf_add(&r->hdr_raw, s, len);
	}

	used = csv_parse(&r->p, s, len, csv_on_field, csv_on_row, r);
	if (r->rc != RC_OK)
		return;
	if (used < len) {
		unsigned long col = csv_col(r, r->seg_start + used);

		if (csv_error(&r->p) != CSV_EPARSE) {
			r->rc = diag_err(r->d, RC_OSERR, "%s: out of memory", r->name);
		} else if (r->p.pstate == CSV_PS_FIELD_MIGHT_HAVE_ENDED) {
			csv_fail(r, r->line, col, "text after closing quote");
		} else if (r->p.pstate == CSV_PS_FIELD_BEGUN && !r->p.quoted) {
			csv_fail(r, r->line, col, "unexpected quote in unquoted field");
		} else {
			csv_fail(r, r->line, col, "malformed quoted field");
		}
		return;
	}
	/* A field still open: check its length now so that one endless field
	 * cannot take unbounded memory. Trailing padding and a closing quote
	 * may be pending in libcsv's buffer; they are not part of the value. */
	if (r->p.entry_pos - r->p.spaces - (r->p.pstate == CSV_PS_FIELD_MIGHT_HAVE_ENDED) >
	    INGEST_MAX_FIELD)
		csv_fail_long(r);
}

/* Checks and feeds `len` bytes read at offset `off`, cutting them at each
 * newline. */
static void csv_process(struct csv_reader *r, const unsigned char *s, size_t len,
			unsigned long long off)
{
	size_t good = csv_utf8_scan(r, s, len, off);
	size_t pos = 0;

	while (pos < good && r->rc == RC_OK) {
		const unsigned char *nl = memchr(s + pos, '\n', good - pos);
		size_t end = nl ? (size_t)(nl - s) + 1 : good;

		r->seg_start = off + pos;
		csv_feed(r, s + pos, end - pos);
		pos = end;
		if (nl) {
			r->line++;
			r->line_start = off + end;
		}
	}
	if (r->rc == RC_OK && good < len)
		csv_report_bad(r);
}

/* Frees what the reader owns. */
static void csv_reader_release(struct csv_reader *r)
{
	csv_free(&r->p);
	buf_release(&r->hdr_names);
	buf_release(&r->hdr_raw);
	buf_release(&r->rec);
	free(r->hdr_off);
	free(r->slot_of);
	free(r->val_off);
	free(r->val_len);
	free(r->vals);
}

enum rc ingest_csv_read(struct diag *d, const char *path, const char *name,
			const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	size_t chunk = fmt->chunk ? fmt->chunk : CSV_CHUNK;
	struct ingest_src *src = NULL;
	struct csv_reader r;
	unsigned long long off = 0;
	unsigned char *buf = NULL;
	size_t have = 0, start = 0, got;
	size_t nslots = cols->n ? cols->n : 1;
	enum rc rc;

	memset(&r, 0, sizeof r);
	if (st)
		memset(st, 0, sizeof *st);
	r.d = d;
	r.name = name;
	r.cols = cols;
	r.cb = cb;
	r.ctx = ctx;
	r.line = 1;
	buf_init(&r.hdr_names);
	buf_init(&r.hdr_raw);
	buf_init(&r.rec);
	r.val_off = xreallocarray(NULL, nslots, sizeof *r.val_off);
	r.val_len = xcalloc(nslots, sizeof *r.val_len);
	r.vals = xcalloc(nslots, sizeof *r.vals);
	for (size_t k = 0; k < cols->n; k++)
		r.val_off[k] = SIZE_MAX;
	if (csv_init(&r.p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		rc = diag_err(d, RC_OSERR, "%s: out of memory", name);
		goto out;
	}
	csv_set_delim(&r.p, fmt->delim ? fmt->delim : ',');
	csv_set_quote(&r.p, fmt->quote ? fmt->quote : '"');
	csv_set_blk_size(&r.p, CSV_BLK);

	rc = ingest_src_open(d, path, name, &src);
	if (rc != RC_OK)
		goto out;
	buf = xmalloc(chunk + 3);

	/* The first three bytes may be a byte order mark, to be dropped; they
	 * may come in more than one read. Columns count from after it. */
	while (have < 3) {
		rc = ingest_src_read(src, buf + have, chunk, &got);
		if (rc != RC_OK)
			goto out;
		if (got == 0)
			break;
		have += got;
	}
	if (have >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		start = 3;
		r.line_start = 3;
	}
	csv_process(&r, buf + start, have - start, start);
	off = have;
	while (r.rc == RC_OK && have > 0) {
		rc = ingest_src_read(src, buf, chunk, &have);
		if (rc != RC_OK)
			goto out;
		csv_process(&r, buf, have, off);
		off += have;
	}
	if (r.rc != RC_OK) {
		rc = r.rc;
		goto out;
	}

	if (r.u_need) {
		r.bad = CSV_BAD_UTF8;
		r.bad_at = r.u_lead;
		csv_report_bad(&r);
		rc = r.rc;
		goto out;
	}
	/* The field still open at the end started at field_line. */
	if (r.p.pstate == CSV_PS_FIELD_BEGUN && r.p.quoted) {
		csv_fail(&r, r.field_line, 0, "unterminated quoted field");
		rc = r.rc;
		goto out;
	}
	if (csv_fini(&r.p, csv_on_field, csv_on_row, &r) != 0 && r.rc == RC_OK)
		csv_fail(&r, r.field_line, 0, "unterminated quoted field");
	if (r.rc != RC_OK) {
		rc = r.rc;
		goto out;
	}
	if (!r.have_header) {
		rc = diag_err(d, RC_DATA, "%s: empty file, expected a header line", name);
		goto out;
	}
	rc = RC_OK;
out:
	if (st && src) {
		ingest_src_stats(src, st);
		st->nrecords = r.nrecords;
	}
	ingest_src_close(src);
	free(buf);
	csv_reader_release(&r);
	return rc;
}
