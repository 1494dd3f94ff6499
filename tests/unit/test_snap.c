/* SPDX-License-Identifier: MIT */
/* Tests of the snapshot: open, migrations, the run lock and its record,
 * the run history, staging, and the sticky statement API. Each test works
 * in its own temporary directory. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "diag.h"
#include "entity.h"
#include "snap.h"
#include "snap_int.h"
#include "util.h"

extern const char snap_schema_sql[];
extern const unsigned long snap_schema_sql_len;

static const char SHA[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static char tmpdir[64];     /* this test's directory */
static char *snap_path;     /* <tmpdir>/state.db */
static char *lock_path;     /* <tmpdir>/state.db.lock */
static FILE *diag_out;      /* the memstream every diag writes to */
static char *diag_buf;
static size_t diag_len;
static struct diag d;

/* nftw callback: removes one file or emptied directory. */
static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void setup(void)
{
	strcpy(tmpdir, "/tmp/test_snap.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snap_path = path_join(tmpdir, "state.db");
	lock_path = xasprintf("%s.lock", snap_path);
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
}

static void teardown(void)
{
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(snap_path);
	free(lock_path);
}

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

/* The bytes of a file (caller frees), NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t n = 0, alloc = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 > alloc) {
			alloc = alloc ? 2 * alloc : 8192;
			p = xrealloc(p, alloc + 1);
		}
		r = fread(p + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	p[n] = '\0';
	*len = n;
	return p;
}

/* Asserts that a file holds exactly `len` bytes `want`. */
static void assert_file_is(const char *path, const char *want, size_t len)
{
	size_t n;
	char *got = slurp(path, &n);
	cr_assert_not_null(got, "cannot read %s", path);
	cr_assert_eq(n, len, "%s: %zu bytes, expected %zu", path, n, len);
	cr_assert(memcmp(got, want, len) == 0, "%s changed", path);
	free(got);
}

/* The migrations in the compiled-in schema, counted from its markers. */
static int schema_migrations(void)
{
	int n = 0;
	const char *p = snap_schema_sql;
	while ((p = strstr(p, "\n-- @migration ")) != NULL) {
		n++;
		p++;
	}
	return n;
}

static struct snap *open_ok(unsigned flags)
{
	struct snap *s = NULL;
	enum rc rc = snap_open(&d, snap_path, flags, &s);
	cr_assert_eq(rc, RC_OK, "snap_open: %d: %s", rc, printed());
	cr_assert_not_null(s);
	return s;
}

/* Stages `n` users rows numbered from 1 (line 2, 3, ...). */
static void stage_users(struct snap *s, int n)
{
	const struct entity *e = entity_get(ENT_LMS_USER);
	struct snap_stage *st = NULL;
	cr_assert_eq(snap_stage_open(s, e, 0, &st), RC_OK, "%s", printed());
	for (int i = 1; i <= n; i++) {
		char name[32];
		const char *vals[9] = { "1", name, "Ada", "Lovelace", NULL, "B1", "1", NULL, NULL };
		size_t lens[9];
		snprintf(name, sizeof name, "user%d", i);
		for (int c = 0; c < 9; c++)
			lens[c] = vals[c] ? strlen(vals[c]) : 0;
		cr_assert_eq(snap_stage_row(st, (unsigned long)i + 1, vals, lens, NULL, 0), RC_OK);
	}
	cr_assert_eq(snap_stage_close(st), RC_OK);
}

/* A complete run: begin, one input, some staged rows, commit. */
static long long full_run(const char *now)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id = 0;
	cr_assert_eq(snap_run_begin(s, "full", now, &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_run_input(s, "users", "users.csv", SHA, 3, 120), RC_OK);
	stage_users(s, 3);
	cr_assert_eq(snap_stage_index(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_run_commit(s, now, "{\"users\":3}"), RC_OK, "%s", printed());
	snap_close(s);
	return id;
}

TestSuite(snap, .init = setup, .fini = teardown);

Test(snap, create_migrates_to_current_user_version)
{
	struct snap *s = open_ok(SNAP_CREATE);
	int m = schema_migrations();

	cr_assert_geq(m, 1);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), m);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				       " AND name IN ('runs', 'run_inputs', 'links', 'watermarks',"
				       " 'enrollment_base', 'enrollment_delta', 'branches_created',"
				       " 'emitted', 'people_seen')"), 9);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'view'"
				       " AND name = 'enrollment_baseline'"), 1);
	cr_assert_str_eq(printed(), "");
	snap_close(s);
}

Test(snap, reopen_does_not_rerun_migrations)
{
	struct snap *s = open_ok(SNAP_CREATE);
	char *before;
	size_t len;

	cr_assert_eq(snap_exec(s, "INSERT INTO watermarks (source, last_modified)"
			       " VALUES ('Contact', '2024-01-01T00:00:00Z')"), RC_OK);
	snap_close(s);
	before = slurp(snap_path, &len);

	/* The migration creates tables: run again it would fail. */
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM watermarks"), 1);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), schema_migrations());
	snap_close(s);
	assert_file_is(snap_path, before, len);
	free(before);
}

Test(snap, newer_schema_version_is_refused)
{
	struct snap *s = open_ok(SNAP_CREATE);
	char *want;

	cr_assert_eq(snap_exec(s, "PRAGMA user_version = 99"), RC_OK);
	snap_close(s);
	s = (struct snap *)1;
	cr_assert_eq(snap_open(&d, snap_path, SNAP_LOCK, &s), RC_DATA);
	cr_assert_null(s);
	want = xasprintf("lmsrecon: %s: snapshot schema version 99 is newer than this lmsrecon (%d)\n",
			 snap_path, schema_migrations());
	cr_assert_str_eq(printed(), want);
	free(want);
}

Test(snap, file_that_is_not_a_database_is_refused)
{
	FILE *f = fopen(snap_path, "w");
	struct snap *s = NULL;
	char *want;

	for (int i = 0; i < 40; i++)
		fputs("Id,Name,ParentId,IsPersonAccount,LastModifiedDate\n", f);
	fclose(f);
	cr_assert_eq(snap_open(&d, snap_path, SNAP_CREATE | SNAP_LOCK, &s), RC_DATA);
	cr_assert_null(s);
	want = xasprintf("lmsrecon: %s: not a snapshot: file is not a database\n", snap_path);
	cr_assert_str_eq(printed(), want);
	free(want);
}

Test(snap, missing_file_without_create_is_noinput)
{
	struct snap *s = NULL;
	char *want;

	cr_assert_eq(snap_open(&d, snap_path, SNAP_LOCK, &s), RC_NOINPUT);
	want = xasprintf("lmsrecon: %s: snapshot not found\n", snap_path);
	cr_assert_str_eq(printed(), want);
	cr_assert_neq(access(snap_path, F_OK), 0);
	cr_assert_neq(access(lock_path, F_OK), 0, "no lock file next to a missing snapshot");
	free(want);
}

/* Opens the snapshot with SNAP_LOCK in a child process; returns its rc and
 * sets *msg to what it printed (caller frees). */
static int open_in_child(char **msg)
{
	int fds[2], status;
	pid_t pid;
	size_t len;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char *buf = NULL;
		size_t n = 0;
		FILE *out = open_memstream(&buf, &n);
		struct diag cd;
		struct snap *s = NULL;
		enum rc rc;
		diag_init(&cd, out);
		rc = snap_open(&cd, snap_path, SNAP_LOCK, &s);
		fclose(out);
		if (write(fds[1], buf, n) != (ssize_t)n)
			_exit(99);
		_exit((int)rc);
	}
	close(fds[1]);
	{
		FILE *in = fdopen(fds[0], "r");
		char *buf = xmalloc(4096);
		len = fread(buf, 1, 4095, in);
		buf[len] = '\0';
		fclose(in);
		*msg = buf;
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(snap, second_locker_gets_busy_with_pid_of_run)
{
	struct snap *s;
	long long id;
	char *msg, *want;

	full_run("2024-01-01T00:00:00Z");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK);
	cr_assert_eq(open_in_child(&msg), RC_BUSY);
	want = xasprintf("lmsrecon: %s: snapshot is in use by another run (pid %ld)\n",
			 snap_path, (long)getpid());
	cr_assert_str_eq(msg, want);
	free(msg);
	free(want);
	snap_run_abort(s, 0);
	snap_close(s);

	/* Released at close. */
	cr_assert_eq(open_in_child(&msg), RC_OK, "%s", msg);
	free(msg);
}

