/* SPDX-License-Identifier: MIT */
/* snap_run: the run history and the record of unfinished runs kept in the
 * lock file `<snapshot>.lock`. A run's writes stay in one transaction until
 * snap_run_commit; the lock file says which run is in flight, so a killed
 * or failed run reaches the history through the next complete one. */
#include "snap.h"
#include "snap_int.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The lock file holds a few short lines; anything longer is not ours. */
#define LOCK_MAX_BYTES 65536

/* ---- the lock file ---- */

/* Reads the whole lock file at `fd` into `b`. Returns 0, or -1 (errno). */
static int lock_read_all(int fd, struct buf *b)
{
	off_t off = 0;

	for (;;) {
		ssize_t n;
		buf_grow(b, 4096);
		n = pread(fd, b->buf + b->len, 4096, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->buf[b->len] = '\0';
		off += n;
		if (b->len > LOCK_MAX_BYTES)
			break;
	}
	return 0;
}

/* Parses one record line `STATUS ID MODE STARTED PID` (NUL-terminated,
 * no newline). Returns 0, or -1 when it is not one. */
static int rec_parse(const char *line, struct snap_rec *r)
{
	int end = -1;

	memset(r, 0, sizeof *r);
	if (sscanf(line, "%15s %lld %15s %31s %ld %n", r->status, &r->id, r->mode,
		   r->started, &r->pid, &end) != 5 || end < 0 || line[end] != '\0')
		return -1;
	if (strcmp(r->status, "running") != 0 && strcmp(r->status, "interrupted") != 0 &&
	    strcmp(r->status, "failed") != 0)
		return -1;
	return r->id > 0 ? 0 : -1;
}

/* Calls `fn` on every line of `b` (modified in place: newlines become
 * NULs) with its 1-based number. */
static void each_line(struct buf *b, void (*fn)(char *, unsigned long, void *), void *arg)
{
	char *p = b->buf, *end = b->buf + b->len;
	unsigned long lineno = 0;

	while (p && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl)
			*nl = '\0';
		fn(p, ++lineno, arg);
		p = nl ? nl + 1 : NULL;
	}
}

/* Argument of holder_line. */
struct holder {
	long pid; /* pid of the last `running` record; 0 when none */
};

/* each_line callback: remembers the pid of a `running` record. */
static void holder_line(char *line, unsigned long lineno, void *arg)
{
	struct holder *h = arg;
	struct snap_rec r;

	(void)lineno;
	if (rec_parse(line, &r) == 0 && strcmp(r.status, "running") == 0)
		h->pid = r.pid;
}

long snap_lock_holder(int fd)
{
	struct buf b = BUF_INIT;
	struct holder h = { 0 };

	if (lock_read_all(fd, &b) == 0)
		each_line(&b, holder_line, &h);
	buf_release(&b);
	return h.pid;
}

/* Argument of load_line. */
struct loader {
	struct snap *s;
	int is_owner;       /* we hold the run lock: `running` means killed */
	sqlite3_stmt *seen; /* SELECT 1 FROM runs WHERE id = ?1 */
	size_t alloc;       /* records allocated in s->recs */
};

/* each_line callback: adds one record to s->recs (see snap_lock_load). */
static void load_line(char *line, unsigned long lineno, void *arg)
{
	struct loader *l = arg;
	struct snap *s = l->s;
	struct snap_rec r;
	int is_known = 0;

	if (!*line)
		return;
	if (rec_parse(line, &r) != 0) {
		struct srcpos pos = { s->lock_path, lineno, 0 };
		diag_warn(s->d, &pos, "unreadable run record ignored");
		return;
	}
	if (l->is_owner && strcmp(r.status, "running") == 0)
		strcpy(r.status, "interrupted");
	/* A record whose run is in the history already was left by a commit
	 * that ended before it could clear the file. */
	if (l->seen) {
		sqlite3_bind_int64(l->seen, 1, r.id);
		is_known = sqlite3_step(l->seen) == SQLITE_ROW;
		sqlite3_reset(l->seen);
	}
	if (is_known)
		return;
	for (size_t i = 0; i < s->nrecs; i++) {
		if (s->recs[i].id == r.id) { /* the later line wins */
			s->recs[i] = r;
			return;
		}
	}
	if (s->nrecs == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 4;
		s->recs = xreallocarray(s->recs, l->alloc, sizeof *s->recs);
	}
	s->recs[s->nrecs++] = r;
}

enum rc snap_lock_load(struct snap *s, int fd, int is_owner)
{
	static const char sql[] = "SELECT 1 FROM runs WHERE id = ?1";
	struct buf b = BUF_INIT;
	struct loader l = { s, is_owner, NULL, 0 };
	int r;

