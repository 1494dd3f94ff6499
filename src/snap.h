/* SPDX-License-Identifier: MIT */
/* snap: the SQLite snapshot (SPEC §5) and the only code that includes
 * sqlite3.h. Opens and migrates the snapshot, holds the one-run-at-a-time
 * lock, keeps the run history, stages the inputs of a run, and gives the
 * rules and emitters a small statement API with a sticky status code.
 *
 * Lifecycle of a run (see docs/snapshot.md):
 *   snap_open(SNAP_LOCK) → snap_run_begin → stage inputs → rules → emit →
 *   snap_run_commit (or snap_run_abort). Nothing is committed to the
 *   snapshot before snap_run_commit (pages SQLite writes earlier are rolled
 *   back): the run in flight is recorded in the lock file
 *   `<snapshot>.lock`, so a run that fails on bad input leaves the
 *   snapshot byte-identical, and one that is killed is found by the next
 *   opener (the kernel lock is gone but the record stays) and written to the
 *   history as `interrupted`. Staged rows live in an attached scratch
 *   database `stage`, never in the snapshot file. */
#ifndef LMSRECON_SNAP_H
#define LMSRECON_SNAP_H

#include <stddef.h>
#include "diag.h"
#include "entity.h"

struct snap;
struct snap_stmt;

enum snap_flags {
	SNAP_CREATE = 1,   /* create the file when missing (else RC_NOINPUT) */
	SNAP_LOCK = 2,     /* take the run lock: RC_BUSY when another process holds it */
	SNAP_MEMORY = 4,   /* an in-memory snapshot (`check`); path only names it in messages */
	SNAP_READONLY = 8, /* open read-only (`status`, `audit`): nothing is migrated or written */
};

/* Opens (and with SNAP_CREATE creates) the snapshot at `path` and migrates
 * its schema forward to the current PRAGMA user_version. A snapshot from a
 * newer lmsrecon is refused (RC_DATA). Prints its own errors. Caller closes. */
enum rc snap_open(struct diag *d, const char *path, unsigned flags, struct snap **out);
/* Rolls back anything open, releases the lock, closes. NULL is fine. */
void snap_close(struct snap *s);

/* The sticky status: RC_OK until a call fails; then every later call does
 * nothing and returns it. The failure was printed where it happened. */
enum rc snap_rc(const struct snap *s);

/* ---- runs ---- */

/* A run found unfinished (killed or failed) by snap_open with SNAP_LOCK. */
struct snap_pending {
	long long id;        /* run id it had */
	char status[16];     /* "interrupted" or "failed" */
	char mode[16];
	char started[32];    /* ISO time */
};

/* Pending runs found in the lock file at open (at most one); 0 or 1. */
size_t snap_pending(const struct snap *s, struct snap_pending *out);

/* Starts a run: picks the next run id, records the run in flight in the
 * lock file, opens the write transaction on the snapshot and attaches a
 * fresh, empty scratch database `stage` (at `stage_path`, or a temporary file
 * when NULL) with the staging tables. `mode` is "full", "incremental",
 * "plan" or "check"; `now` an ISO time. */
enum rc snap_run_begin(struct snap *s, const char *mode, const char *now, long long *run_id);
/* Keeps the scratch database of the next runs at `path` (replaced at each
 * snap_run_begin, left in place after the run for inspection with the
 * sqlite3 shell) instead of a temporary file; NULL goes back to a temporary
 * file. The path is copied. */
void snap_set_stage_path(struct snap *s, const char *path);
/* Drops the scratch tables `tables` (a NULL-terminated list of names in
 * `stage`) that no later step reads, so that the tables written after
 * them reuse their pages. A stage kept with snap_set_stage_path keeps
 * every table, for inspection. */
enum rc snap_stage_drop(struct snap *s, const char *const *tables);
/* Records one input of the run: entity name, file name, SHA-256 (64 hex),
 * records staged, bytes. Kept in the run's transaction (the report reads
 * them back from there). */
enum rc snap_run_input(struct snap *s, const char *entity, const char *name,
		       const char *sha256_hex, unsigned long nrecords,
		       unsigned long long bytes);
/* Ends the run as `complete` with `counts_json` (a JSON object) and commits:
 * the pending run found at open (if any) is written to the history first,
 * the lock file record is cleared. */
enum rc snap_run_commit(struct snap *s, const char *now, const char *counts_json);
/* Ends the run without committing anything to the snapshot (plan, check,
 * or a failure): rolls back, and when `is_failure` records the run as
 * failed in the lock file, to be written to the history by the next commit. */
enum rc snap_run_abort(struct snap *s, int is_failure);

/* One row of the run history (snap_runs). */
struct snap_run_info {
	long long id;
	char *started, *ended; /* ISO times; ended NULL when none; owned */
	char *status, *mode;   /* owned */
	char *counts;          /* JSON object text or NULL; owned */
};
/* The history, oldest first, plus the pending run from the lock file (if
 * any) last. Caller frees with snap_runs_free. */
enum rc snap_runs(struct snap *s, struct snap_run_info **runs, size_t *n);
void snap_runs_free(struct snap_run_info *runs, size_t n);

/* ---- staging ---- */

