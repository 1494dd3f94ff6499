/* SPDX-License-Identifier: MIT */
/* ingest_gz: the byte source under every reader. Opens a plain or a gzip
 * file (told apart by the magic bytes, never by the name), inflates it when
 * needed, and keeps a SHA-256 of the bytes as stored on disk, reading the
 * file once. */
#include "ingest.h"
#include "sha256.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Bytes read from the file at a time. */
#define SRC_INBUF (64u * 1024u)

/* An open input file. */
struct ingest_src {
	struct diag *d;           /* where errors are printed; borrowed */
	char *name;               /* the file as shown in messages; owned */
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
	unsigned long long nout;  /* bytes handed to the caller */
};

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
		return diag_err(s->d, RC_IO, "%s: cannot read: %s", s->name, msg);
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
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
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

	/* Two bytes decide: 1f 8b starts a gzip member. */
	rc = src_fill_to(s, 2);
	if (rc != RC_OK)
		goto out;
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
out:
	if (rc != RC_OK) {
		ingest_src_close(s);
		return rc;
	}
	*out = s;
	return RC_OK;
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
		return diag_err(s->d, RC_IO, "%s: cannot read: %s", s->name, msg);
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
				return diag_err(s->d, RC_INTERNAL, "%s: cannot restart gzip decompression",
						s->name);
			s->in_member = 1;
			return RC_OK;
		}
		if (s->in[s->in_pos] != 0)
			return diag_err(s->d, RC_DATA, "%s: data after the end of the gzip stream",
					s->name);
		while (s->in_pos < s->in_len && s->in[s->in_pos] == 0)
			s->in_pos++;
	}
}

/* Inflates into the caller's buffer until it is full or the input ends. */
static enum rc src_read_gzip(struct ingest_src *s, unsigned char *p, size_t len,
			     size_t *got)
{
	enum rc rc;

	s->zs.next_out = p;
	s->zs.avail_out = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	while (s->zs.avail_out) {
		int zrc;

		if (!s->in_member) {
			rc = src_next_member(s);
			if (rc != RC_OK)
				return rc;
			if (!s->in_member)
				break; /* end of input */
		}
		if (s->in_pos == s->in_len) {
			rc = src_fill(s);
			if (rc != RC_OK)
				return rc;
			if (s->in_pos == s->in_len)
				return diag_err(s->d, RC_DATA, "%s: truncated gzip stream", s->name);
		}
		s->zs.next_in = s->in + s->in_pos;
		s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
		zrc = inflate(&s->zs, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->zs.avail_in;
		if (zrc == Z_STREAM_END) {
			s->in_member = 0;
		} else if (zrc == Z_MEM_ERROR) {
			return diag_err(s->d, RC_OSERR, "%s: out of memory while decompressing", s->name);
		} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			return diag_err(s->d, RC_DATA, "%s: corrupt gzip stream", s->name);
		}
	}
	*got = (size_t)(s->zs.next_out - p);
	return RC_OK;
}

enum rc ingest_src_read(struct ingest_src *s, void *p, size_t len, size_t *got)
{
	enum rc rc;

	*got = 0;
	if (len == 0)
		return RC_OK;
	if (s->is_gzip)
		rc = src_read_gzip(s, p, len, got);
	else
		rc = src_read_plain(s, p, len, got);
	s->nout += *got;
	return rc;
}

void ingest_src_stats(struct ingest_src *s, struct ingest_stats *st)
{
	struct sha256 copy = s->hash;

	st->bytes = s->nread;
	st->raw_bytes = s->nout;
	st->is_gzip = s->is_gzip;
	sha256_final(&copy, st->sha256);
}

void ingest_src_close(struct ingest_src *s)
{
	if (!s)
		return;
	if (s->zs_ready)
		inflateEnd(&s->zs);
	close(s->fd);
	free(s->in);
	free(s->name);
	free(s);
}