	free(s->recs);
	s->recs = NULL;
	s->nrecs = 0;
	s->has_found = 0;
	if (lock_read_all(fd, &b) != 0) {
		snap_fail_msg(s, RC_IO, "cannot read lock file '%s': %s", s->lock_path,
			      strerror(errno));
		goto out;
	}
	if (b.len == 0)
		goto out;
	r = sqlite3_prepare_v2(s->db, sql, -1, &l.seen, NULL);
	if (r != SQLITE_OK) {
		snap_fail(s, r, sql);
		goto out;
	}
	each_line(&b, load_line, &l);
	for (size_t i = s->nrecs; i-- > 0;) {
		const struct snap_rec *rec = &s->recs[i];
		if (strcmp(rec->status, "running") == 0)
			continue;
		s->has_found = 1;
		s->found.id = rec->id;
		snprintf(s->found.status, sizeof s->found.status, "%s", rec->status);
		snprintf(s->found.mode, sizeof s->found.mode, "%s", rec->mode);
		snprintf(s->found.started, sizeof s->found.started, "%s", rec->started);
		break;
	}
out:
	sqlite3_finalize(l.seen);
	buf_release(&b);
	return s->rc;
}

/* Appends the line of record `r` to `b`. */
static void rec_add(struct buf *b, const struct snap_rec *r)
{
	buf_addf(b, "%s %lld %s %s %ld\n", r->status, r->id, r->mode, r->started, r->pid);
}

/* Rewrites the lock file: the unfinished runs of s->recs, then `cur` when
 * not NULL, and makes it durable. The file is rewritten in place (never
 * renamed), since the flock belongs to its inode. Prints its errors but
 * does not touch the sticky status: the caller decides. */
static enum rc lock_write(struct snap *s, const struct snap_rec *cur)
{
	struct buf b = BUF_INIT;
	enum rc rc = RC_OK;
	size_t done = 0;

	if (s->lock_fd < 0)
		return RC_OK; /* an in-memory snapshot has no lock file */
	buf_init(&b);
	for (size_t i = 0; i < s->nrecs; i++)
		rec_add(&b, &s->recs[i]);
	if (cur)
		rec_add(&b, cur);
	while (done < b.len) {
		ssize_t n = pwrite(s->lock_fd, b.buf + done, b.len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (ftruncate(s->lock_fd, (off_t)b.len) != 0 || fsync(s->lock_fd) != 0)
		goto fail;
	goto out;
fail:
	rc = diag_at(s->d, RC_IO, &s->pos, "cannot write lock file '%s': %s", s->lock_path,
		     strerror(errno));
out:
	buf_release(&b);
	return rc;
}

/* ---- runs ---- */

size_t snap_pending(const struct snap *s, struct snap_pending *out)
{
	if (!s->has_found)
		return 0;
	if (out)
		*out = s->found;
	return 1;
}

/* Copies `v` into a record field of `size` bytes; -1 when it does not fit
 * or holds white space (the lock file's fields are separated by spaces). */
static int field_set(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)v[i]))
			return -1;
	memcpy(dst, v, n + 1);
	return 0;
}


/* Undoes what a run did to the connection: rolls back, detaches the
 * scratch database. Works whatever the sticky status; a failure here is
 * recorded (printed only when nothing failed before). */
static void run_unwind(struct snap *s)
{
	int r;

	snap_reset_all(s);
	if (!sqlite3_get_autocommit(s->db) &&
	    (r = sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL)) != SQLITE_OK)
		snap_fail(s, r, "ROLLBACK");
	snap_cache_clear(s);
	snap_enr_detach(s);
	if (s->is_attached) {
		if ((r = sqlite3_exec(s->db, "DETACH stage", NULL, NULL, NULL)) != SQLITE_OK)
			snap_fail(s, r, "DETACH stage");
		else
			s->is_attached = 0;
	}
}

enum rc snap_scratch_file(struct snap *s, const char *path)
{
	int fd;

	if (unlink(path) != 0 && errno != ENOENT)
		return snap_fail_msg(s, RC_CANTCREAT, "cannot replace stage database '%s': %s",
				     path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return snap_fail_msg(s, RC_CANTCREAT, "cannot create stage database '%s': %s",
				     path, strerror(errno));
	close(fd);
	return RC_OK;
}

/* Attaches a fresh scratch database `stage` and creates the staging tables. */
static enum rc stage_attach(struct snap *s)
{
	const char *sql;
	size_t len;