Test(snap, second_locker_before_any_run_gets_busy_without_pid)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *msg, *want;

	cr_assert_eq(open_in_child(&msg), RC_BUSY);
	want = xasprintf("lmsrecon: %s: snapshot is in use by another run\n", snap_path);
	cr_assert_str_eq(msg, want);
	free(msg);
	free(want);
	snap_close(s);
}

Test(snap, committed_run_is_in_history_with_inputs)
{
	struct snap *s;
	struct snap_run_info *runs;
	struct snap_stmt *st;
	size_t n, len;
	char *lock;

	cr_assert_eq(full_run("2024-01-01T00:00:00Z"), 1);
	lock = slurp(lock_path, &len);
	cr_assert_not_null(lock);
	cr_assert_eq(len, 0, "lock file after commit: '%s'", lock);
	free(lock);

	s = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_pending(s, NULL), 0);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(runs[0].id, 1);
	cr_assert_str_eq(runs[0].status, "complete");
	cr_assert_str_eq(runs[0].mode, "full");
	cr_assert_str_eq(runs[0].started, "2024-01-01T00:00:00Z");
	cr_assert_str_eq(runs[0].ended, "2024-01-01T00:00:00Z");
	cr_assert_str_eq(runs[0].counts, "{\"users\":3}");
	snap_runs_free(runs, n);

	st = snap_prepare(s, "SELECT run_id, entity, name, sha256, nrecords, bytes FROM run_inputs");
	cr_assert_eq(snap_step(st), 1);
	cr_assert_eq(snap_col_int(st, 0), 1);
	cr_assert_str_eq(snap_col_text(st, 1), "users");
	cr_assert_str_eq(snap_col_text(st, 2), "users.csv");
	cr_assert_str_eq(snap_col_text(st, 3), SHA);
	cr_assert_eq(snap_col_int(st, 4), 3);
	cr_assert_eq(snap_col_int(st, 5), 120);
	cr_assert_eq(snap_step(st), 0);
	snap_finalize(st);
	/* Read-only: writing is refused. */
	cr_assert_neq(snap_exec(s, "DELETE FROM runs"), RC_OK);
	snap_close(s);

	/* Staged rows never reach the snapshot file. */
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'stg_%'"), 0);
	snap_close(s);
	cr_assert_eq(full_run("2024-01-02T00:00:00Z"), 2);
}

Test(snap, plan_abort_records_nothing)
{
	struct snap *s;
	struct snap_run_info *runs;
	long long id;
	size_t n, len;
	char *before, *lock;

	full_run("2024-01-01T00:00:00Z");
	before = slurp(snap_path, &len);
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "plan", "2024-01-02T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 2);
	stage_users(s, 2);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 1);
	snap_runs_free(runs, n);
	snap_close(s);
	assert_file_is(snap_path, before, len);
	free(before);
	lock = slurp(lock_path, &len);
	cr_assert_eq(len, 0, "lock file: '%s'", lock);
	free(lock);
}

Test(snap, failed_run_leaves_file_identical_and_reaches_history_at_next_commit)
{
	struct snap *s;
	struct snap_pending p;
	struct snap_run_info *runs;
	long long id;
	size_t n, len;
	char *before, *want;

	full_run("2024-01-01T00:00:00Z");
	before = slurp(snap_path, &len);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 0);
	cr_assert_eq(snap_run_begin(s, "incremental", "2024-01-02T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 2);
	cr_assert_eq(snap_run_input(s, "users", "users.csv", SHA, 5, 400), RC_OK);
	stage_users(s, 5);
	cr_assert_eq(snap_exec(s, "INSERT INTO links VALUES ('003000000000001AAA', '', 'user1',"
			       " 'Contact', 2, 2)"), RC_OK, "%s", printed());
	cr_assert_eq(snap_run_abort(s, 1), RC_OK);
	snap_close(s);

	assert_file_is(snap_path, before, len);
	want = xasprintf("failed 2 incremental 2024-01-02T00:00:00Z %ld\n", (long)getpid());
	{
		size_t ll;
		char *lock = slurp(lock_path, &ll);
		cr_assert_str_eq(lock, want);
		free(lock);
	}
	free(want);

	/* Shown before any commit, by a read-only open too. */
	s = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(runs[1].id, 2);
	cr_assert_str_eq(runs[1].status, "failed");
	cr_assert_null(runs[1].ended);
	snap_runs_free(runs, n);
	snap_close(s);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 1);
	cr_assert_eq(p.id, 2);
	cr_assert_str_eq(p.status, "failed");
	cr_assert_str_eq(p.mode, "incremental");
	cr_assert_str_eq(p.started, "2024-01-02T00:00:00Z");
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-03T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 3);
	cr_assert_eq(snap_run_commit(s, "2024-01-03T00:01:00Z", NULL), RC_OK);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(runs[0].status, "complete");
	cr_assert_eq(runs[1].id, 2);
	cr_assert_str_eq(runs[1].status, "failed");
	cr_assert_str_eq(runs[1].mode, "incremental");
	cr_assert_eq(runs[2].id, 3);
	cr_assert_str_eq(runs[2].status, "complete");
	cr_assert_str_eq(runs[2].ended, "2024-01-03T00:01:00Z");
	cr_assert_null(runs[2].counts);
	snap_runs_free(runs, n);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM links"), 0);
	snap_close(s);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 0);
	snap_close(s);
	free(before);
}

Test(snap, killed_run_is_found_interrupted_and_file_is_untouched)
{
	struct snap *s;
	struct snap_pending p;
	struct snap_run_info *runs;
	long long id;
	size_t n, len;
	char *before;
	pid_t pid;
	int status;

	full_run("2024-01-01T00:00:00Z");
	before = slurp(snap_path, &len);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct snap *cs = NULL;
		if (snap_open(&d, snap_path, SNAP_LOCK, &cs) != RC_OK ||
		    snap_run_begin(cs, "full", "2024-01-02T00:00:00Z", &id) != RC_OK ||
		    snap_run_input(cs, "users", "users.csv", SHA, 500, 40000) != RC_OK)
			_exit(1);
		stage_users(cs, 500);
		snap_exec(cs, "INSERT INTO links VALUES ('003000000000001AAA', '', 'user1',"
			  " 'Contact', 2, 2)");
		if (snap_rc(cs) != RC_OK)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child did not get to the kill");
	assert_file_is(snap_path, before, len);

	/* `status` sees it before the next run. */
	s = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(runs[1].id, 2);
	cr_assert_str_eq(runs[1].status, "interrupted");
	snap_runs_free(runs, n);
	snap_close(s);
	assert_file_is(snap_path, before, len);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 1);
	cr_assert_eq(p.id, 2);
	cr_assert_str_eq(p.status, "interrupted");
	cr_assert_str_eq(p.mode, "full");
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM links"), 0);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM run_inputs"), 1);
	snap_close(s);
	assert_file_is(snap_path, before, len);

	/* The next complete run writes it to the history. */
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-03T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 3);
	cr_assert_eq(snap_run_commit(s, "2024-01-03T00:00:09Z", "{}"), RC_OK);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM runs WHERE id = 2"
				       " AND status = 'interrupted' AND ended_at IS NULL"), 1);
	snap_close(s);
	free(before);
}

/* SPEC 5 for a large run: it wrote pages into the file before it was
 * killed (SQLite's spill, then each statement's changes), and the journal
 * beside the file gives the last complete run's bytes back at the next
 * open, before anything is read. */
Test(snap, killed_large_run_is_rolled_back_to_the_last_complete_run)
{
	struct snap *s;
	struct snap_run_info *runs;
	long long id;
	size_t n, len, now_len;
	char *before, *now;
	pid_t pid;
	int status;

	full_run("2024-01-01T00:00:00Z");
	before = slurp(snap_path, &len);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct snap *cs = NULL;
		if (snap_open(&d, snap_path, SNAP_LOCK, &cs) != RC_OK ||
		    snap_run_begin(cs, "full", "2024-01-02T00:00:00Z", &id) != RC_OK)
			_exit(1);
		/* 4 MB of links, twice the snapshot's cache. */
		snap_exec(cs, "INSERT INTO links WITH RECURSIVE n(i) AS (SELECT 1"
			  " UNION ALL SELECT i + 1 FROM n WHERE i < 12000)"
			  " SELECT printf('003%015d', i), '', printf('%0300d', i), 'Contact', 2, 2"
			  " FROM n");
		if (snap_rc(cs) != RC_OK)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child did not get to the kill");
	now = slurp(snap_path, &now_len);
	cr_assert(now_len != len || memcmp(now, before, len) != 0,
		  "the run wrote nothing into the file before the kill");
	free(now);

	s = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK, "%s", printed());
	cr_assert_eq(n, 2);
	cr_assert_str_eq(runs[1].status, "interrupted");
	snap_runs_free(runs, n);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM links"), 0);
	snap_close(s);
	assert_file_is(snap_path, before, len);
	free(before);
}

