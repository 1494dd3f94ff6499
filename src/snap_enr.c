/* SPDX-License-Identifier: MIT */
/* snap_enr: the enrollments' stage. The LMS exports of enrollments and
 * learning-plan enrollments, the largest inputs by far, and the catalogue
 * (courses, sessions, plans and their courses) are staged into a scratch
 * database of their own, `enr`, through a second connection. Their index
 * (a sort of every enrollment) is then built by a thread on that
 * connection, followed by what the rules gave it (snap_enr_then: the
 * learning rule's per-user counts), while the run's connection goes on
 * with the stage's indexes and the people rules, which never read them:
 * the machine's second core works instead of waiting. The run's
 * connection has `enr` attached from before its transaction and reads it
 * from the learning rule on, once snap_enr_wait has joined the thread.
 *
 * SQLite lets one connection write a database file at a time, so the rows
 * are staged through the second connection too (its own transaction,
 * committed before the build starts); the run's connection holds no lock
 * on `enr` until it reads it. Like `stage`, the database has no journal and
 * is never synced: a failed run's is discarded. Its file is a temporary
 * one, unlinked once both connections have it open, or `<stage>-enr` next
 * to a stage kept with --stage. */
#include "snap.h"
#include "snap_int.h"
#include "entity.h"
#include "testhook.h"
#include "timing.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The second connection's cache: the load appends rows and the build reads
 * the table in order and appends the index, so a little does. The run's
 * connection reads `enr` with a cache of its own (ENR_READ_CACHE) after
 * the build, when the second connection and its sort are gone. */
#define ENR_BUILD_CACHE "-2048"
#define ENR_READ_CACHE "-4096"

/* Whether entity `e` is staged into `enr`: the enrollments and the
 * catalogue the learning rule's counts read with them. */
static int is_enr_entity(const struct entity *e)
{
	static const char *const tables[] = { "stg_enrollment", "stg_plan_enrollment",
		"stg_course", "stg_session", "stg_plan", "stg_plan_course", NULL };
	for (size_t i = 0; tables[i]; i++)
		if (strcmp(e->table, tables[i]) == 0)
			return 1;
	return 0;
}

void snap_enr_then(struct snap *s, const char *const *sql, size_t n, long long p4)
{
	s->enr_then = sql;
	s->enr_nthen = n;
	s->enr_p4 = p4;
	s->is_enr_then_done = 0;
}

int snap_enr_then_done(const struct snap *s)
{
	return s->is_enr_then_done;
}

/* Runs the statements of `sql` to their end on the second connection,
 * each with ?4 bound to s->enr_p4; an SQLite code. */