struct snap_stage;
/* Prepares the insert into the staging table of `e` (stage.<e->table>).
 * `src_file` is the index of the input in the job, stored with every row. */
enum rc snap_stage_open(struct snap *s, const struct entity *e, int src_file,
			struct snap_stage **out);
/* Inserts one row: `vals`/`lens` hold one value per entity column (NULL =
 * SQL NULL; COL_BOOL values are "0"/"1" and stored as integers, COL_NUMBER as
 * REAL), `extra` a JSON object of extra fields or NULL. */
enum rc snap_stage_row(struct snap_stage *st, unsigned long src_line,
		       const char *const *vals, const size_t *lens,
		       const char *extra, size_t extra_len);
/* Finishes the insert and frees st. NULL is fine. */
enum rc snap_stage_close(struct snap_stage *st);
/* Builds the indexes the rules use on the staging tables (after the load).
 * The index of the enrollments' tables (`enr`, which the people rules do
 * not read) goes on being built in a thread of its own after it returns. */
enum rc snap_stage_index(struct snap *s);
/* Waits until the enrollments' tables are indexed: before a rule reads
 * `enr`. Their build's failure is the sticky status. */
enum rc snap_enr_wait(struct snap *s);
/* Gives the thread that indexes `enr` the `n` statements `sql` (static,
 * borrowed) to run after the index, in its transaction, each with its
 * parameter ?4 bound to `p4`: work that reads only `enr` and writes only
 * to it, taken off the run's connection. After the run's begin and before
 * the load; forgotten when the run ends. A failure of theirs fails
 * snap_enr_wait. After it, snap_enr_then_done tells whether the thread
 * ran them: without a second connection (rows written into `enr` by the
 * run's connection itself, as unit tests do) it did not, and the caller
 * runs them. */
void snap_enr_then(struct snap *s, const char *const *sql, size_t n, long long p4);
int snap_enr_then_done(const struct snap *s);

/* ---- statements, for rule_* and emit_* ---- */

/* Runs SQL with no parameters and no result rows (may hold several statements). */
enum rc snap_exec(struct snap *s, const char *sql);
/* Prepares one statement; NULL on failure (and snap_rc is set). */
struct snap_stmt *snap_prepare(struct snap *s, const char *sql);
void snap_bind_text(struct snap_stmt *st, int i, const char *p, size_t len); /* p NULL = NULL */
void snap_bind_int(struct snap_stmt *st, int i, long long v);
void snap_bind_double(struct snap_stmt *st, int i, double v);
void snap_bind_null(struct snap_stmt *st, int i);
/* Steps: 1 = a row is there, 0 = done (the statement is reset for reuse
 * when it returns 0), -1 = failed (printed, sticky). */
int snap_step(struct snap_stmt *st);
const char *snap_col_text(struct snap_stmt *st, int i); /* NULL for SQL NULL; valid until the next step */
size_t snap_col_len(struct snap_stmt *st, int i);
long long snap_col_int(struct snap_stmt *st, int i);
double snap_col_double(struct snap_stmt *st, int i);
int snap_col_is_null(struct snap_stmt *st, int i);
int snap_col_count(struct snap_stmt *st); /* columns of a row of the statement */
void snap_reset(struct snap_stmt *st);
/* Writes one row by key: runs `set` (an UPDATE of one key) to the end,
 * then `add` (a one-row INSERT) when `set` changed no row; both bound by
 * the caller. For a row written once per record in the run's transaction,
 * instead of an upsert: SQLite keeps a statement journal for a statement
 * that may change more than one row and stop half way, which an upsert
 * is, and once that journal is a file each upsert copies the page it
 * changes into it (a 1x day two: 1.47 GB in 359,326 writes). A one-row
 * INSERT or an UPDATE of one key needs none. Sticky. */
void snap_set_or_add(struct snap_stmt *set, struct snap_stmt *add);
/* A statement prepared once per run and kept: `sql` must be a string
 * literal (it is found again by its address). The snapshot owns it — never
 * snap_finalize it; snap_step to the end (it resets itself) or snap_reset
 * it after use. NULL on failure (snap_rc is set). */
struct snap_stmt *snap_prepare_cached(struct snap *s, const char *sql);
void snap_finalize(struct snap_stmt *st); /* NULL is fine */
/* Prepares `sql`, binds its parameters ?1, ?2, ... from the arguments as
 * `types` says ('t': a const char *, NULL for SQL NULL; 'i': a long long —
 * cast it), runs it to the end and finalizes it. A parameter the statement
 * does not have is skipped, so one argument list can serve a family of
 * statements. Sticky; returns snap_rc. */
enum rc snap_run(struct snap *s, const char *sql, const char *types, ...);
/* Runs `sql` like snap_run with the CHECK constraints of the tables it
 * writes not evaluated: for a bulk insert whose values are valid by
 * construction (JSON built by json_object() or checked by json() where it
 * was made), where a check would only parse each value again. */
enum rc snap_run_unchecked(struct snap *s, const char *sql, const char *types, ...);
/* One integer from a query with no parameters ("SELECT count(*) ..."). */
long long snap_query_int(struct snap *s, const char *sql);

#endif
