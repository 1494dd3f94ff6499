/* SPDX-License-Identifier: MIT */
/* snap_open: opens the snapshot, takes the run lock, migrates the schema
 * forward, and gives the rules and emitters the statement API with its
 * sticky status code. The runs are in snap_run.c, staging in snap_stage.c. */
#include "snap.h"
#include "snap_int.h"
#include "timing.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h> /* mallopt */
#endif

/* The compiled-in src/snap_schema.sql (scripts/embed). */
extern const char snap_schema_sql[];
extern const unsigned long snap_schema_sql_len;

/* Most migrations a schema file may hold. */
#define SNAP_MAX_MIGRATIONS 64

/* A prepared statement and the snapshot whose sticky status it shares. */
struct snap_stmt {
	struct snap *s;          /* borrowed */
	sqlite3_stmt *st;        /* owned */
};

/* One `-- @` section of the schema file. */
struct section {
	const char *name;  /* marker word after "-- @" ("migration", "stage", ...); points into the schema */
	size_t name_len;
	long num;          /* the number after "migration"; 0 for others */
	const char *sql;   /* text after the marker line, up to the next marker; not NUL-terminated */
	size_t len;
};

/* Splits the schema at its marker lines. Calls `fn` for each section in
 * order; stops and returns what `fn` returns when it is not 0. */
static int schema_each(int (*fn)(const struct section *, void *), void *arg)
{
	const char *p = snap_schema_sql, *end = snap_schema_sql + snap_schema_sql_len;
	struct section cur = { 0 };
	int has_cur = 0, r;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if ((size_t)(end - p) > 4 && memcmp(p, "-- @", 4) == 0) {
			const char *w = p + 4, *we = w;
			const char *le = eol ? eol : end;
			if (has_cur) {
				cur.len = (size_t)(p - cur.sql);
				if ((r = fn(&cur, arg)) != 0)
					return r;
			}
			while (we < le && *we != ' ' && *we != '\r')
				we++;
			cur.name = w;
			cur.name_len = (size_t)(we - w);
			cur.num = strtol(we, NULL, 10);
			cur.sql = next;
			has_cur = 1;
		}
		p = next;
	}
	if (has_cur) {
		cur.len = (size_t)(end - cur.sql);
		return fn(&cur, arg);
	}
	return 0;
}

/* True when the section's marker word is `name`. */
static int name_is(const struct section *sec, const char *name)
{
	return sec->name_len == strlen(name) && memcmp(sec->name, name, sec->name_len) == 0;
}

/* The migrations of the schema file, collected by collect_migration. */
struct migrations {
	struct section list[SNAP_MAX_MIGRATIONS];
	int n;        /* migrations found: they are numbered 1..n */
	int is_bad;   /* numbered out of order */
};

/* schema_each callback: appends a migration section to the list. */
static int collect_migration(const struct section *sec, void *arg)
{
	struct migrations *m = arg;
	if (!name_is(sec, "migration"))
		return 0;
	if (m->n >= SNAP_MAX_MIGRATIONS || sec->num != m->n + 1) {
		m->is_bad = 1;
		return 1;
	}
	m->list[m->n++] = *sec;
	return 0;
}

/* Argument of find_section. */
struct find {
	const char *name;   /* marker word wanted */
	struct section sec; /* the section, once found */
};

/* schema_each callback: stops at the section named f->name. */
static int find_section(const struct section *sec, void *arg)
{
	struct find *f = arg;
	if (!name_is(sec, f->name))
		return 0;
	f->sec = *sec;
	return 1;
}

int snap_schema_section(const char *name, const char **sql, size_t *len)
{
	struct find f = { name, { 0 } };
	if (schema_each(find_section, &f) == 0)
		return -1;
	*sql = f.sec.sql;
	*len = f.sec.len;
	return 0;
}

/* ---- errors ---- */

/* Makes `rc` the sticky status and prints the message, unless a failure
 * was recorded before (it was printed then). Returns the sticky status. */
static enum rc fail_v(struct snap *s, enum rc rc, const char *fmt, va_list ap)
{
	if (s->rc != RC_OK)
		return s->rc;
	s->rc = rc;
	return diag_vat(s->d, rc, &s->pos, fmt, ap);
}