static int enr_run(struct snap *s, const char *sql)
{
	int r = SQLITE_OK;

	while (r == SQLITE_OK && *sql) {
		sqlite3_stmt *st = NULL;
		r = sqlite3_prepare_v2(s->enr_db, sql, -1, &st, &sql);
		if (r != SQLITE_OK || !st)
			break; /* an error, or only white space and comments left */
		if (sqlite3_bind_parameter_count(st) >= 4)
			r = sqlite3_bind_int64(st, 4, s->enr_p4);
		while (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
			r = SQLITE_OK;
		if (r == SQLITE_DONE)
			r = SQLITE_OK;
		sqlite3_finalize(st);
	}
	return r;
}

/* Runs `len` bytes of SQL on the second connection; an SQLite code. */
static int enr_exec(struct snap *s, const char *sql, size_t len)
{
	char *owned = xstrndup(sql, len);
	int r = sqlite3_exec(s->enr_db, owned, NULL, NULL, NULL);
	free(owned);
	return r;
}

/* The second connection's progress handler: non-zero stops the
 * statement in flight (SQLITE_INTERRUPT). Unlike sqlite3_interrupt, whose
 * flag a statement that has not started yet clears, the request stays. */
static int stop_build(void *arg)
{
	struct snap *s = arg;
	return atomic_load(&s->is_enr_stopped);
}

/* The directory SQLite puts its own temporary files in: the first of
 * these that is a directory we can write. */
static const char *temp_dir(void)
{
	const char *dirs[] = { getenv("SQLITE_TMPDIR"), getenv("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp" };
	struct stat st;

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (dirs[i] && stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    access(dirs[i], W_OK | X_OK) == 0)
			return dirs[i];
	return ".";
}

/* Creates the empty file of the database, an empty file being a new
 * database to SQLite: `<stage>-enr` beside a kept stage, else a new
 * temporary file. Sets s->enr_path. */
static enum rc create_file(struct snap *s)
{
	int fd;

	if (s->stage_path) {
		s->enr_path = xasprintf("%s-enr", s->stage_path);
		return snap_scratch_file(s, s->enr_path);
	}
	s->enr_path = xasprintf("%s/lmsrecon-enr-XXXXXX", temp_dir());
	fd = mkostemp(s->enr_path, O_CLOEXEC);
	if (fd < 0)
		return snap_fail_msg(s, RC_CANTCREAT, "cannot create stage database '%s': %s",
				     s->enr_path, strerror(errno));
	close(fd);
	return RC_OK;
}

enum rc snap_enr_attach(struct snap *s)
{
	const char *sql;
	size_t len;
	int r;

	if (s->rc != RC_OK)
		return s->rc;
	if (create_file(s) != RC_OK)
		return s->rc;
	/* One thread at a time uses it: the loader's, then the builder's. */
	r = sqlite3_open_v2(s->enr_path, &s->enr_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r == SQLITE_OK) {
		sqlite3_extended_result_codes(s->enr_db, 1);
		/* As the run's connection waits for a lock, and a run that ends
		 * stops the build (stop_build). */
		sqlite3_busy_timeout(s->enr_db, SNAP_BUSY_MS);
		sqlite3_progress_handler(s->enr_db, 1000, stop_build, s);
		/* Its main database goes by the name the SQL uses. */
		r = sqlite3_db_config(s->enr_db, SQLITE_DBCONFIG_MAINDBNAME, "enr");
	}
	if (r == SQLITE_OK) {
		/* As `stage` (snap_run.c), with a small cache. The page size,
		 * of this connection's main database, is also what sizes its
		 * sorts' runs (SNAP_SORT_RUN_PAGES). */
		static const char pragmas[] = SCRATCH_PRAGMAS("enr", ENR_BUILD_CACHE)
			" PRAGMA temp_store = FILE; PRAGMA threads = 0";
		r = enr_exec(s, pragmas, sizeof pragmas - 1);
	}
	if (r == SQLITE_OK) {
		if (snap_schema_section("enr", &sql, &len) != 0)
			return snap_fail_msg(s, RC_INTERNAL, "the compiled-in schema has no enrollments' stage");
		r = enr_exec(s, sql, len);
	}
	if (r != SQLITE_OK)
		return snap_fail_db(s, s->enr_db, r, "the enrollments' stage");
	if (snap_run(s, "ATTACH ?1 AS enr", "t", s->enr_path) != RC_OK)
		return s->rc;
	s->is_enr_attached = 1;
	snap_exec(s, SCRATCH_PRAGMAS("enr", ENR_READ_CACHE));
	/* Both connections have it open: a killed run leaves no file behind. */
	if (!s->stage_path && unlink(s->enr_path) == 0) {
		free(s->enr_path);
		s->enr_path = NULL;
	}
	return s->rc;
}

struct sqlite3 *snap_enr_stage_db(struct snap *s, const struct entity *e, const char **schema)
{
	*schema = "stage";
	if (!s->is_enr_attached || !is_enr_entity(e))
		return s->db;
	*schema = "enr";
	/* Staged after the index (no caller does): through the run's
	 * connection, once the thread is done with `enr`. */
	if (s->is_enr_building && snap_enr_wait(s) != RC_OK)
		return NULL;
	if (!s->enr_db)
		return s->db;
	/* Its transaction of staged rows, until the input is staged. */
	if (sqlite3_get_autocommit(s->enr_db)) {
		int r = enr_exec(s, "BEGIN", 5);
		if (r != SQLITE_OK) {
			snap_fail_db(s, s->enr_db, r, "BEGIN");
			return NULL;
		}
	}
	return s->enr_db;
}

/* The build: the index section in one transaction, its result in
 * s->enr_rc and s->enr_err. The thread's function, or the caller's. */
static void *build(void *arg)
{
	struct snap *s = arg;
	struct timespec t0, t1;
	const char *sql;
	size_t len;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	testhook("enr_build");
	if (snap_schema_section("enr-index", &sql, &len) != 0) {
		s->enr_rc = SQLITE_INTERNAL;
		s->enr_err = xstrdup("the compiled-in schema has no enrollments' index");
		return NULL;
	}
	r = atomic_load(&s->is_enr_stopped) ? SQLITE_INTERRUPT : enr_exec(s, "BEGIN", 5);
	if (r == SQLITE_OK)
		r = testhook_fails("enr_index") ? SQLITE_IOERR_WRITE : enr_exec(s, sql, len);
	/* Then what the rules gave it to do (snap_enr_then). */
	if (r == SQLITE_OK && s->enr_nthen)
		r = snap_func_register(s->enr_db);
	for (size_t i = 0; i < s->enr_nthen && r == SQLITE_OK; i++)
		r = enr_run(s, s->enr_then[i]);
	if (r == SQLITE_OK)
		r = enr_exec(s, "COMMIT", 6);
	if (r == SQLITE_OK && s->enr_nthen)
		s->is_enr_then_done = 1;
	if (r != SQLITE_OK) {
		/* The connection's message when the error is its own (not a
		 * stop before the transaction, or a test point's). */
		s->enr_rc = r;
		s->enr_err = xstrdup(sqlite3_extended_errcode(s->enr_db) == r
				     ? sqlite3_errmsg(s->enr_db) : sqlite3_errstr(r));
		if (!sqlite3_get_autocommit(s->enr_db))
			(void)sqlite3_exec(s->enr_db, "ROLLBACK", NULL, NULL, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->enr_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return NULL;
}

/* Closes the second connection (its statements are the loader's, closed
 * before). */
static void close_enr_db(struct snap *s)
{
	if (!s->enr_db)
		return;
	if (!sqlite3_get_autocommit(s->enr_db))
		(void)sqlite3_exec(s->enr_db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close_v2(s->enr_db);
	s->enr_db = NULL;
}

enum rc snap_enr_index(struct snap *s)
{
	const char *sql;
	size_t len;
	int r;

	if (s->rc != RC_OK || !s->is_enr_attached)
		return s->rc;
	if (s->enr_db && !sqlite3_get_autocommit(s->enr_db) &&
	    (r = enr_exec(s, "COMMIT", 6)) != SQLITE_OK)
		return snap_fail_db(s, s->enr_db, r, "COMMIT");
	/* Rows the run's connection wrote into `enr` itself, or read (the
	 * unit tests do), keep its lock until the run ends: the index is
	 * built there. */
	if (!s->enr_db || sqlite3_txn_state(s->db, "enr") != SQLITE_TXN_NONE) {
		close_enr_db(s);
		if (snap_schema_section("enr-index", &sql, &len) != 0)
			return snap_fail_msg(s, RC_INTERNAL, "the compiled-in schema has no enrollments' index");
		return snap_exec_n(s, sql, len);
	}
	s->enr_rc = SQLITE_OK;
	if (thread_start(&s->enr_th, build, s) == 0) {
		s->is_enr_building = 1;
		return RC_OK;
	}
	/* No thread to be had: the build runs here, before the rules. */
	build(s);
	return snap_enr_wait(s);
}

enum rc snap_enr_wait(struct snap *s)
{
	if (s->is_enr_building) {
		pthread_join(s->enr_th, NULL);
		s->is_enr_building = 0;
		if (s->enr_rc == SQLITE_OK)
			timing_thread("the enrollments' index", s->enr_seconds);
	}
	if (s->enr_rc != SQLITE_OK) {
		/* The second connection's message, kept by the thread. */
		int r = s->enr_rc;
		s->enr_rc = SQLITE_OK;
		snap_fail_msg(s, snap_rc_of(r), "cannot index and count the staged enrollments: %s",
			      s->enr_err);
		free(s->enr_err);
		s->enr_err = NULL;
	}
	close_enr_db(s);
	return s->rc;
}

void snap_enr_detach(struct snap *s)
{
	if (s->is_enr_building) {
		/* The run ends early: the build stops at its next step. */
		atomic_store(&s->is_enr_stopped, 1);
		pthread_join(s->enr_th, NULL);
		s->is_enr_building = 0;
	}
	atomic_store(&s->is_enr_stopped, 0);
	s->enr_rc = SQLITE_OK;
	free(s->enr_err);
	s->enr_err = NULL;
	s->enr_then = NULL;
	s->enr_nthen = 0;
	s->is_enr_then_done = 0;
	close_enr_db(s);
	if (s->is_enr_attached && s->db && sqlite3_get_autocommit(s->db)) {
		int r = sqlite3_exec(s->db, "DETACH enr", NULL, NULL, NULL);
		if (r != SQLITE_OK)
			snap_fail(s, r, "DETACH enr");
		else
			s->is_enr_attached = 0;
	}
	if (s->enr_path && !s->stage_path)
		(void)unlink(s->enr_path);
	free(s->enr_path);
	s->enr_path = NULL;
}