Test(snap, read_only_open_shows_run_in_flight_as_running)
{
	struct snap *w, *r;
	struct snap_run_info *runs;
	long long id;
	size_t n;

	full_run("2024-01-01T00:00:00Z");
	w = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(w, "full", "2024-01-02T00:00:00Z", &id), RC_OK);
	r = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_pending(r, NULL), 0);
	cr_assert_eq(snap_runs(r, &runs, &n), RC_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(runs[0].status, "complete");
	cr_assert_eq(runs[1].id, 2);
	cr_assert_str_eq(runs[1].status, "running");
	snap_runs_free(runs, n);
	snap_close(r);
	cr_assert_eq(snap_run_commit(w, "2024-01-02T00:00:05Z", "{}"), RC_OK, "%s", printed());
	snap_close(w);
}

Test(snap, staged_rows_round_trip_with_lines_nulls_bools_and_numbers)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	const struct entity *users = entity_get(ENT_LMS_USER);
	const struct entity *enr = entity_get(ENT_ENROLLMENT);
	struct snap_stage *st = NULL;
	struct snap_stmt *q;
	long long id;
	static const char extra[] = "{\"job_title\":\"Engineer\"}";

	cr_assert_eq(snap_run_begin(s, "check", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_stage_open(s, users, 4, &st), RC_OK);
	{
		/* Lengths shorter than the strings: only `len` bytes count. */
		const char *v1[9] = { "17", "ada@example.com", "Ada", "Lovelace", "ada@example.com",
				      "EMEA", "1", "0035g00000ABCDEAAA", "2024-01-01T10:00:00Z" };
		size_t l1[9];
		const char *v2[9] = { "18", "bob", NULL, NULL, NULL, NULL, "0", NULL, NULL };
		size_t l2[9];
		for (int c = 0; c < 9; c++) {
			l1[c] = strlen(v1[c]);
			l2[c] = v2[c] ? strlen(v2[c]) : 0;
		}
		l1[2] = 2; /* "Ad" */
		cr_assert_eq(snap_stage_row(st, 2, v1, l1, extra, strlen(extra)), RC_OK);
		cr_assert_eq(snap_stage_row(st, 7, v2, l2, NULL, 0), RC_OK);
	}
	cr_assert_eq(snap_stage_close(st), RC_OK);
	cr_assert_eq(snap_stage_open(s, enr, 5, &st), RC_OK);
	{
		const char *v[8] = { "ada@example.com", "C-1", NULL, "completed",
				     "2024-01-01", NULL, "87.5", NULL };
		cr_assert_eq(snap_stage_row(st, 3, v, NULL, NULL, 0), RC_OK);
	}
	cr_assert_eq(snap_stage_close(st), RC_OK);
	cr_assert_eq(snap_stage_index(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());

	q = snap_prepare(s, "SELECT src_file, src_line, user_id, username, firstname, typeof(active),"
			 " active, sfdc_id, extra, email IS NULL FROM stage.stg_lms_user ORDER BY src_line");
	cr_assert_eq(snap_step(q), 1);
	cr_assert_eq(snap_col_int(q, 0), 4);
	cr_assert_eq(snap_col_int(q, 1), 2);
	cr_assert_str_eq(snap_col_text(q, 2), "17");
	cr_assert_str_eq(snap_col_text(q, 3), "ada@example.com");
	cr_assert_str_eq(snap_col_text(q, 4), "Ad");
	cr_assert_eq(snap_col_len(q, 4), 2);
	cr_assert_str_eq(snap_col_text(q, 5), "integer");
	cr_assert_eq(snap_col_int(q, 6), 1);
	cr_assert_str_eq(snap_col_text(q, 7), "0035g00000ABCDEAAA");
	cr_assert_str_eq(snap_col_text(q, 8), extra);
	cr_assert_eq(snap_col_int(q, 9), 0);
	cr_assert_eq(snap_step(q), 1);
	cr_assert_eq(snap_col_int(q, 1), 7);
	cr_assert(snap_col_is_null(q, 4));
	cr_assert_null(snap_col_text(q, 4));
	cr_assert_str_eq(snap_col_text(q, 5), "integer");
	cr_assert_eq(snap_col_int(q, 6), 0);
	cr_assert(snap_col_is_null(q, 8));
	cr_assert_eq(snap_col_int(q, 9), 1);
	cr_assert_eq(snap_step(q), 0);
	snap_finalize(q);

	q = snap_prepare(s, "SELECT src_file, src_line, typeof(score), score * 2, session_code IS NULL"
			 " FROM enr.stg_enrollment");
	cr_assert_eq(snap_step(q), 1);
	cr_assert_eq(snap_col_int(q, 0), 5);
	cr_assert_eq(snap_col_int(q, 1), 3);
	cr_assert_str_eq(snap_col_text(q, 2), "real");
	cr_assert_str_eq(snap_col_text(q, 3), "175.0");
	cr_assert_eq(snap_col_int(q, 4), 1);
	cr_assert_eq(snap_step(q), 0);
	snap_finalize(q);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.sqlite_master"
				       " WHERE type = 'index' AND name = 'stg_lms_user_sfdc_id'"), 1);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	cr_assert_str_eq(printed(), "");
	snap_close(s);
}

Test(snap, staging_tables_match_the_entity_table)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	struct snap_stmt *q;
	long long id;

	cr_assert_eq(snap_run_begin(s, "check", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	/* A table is in `stage`, or in `enr` (the enrollments' stage). It may
	 * end in its rowid, named `id` (INTEGER PRIMARY KEY) for an index. */
	q = snap_prepare(s, "SELECT name, type, \"notnull\", pk FROM (SELECT * FROM"
			 " pragma_table_info(?1, 'stage') UNION ALL SELECT * FROM"
			 " pragma_table_info(?1, 'enr')) ORDER BY cid");
	for (int i = 0; i < ENT_COUNT; i++) {
		const struct entity *e = entity_get((enum entity_id)i);
		size_t ncols = e->ncols + 2 + (e->has_extra ? 1 : 0), k = 0;
		snap_bind_text(q, 1, e->table, strlen(e->table));
		while (snap_step(q) == 1) {
			const char *name = snap_col_text(q, 0), *type = snap_col_text(q, 1);
			const char *want_name, *want_type = "TEXT";
			if (k == ncols && strcmp(name, "id") == 0 && strcmp(type, "INTEGER") == 0
			    && snap_col_int(q, 3) == 1)
				continue;
			cr_assert_lt(k, ncols, "%s: extra column '%s'", e->table, name);
			if (k == 0 || k == 1) {
				want_name = k == 0 ? "src_file" : "src_line";
				want_type = "INTEGER";
				cr_assert_eq(snap_col_int(q, 2), 1, "%s.%s not null", e->table, want_name);
			} else if (k - 2 < e->ncols) {
				const struct entity_col *c = &e->cols[k - 2];
				want_name = c->key;
				if (c->type == COL_BOOL)
					want_type = "INTEGER";
				else if (c->type == COL_NUMBER)
					want_type = "REAL";
			} else {
				want_name = "extra";
			}
			cr_assert_str_eq(name, want_name, "%s column %zu", e->table, k);
			cr_assert_str_eq(type, want_type, "%s.%s", e->table, name);
			k++;
		}
		cr_assert_eq(k, ncols, "%s: %zu columns, entity.c has %zu", e->table, k, ncols);
	}
	snap_finalize(q);
	/* Every stg_ table belongs to an entity; the others are the rules' working tables. */
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.sqlite_master"
				       " WHERE type = 'table' AND name LIKE 'stg\\_%' ESCAPE '\\'"),
		     ENT_COUNT - 6);
	/* The enrollments' stage holds the enrollment and catalogue tables,
	 * and only them. */
	cr_assert_eq(snap_query_int(s, "SELECT group_concat(name, ' ') = 'stg_course stg_enrollment"
				       " stg_plan stg_plan_course stg_plan_enrollment stg_session'"
				       " FROM (SELECT name FROM enr.sqlite_master WHERE type = 'table'"
				       " ORDER BY name)"), 1);
	cr_assert_eq(snap_rc(s), RC_OK, "%s", printed());
	snap_run_abort(s, 0);
	snap_close(s);
}

