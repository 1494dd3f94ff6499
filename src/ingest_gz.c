/* SPDX-License-Identifier: MIT */
/* ingest_gz: the byte source under every reader. Opens a plain or a gzip
 * file (told apart by the magic bytes, never by the name), inflates it when
 * needed, and keeps a SHA-256 of the bytes as stored on disk, reading the
 * file once.
 *
 * Reading, hashing and inflating run in a thread of their own, a few slots
 * ahead of the parser that consumes the bytes, so that a read takes the
 * parser's time rather than the sum of the two. The thread prints nothing:
 * an error it meets travels behind the last bytes it produced, and the
 * parser's thread prints it when it gets there, where a read in one
 * thread would have. */
#include "ingest.h"
#include "sha256.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Bytes read from the file at a time. */
#define SRC_INBUF (64u * 1024u)
/* Bytes handed from the reading thread to the parser at a time, and how
 * many such slots it may fill ahead. */
#define SRC_SLOT (256u * 1024u)
#define SRC_NSLOT 4u

/* An open input file. Until the reading thread has been joined, the
 * fields under "reading thread" are its own. */
struct ingest_src {
	struct diag *d;           /* where errors are printed; borrowed */
	char *name;               /* the file as shown in messages; owned */

	/* Reading thread. */
	int fd;                   /* the open file */
	int is_gzip;              /* 1 when the file starts with the gzip magic */
	int is_eof;               /* the file has no more bytes */
	int in_member;            /* gzip: inflating a member that has not ended */
	int zs_ready;             /* zs has been set up by inflateInit2 */
	unsigned char *in;        /* bytes read from the file, not consumed yet; owned */
	size_t in_pos, in_len;    /* unconsumed bytes are in[in_pos..in_len) */
	z_stream zs;              /* the inflater (gzip only) */
	struct sha256 hash;       /* digest of every byte read from the file */
	unsigned long long nread; /* bytes read from the file */
	char err[512];            /* the message of the error that ended the read */

	/* Hand-over: the slots belong to one side at a time, as `ho` hands
	 * them over. */
	struct handoff ho;
	unsigned char *slot[SRC_NSLOT]; /* allocated when first filled; owned */
	size_t slot_cap[SRC_NSLOT];     /* the size of each */
	size_t slot_len[SRC_NSLOT];     /* the bytes filled in each */
	size_t first_cap;         /* the size of the first slot */
	enum rc end_rc;           /* how the read ended: RC_OK at the end of input */

	/* Parser's side. */
	pthread_t th;
	int th_started;           /* th is running or not yet joined */
	int is_inline;            /* no thread: the slots are filled here */
	long cur;                 /* the slot being taken from, or -1 */
	size_t cur_pos;           /* bytes taken from it */
	unsigned long long nout;  /* bytes handed to the caller */
};

/* Records the error that ends the read, for the parser's thread to print
 * when it gets there. Returns rc. */