enum rc snap_fail_msg(struct snap *s, enum rc rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(s, rc, fmt, ap);
	va_end(ap);
	return s->rc;
}

/* Length of the first line of `sql`, at most 60 bytes, for messages. */
static int sql_excerpt_len(const char *sql)
{
	size_t n = strcspn(sql, "\n");
	return n > 60 ? 60 : (int)n;
}

enum rc snap_fail(struct snap *s, int sqlite_rc, const char *sql)
{
	return snap_fail_db(s, s->db, sqlite_rc, sql);
}

enum rc snap_fail_db(struct snap *s, struct sqlite3 *db, int sqlite_rc, const char *sql)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(sqlite_rc);

	while (sql && (*sql == ' ' || *sql == '\t' || *sql == '\n'))
		sql++;
	if ((sqlite_rc & 0xff) == SQLITE_NOTADB)
		return snap_fail_msg(s, RC_DATA, "not a snapshot: file is not a database");
	switch (snap_rc_of(sqlite_rc)) {
	case RC_DATA:
		return snap_fail_msg(s, RC_DATA, "snapshot is damaged: %s", msg);
	case RC_IO:
		return snap_fail_msg(s, RC_IO, "cannot read or write the snapshot: %s", msg);
	case RC_BUSY:
		return snap_fail_msg(s, RC_BUSY, "snapshot is locked by another program: %s", msg);
	case RC_OSERR:
		return snap_fail_msg(s, RC_OSERR, "out of memory in the snapshot");
	default:
		if (sql && *sql)
			return snap_fail_msg(s, RC_INTERNAL, "database error: %s (in '%.*s')",
					     msg, sql_excerpt_len(sql), sql);
		return snap_fail_msg(s, RC_INTERNAL, "database error: %s", msg);
	}
}

enum rc snap_rc_of(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return RC_DATA;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return RC_IO;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return RC_BUSY;
	case SQLITE_NOMEM:
		return RC_OSERR;
	default:
		return RC_INTERNAL;
	}
}

enum rc snap_rc(const struct snap *s)
{
	return s->rc;
}

/* Writes the pages the connection's open transaction changed out of the
 * page caches into the files, the snapshot's behind its journal as a
 * cache spill does; nothing is committed. SQLite keeps a changed page in
 * its cache until the transaction ends, unless nine tenths of the cache
 * are changed pages. A run is one transaction, so the caches went on with
 * a tenth of their size for reading: at a million contacts the day two's
 * enrollment records read 2.7 GB of stage pages, 0.8 GB once the pages
 * written before them were written out.
 *
 * Called after each whole statement that may change something (snap_exec,
 * snap_run), not after the steps of a statement run row by row: there the
 * cache gathers the rows written to one page (writing out every 4,096
 * rows made the people match at 1x write 8.6 GB instead of 2.5). And only
 * once the snapshot is held exclusively, which SQLite does from its first
 * spill on (early in any large run): writing the snapshot's pages takes
 * that lock, and `status` could no longer read the history while a small
 * run is in flight. Without the lock state (a VFS that does not tell it,
 * an in-memory snapshot) nothing is written out. */
static void flush_changed(struct snap *s, sqlite3_stmt *st)
{
	int lock = SQLITE_LOCK_NONE, r;

	if (s->rc != RC_OK || sqlite3_stmt_readonly(st) ||
	    sqlite3_file_control(s->db, "main", SQLITE_FCNTL_LOCKSTATE, &lock) != SQLITE_OK ||
	    lock != SQLITE_LOCK_EXCLUSIVE)
		return;
	if ((r = sqlite3_db_cacheflush(s->db)) != SQLITE_OK)
		snap_fail(s, r, "writing changed pages out");
}

