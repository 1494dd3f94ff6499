/* SPDX-License-Identifier: MIT */
/* ingest: the readers' entry point; picks the CSV or the XML reader by the
 * kind the format profile gives.
 *
 * A file of a megabyte or more is parsed in a thread of its own while the
 * caller's thread takes the records (checks and stages them): the parser
 * writes records and messages, in the order it meets them, into batches of
 * about 256 KiB, four at most ahead of the caller, and the caller replays
 * them. The parser's messages are deferred (diag.defer) and printed, and
 * its bad records counted against --max-errors, by the caller's thread
 * when it gets there, so that what is printed and returned is what a read
 * in one thread gives. */
#include "ingest.h"
#include "util.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Files this large and larger are parsed in a thread of their own. */
#define PIPE_MIN_FILE (1024u * 1024u)
/* Bytes of records after which a batch is handed over, and how many
 * batches the parser may fill ahead of the caller. */
#define PIPE_BATCH (256u * 1024u)
#define PIPE_NBATCH 4u

/* What the parser hands over, in order. */
enum pipe_ev {
	EV_REC, /* a record: n lengths (SIZE_MAX for an absent value), then the values */
	EV_MSG, /* a message diag_at or diag_err would have printed */
	EV_BAD, /* a bad record diag_bad_record would have counted and printed */
};

/* The head of one event in a batch; `len` payload bytes follow it. A
 * message's payload is the position's file and the text, each
 * NUL-terminated. */
struct pipe_hdr {
	enum pipe_ev kind;
	enum rc rc;            /* EV_MSG: the code it was printed with */
	unsigned long line;    /* the record's line; the message's position */
	unsigned long col;
	size_t n;              /* EV_REC: values; EV_MSG, EV_BAD: 1 when it has a position */
	size_t len;
};

/* One read through the pipe. The batches belong to one side at a time, as
 * `ho` hands them over. */
struct pipe {
	/* The read, as the caller asked for it. */
	const char *path, *name;
	const struct ingest_fmt *fmt;
	const struct ingest_cols *cols;
	struct ingest_stats st;      /* the parser's */
	enum rc parser_rc;           /* what the parser returned */
	struct diag wd;              /* the parser's diag: deferred */

	struct handoff ho;
	struct buf batch[PIPE_NBATCH];
};

/* The batch the parser fills, or NULL once the caller has stopped: the
 * parser then adds nothing more and unwinds (its result is not used). */
static struct buf *pipe_cur(struct pipe *p)
{
	if (handoff_is_stopped(&p->ho))
		return NULL;
	return &p->batch[p->ho.nfilled % PIPE_NBATCH];
}

/* Hands the batch over once it is full, waiting for a free one. */
static enum rc pipe_check_full(struct pipe *p, const struct buf *cur)
{
	if (cur->len < PIPE_BATCH)
		return RC_OK;
	return handoff_put(&p->ho, 1, 0) == 0 ? RC_OK : RC_INTERNAL;
}

/* The parser's record callback: copies the record into the batch. */
static enum rc pipe_on_record(void *ctx, const struct ingest_rec *rec)
{
	struct pipe *p = ctx;
	struct buf *cur = pipe_cur(p);
	struct pipe_hdr h = { EV_REC, RC_OK, rec->line, 0, rec->n, rec->n * sizeof(size_t) };
	char *at;

	if (!cur)
		return RC_INTERNAL;

	for (size_t k = 0; k < rec->n; k++)
		h.len += rec->vals[k] ? rec->lens[k] + 1 : 0;
	buf_grow(cur, sizeof h + h.len);
	at = cur->buf + cur->len;
	cur->len += sizeof h + h.len;
	memcpy(at, &h, sizeof h);
	at += sizeof h;
	for (size_t k = 0; k < rec->n; k++) {
		size_t len = rec->vals[k] ? rec->lens[k] : SIZE_MAX;

		memcpy(at + k * sizeof len, &len, sizeof len);
	}
	at += rec->n * sizeof(size_t);
	for (size_t k = 0; k < rec->n; k++) {
		if (rec->vals[k]) {
			memcpy(at, rec->vals[k], rec->lens[k] + 1);
			at += rec->lens[k] + 1;
		}
	}
	cur->buf[cur->len] = '\0';
	return pipe_check_full(p, cur);
}

/* The parser's deferred diag: copies the message into the batch. A
 * message's head has n = 1 with a position and 2 more with a file name. */
static enum rc pipe_on_msg(void *ctx, int is_bad, enum rc rc, const struct srcpos *pos,
			   const char *msg)
{
	struct pipe *p = ctx;
	const char *file = pos && pos->file ? pos->file : "";
	size_t flen = strlen(file) + 1, mlen = strlen(msg) + 1;
	struct pipe_hdr h = { is_bad ? EV_BAD : EV_MSG, rc, pos ? pos->line : 0,
			      pos ? pos->col : 0, (pos != NULL) | (pos && pos->file ? 2u : 0u),
			      flen + mlen };
	struct buf *cur = pipe_cur(p);

	if (!cur)
		return RC_INTERNAL;
	buf_add(cur, &h, sizeof h);
	buf_add(cur, file, flen);
	buf_add(cur, msg, mlen);
	if (pipe_check_full(p, cur) != RC_OK)
		return RC_INTERNAL;
	return is_bad ? RC_OK : rc;
}