Test(snap, stage_path_keeps_the_scratch_database)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *stage = path_join(tmpdir, "stage.db");
	long long id;
	struct stat sb;

	snap_set_stage_path(s, stage);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_users(s, 4);
	cr_assert_eq(snap_run_commit(s, "2024-01-01T00:00:01Z", "{}"), RC_OK);
	cr_assert_eq(stat(stage, &sb), 0);
	cr_assert_gt(sb.st_size, 0);
	/* The next run starts from an empty one. */
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.stg_lms_user"), 0);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	snap_close(s);
	free(stage);
}

/* The size of the file at `path`, 0 when there is none. */
static off_t size_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* A run is one transaction, and SQLite keeps what it changes in its page
 * cache until the end, leaving a tenth of the cache to read with. Once the
 * snapshot is held exclusively (SQLite's first spill, in a large run),
 * what a whole statement changed is written out before the commit, and an
 * abort still leaves the snapshot as it was. Not before: `status` can
 * read a small run in flight. Nor between the rows of a statement run row
 * by row: the cache gathers the rows of a page. */
Test(snap, changed_pages_are_written_out_during_a_large_run_and_an_abort_still_undoes_them)
{
	struct snap *s, *r;
	char *stage = path_join(tmpdir, "stage.db"), *before;
	struct snap_stmt *ins;
	struct snap_run_info *runs;
	size_t len, n;
	off_t at;
	long long id;

	full_run("2024-01-01T00:00:00Z");
	before = slurp(snap_path, &len);
	s = open_ok(SNAP_LOCK);
	snap_set_stage_path(s, stage);
	cr_assert_eq(snap_run_begin(s, "incremental", "2024-01-02T00:00:00Z", &id), RC_OK, "%s", printed());
	at = size_of(stage);
	/* 3,000 rows of 200 bytes made by one statement (600 kB, far less
	 * than the stage's cache) stay in the cache, and the history can be
	 * read. */
	cr_assert_eq(snap_exec(s, "CREATE TABLE stage.t AS WITH RECURSIVE n(i) AS (SELECT 1"
			       " UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
			       " SELECT i, printf('%0200d', i) AS v FROM n"), RC_OK, "%s", printed());
	cr_assert_eq(size_of(stage), at);
	r = open_ok(SNAP_READONLY);
	cr_assert_eq(snap_runs(r, &runs, &n), RC_OK, "%s", printed());
	cr_assert_eq(n, 2);
	snap_runs_free(runs, n);
	snap_close(r);

	/* 4 MB of links, twice the snapshot's cache: SQLite spills, the
	 * snapshot is held, and the stage's table is written out too. */
	cr_assert_eq(snap_exec(s, "INSERT INTO links WITH RECURSIVE n(i) AS (SELECT 1"
			       " UNION ALL SELECT i + 1 FROM n WHERE i < 12000)"
			       " SELECT printf('003%015d', i), '', printf('%0300d', i), 'Contact', 2, 2"
			       " FROM n"), RC_OK, "%s", printed());
	cr_assert_gt(size_of(snap_path), (off_t)len);
	cr_assert_geq(size_of(stage), at + 600000);

	/* Row by row: kept in the cache... */
	cr_assert_eq(snap_exec(s, "CREATE TABLE stage.u (v TEXT)"), RC_OK);
	at = size_of(stage);
	ins = snap_prepare(s, "INSERT INTO stage.u VALUES (printf('%0200d', 1))");
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(snap_step(ins), 0);
	snap_finalize(ins);
	cr_assert_eq(size_of(stage), at);
	/* ...until a whole statement after them. */
	cr_assert_eq(snap_run(s, "UPDATE stage.t SET v = ?1 WHERE i = 1", "t", "x"), RC_OK);
	cr_assert_geq(size_of(stage), at + 5000 * 200);

	/* The abort takes the snapshot's pages back. */
	cr_assert_eq(snap_run_abort(s, 1), RC_OK);
	snap_close(s);
	assert_file_is(snap_path, before, len);
	cr_assert_str_eq(printed(), "");
	free(before);
	free(stage);
}

/* Scratch tables no later step reads are dropped, except from a stage
 * the administrator keeps with --stage to look at. */
Test(snap, stage_drop_drops_unless_the_stage_is_kept)
{
	static const char *const tables[] = { "stg_account", "no_such_table", NULL };
	const char *exists = "SELECT count(*) FROM stage.sqlite_master"
			     " WHERE type = 'table' AND name = 'stg_account'";
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *stage = path_join(tmpdir, "stage.db");
	long long id;

	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, exists), 1);
	cr_assert_eq(snap_stage_drop(s, tables), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, exists), 0);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.stg_lms_user"), 0);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);

	snap_set_stage_path(s, stage);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_stage_drop(s, tables), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, exists), 1);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	cr_assert_str_eq(printed(), "");
	snap_close(s);
	free(stage);
}

/* Freed stage pages are not overwritten with zeros (the rules drop their
 * scratch tables, and the stage is deleted after the run); the snapshot,
 * which keeps people's data, keeps the library's setting. */
Test(snap, stage_does_not_zero_freed_pages)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long main_before = snap_query_int(s, "PRAGMA main.secure_delete"), id;

	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "PRAGMA stage.secure_delete"), 0);
	cr_assert_eq(snap_query_int(s, "PRAGMA main.secure_delete"), main_before);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	cr_assert_str_eq(printed(), "");
	snap_close(s);
}

Test(snap, statement_failure_is_sticky_and_printed_once)
{
	struct snap *s = open_ok(SNAP_CREATE);
	struct snap_stmt *st;
	char *want;

	cr_assert_eq(snap_exec(s, "SELEC 1"), RC_INTERNAL);
	cr_assert_eq(snap_rc(s), RC_INTERNAL);
	cr_assert_eq(snap_exec(s, "CREATE TABLE later (x)"), RC_INTERNAL);
	cr_assert_null(snap_prepare(s, "SELECT 1"));
	cr_assert_eq(snap_query_int(s, "SELECT 42"), 0);
	st = NULL;
	snap_bind_int(st, 1, 1);
	cr_assert_eq(snap_step(st), -1);
	snap_finalize(st);
	cr_assert_neq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", NULL), RC_OK);
	cr_assert_eq(snap_rc(s), RC_INTERNAL);
	want = xasprintf("lmsrecon: %s: database error: near \"SELEC\": syntax error (in 'SELEC 1')\n",
			 snap_path);
	cr_assert_str_eq(printed(), want);
	free(want);
	snap_close(s);

	s = open_ok(0);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'later'"), 0);
	snap_close(s);
}

Test(snap, failing_step_makes_the_status_sticky)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	struct snap_stmt *st = snap_prepare(s, "INSERT INTO runs (id, started_at, status, mode)"
					    " VALUES (?1, 'x', ?2, 'full')");

	snap_bind_int(st, 1, 1);
	snap_bind_text(st, 2, "bogus", 5);
	cr_assert_eq(snap_step(st), -1);
	cr_assert_eq(snap_rc(s), RC_INTERNAL);
	cr_assert(strstr(printed(), "CHECK constraint failed") != NULL, "%s", printed());
	cr_assert_eq(snap_step(st), -1);
	snap_finalize(st);
	snap_close(s);
}

Test(snap, unchecked_run_skips_check_constraints_for_its_statement_only)
{
	struct snap *s = open_ok(SNAP_MEMORY);

	snap_exec(s, "CREATE TABLE j (v TEXT CHECK (json_valid(v)))");
	cr_assert_eq(snap_run_unchecked(s, "INSERT INTO j VALUES (?1)", "t", "{not json"), RC_OK);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM j"), 1);
	/* The next statement, even the same text, is checked again. */
	cr_assert_eq(snap_run(s, "INSERT INTO j VALUES (?1)", "t", "{not json"), RC_INTERNAL);
	cr_assert(strstr(printed(), "CHECK constraint failed") != NULL, "%s", printed());
	snap_close(s);
}

/* lmsrecon_digest() is part of the snapshot format (emitted.digest): the
 * 64-bit FNV-1a hash of the text's bytes, as a signed integer. */