	if (s->stage_path && snap_scratch_file(s, s->stage_path) != RC_OK)
		return s->rc;
	/* An empty name gives a private temporary database, deleted on DETACH. */
	if (snap_run(s, "ATTACH ?1 AS stage", "t", s->stage_path ? s->stage_path : "") != RC_OK)
		return s->rc;
	s->is_attached = 1;
	/* Scratch data (SCRATCH_PRAGMAS): no journal (an in-memory one held
	 * a copy of every staged page a rule updated: 290 MiB at a million
	 * contacts); a failed run's stage is discarded whatever state it is
	 * in, and the snapshot keeps its own journal and secure_delete. A 32
	 * MiB page cache keeps the rules' joins off the kernel's copies
	 * while memory stays bounded. Large sorts run on this thread alone:
	 * each helper thread would hold a run of its own
	 * (SNAP_SORT_RUN_PAGES, snap_open.c) while it sorts and writes it. */
	snap_exec(s, SCRATCH_PRAGMAS("stage", "-32768") " PRAGMA temp_store = FILE; PRAGMA threads = 0");
	if (snap_schema_section("stage", &sql, &len) != 0)
		return snap_fail_msg(s, RC_INTERNAL, "the compiled-in schema has no staging tables");
	if (snap_exec_n(s, sql, len) != RC_OK)
		return s->rc;
	/* The enrollments' tables, in a database of their own. */
	return snap_enr_attach(s);
}

enum rc snap_run_begin(struct snap *s, const char *mode, const char *now, long long *run_id)
{
	struct snap_rec *r = &s->run;
	long long id;

	if (s->rc != RC_OK)
		return s->rc;
	if (s->is_in_run)
		return snap_fail_msg(s, RC_INTERNAL, "a run is already in progress");
	if ((s->flags & SNAP_READONLY) || (s->lock_fd < 0 && !(s->flags & SNAP_MEMORY)))
		return snap_fail_msg(s, RC_INTERNAL, "a run needs the snapshot open with its lock");
	memset(r, 0, sizeof *r);
	if (field_set(r->mode, sizeof r->mode, mode) != 0 ||
	    field_set(r->started, sizeof r->started, now) != 0)
		return snap_fail_msg(s, RC_INTERNAL, "bad run mode '%s' or time '%s'", mode, now);

	id = snap_query_int(s, "SELECT coalesce(max(id), 0) FROM runs");
	for (size_t i = 0; i < s->nrecs; i++)
		if (s->recs[i].id > id)
			id = s->recs[i].id;
	if (s->rc != RC_OK)
		return s->rc;
	r->id = id + 1;
	strcpy(r->status, "running");
	r->pid = (long)getpid();

	/* The record goes first: from here on a killed process is found. */
	if (lock_write(s, r) != RC_OK)
		return snap_fail_msg(s, RC_IO, "cannot record the run");
	s->is_in_run = 1;
	/* ATTACH cannot run inside a transaction, so the scratch databases
	 * come before BEGIN. Not BEGIN IMMEDIATE, which would take the write
	 * lock of every attached database, the enrollments' stage's too, that
	 * its second connection writes (snap_enr.c): the write to `runs` just
	 * below takes the snapshot's now rather than at the first write after
	 * the inputs are loaded. */
	stage_attach(s);
	snap_exec(s, "BEGIN");
	/* The run's row, so that the rows it writes can refer to it; it is
	 * seen by others only once the run commits as complete. */
	snap_run(s, "INSERT INTO runs (id, started_at, status, mode) VALUES (?1, ?2, 'running', ?3)",
		 "itt", r->id, r->started, r->mode);
	if (s->rc != RC_OK) {
		run_unwind(s);
		lock_write(s, NULL);
		s->is_in_run = 0;
		return s->rc;
	}
	snap_pages_begin(s);
	if (run_id)
		*run_id = r->id;
	return RC_OK;
}

enum rc snap_run_input(struct snap *s, const char *entity, const char *name,
		       const char *sha256_hex, unsigned long nrecords,
		       unsigned long long bytes)
{
	if (s->rc != RC_OK)
		return s->rc;
	if (!s->is_in_run)
		return snap_fail_msg(s, RC_INTERNAL, "no run in progress");
	return snap_run(s, "INSERT INTO run_inputs (run_id, entity, name, sha256, nrecords, bytes)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			"itttii", s->run.id, entity, name, sha256_hex, (long long)nrecords,
			(long long)bytes);
}

enum rc snap_run_commit(struct snap *s, const char *now, const char *counts_json)
{
	int r;