enum rc snap_exec_n(struct snap *s, const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;

	while (s->rc == RC_OK && p < end) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		int r = sqlite3_prepare_v2(s->db, p, (int)(end - p), &st, &tail);
		if (r != SQLITE_OK)
			return snap_fail(s, r, p);
		if (st) {
			while ((r = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (r != SQLITE_DONE)
				snap_fail(s, r, p);
			else
				flush_changed(s, st);
			sqlite3_finalize(st);
		}
		if (!tail || tail <= p)
			break;
		p = tail;
	}
	return s->rc;
}

/* Runs SQL on the connection whatever the sticky status (for cleanup:
 * rollback, detach). Returns SQLite's code. */
static int exec_raw(struct snap *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

void snap_reset_all(struct snap *s)
{
	sqlite3_stmt *st = NULL;
	if (!s->db)
		return;
	while ((st = sqlite3_next_stmt(s->db, st)) != NULL)
		sqlite3_reset(st);
}

/* ---- open, lock, migrate ---- */

/* Takes the run lock on `<path>.lock`, creating the file when missing. */
static enum rc lock_take(struct snap *s)
{
	int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return snap_fail_msg(s, RC_CANTCREAT, "cannot create lock file '%s': %s",
				     s->lock_path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		long pid = err == EWOULDBLOCK ? snap_lock_holder(fd) : 0;
		close(fd);
		if (err != EWOULDBLOCK)
			return snap_fail_msg(s, RC_IO, "cannot lock '%s': %s", s->lock_path,
					     strerror(err));
		if (pid > 0)
			return snap_fail_msg(s, RC_BUSY, "snapshot is in use by another run (pid %ld)",
					     pid);
		return snap_fail_msg(s, RC_BUSY, "snapshot is in use by another run");
	}
	s->lock_fd = fd;
	return RC_OK;
}

/* Without the run lock (read-only opens): reads the lock file's records
 * for `status`. A short shared lock tells whether the `running` record is a
 * run in flight (the lock is held) or a killed one. */
static enum rc lock_peek(struct snap *s)
{
	int fd = open(s->lock_path, O_RDONLY | O_CLOEXEC);
	int is_free;
	enum rc rc;

	if (fd < 0)
		return RC_OK; /* no lock file: no run ever recorded */
	is_free = flock(fd, LOCK_SH | LOCK_NB) == 0;
	rc = snap_lock_load(s, fd, is_free);
	close(fd); /* also drops the shared lock */
	return rc;
}

/* The schema version of the open file (PRAGMA user_version), or -1. */
static int user_version(struct snap *s)
{
	static const char sql[] = "PRAGMA user_version";
	sqlite3_stmt *st = NULL;
	int v = -1, r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (r == SQLITE_OK) {
		r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			v = sqlite3_column_int(st, 0);
			r = SQLITE_OK;
		}
	}
	if (r != SQLITE_OK)
		snap_fail(s, r, sql);
	sqlite3_finalize(st);
	return v;
}

/* Applies the migrations above the file's version in one transaction. */
static enum rc migrate(struct snap *s)
{
	static struct migrations m; /* filled once: the schema is static */
	int cur, v;
	char sql[48];

	if (m.n == 0 && !m.is_bad)
		schema_each(collect_migration, &m);
	if (m.is_bad || m.n == 0)
		return snap_fail_msg(s, RC_INTERNAL, "the compiled-in schema has no migrations in order");
	if ((cur = user_version(s)) < 0)
		return s->rc;
	if (cur > m.n)
		return snap_fail_msg(s, RC_DATA, "snapshot schema version %d is newer than this lmsrecon (%d)",
				     cur, m.n);
	if (cur == m.n)
		return RC_OK;
	if (cur == 0 && snap_query_int(s, "SELECT count(*) FROM sqlite_master") > 0)
		return snap_fail_msg(s, RC_DATA, "not a snapshot: database has tables but no lmsrecon schema");
	if (s->rc != RC_OK)
		return s->rc;
	if ((s->flags & SNAP_READONLY) && cur == 0)
		return snap_fail_msg(s, RC_DATA, "not a snapshot: database has no lmsrecon schema");
	if (s->flags & SNAP_READONLY)
		return snap_fail_msg(s, RC_DATA,
				     "snapshot schema version %d is older than this lmsrecon (%d); a run upgrades it",
				     cur, m.n);

	snap_exec(s, "BEGIN IMMEDIATE");
	/* Read again inside the transaction: an opener without the run lock
	 * may have migrated the file in between. */
	if (s->rc == RC_OK && (cur = user_version(s)) >= 0 && cur < m.n) {
		for (v = cur + 1; v <= m.n && s->rc == RC_OK; v++)
			snap_exec_n(s, m.list[v - 1].sql, m.list[v - 1].len);
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m.n);
		snap_exec(s, sql);
	}
	if (s->rc == RC_OK)
		snap_exec(s, "COMMIT");
	if (s->rc != RC_OK && !sqlite3_get_autocommit(s->db))
		exec_raw(s, "ROLLBACK");
	return s->rc;
}