Test(snap, digest_is_fnv1a_64_of_the_text)
{
	struct snap *s = open_ok(SNAP_MEMORY);

	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest('')"), -3750763034362895579LL);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest('a')"), -5808556873153909620LL);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest('foobar')"), -8821353812377114648LL);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest(NULL) IS NULL"), 1);
	snap_close(s);
}

/* snap_set_or_add updates the key's row when there is one, and inserts
 * it when the UPDATE changed nothing. */
Test(snap, set_or_add_updates_the_row_of_the_key_or_inserts_it)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	struct snap_stmt *set, *add;

	cr_assert_eq(snap_exec(s, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
			       " INSERT INTO t VALUES ('a', 'old')"), RC_OK);
	set = snap_prepare(s, "UPDATE t SET v = ?2 WHERE k = ?1");
	add = snap_prepare(s, "INSERT INTO t (k, v) VALUES (?1, ?2)");
	cr_assert(set && add);
	for (int i = 0; i < 2; i++) {
		struct snap_stmt *st = i ? add : set;
		snap_bind_text(st, 1, "a", 1);
		snap_bind_text(st, 2, "new", 3);
	}
	snap_set_or_add(set, add);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM t WHERE k = 'a' AND v = 'new'"), 1);
	for (int i = 0; i < 2; i++)
		snap_bind_text(i ? add : set, 1, "b", 1);
	snap_set_or_add(set, add);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM t"), 2);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM t WHERE k = 'b' AND v = 'new'"), 1);
	cr_assert_eq(snap_rc(s), RC_OK);
	snap_finalize(set);
	snap_finalize(add);
	snap_close(s);
}

/* lmsrecon_digest_is(D, TEXT) is D IS lmsrecon_digest(TEXT) for the
 * texts the rules compare (never NULL), and 0 without a digest. */
Test(snap, digest_is_compares_with_the_digest_of_the_text)
{
	struct snap *s = open_ok(SNAP_MEMORY);

	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is(-8821353812377114648, 'foobar')"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is(lmsrecon_digest('{\"a\":1}'),"
				    " '{\"a\":1}')"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is(-8821353812377114648, 'foobaz')"), 0);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is(NULL, 'foobar')"), 0);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is(-8821353812377114648, NULL)"), 0);
	/* A digest kept as text (never written so) is no digest. */
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_digest_is('-8821353812377114648', 'foobar')"), 0);
	snap_close(s);
}

/* lmsrecon_hash() tells rows apart by every value and its type, and does
 * not run values together; lmsrecon_hash_sum() adds the rows' hashes, so
 * the order of the rows does not matter but each row does. */
Test(snap, row_hash_tells_values_and_types_apart)
{
	struct snap *s = open_ok(SNAP_MEMORY);

	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_hash('a', 'b') = lmsrecon_hash('a', 'b')"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(DISTINCT h) FROM (SELECT lmsrecon_hash('ab', 'c') h"
				    " UNION ALL SELECT lmsrecon_hash('a', 'bc')"
				    " UNION ALL SELECT lmsrecon_hash('abc')"
				    " UNION ALL SELECT lmsrecon_hash('abc', NULL)"
				    " UNION ALL SELECT lmsrecon_hash('abc', '')"
				    " UNION ALL SELECT lmsrecon_hash(NULL, 'abc')"
				    " UNION ALL SELECT lmsrecon_hash(1)"
				    " UNION ALL SELECT lmsrecon_hash('1')"
				    " UNION ALL SELECT lmsrecon_hash(1.0)"
				    " UNION ALL SELECT lmsrecon_hash(x'31')"
				    " UNION ALL SELECT lmsrecon_hash('0123456789abcdef')"
				    " UNION ALL SELECT lmsrecon_hash('0123456789abcdeg'))"), 12);
	cr_assert_eq(snap_query_int(s, "SELECT (SELECT lmsrecon_hash_sum(v, w) FROM (SELECT 'a' v, 1 w"
				    " UNION ALL SELECT 'b', 2 ORDER BY 1))"
				    " = (SELECT lmsrecon_hash_sum(v, w) FROM (SELECT 'b' v, 2 w"
				    " UNION ALL SELECT 'a', 1 ORDER BY 1 DESC))"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT (SELECT lmsrecon_hash_sum(v) FROM (SELECT 'a' v"
				    " UNION ALL SELECT 'a'))"
				    " <> (SELECT lmsrecon_hash_sum(v) FROM (SELECT 'a' v))"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_hash_sum(1) FROM (SELECT 1 WHERE 0)"), 0);
	snap_close(s);
}

/* lmsrecon_repeats() of the values `values` (a VALUES list), in order. */
static long long repeats(struct snap *s, const char *values)
{
	char *sql = xasprintf("SELECT lmsrecon_repeats(column1) FROM (VALUES %s)", values);
	long long r = snap_query_int(s, sql);
	free(sql);
	return r;
}

/* lmsrecon_repeats() tells from the order of a group's rows whether a
 * value comes twice: two equal values in a row say yes, rising values no,
 * and anything else that it cannot tell. */
Test(snap, repeats_tells_a_value_listed_twice_from_the_order_of_the_rows)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	char *too_long = xasprintf("('%0300d'), ('%0300d')", 1, 2);

	cr_assert_eq(snap_query_int(s, "SELECT lmsrecon_repeats('a') WHERE 0"), 0);
	cr_assert_eq(repeats(s, "('a')"), 0);
	cr_assert_eq(repeats(s, "('a'), ('ab'), ('b'), (NULL), ('c')"), 0);
	cr_assert_eq(repeats(s, "('a'), ('b'), ('b'), ('c')"), 1);
	/* A repeat seen is a repeat, whatever the order after it. */
	cr_assert_eq(repeats(s, "('b'), ('b'), ('a')"), 1);
	/* Out of order: the first 'a' may come again later. */
	cr_assert_eq(repeats(s, "('a'), ('c'), ('b')"), -1);
	cr_assert_eq(repeats(s, "('b'), ('a'), ('b')"), -1);
	/* Byte order, as the BINARY collation sorts: 'B' < 'a' < 'a '. */
	cr_assert_eq(repeats(s, "('B'), ('a'), ('a ')"), 0);
	cr_assert_eq(repeats(s, "('a'), ('A')"), -1);
	/* NULLs are skipped, so two NULLs are no repeat. */
	cr_assert_eq(repeats(s, "(NULL), ('a'), (NULL)"), 0);
	/* Values too long to keep cannot be told apart. */
	cr_assert_eq(repeats(s, too_long), -1);
	free(too_long);
	/* Group by group. */
	cr_assert_eq(snap_query_int(s, "SELECT group_concat(r, ',') = '1,0,-1' FROM (SELECT column1,"
				    " lmsrecon_repeats(column2) AS r FROM (VALUES (1, 'a'), (1, 'a'),"
				    " (2, 'a'), (2, 'b'), (3, 'b'), (3, 'a')) GROUP BY column1"
				    " ORDER BY column1)"), 1);
	snap_close(s);
}

/* Writes a snapshot of schema version `version` (the migrations before
 * it, with lmsrecon's SQL functions, which they may call) and runs `sql`
 * in it. */
static void old_snapshot(int version, const char *sql)
{
	char marker[32], *old, *err = NULL;
	const char *m1 = strstr(snap_schema_sql, "-- @migration 1\n"), *next;
	sqlite3 *db;

	snprintf(marker, sizeof marker, "-- @migration %d\n", version + 1);
	next = strstr(snap_schema_sql, marker);
	cr_assert(m1 && next && m1 < next);
	old = xstrndup(m1, (size_t)(next - m1));
	cr_assert_eq(sqlite3_open(snap_path, &db), SQLITE_OK);
	cr_assert_eq(snap_func_register(db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, old, NULL, NULL, &err), SQLITE_OK, "%s", err);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s", err);
	snprintf(marker, sizeof marker, "PRAGMA user_version = %d", version);
	cr_assert_eq(sqlite3_exec(db, marker, NULL, NULL, &err), SQLITE_OK, "%s", err);
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	free(old);
}

/* The first run of the old snapshots below, complete. */
#define OLD_RUN_1 "INSERT INTO runs (id, started_at, ended_at, status, mode)" \
	" VALUES (1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:01Z', 'complete', 'full');"

/* A snapshot of schema version 2 gets the digest of every emitted record
 * and the key index that holds it. */
Test(snap, migration_3_fills_the_digests_of_emitted)
{
	struct snap *s;

	old_snapshot(2, OLD_RUN_1
		     "INSERT INTO emitted (run_id, target, object, key, op, fields) VALUES"
		     " (1, 'crm', 'LMS_Enrollment__c', 'k1', 'upsert', '{\"Status__c\":\"passed\"}'),"
		     " (1, 'crm', 'LMS_Enrollment__c', 'k2', 'delete', NULL);");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), schema_migrations());
	cr_assert_eq(snap_query_int(s, "SELECT digest FROM emitted WHERE key = 'k1'"),
		     -3426197569954923104LL);
	cr_assert_eq(snap_query_int(s, "SELECT digest IS NULL FROM emitted WHERE key = 'k2'"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT group_concat(name, ',') = 'target,object,op,key,run_id,digest'"
				    " FROM (SELECT name FROM pragma_index_info('emitted_key') ORDER BY seqno)"),
		     1);
	snap_close(s);
}