static enum rc src_fail(struct ingest_src *s, enum rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum rc src_fail(struct ingest_src *s, enum rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return rc;
}

/* Writes strerror(err) in lower case into `out`. */
static void lower_strerror(int err, char *out, size_t size)
{
	size_t i;

	snprintf(out, size, "%s", strerror(err));
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

/* Reads more of the file into the input buffer, after moving the
 * unconsumed bytes to its front. Sets is_eof at the end of the file.
 * Prints and returns RC_IO on a read error. */
static enum rc src_fill(struct ingest_src *s)
{
	ssize_t n;

	if (s->in_pos) {
		memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
		s->in_len -= s->in_pos;
		s->in_pos = 0;
	}
	if (s->is_eof || s->in_len == SRC_INBUF)
		return RC_OK;
	do
		n = read(s->fd, s->in + s->in_len, SRC_INBUF - s->in_len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		char msg[128];

		lower_strerror(errno, msg, sizeof msg);
		return src_fail(s, RC_IO, "%s: cannot read: %s", s->name, msg);
	}
	if (n == 0) {
		s->is_eof = 1;
		return RC_OK;
	}
	sha256_update(&s->hash, s->in + s->in_len, (size_t)n);
	s->nread += (unsigned long long)n;
	s->in_len += (size_t)n;
	return RC_OK;
}

/* Fills the input buffer until it holds at least `want` unconsumed bytes
 * or the file ends. */
static enum rc src_fill_to(struct ingest_src *s, size_t want)
{
	enum rc rc = RC_OK;

	while (s->in_len - s->in_pos < want && !s->is_eof && rc == RC_OK)
		rc = src_fill(s);
	return rc;
}

/* Reads plain bytes: first what the magic check buffered, then straight
 * from the file into the caller's buffer. */
static enum rc src_read_plain(struct ingest_src *s, unsigned char *p, size_t len,
			      size_t *got)
{
	ssize_t n;

	if (s->in_pos < s->in_len) {
		size_t take = s->in_len - s->in_pos;

		if (take > len)
			take = len;
		memcpy(p, s->in + s->in_pos, take);
		s->in_pos += take;
		*got = take;
		return RC_OK;
	}
	if (s->is_eof)
		return RC_OK;
	do
		n = read(s->fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		char msg[128];

		lower_strerror(errno, msg, sizeof msg);
		return src_fail(s, RC_IO, "%s: cannot read: %s", s->name, msg);
	}
	if (n == 0) {
		s->is_eof = 1;
		return RC_OK;
	}
	sha256_update(&s->hash, p, (size_t)n);
	s->nread += (unsigned long long)n;
	*got = (size_t)n;
	return RC_OK;
}

/* After a gzip member ends: another member may follow; zero bytes (the
 * padding some tape and transfer tools add) are ignored; anything else is
 * an error. Clears in_member when the next member starts. */
static enum rc src_next_member(struct ingest_src *s)
{
	enum rc rc;

	for (;;) {
		rc = src_fill_to(s, 2);
		if (rc != RC_OK)
			return rc;
		if (s->in_pos == s->in_len)
			return RC_OK;
		if (s->in_len - s->in_pos >= 2 && s->in[s->in_pos] == 0x1f &&
		    s->in[s->in_pos + 1] == 0x8b) {
			if (inflateReset(&s->zs) != Z_OK)
				return src_fail(s, RC_INTERNAL, "%s: cannot restart gzip decompression",
						s->name);
			s->in_member = 1;
			return RC_OK;
		}
		if (s->in[s->in_pos] != 0)
			return src_fail(s, RC_DATA, "%s: data after the end of the gzip stream",
					s->name);
		while (s->in_pos < s->in_len && s->in[s->in_pos] == 0)
			s->in_pos++;
	}
}

/* Inflates into the caller's buffer until it is full or the input ends.
 * On an error, *got still counts the bytes inflated before it. */
static enum rc src_read_gzip(struct ingest_src *s, unsigned char *p, size_t len,
			     size_t *got)
{
	enum rc rc = RC_OK;

	s->zs.next_out = p;
	s->zs.avail_out = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	while (s->zs.avail_out && rc == RC_OK) {
		int zrc;

		if (!s->in_member) {
			rc = src_next_member(s);
			if (rc != RC_OK || !s->in_member)
				break; /* an error, or the end of input */
		}
		if (s->in_pos == s->in_len) {
			rc = src_fill(s);
			if (rc == RC_OK && s->in_pos == s->in_len)
				rc = src_fail(s, RC_DATA, "%s: truncated gzip stream", s->name);
			if (rc != RC_OK)
				break;
		}
		s->zs.next_in = s->in + s->in_pos;
		s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
		zrc = inflate(&s->zs, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->zs.avail_in;
		if (zrc == Z_STREAM_END)
			s->in_member = 0;
		else if (zrc == Z_MEM_ERROR)
			rc = src_fail(s, RC_OSERR, "%s: out of memory while decompressing", s->name);
		else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			rc = src_fail(s, RC_DATA, "%s: corrupt gzip stream", s->name);
	}
	/* What was inflated before an error goes to the parser ahead of it. */
	*got = (size_t)(s->zs.next_out - p);
	return rc;
}

/* The next bytes of the input, plain or inflated; *got 0 at its end. */
static enum rc src_produce(struct ingest_src *s, unsigned char *p, size_t len, size_t *got)
{
	*got = 0;
	if (s->is_gzip)
		return src_read_gzip(s, p, len, got);
	return src_read_plain(s, p, len, got);
}

/* Fills the next slot, as full as the input allows, and hands it over.
 * Returns 1 when no slot is to follow: the input ended, an error ended
 * it, or the parser stopped. */
static int src_fill_slot(struct ingest_src *s)
{
	unsigned i = (unsigned)(s->ho.nfilled % SRC_NSLOT);
	size_t len = 0, got = 1;
	enum rc rc = RC_OK;
	int is_last;

	if (!s->slot[i]) {
		s->slot_cap[i] = i == 0 ? s->first_cap : SRC_SLOT;
		s->slot[i] = xmalloc(s->slot_cap[i]);
	}
	while (len < s->slot_cap[i] && got > 0 && rc == RC_OK) {
		rc = src_produce(s, s->slot[i] + len, s->slot_cap[i] - len, &got);
		len += got;
	}
	s->slot_len[i] = len;
	is_last = rc != RC_OK || got == 0;
	if (is_last)
		s->end_rc = rc;
	return handoff_put(&s->ho, len > 0, is_last) != 0 || is_last;
}

/* The reading thread: fills the slots in turn until the input ends, an
 * error ends it, or the parser stops it. */
static void *src_thread(void *arg)
{
	struct ingest_src *s = arg;

	while (!src_fill_slot(s))
		;
	return NULL;
}

/* Stops the reading thread and waits for it; or, inline, stops filling. */
static void src_join(struct ingest_src *s)
{
	if (!s->th_started && !s->is_inline)
		return;
	if (s->th_started) {
		handoff_stop(&s->ho);
		pthread_join(s->th, NULL);
		s->th_started = 0;
	}
	s->is_inline = 0;
	/* A read after this finds the end, not a wait for a thread gone. */
	s->ho.is_done = 1;
}

/* Starts the reading thread. Without one (a process or memory limit),
 * the parser's thread fills each slot itself when it needs it
 * (ingest_src_read): the same bytes, one slot at a time. */
static void src_start(struct ingest_src *s)
{
	if (thread_start(&s->th, src_thread, s) == 0)
		s->th_started = 1;
	else
		s->is_inline = 1;
}

enum rc ingest_src_open(struct diag *d, const char *path, const char *name,
			struct ingest_src **out)
{
	struct ingest_src *s;
	struct stat sb;
	char msg[128];
	enum rc rc;
	int fd;

	*out = NULL;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		lower_strerror(errno, msg, sizeof msg);
		return diag_err(d, RC_NOINPUT, "%s: cannot open: %s", name, msg);
	}
	if (fstat(fd, &sb) != 0)
		memset(&sb, 0, sizeof sb);
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		lower_strerror(EISDIR, msg, sizeof msg);
		return diag_err(d, RC_NOINPUT, "%s: cannot open: %s", name, msg);
	}

	s = xcalloc(1, sizeof *s);
	s->d = d;
	s->name = xstrdup(name);
	s->fd = fd;
	s->in = xmalloc(SRC_INBUF);
	sha256_init(&s->hash);
	handoff_init(&s->ho, SRC_NSLOT);
	s->cur = -1;
	/* A plain file smaller than a slot takes one slot of its size (and a
	 * byte more, to see its end). */
	s->first_cap = SRC_SLOT;
	if (S_ISREG(sb.st_mode) && sb.st_size > 0 && (size_t)sb.st_size < SRC_SLOT - 1)
		s->first_cap = (size_t)sb.st_size + 1;

	/* Two bytes decide: 1f 8b starts a gzip member. */
	rc = src_fill_to(s, 2);
	if (rc != RC_OK) {
		rc = diag_err(d, rc, "%s", s->err);
		goto out;
	}
	if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
		int zrc = inflateInit2(&s->zs, 15 + 16);

		if (zrc != Z_OK) {
			rc = diag_err(d, zrc == Z_MEM_ERROR ? RC_OSERR : RC_INTERNAL,
				      "%s: cannot start gzip decompression", name);
			goto out;
		}
		s->zs_ready = 1;
		s->is_gzip = 1;
		s->in_member = 1;
	}
	if (s->is_gzip)
		s->first_cap = SRC_SLOT;
	/* The first slot here: an input that ends within it needs no thread. */
	if (!src_fill_slot(s))
		src_start(s);
out:
	if (rc != RC_OK) {
		ingest_src_close(s);
		return rc;
	}
	*out = s;
	return RC_OK;
}