/* LMSRECON_TIMINGS=sql: each finished statement and its run time. */
static int trace_profile(unsigned kind, void *ctx, void *p, void *x)
{
	(void)kind;
	(void)ctx;
	timing_sql(sqlite3_sql(p), (unsigned long long)*(sqlite3_int64 *)x);
	return 0;
}

/* The library-wide settings, before SQLite's first use in the process:
 * no memory statistics (they take a global mutex on every allocation,
 * and lmsrecon never reads them); sorts that spill to disk do so in runs
 * of SNAP_SORT_RUN_PAGES pages. SQLite merges all the runs of a sort at
 * once, with a buffer of one page per run, so the runs' size sets how
 * a large sort's memory grows with its rows: with SQLite's 2 MiB the
 * staging index of the enrollments alone took 4 MiB more per million
 * contacts' worth. Too late once SQLite is initialised, which is then
 * harmless.
 *
 * And the C library's: an allocation of 128 KiB or more (a sort's run
 * buffer grows to 4 MiB) is mapped on its own and given back when freed.
 * By default glibc raises that threshold to the size of the first such
 * block freed; the next runs then came from the heap and stayed in it
 * (a full run at a million contacts: peak RSS 54.5 MiB, 51.3 to 51.4 MiB
 * with the threshold fixed). glibc only. */
static void configure_sqlite(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)sqlite3_config(SQLITE_CONFIG_PMASZ, (unsigned)SNAP_SORT_RUN_PAGES);
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* Opens the SQLite connection with explicit flags and the settings every
 * snapshot gets. */
static enum rc open_db(struct snap *s)
{
	int oflags, r;
	const char *name = s->path;

	configure_sqlite();

	if (s->flags & SNAP_MEMORY) {
		name = ":memory:";
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	} else if (s->flags & SNAP_READONLY) {
		/* Read-write at the file level, query_only below: SQLite must
		 * be able to roll back the journal a killed run left behind
		 * (which restores the bytes of the last commit) before it can
		 * read. A file the user cannot write is opened read-only by
		 * SQLite itself. */
		oflags = SQLITE_OPEN_READWRITE;
	} else {
		oflags = SQLITE_OPEN_READWRITE;
		if (s->flags & SNAP_CREATE)
			oflags |= SQLITE_OPEN_CREATE;
	}
	/* One thread uses the connection: SQLite's mutexes are pure cost. */
	oflags |= SQLITE_OPEN_NOMUTEX;
	r = sqlite3_open_v2(name, &s->db, oflags, NULL);
	if (r != SQLITE_OK) {
		const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r);
		if (s->flags & SNAP_CREATE)
			return snap_fail_msg(s, RC_CANTCREAT, "cannot create snapshot: %s", msg);
		return snap_fail_msg(s, RC_NOINPUT, "cannot open snapshot: %s", msg);
	}
	sqlite3_extended_result_codes(s->db, 1);
	r = snap_func_register(s->db);
	if (r != SQLITE_OK)
		return snap_fail(s, r, "SQL functions");
	if (timing_level() >= 2)
		sqlite3_trace_v2(s->db, SQLITE_TRACE_PROFILE, trace_profile, NULL);
	sqlite3_busy_timeout(s->db, SNAP_BUSY_MS);
	/* Read the header first: a file that is not a database fails here
	 * with a clear message, not on a pragma. */
	if (user_version(s) < 0)
		return s->rc;
	/* The default rollback journal keeps the snapshot one file, and
	 * synchronous=FULL makes a commit durable before it returns. */
	if (s->flags & SNAP_READONLY)
		snap_exec(s, "PRAGMA query_only = ON");
	else
		snap_exec(s, "PRAGMA page_size = " SNAP_PAGE_SIZE "; PRAGMA journal_mode = DELETE");
	snap_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
	return s->rc;
}

enum rc snap_open(struct diag *d, const char *path, unsigned flags, struct snap **out)
{
	struct snap *s = xcalloc(1, sizeof *s);
	struct stat sb;
	enum rc rc;