/* The parser's thread. */
static void *pipe_thread(void *arg)
{
	struct pipe *p = arg;
	enum rc rc;

	if (p->fmt->kind == INGEST_CSV)
		rc = ingest_csv_read(&p->wd, p->path, p->name, p->fmt, p->cols, pipe_on_record, p,
				     &p->st);
	else
		rc = ingest_xml_read(&p->wd, p->path, p->name, p->fmt, p->cols, pipe_on_record, p,
				     &p->st);
	p->parser_rc = rc;
	handoff_put(&p->ho, p->batch[p->ho.nfilled % PIPE_NBATCH].len > 0, 1);
	return NULL;
}

/* Replays one batch: records to `cb`, messages to `d`. Returns RC_OK to
 * go on, or the code that stops the read. */
static enum rc pipe_replay(struct diag *d, const struct buf *b, ingest_cb cb, void *ctx,
			   unsigned long *nrecords)
{
	const char **vp = NULL;
	size_t *lp = NULL, nalloc = 0;
	enum rc rc = RC_OK;

	for (size_t off = 0; off < b->len && rc == RC_OK;) {
		struct pipe_hdr h;
		const char *pl;

		memcpy(&h, b->buf + off, sizeof h);
		pl = b->buf + off + sizeof h;
		off += sizeof h + h.len;
		if (h.kind == EV_REC) {
			struct ingest_rec rec;
			const char *v;

			if (h.n > nalloc) {
				nalloc = h.n;
				vp = xreallocarray(vp, nalloc, sizeof *vp);
				lp = xreallocarray(lp, nalloc, sizeof *lp);
			}
			if (h.n)
				memcpy(lp, pl, h.n * sizeof *lp);
			v = pl + h.n * sizeof *lp;
			for (size_t k = 0; k < h.n; k++) {
				if (lp[k] == SIZE_MAX) {
					vp[k] = NULL;
					lp[k] = 0;
				} else {
					vp[k] = v;
					v += lp[k] + 1;
				}
			}
			rec.line = h.line;
			rec.n = h.n;
			rec.vals = vp;
			rec.lens = lp;
			rc = cb(ctx, &rec);
			++*nrecords;
		} else {
			const char *msg = pl + strlen(pl) + 1;
			struct srcpos pos = { h.n & 2 ? pl : NULL, h.line, h.col };

			if (h.kind == EV_BAD)
				rc = diag_bad_record(d, h.n & 1 ? &pos : NULL, "%s", msg);
			else
				diag_at(d, h.rc, h.n & 1 ? &pos : NULL, "%s", msg);
		}
	}
	free(vp);
	free(lp);
	return rc;
}

/* The read in the caller's thread, by the reader of the input's kind. */
static enum rc ingest_read_direct(struct diag *d, const char *path, const char *name,
				  const struct ingest_fmt *fmt, const struct ingest_cols *cols,
				  ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	if (fmt->kind == INGEST_CSV)
		return ingest_csv_read(d, path, name, fmt, cols, cb, ctx, st);
	return ingest_xml_read(d, path, name, fmt, cols, cb, ctx, st);
}

enum rc ingest_read_piped(struct diag *d, const char *path, const char *name,
			  const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			  ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	struct pipe p;
	pthread_t th;
	unsigned long nrecords = 0;
	enum rc rc = RC_OK;
	int err;

	memset(&p, 0, sizeof p);
	p.path = path;
	p.name = name;
	p.fmt = fmt;
	p.cols = cols;
	diag_init(&p.wd, d->out);
	p.wd.defer = pipe_on_msg;
	p.wd.defer_ctx = &p;
	for (unsigned i = 0; i < PIPE_NBATCH; i++)
		buf_init(&p.batch[i]);
	handoff_init(&p.ho, PIPE_NBATCH);

	/* libxml2 sets up its globals once, in the thread that asks first. */
	if (fmt->kind == INGEST_XML)
		xmlInitParser();
	err = thread_start(&th, pipe_thread, &p);
	if (err != 0) {
		/* No thread to be had (a process or memory limit): the same
		 * read in the caller's thread, nothing having been read yet. */
		for (unsigned i = 0; i < PIPE_NBATCH; i++)
			buf_release(&p.batch[i]);
		handoff_destroy(&p.ho);
		diag_release(&p.wd);
		return ingest_read_direct(d, path, name, fmt, cols, cb, ctx, st);
	}

	for (;;) {
		long i = handoff_get(&p.ho);

		if (i < 0) {
			rc = p.parser_rc;
			break;
		}
		rc = pipe_replay(d, &p.batch[i], cb, ctx, &nrecords);
		buf_reset(&p.batch[i]);
		if (rc != RC_OK)
			handoff_stop(&p.ho);
		handoff_release(&p.ho);
		if (rc != RC_OK)
			break;
	}
	pthread_join(th, NULL);
	if (st) {
		*st = p.st;
		st->nrecords = nrecords;
	}
	for (unsigned i = 0; i < PIPE_NBATCH; i++)
		buf_release(&p.batch[i]);
	handoff_destroy(&p.ho);
	diag_release(&p.wd);
	return rc;
}

enum rc ingest_read(struct diag *d, const char *path, const char *name,
		    const struct ingest_fmt *fmt, const struct ingest_cols *cols,
		    ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	struct stat sb;

	if (fmt->kind != INGEST_CSV && fmt->kind != INGEST_XML)
		return diag_err(d, RC_INTERNAL, "%s: unknown input kind %d", name,
				(int)fmt->kind);
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)PIPE_MIN_FILE)
		return ingest_read_piped(d, path, name, fmt, cols, cb, ctx, st);
	return ingest_read_direct(d, path, name, fmt, cols, cb, ctx, st);
}