	if (s->rc != RC_OK)
		return s->rc;
	if (!s->is_in_run)
		return snap_fail_msg(s, RC_INTERNAL, "no run in progress");
	/* The unfinished runs found in the lock file reach the history in
	 * this run's transaction, so they are written exactly once. */
	for (size_t i = 0; i < s->nrecs; i++) {
		const struct snap_rec *p = &s->recs[i];
		snap_run(s, "INSERT OR IGNORE INTO runs (id, started_at, ended_at, status, mode)"
			 " VALUES (?1, ?2, NULL, ?3, ?4)",
			 "ittt", p->id, p->started, p->status, p->mode);
	}
	snap_run(s, "UPDATE runs SET status = 'complete', ended_at = ?1, counts = ?2 WHERE id = ?3",
		 "tti", now, counts_json, s->run.id);
	snap_reset_all(s);
	snap_exec(s, "COMMIT");
	if (s->rc != RC_OK)
		return s->rc; /* still in the run: the caller aborts */
	snap_pages_end(s);

	/* Committed: whatever happens now, the lock file must stop naming
	 * these runs. */
	s->is_in_run = 0;
	free(s->recs);
	s->recs = NULL;
	s->nrecs = 0;
	snap_cache_clear(s);
	snap_enr_detach(s);
	if (s->is_attached) {
		if ((r = sqlite3_exec(s->db, "DETACH stage", NULL, NULL, NULL)) != SQLITE_OK)
			snap_fail(s, r, "DETACH stage");
		else
			s->is_attached = 0;
	}
	if (lock_write(s, NULL) != RC_OK && s->rc == RC_OK)
		s->rc = RC_IO;
	return s->rc;
}

enum rc snap_run_abort(struct snap *s, int is_failure)
{
	if (!s->is_in_run)
		return s->rc;
	snap_pages_end(s);
	run_unwind(s);
	s->is_in_run = 0;
	if (is_failure) {
		struct snap_rec *p;
		s->recs = xreallocarray(s->recs, s->nrecs + 1, sizeof *s->recs);
		p = &s->recs[s->nrecs++];
		*p = s->run;
		strcpy(p->status, "failed");
	}
	if (lock_write(s, NULL) != RC_OK && s->rc == RC_OK)
		s->rc = RC_IO;
	return s->rc;
}

/* ---- history ---- */

/* A copy of `p` (caller frees), or NULL for NULL. */
static char *dup_or_null(const char *p)
{
	return p ? xstrdup(p) : NULL;
}

enum rc snap_runs(struct snap *s, struct snap_run_info **runs, size_t *n)
{
	struct snap_stmt *st;
	struct snap_run_info *v = NULL;
	size_t nv = 0, alloc = 0;

	*runs = NULL;
	*n = 0;
	st = snap_prepare(s, "SELECT id, started_at, ended_at, status, mode, counts"
			  " FROM runs ORDER BY id");
	while (snap_step(st) == 1) {
		struct snap_run_info *ri;
		if (nv == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xreallocarray(v, alloc, sizeof *v);
		}
		ri = &v[nv++];
		ri->id = snap_col_int(st, 0);
		ri->started = dup_or_null(snap_col_text(st, 1));
		ri->ended = dup_or_null(snap_col_text(st, 2));
		ri->status = dup_or_null(snap_col_text(st, 3));
		ri->mode = dup_or_null(snap_col_text(st, 4));
		ri->counts = dup_or_null(snap_col_text(st, 5));
	}
	snap_finalize(st);
	if (s->rc != RC_OK) {
		snap_runs_free(v, nv);
		return s->rc;
	}
	/* The unfinished runs of the lock file come last, as `status` shows
	 * them before any commit writes them to the history. */
	v = xreallocarray(v, nv + s->nrecs + 1, sizeof *v);
	for (size_t i = 0; i < s->nrecs; i++) {
		struct snap_run_info *ri = &v[nv++];
		ri->id = s->recs[i].id;
		ri->started = xstrdup(s->recs[i].started);
		ri->ended = NULL;
		ri->status = xstrdup(s->recs[i].status);
		ri->mode = xstrdup(s->recs[i].mode);
		ri->counts = NULL;
	}
	*runs = v;
	*n = nv;
	return RC_OK;
}

void snap_runs_free(struct snap_run_info *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(runs[i].started);
		free(runs[i].ended);
		free(runs[i].status);
		free(runs[i].mode);
		free(runs[i].counts);
	}
	free(runs);
}

enum rc snap_stage_drop(struct snap *s, const char *const *tables)
{
	if (s->stage_path)
		return snap_rc(s);
	for (; *tables && snap_rc(s) == RC_OK; tables++) {
		char *sql = xasprintf("DROP TABLE IF EXISTS stage.\"%s\"", *tables);
		snap_exec(s, sql);
		free(sql);
	}
	return snap_rc(s);
}