	*out = NULL;
	s->d = d;
	s->path = xstrdup(path);
	s->pos.file = s->path;
	s->flags = flags;
	s->lock_fd = -1;
	s->pages.fd = -1;

	if (!(flags & SNAP_MEMORY)) {
		s->lock_path = xasprintf("%s.lock", path);
		if (stat(path, &sb) != 0 && errno == ENOENT && !(flags & SNAP_CREATE)) {
			rc = snap_fail_msg(s, RC_NOINPUT, "snapshot not found");
			goto out;
		}
		/* The lock comes first: a snapshot in use is not even read. */
		if ((flags & SNAP_LOCK) && lock_take(s) != RC_OK)
			goto out;
	}
	if (open_db(s) != RC_OK || migrate(s) != RC_OK)
		goto out;
	if (s->lock_fd >= 0)
		snap_lock_load(s, s->lock_fd, 1);
	else if (s->lock_path)
		lock_peek(s);
out:
	rc = s->rc;
	if (rc != RC_OK) {
		snap_close(s);
		return rc;
	}
	*out = s;
	return RC_OK;
}

void snap_close(struct snap *s)
{
	if (!s)
		return;
	snap_pages_end(s);
	if (s->db) {
		/* A run neither committed nor aborted keeps its `running`
		 * record in the lock file: the next opener reports it as
		 * interrupted, which is what it was. */
		snap_cache_clear(s);
		snap_reset_all(s);
		if (!sqlite3_get_autocommit(s->db))
			exec_raw(s, "ROLLBACK");
		snap_enr_detach(s);
		sqlite3_close_v2(s->db);
	}
	snap_pages_close(s); /* after the connection: it drops the file's locks */
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s->recs);
	free(s->stage_path);
	free(s->lock_path);
	free(s->path);
	free(s);
}

/* ---- statements ---- */

enum rc snap_exec(struct snap *s, const char *sql)
{
	if (s->rc != RC_OK)
		return s->rc;
	return snap_exec_n(s, sql, strlen(sql));
}

struct snap_stmt *snap_prepare(struct snap *s, const char *sql)
{
	struct snap_stmt *st;
	sqlite3_stmt *raw = NULL;
	int r;

	if (s->rc != RC_OK)
		return NULL;
	r = sqlite3_prepare_v2(s->db, sql, -1, &raw, NULL);
	if (r != SQLITE_OK) {
		snap_fail(s, r, sql);
		return NULL;
	}
	if (!raw) {
		snap_fail_msg(s, RC_INTERNAL, "database error: empty statement");
		return NULL;
	}
	st = xmalloc(sizeof *st);
	st->s = s;
	st->st = raw;
	return st;
}

struct snap_stmt *snap_prepare_cached(struct snap *s, const char *sql)
{
	struct snap_stmt *st;

	for (size_t i = 0; i < s->ncache; i++)
		if (s->cache[i].sql == sql)
			return s->rc == RC_OK ? s->cache[i].st : NULL;
	st = snap_prepare(s, sql);
	if (!st)
		return NULL;
	if (s->ncache == s->cache_alloc) {
		s->cache_alloc = s->cache_alloc ? 2 * s->cache_alloc : 8;
		s->cache = xreallocarray(s->cache, s->cache_alloc, sizeof *s->cache);
	}
	s->cache[s->ncache].sql = sql;
	s->cache[s->ncache++].st = st;
	return st;
}

void snap_cache_clear(struct snap *s)
{
	for (size_t i = 0; i < s->ncache; i++)
		snap_finalize(s->cache[i].st);
	free(s->cache);
	s->cache = NULL;
	s->ncache = s->cache_alloc = 0;
}

/* True when `st` may be used: it exists and its snapshot has not failed. */
static int stmt_ok(const struct snap_stmt *st)
{
	return st && st->s->rc == RC_OK;
}

/* Records a failed bind. */
static void bind_check(struct snap_stmt *st, int r)
{
	if (r != SQLITE_OK)
		snap_fail(st->s, r, sqlite3_sql(st->st));
}

void snap_bind_text(struct snap_stmt *st, int i, const char *p, size_t len)
{
	if (!stmt_ok(st))
		return;
	if (!p)
		bind_check(st, sqlite3_bind_null(st->st, i));
	else
		bind_check(st, sqlite3_bind_text64(st->st, i, p, len, SQLITE_TRANSIENT,
						   SQLITE_UTF8));
}