/* A snapshot of schema version 5 keeps its baseline rows, each with the
 * digest of its times and score in place of them, and the index of the
 * unenrollments waiting. */
Test(snap, migration_6_keeps_a_digest_of_the_baselines_values)
{
	struct snap *s;

	old_snapshot(5, OLD_RUN_1
		     "INSERT INTO runs (id, started_at, ended_at, status, mode) VALUES"
		     " (2, '2024-01-02T00:00:00Z', '2024-01-02T00:00:01Z', 'complete', 'incremental');"
		     "INSERT INTO enrollment_baseline (lms_instance, kind, username, item_code,"
		     " session_code, status, enrolled_at, completed_at, score, updated_at, first_run,"
		     " last_run) VALUES ('acme', 'course', 'alice', 'C1', 'S1', 'passed', '2024-01-02',"
		     " '2024-01-05T10:00:00.000Z', 85.0, '2024-01-05T10:00:00.000Z', 1, 2),"
		     " ('acme', 'plan', 'bob', 'P1', '', 'unenrolled', NULL, NULL, NULL, NULL, 1, 1);");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), schema_migrations());
	cr_assert_eq(snap_query_int(s, "SELECT group_concat(name, ',') = 'lms_instance,kind,username,"
				    "item_code,session_code,status,digest,first_run,last_run'"
				    " FROM pragma_table_info('enrollment_base')"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_baseline WHERE"
				    " username = 'alice' AND kind = 'course' AND item_code = 'C1'"
				    " AND session_code = 'S1' AND status = 'passed' AND first_run = 1"
				    " AND last_run = 2 AND digest = lmsrecon_hash('2024-01-02',"
				    " '2024-01-05T10:00:00.000Z', '2024-01-05T10:00:00.000Z', 85.0)"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_baseline WHERE"
				    " username = 'bob' AND kind = 'plan' AND status = 'unenrolled'"
				    " AND digest = lmsrecon_hash(NULL, NULL, NULL, NULL)"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_base"
				    " INDEXED BY enrollment_baseline_waiting WHERE lms_instance = 'acme'"
				    " AND kind = 'plan' AND status = 'unenrolled'"), 1);
	snap_close(s);
}

/* A snapshot of schema version 6 keeps its baseline rows in
 * enrollment_base, with an empty delta; the view enrollment_baseline
 * shows them. */
Test(snap, migration_7_keeps_the_baseline_as_the_base)
{
	struct snap *s;

	old_snapshot(6, OLD_RUN_1
		     "INSERT INTO enrollment_baseline (lms_instance, kind, username, item_code,"
		     " session_code, status, digest, first_run, last_run) VALUES"
		     " ('acme', 'course', 'alice', 'C1', 'S1', 'passed', 7, 1, 1),"
		     " ('acme', 'plan', 'bob', 'P1', '', 'unenrolled', 8, 1, 1);");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), schema_migrations());
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_base"), 2);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_delta"), 0);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_baseline"), 2);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_baseline WHERE"
				    " username = 'alice' AND status = 'passed' AND digest = 7"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enrollment_base"
				    " INDEXED BY enrollment_baseline_waiting WHERE lms_instance = 'acme'"
				    " AND kind = 'plan' AND status = 'unenrolled'"), 1);
	snap_close(s);
}

Test(snap, database_with_foreign_tables_is_not_a_snapshot)
{
	struct snap *s = open_ok(SNAP_CREATE);
	char *want;

	cr_assert_eq(snap_exec(s, "PRAGMA user_version = 0"), RC_OK);
	snap_close(s);
	s = NULL;
	cr_assert_eq(snap_open(&d, snap_path, SNAP_CREATE | SNAP_LOCK, &s), RC_DATA);
	cr_assert_null(s);
	want = xasprintf("lmsrecon: %s: not a snapshot: database has tables but no lmsrecon schema\n",
			 snap_path);
	cr_assert_str_eq(printed(), want);
	free(want);
}

Test(snap, empty_file_is_migrated_but_not_read_only)
{
	FILE *f = fopen(snap_path, "w");
	struct snap *s = NULL;
	char *want;

	fclose(f);
	cr_assert_eq(snap_open(&d, snap_path, SNAP_READONLY, &s), RC_DATA);
	want = xasprintf("lmsrecon: %s: not a snapshot: database has no lmsrecon schema\n", snap_path);
	cr_assert_str_eq(printed(), want);
	free(want);
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "PRAGMA user_version"), schema_migrations());
	snap_close(s);
}

Test(snap, stale_and_malformed_lock_records_are_dropped)
{
	struct snap *s;
	struct snap_pending p;
	struct snap_run_info *runs;
	size_t n;
	FILE *f;
	char *want;

	full_run("2024-01-01T00:00:00Z");
	/* Run 1 committed but its process died before clearing the record;
	 * then a line that is not a record. */
	f = fopen(lock_path, "w");
	fputs("running 1 full 2024-01-01T00:00:00Z 4242\nrunning two\n", f);
	fclose(f);
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 0);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(runs[0].status, "complete");
	snap_runs_free(runs, n);
	want = xasprintf("lmsrecon: %s:2: warning: unreadable run record ignored\n", lock_path);
	cr_assert_str_eq(printed(), want);
	free(want);
	snap_close(s);
}

Test(snap, two_unfinished_runs_both_reach_history)
{
	struct snap *s;
	struct snap_pending p;
	struct snap_run_info *runs;
	long long id;
	size_t n;

	full_run("2024-01-01T00:00:00Z");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK);
	cr_assert_eq(snap_run_abort(s, 1), RC_OK);
	snap_close(s);
	/* A run that is neither committed nor aborted was interrupted. */
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "incremental", "2024-01-03T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 3);
	snap_close(s);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_pending(s, &p), 1);
	cr_assert_eq(p.id, 3);
	cr_assert_str_eq(p.status, "interrupted");
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-04T00:00:00Z", &id), RC_OK);
	cr_assert_eq(id, 4);
	cr_assert_eq(snap_run_commit(s, "2024-01-04T00:00:01Z", "{}"), RC_OK);
	cr_assert_eq(snap_runs(s, &runs, &n), RC_OK);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(runs[1].status, "failed");
	cr_assert_str_eq(runs[2].status, "interrupted");
	cr_assert_str_eq(runs[2].mode, "incremental");
	cr_assert_str_eq(runs[3].status, "complete");
	snap_runs_free(runs, n);
	snap_close(s);
}

Test(snap, new_snapshot_and_stage_use_the_chosen_page_size)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(snap_query_int(s, "PRAGMA main.page_size"), 8192);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "PRAGMA stage.page_size"), 8192);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK);
	snap_close(s);
}

Test(snap, existing_snapshot_keeps_its_page_size)
{
	struct snap *s = open_ok(SNAP_CREATE);

	/* A snapshot with SQLite's default pages, as made before 8 KiB. */
	cr_assert_eq(snap_exec(s, "PRAGMA page_size = 4096; VACUUM"), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "PRAGMA main.page_size"), 4096);
	snap_close(s);
	full_run("2024-01-01T00:00:00Z");
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "PRAGMA main.page_size"), 4096);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM runs"), 1);
	snap_close(s);
}

/* Appends `mib` MiB of records to `emitted` in run `id`: 4 KiB of JSON a
 * row. */