enum rc ingest_src_read(struct ingest_src *s, void *p, size_t len, size_t *got)
{
	size_t take;

	*got = 0;
	if (len == 0)
		return RC_OK;
	if (s->cur < 0) {
		/* Inline: the next slot is filled here, one ahead of the
		 * reads (at most two of SRC_NSLOT are out at a time, so
		 * handoff_put never waits). */
		if (s->is_inline && !s->ho.is_done)
			src_fill_slot(s);
		s->cur = handoff_get(&s->ho);
		s->cur_pos = 0;
		if (s->cur < 0) {
			/* The end: the error that ended the read, if one did. */
			if (s->end_rc != RC_OK)
				return diag_err(s->d, s->end_rc, "%s", s->err);
			return RC_OK;
		}
	}
	take = s->slot_len[s->cur] - s->cur_pos;
	if (take > len)
		take = len;
	memcpy(p, s->slot[s->cur] + s->cur_pos, take);
	s->cur_pos += take;
	*got = take;
	s->nout += take;
	if (s->cur_pos == s->slot_len[s->cur]) {
		handoff_release(&s->ho);
		s->cur = -1;
	}
	return RC_OK;
}

void ingest_src_stats(struct ingest_src *s, struct ingest_stats *st)
{
	struct sha256 copy;

	/* The digest and the count are the reading thread's until it ends. */
	src_join(s);
	copy = s->hash;
	st->bytes = s->nread;
	st->raw_bytes = s->nout;
	st->is_gzip = s->is_gzip;
	sha256_final(&copy, st->sha256);
}

void ingest_src_close(struct ingest_src *s)
{
	if (!s)
		return;
	src_join(s);
	if (s->zs_ready)
		inflateEnd(&s->zs);
	close(s->fd);
	for (unsigned i = 0; i < SRC_NSLOT; i++)
		free(s->slot[i]);
	handoff_destroy(&s->ho);
	free(s->in);
	free(s->name);
	free(s);
}