void snap_bind_int(struct snap_stmt *st, int i, long long v)
{
	if (stmt_ok(st))
		bind_check(st, sqlite3_bind_int64(st->st, i, v));
}

void snap_bind_double(struct snap_stmt *st, int i, double v)
{
	if (stmt_ok(st))
		bind_check(st, sqlite3_bind_double(st->st, i, v));
}

void snap_bind_null(struct snap_stmt *st, int i)
{
	if (stmt_ok(st))
		bind_check(st, sqlite3_bind_null(st->st, i));
}

int snap_step(struct snap_stmt *st)
{
	int r;

	if (!stmt_ok(st))
		return -1;
	r = sqlite3_step(st->st);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE) {
		sqlite3_reset(st->st);
		return 0;
	}
	snap_fail(st->s, r, sqlite3_sql(st->st));
	sqlite3_reset(st->st);
	return -1;
}

void snap_set_or_add(struct snap_stmt *set, struct snap_stmt *add)
{
	while (snap_step(set) == 1)
		;
	if (stmt_ok(set) && sqlite3_changes64(sqlite3_db_handle(set->st)) == 0)
		while (snap_step(add) == 1)
			;
}

const char *snap_col_text(struct snap_stmt *st, int i)
{
	if (!stmt_ok(st))
		return NULL;
	return (const char *)sqlite3_column_text(st->st, i);
}

size_t snap_col_len(struct snap_stmt *st, int i)
{
	if (!stmt_ok(st))
		return 0;
	return (size_t)sqlite3_column_bytes(st->st, i);
}

long long snap_col_int(struct snap_stmt *st, int i)
{
	if (!stmt_ok(st))
		return 0;
	return sqlite3_column_int64(st->st, i);
}

double snap_col_double(struct snap_stmt *st, int i)
{
	if (!stmt_ok(st))
		return 0;
	return sqlite3_column_double(st->st, i);
}

int snap_col_count(struct snap_stmt *st)
{
	if (!stmt_ok(st))
		return 0;
	return sqlite3_column_count(st->st);
}

int snap_col_is_null(struct snap_stmt *st, int i)
{
	if (!stmt_ok(st))
		return 1;
	return sqlite3_column_type(st->st, i) == SQLITE_NULL;
}

void snap_reset(struct snap_stmt *st)
{
	if (st)
		sqlite3_reset(st->st);
}

void snap_finalize(struct snap_stmt *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->st);
	free(st);
}

static enum rc snap_vrun(struct snap *s, const char *sql, const char *types, va_list ap)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	int n, i = 1;

	if (!st)
		return s->rc;
	n = sqlite3_bind_parameter_count(st->st);
	for (const char *t = types; *t; t++, i++) {
		if (*t == 'i') {
			long long v = va_arg(ap, long long);
			if (i <= n)
				snap_bind_int(st, i, v);
		} else {
			const char *v = va_arg(ap, const char *);
			if (i <= n)
				snap_bind_text(st, i, v, v ? strlen(v) : 0);
		}
	}
	while (snap_step(st) == 1)
		;
	flush_changed(s, st->st);
	snap_finalize(st);
	return s->rc;
}

enum rc snap_run(struct snap *s, const char *sql, const char *types, ...)
{
	va_list ap;

	va_start(ap, types);
	snap_vrun(s, sql, types, ap);
	va_end(ap);
	return s->rc;
}

enum rc snap_run_unchecked(struct snap *s, const char *sql, const char *types, ...)
{
	va_list ap;

	/* The pragma takes effect when a statement is prepared, and
	 * snap_vrun prepares its own; the checks are back on for any
	 * statement after it, whatever happened. */
	if (snap_exec(s, "PRAGMA ignore_check_constraints = ON") != RC_OK)
		return s->rc;
	va_start(ap, types);
	snap_vrun(s, sql, types, ap);
	va_end(ap);
	sqlite3_exec(s->db, "PRAGMA ignore_check_constraints = OFF", NULL, NULL, NULL);
	return s->rc;
}

long long snap_query_int(struct snap *s, const char *sql)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	long long v = 0;

	if (snap_step(st) == 1) {
		v = snap_col_int(st, 0);
		snap_reset(st);
	}
	snap_finalize(st);
	return v;
}