static void bulk_insert(struct snap *s, long long id, int mib)
{
	cr_assert_eq(snap_run(s, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
			      " WHERE i < ?2) INSERT INTO emitted (run_id, target, object, key, op, fields)"
			      " SELECT ?1, 'crm', 'Bulk', printf('%08d', i), 'upsert',"
			      " json_object('x', hex(randomblob(2040))) FROM c",
			      "ii", id, (long long)mib * 256), RC_OK, "%s", printed());
}

/* A complete run that appends `mib` MiB of records to `emitted`. */
static void bulk_run(const char *now, int mib)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id = 0;

	cr_assert_eq(snap_run_begin(s, "full", now, &id), RC_OK, "%s", printed());
	bulk_insert(s, id, mib);
	cr_assert_eq(snap_run_commit(s, now, "{}"), RC_OK, "%s", printed());
	snap_close(s);
}

/* Of the pages of the file at `path` from byte `from` on (rounded down to
 * a page): how many there are (*all) and how many are in the page cache
 * (*in). */
static void cached_pages(const char *path, off_t from, size_t *in, size_t *all)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *vec;
	size_t len;
	void *map;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0);
	from -= from % page;
	cr_assert_gt(st.st_size, from);
	len = (size_t)(st.st_size - from);
	*all = (len + (size_t)page - 1) / (size_t)page;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, from);
	cr_assert(map != MAP_FAILED);
	vec = xmalloc(*all);
	cr_assert_eq(mincore(map, len, vec), 0);
	*in = 0;
	for (size_t i = 0; i < *all; i++)
		*in += vec[i] & 1;
	free(vec);
	munmap(map, len);
	close(fd);
}

Test(snap, first_run_leaves_what_it_wrote_out_of_the_page_cache_and_later_runs_do_not)
{
	static char block[1 << 20];
	char *control = path_join(tmpdir, "control");
	struct statfs fs;
	struct stat st;
	size_t in, all;
	int fd;

	cr_assert_eq(statfs(tmpdir, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC)
		cr_skip_test("%s is on tmpfs, whose pages are the file", tmpdir);
	/* A file system that does not keep written pages in the cache (or a
	 * machine short of memory) cannot show either half. */
	fd = open(control, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
	cr_assert_eq(close(fd), 0);
	cached_pages(control, 0, &in, &all);
	free(control);
	if (in < all / 4 * 3)
		cr_skip_test("written pages do not stay in the page cache here");

	/* The first run: 128 MiB handed to the disk and dropped 32 MiB at a
	 * time, so that at most the last two chunks are left. */
	bulk_run("2024-01-01T00:00:00Z", 128);
	cached_pages(snap_path, 0, &in, &all);
	cr_assert_gt(all, (size_t)(128 << 20) / (size_t)sysconf(_SC_PAGESIZE));
	cr_assert_leq(in, all / 2, "%zu of %zu pages in the cache", in, all);

	/* The second run's pages stay: the run after it reads them. */
	cr_assert_eq(stat(snap_path, &st), 0);
	bulk_run("2024-01-02T00:00:00Z", 64);
	cached_pages(snap_path, st.st_size, &in, &all);
	cr_assert_gt(all, (size_t)(32 << 20) / (size_t)sysconf(_SC_PAGESIZE));
	cr_assert_geq(in, all / 4 * 3, "%zu of %zu pages in the cache", in, all);

	/* What was dropped reads back whole. */
	{
		struct snap *s = open_ok(SNAP_READONLY);
		cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM emitted WHERE object = 'Bulk'"),
			     (128 + 64) * 256);
		cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM emitted WHERE object = 'Bulk'"
					    " AND length(fields) <> 4088"), 0);
		snap_close(s);
	}
}

/* Bad input: a first run that fails after it has handed pages to the disk
 * and dropped them from the cache leaves the file as it was. */
Test(snap, first_run_aborted_after_dropping_pages_leaves_the_file_identical)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *before, *after;
	size_t nbefore, nafter;
	struct stat st;
	long long id = 0;

	snap_close(s);
	before = slurp(snap_path, &nbefore);
	cr_assert_not_null(before);

	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	bulk_insert(s, id, 96);
	/* Grown by two chunks at least: one was dropped. */
	cr_assert_eq(stat(snap_path, &st), 0);
	cr_assert_geq(st.st_size, (off_t)nbefore + (64 << 20));
	cr_assert_eq(snap_run_abort(s, 1), RC_OK, "%s", printed());
	snap_close(s);

	after = slurp(snap_path, &nafter);
	cr_assert_not_null(after);
	cr_assert_eq(nafter, nbefore);
	cr_assert(memcmp(before, after, nbefore) == 0, "the snapshot file changed");
	free(before);
	free(after);
}

/* lmsrecon_json_object() of `args` is json_object() of them, byte for byte
 * (the emitted digests of earlier runs were taken of json_object()'s text). */
static void expect_same_json(struct snap *s, const char *args)
{
	char *sql = xasprintf("SELECT lmsrecon_json_object(%s) IS json_object(%s)"
			      " AND typeof(lmsrecon_json_object(%s)) = 'text'", args, args, args);
	cr_expect_eq(snap_query_int(s, sql), 1, "differs for (%s)", args);
	free(sql);
}

Test(snap, json_object_writes_what_sqlite_writes)
{
	struct snap *s = open_ok(SNAP_MEMORY);

	expect_same_json(s, "");
	expect_same_json(s, "'a', 1, 'b', -9223372036854775808, 'c', 9223372036854775807");
	expect_same_json(s, "'n', NULL, 'e', '', 'na', '#N/A'");
	/* Reals as SQLite prints them: 87.5, 3.0, 1.0e-07, 1.0e+20, 0.3. */
	expect_same_json(s, "'r', 87.5, 's', 3.0, 't', 1e-7, 'u', 1e20, 'v', 0.1 + 0.2, 'w', -0.0");
	expect_same_json(s, "'big', 1e308 * 10, 'small', 4.9e-324, 'pi', 3.141592653589793");
	/* Quotes, backslashes and every control byte, in values and names. */
	expect_same_json(s, "'q\"k\\\\', 'say \"hi\" C:\\\\x'");
	for (int c = 1; c < 0x20; c++) {
		char *args = xasprintf("'c', 'a' || char(%d) || 'b', char(%d), 1", c, c);
		expect_same_json(s, args);
		free(args);
	}
	/* UTF-8 and DEL pass through. */
	expect_same_json(s, "'name', 'Zoë Ødegård ' || char(127) || char(8232)");
	/* JSON made by json() goes in as JSON, as in json_object(). */
	expect_same_json(s, "'j', json('{\"x\":[1,2]}'), 'k', json_array(1, 'a')");
	/* Same name twice: both kept, as json_object() keeps them. */
	expect_same_json(s, "'a', 1, 'a', 2");
	/* Its result is JSON to the JSON functions, not a string. */
	cr_expect_eq(snap_query_int(s, "SELECT json_array(lmsrecon_json_object('b', 1))"
				       " IS json_array(json_object('b', 1))"), 1);
	cr_expect_eq(snap_query_int(s, "SELECT lmsrecon_json_object('a', lmsrecon_json_object('b', 'x'))"
				       " IS json_object('a', json_object('b', 'x'))"), 1);
	snap_close(s);
}

Test(snap, json_object_refuses_what_sqlite_refuses)
{
	struct snap *s = open_ok(SNAP_MEMORY);
	struct snap_stmt *st;

	/* A value with no name, a name that is not text, a blob value. */
	static const char *const bad[] = {
		"SELECT lmsrecon_json_object('a')",
		"SELECT lmsrecon_json_object(1, 'a')",
		"SELECT lmsrecon_json_object('a', x'00')",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		st = snap_prepare(s, bad[i]);
		cr_assert_not_null(st);
		cr_expect_eq(snap_step(st), -1, "%s", bad[i]);
		snap_finalize(st);
		cr_expect_neq(snap_rc(s), RC_OK);
		snap_close(s);
		s = open_ok(SNAP_MEMORY);
	}
	snap_close(s);
}

/* ---- the enrollments' stage (snap_enr.c) ---- */

/* Stages `n` course enrollments, usernames counting down (the input is
 * not in the index's order), and indexes the stage: the enrollments'
 * thread starts. */
