/* SPDX-License-Identifier: MIT */
/* emit_out: write-to-temporary-then-rename for a set of output files. */
#include "emit_out.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The stream under an output FILE (fopencookie). An output file is
 * written once and never read back, so it is dropped from the page cache
 * as it grows (a run's outputs are 2 GB at a million contacts; writing 3
 * GB took 9 to 27 s of system time here, and 1.1 s this way). */
struct out_stream {
	struct dropbehind wb; /* the file (closed by stream_close) and how much went to the disk */
	off_t written; /* bytes written */
	int err;       /* first errno of a failed write or writeback; 0 if none */
};

struct emit_file {
	char *final;   /* final path; owned */
	char *tmp;     /* temporary path; owned */
	FILE *f;       /* open stream or NULL once closed; owned */
	struct out_stream *st; /* under f; freed when f is closed */
};

/* fopencookie's write: all of `n`, or on an error the count written
 * before it (never -1: glibc takes the returned count as unsigned, and a
 * large write failing part way would make it copy past the caller's
 * buffer); the short count marks the stream as failed. */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	struct out_stream *st = cookie;
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(st->wb.fd, buf + done, n - done);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			if (!st->err)
				st->err = w < 0 ? errno : EIO;
			st->written += (off_t)done;
			return (ssize_t)done;
		}
		done += (size_t)w;
	}
	st->written += (off_t)n;
	if (st->written - st->wb.started >= DROPBEHIND_CHUNK) {
		/* Kept for emit_out_commit, whose fsync may not see it. */
		int e = dropbehind_advance(&st->wb, st->written);
		if (e && !st->err)
			st->err = e;
	}
	return (ssize_t)n;
}

static int stream_close(void *cookie)
{
	struct out_stream *st = cookie;
	int r = close(st->wb.fd);

	free(st);
	return r;
}

/* A new file at `path` (which must not exist) as a buffered stream. NULL
 * with errno set on failure. */
static FILE *open_stream(const char *path, struct out_stream **out)
{
	static const cookie_io_functions_t io = { NULL, stream_write, NULL, stream_close };
	struct out_stream *st;
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	if (fd < 0)
		return NULL;
	st = xcalloc(1, sizeof *st);
	st->wb.fd = fd;
	f = fopencookie(st, "w", io);
	if (!f) {
		int err = errno;
		close(fd);
		unlink(path);
		free(st);
		errno = err;
		return NULL;
	}
	(void)setvbuf(f, NULL, _IOFBF, 1 << 16);
	/* One thread writes a file: no lock for each putc and fwrite (the
	 * run has threads of its own, so glibc would take one for every call
	 * of the writers, a few for each field they write). */
	(void)__fsetlocking(f, FSETLOCKING_BYCALLER);
	*out = st;
	return f;
}

struct emit_out {
	struct diag *d;          /* borrowed */
	char *dir;               /* output directory; owned */
	struct emit_file *files; /* owned */
	size_t nfiles, alloc;
	enum rc rc;              /* first failure */
	int is_committed;
};

/* 1 for the name of a temporary file of this module: ".NAME.tmp-PID". */
static int is_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp-");
	if (name[0] != '.' || !t || t == name)
		return 0;
	for (t += 5; *t; t++)
		if (*t < '0' || *t > '9')
			return 0;
	return 1;
}

/* Removes the temporary files a killed run left in `dir` and its
 * subdirectories one level down. The caller holds the snapshot lock, so no
 * other run of this job is writing there. */
static void sweep(const char *dir, int depth)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		char *path;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path = path_join(dir, de->d_name);
		if (is_temp_name(de->d_name))
			unlink(path);
		else if (depth > 0 && de->d_type == DT_DIR)
			sweep(path, depth - 1);
		free(path);
	}
	closedir(dh);
}

struct emit_out *emit_out_new(struct diag *d, const char *dir)
{
	struct emit_out *o = xcalloc(1, sizeof *o);
	o->d = d;
	o->dir = xstrdup(dir);
	sweep(dir, 1);
	return o;
}

enum rc emit_out_rc(const struct emit_out *o)
{
	return o->rc;
}

/* mkdir -p of the directories leading to `path`. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static enum rc fail(struct emit_out *o, enum rc rc, const char *path, int err)
{
	if (o->rc == RC_OK) {
		struct srcpos pos = { path, 0, 0 };
		o->rc = diag_at(o->d, rc, &pos, "cannot %s: %s",
				rc == RC_IO ? "write" : "create", strerror(err));
	}
	return o->rc;
}

FILE *emit_out_open(struct emit_out *o, const char *rel)
{
	struct emit_file *ef;
	struct out_stream *st = NULL;
	char *final, *tmp;
	FILE *f;

	if (o->rc != RC_OK)
		return NULL;
	final = path_join(o->dir, rel);
	{
		char *dir = path_dirname(final);
		char *base = xstrdup(final + strlen(dir) + (strcmp(dir, ".") ? 1 : 0));
		tmp = xasprintf("%s/.%s.tmp-%ld", dir, base, (long)getpid());
		free(base);
		free(dir);
	}
	if (make_parents(tmp) != 0 || !(f = open_stream(tmp, &st))) {
		int err = errno;
		if (err == EEXIST) {
			/* A leftover of a killed run of the same pid: replace it. */
			unlink(tmp);
			f = open_stream(tmp, &st);
			err = errno;
		} else {
			f = NULL;
		}
		if (!f) {
			fail(o, RC_CANTCREAT, final, err);
			free(final);
			free(tmp);
			return NULL;
		}
	}
	if (o->nfiles == o->alloc) {
		o->alloc = o->alloc ? 2 * o->alloc : 8;
		o->files = xreallocarray(o->files, o->alloc, sizeof *o->files);
	}
	ef = &o->files[o->nfiles++];
	ef->final = final;
	ef->tmp = tmp;
	ef->f = f;
	ef->st = st;
	return f;
}

enum rc emit_out_commit(struct emit_out *o)
{
	for (size_t i = 0; i < o->nfiles && o->rc == RC_OK; i++) {
		struct emit_file *ef = &o->files[i];
		int bad, err;
		errno = 0;
		bad = ferror(ef->f) || fflush(ef->f) != 0 || ef->st->err || fsync(ef->st->wb.fd) != 0;
		err = ef->st->err ? ef->st->err : errno ? errno : EIO;
		if (fclose(ef->f) != 0 && !bad) {
			bad = 1;
			err = errno;
		}
		ef->f = NULL;
		ef->st = NULL;
		if (bad)
			fail(o, RC_IO, ef->final, err);
	}
	for (size_t i = 0; i < o->nfiles && o->rc == RC_OK; i++) {
		struct emit_file *ef = &o->files[i];
		if (rename(ef->tmp, ef->final) != 0)
			fail(o, RC_CANTCREAT, ef->final, errno);
		else
			ef->tmp[0] = '\0';
	}
	if (o->rc == RC_OK)
		o->is_committed = 1;
	return o->rc;
}

void emit_out_free(struct emit_out *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nfiles; i++) {
		struct emit_file *ef = &o->files[i];
		if (ef->f)
			fclose(ef->f);
		if (ef->tmp[0])
			unlink(ef->tmp);
		free(ef->final);
		free(ef->tmp);
	}
	free(o->files);
	free(o->dir);
	free(o);
}