static void stage_and_index(struct snap *s, int n)
{
	const struct entity *e = entity_get(ENT_ENROLLMENT);
	struct snap_stage *st = NULL;
	cr_assert_eq(snap_stage_open(s, e, 1, &st), RC_OK, "%s", printed());
	for (int i = 0; i < n; i++) {
		char name[32];
		const char *v[8] = { name, "C-1", NULL, "completed", "2024-01-01", NULL, "87.5", NULL };
		snprintf(name, sizeof name, "u%07d", n - i);
		cr_assert_eq(snap_stage_row(st, (unsigned long)i + 2, v, NULL, NULL, 0), RC_OK);
	}
	cr_assert_eq(snap_stage_close(st), RC_OK, "%s", printed());
	cr_assert_eq(snap_stage_index(s), RC_OK, "%s", printed());
}

/* The files in tmpdir whose names start with `prefix`. */
static int files_named(const char *prefix)
{
	char *cmd = xasprintf("ls -a %s | grep -c '^%s' || true", tmpdir, prefix);
	FILE *f = popen(cmd, "r");
	int n = -1;
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	free(cmd);
	return n;
}

/* The enrollments go to `enr`, are indexed and analysed there, and the
 * run's connection reads them through the index once it has waited. */
Test(snap, enrollments_are_indexed_in_their_own_stage_and_read_after_the_wait)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(setenv("SQLITE_TMPDIR", tmpdir, 1), 0);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	/* Its file is open and already unlinked: a killed run leaves none. */
	cr_assert_eq(files_named("lmsrecon-enr-"), 0);
	stage_and_index(s, 3000);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.sqlite_master WHERE type = 'index'"
				       " AND name IN ('stg_enrollment_user', 'stg_plan_enrollment_user')"), 2);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.sqlite_stat1"
				       " WHERE idx = 'stg_enrollment_user'"), 1);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM stage.sqlite_master WHERE name IN"
				       " ('stg_enrollment', 'stg_plan_enrollment', 'stg_enrollment_user',"
				       " 'stg_plan_enrollment_user')"), 0);
	/* In username order through the index: u0000001 first. */
	cr_assert_eq(snap_query_int(s, "SELECT src_line FROM enr.stg_enrollment"
				       " INDEXED BY stg_enrollment_user ORDER BY username LIMIT 1"), 3001);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.stg_enrollment"), 3000);
	cr_assert_eq(snap_run_commit(s, "2024-01-01T00:00:01Z", "{}"), RC_OK, "%s", printed());
	cr_assert_eq(files_named("lmsrecon-enr-"), 0);
	cr_assert_str_eq(printed(), "");
	snap_close(s);
}

/* With no thread to be had, the index is built before snap_stage_index
 * returns, and the rows read the same. */
Test(snap, enrollments_index_without_a_thread_is_built_in_place)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(setenv("LMSRECON_TEST_AT", "thread:1:fail", 1), 0);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 500);
	cr_assert_eq(s->is_enr_building, 0);
	cr_assert_null(s->enr_db);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.sqlite_master WHERE type = 'index'"
				       " AND name = 'stg_enrollment_user'"), 1);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "SELECT src_line FROM enr.stg_enrollment"
				       " INDEXED BY stg_enrollment_user ORDER BY username LIMIT 1"), 501);
	cr_assert_eq(snap_run_commit(s, "2024-01-01T00:00:01Z", "{}"), RC_OK, "%s", printed());
	cr_assert_eq(unsetenv("LMSRECON_TEST_AT"), 0);
	snap_close(s);
}

/* A build that fails fails the run when it is waited for: an I/O error
 * (exit 74), the message printed once, and the snapshot as it was. */
Test(snap, enrollments_index_that_fails_fails_the_wait)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(setenv("LMSRECON_TEST_AT", "enr_index:1:fail", 1), 0);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 10);
	cr_assert_eq(snap_enr_wait(s), RC_IO);
	cr_assert(strstr(printed(), "cannot index and count the staged enrollments: disk I/O error") != NULL,
		  "%s", printed());
	cr_assert_eq(snap_run_abort(s, 1), RC_IO);
	cr_assert_eq(unsetenv("LMSRECON_TEST_AT"), 0);
	snap_close(s);
	s = open_ok(SNAP_LOCK);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM runs"), 0);
	snap_close(s);
}

/* A run that ends while the index is being built (a rule failed, say)
 * stops the build and joins it: nothing is left running or open, and the
 * index is not built. The test point holds the thread at its start; the
 * stage is kept, to be looked at. */
Test(snap, run_aborted_while_enrollments_are_indexed_stops_the_build)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *stage = path_join(tmpdir, "stage.db");
	char *enr = xasprintf("%s-enr", stage);
	sqlite3 *db;
	sqlite3_stmt *q;
	long long id;

	cr_assert_eq(setenv("LMSRECON_TEST_AT", "enr_build:1:pause", 1), 0);
	snap_set_stage_path(s, stage);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 1000);
	cr_assert_eq(s->is_enr_building, 1);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK, "%s", printed());
	cr_assert_eq(s->is_enr_building, 0);
	cr_assert_null(s->enr_db);
	cr_assert_eq(s->is_enr_attached, 0);
	cr_assert_eq(sqlite3_open_v2(enr, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
					" AND name = 'stg_enrollment_user'", -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(q, 0), 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	/* The next run attaches a new one, and builds its index. */
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 10);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.stg_enrollment"), 10);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.sqlite_master WHERE type = 'index'"
				       " AND name = 'stg_enrollment_user'"), 1);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK, "%s", printed());
	cr_assert_eq(unsetenv("LMSRECON_TEST_AT"), 0);
	snap_close(s);
	free(enr);
	free(stage);
}

/* A stage kept with --stage keeps the enrollments' stage next to it. */
Test(snap, kept_stage_keeps_the_enrollments_stage_beside_it)
{
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	char *stage = path_join(tmpdir, "stage.db");
	char *enr = xasprintf("%s-enr", stage);
	sqlite3 *db;
	long long id;

	snap_set_stage_path(s, stage);
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 20);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_run_commit(s, "2024-01-01T00:00:01Z", "{}"), RC_OK, "%s", printed());
	snap_close(s);
	cr_assert_eq(sqlite3_open_v2(enr, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	{
		sqlite3_stmt *q;
		cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM stg_enrollment", -1, &q, NULL),
			     SQLITE_OK);
		cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
		cr_assert_eq(sqlite3_column_int(q, 0), 20);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	free(enr);
	free(stage);
}

/* Statements given to the thread run after the index, in `enr`, with ?4
 * bound, and snap_enr_then_done says so. */
Test(snap, enrollments_thread_runs_the_statements_given_after_the_index)
{
	static const char *const then[] = {
		"CREATE TABLE enr.t (n INTEGER, k INTEGER); CREATE TABLE enr.u (x)",
		"INSERT INTO enr.t SELECT count(*), ?4 FROM enr.stg_enrollment INDEXED BY stg_enrollment_user",
	};
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	snap_enr_then(s, then, 2, 12);
	stage_and_index(s, 30);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_enr_then_done(s), 1);
	cr_assert_eq(snap_query_int(s, "SELECT n * 100 + k FROM enr.t"), 3012);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.u"), 0);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK, "%s", printed());
	/* Forgotten when the run ends. */
	cr_assert_eq(snap_run_begin(s, "full", "2024-01-02T00:00:00Z", &id), RC_OK, "%s", printed());
	stage_and_index(s, 3);
	cr_assert_eq(snap_enr_wait(s), RC_OK, "%s", printed());
	cr_assert_eq(snap_enr_then_done(s), 0);
	cr_assert_eq(snap_query_int(s, "SELECT count(*) FROM enr.sqlite_master WHERE name = 't'"), 0);
	cr_assert_eq(snap_run_abort(s, 0), RC_OK, "%s", printed());
	snap_close(s);
}

/* A statement given to the thread that fails fails the wait, with
 * SQLite's message. */
Test(snap, enrollments_thread_statement_that_fails_fails_the_wait)
{
	static const char *const then[] = { "INSERT INTO enr.no_such_table VALUES (1)" };
	struct snap *s = open_ok(SNAP_CREATE | SNAP_LOCK);
	long long id;

	cr_assert_eq(snap_run_begin(s, "full", "2024-01-01T00:00:00Z", &id), RC_OK, "%s", printed());
	snap_enr_then(s, then, 1, 0);
	stage_and_index(s, 3);
	cr_assert_eq(snap_enr_wait(s), RC_INTERNAL);
	cr_assert(strstr(printed(), "cannot index and count the staged enrollments: no such table: enr.no_such_table")
		  != NULL, "%s", printed());
	cr_assert_eq(snap_enr_then_done(s), 0);
	snap_run_abort(s, 1);
	snap_close(s);
}
