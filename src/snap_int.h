/* SPDX-License-Identifier: MIT */
/* snap_int: what the three parts of the snapshot module share (snap_open.c,
 * snap_run.c, snap_stage.c): the struct behind `struct snap`, the sticky
 * error helper and the lock-file record. Nothing outside snap_*.c includes
 * it. It names SQLite's handles by their struct tags so that it does not
 * need sqlite3.h itself. */
#ifndef LMSRECON_SNAP_INT_H
#define LMSRECON_SNAP_INT_H

#include <stddef.h>
#include "diag.h"
#include "snap.h"
#include "util.h"

struct sqlite3;
struct sqlite3_stmt;

/* The page size of a new snapshot and of every stage database, in bytes
 * (as SQL text). Twice SQLite's default: the rules read and write mostly
 * in key order, and each page costs a system call; a full run at a
 * million contacts took 149 s with 8 KiB pages against 163 s with 4 KiB
 * ones (a day two 72 against 78 s), while 16 and 64 KiB were slower at a
 * tenth of that (more bytes copied per look-up). A snapshot keeps the size
 * it was created with: SQLite changes it only by rewriting the file. */
#define SNAP_PAGE_SIZE "8192"

/* The pages of the snapshot (4 MiB with SNAP_PAGE_SIZE) a sort holds in
 * memory before it writes them out as one sorted run (snap_open.c). */
#define SNAP_SORT_RUN_PAGES 512

/* How long a statement waits for another connection's lock (a reader such
 * as `status` or the sqlite3 shell, or the run's other connection) before
 * failing with RC_BUSY, in ms. */
#define SNAP_BUSY_MS 2000

/* The settings of a scratch database `db` (the stage, the enrollments'
 * stage), with a page cache of `cache` (PRAGMA cache_size): lost in a
 * crash and never rolled back into use, so no journal and no syncs;
 * SNAP_PAGE_SIZE pages whatever the snapshot's; freed pages not
 * overwritten with zeros (SQLite's secure_delete, on in Debian's build:
 * zeroing the scratch tables the rules drop wrote 2.1 GB at a million
 * contacts). See stage_attach in snap_run.c. */
#define SCRATCH_PRAGMAS(db, cache) \
	"PRAGMA " db ".page_size = " SNAP_PAGE_SIZE "; PRAGMA " db ".journal_mode = OFF;" \
	" PRAGMA " db ".synchronous = OFF; PRAGMA " db ".cache_size = " cache ";" \
	" PRAGMA " db ".secure_delete = OFF;"

/* Adds lmsrecon's SQL functions (snap_func.c) to a connection: an SQLite
 * result code. */
int snap_func_register(struct sqlite3 *db);

/* One line of the lock file: a run that has not reached the history. */
struct snap_rec {
	long long id;      /* run id */
	char status[16];   /* "running", "interrupted" or "failed" */
	char mode[16];     /* "full", "incremental", "plan" or "check" */
	char started[32];  /* ISO 8601 start time */
	long pid;          /* process that ran it */
};

struct snap {
	struct diag *d;          /* message sink; borrowed from snap_open's caller */
	char *path;              /* snapshot path as given, FILE of every message; owned */
	struct srcpos pos;       /* { path }: the position messages are printed at */
	unsigned flags;          /* enum snap_flags given to snap_open */
	struct sqlite3 *db;      /* the connection; owned */
	enum rc rc;              /* sticky status: RC_OK until a call failed */

	char *lock_path;         /* `<path>.lock`; NULL for an in-memory snapshot; owned */
	int lock_fd;             /* the lock file, held with flock(LOCK_EX) under SNAP_LOCK; -1 when none */
	struct snap_rec *recs;   /* unfinished runs of the lock file not yet in the history, oldest first; owned */
	size_t nrecs;
	int has_found;           /* snap_open found an unfinished run: `found` is set */
	struct snap_pending found; /* the latest unfinished run found at open */

	char *stage_path;        /* where the scratch database goes; NULL = a temporary file; owned */
	int is_in_run;           /* between a successful snap_run_begin and commit/abort */
	int is_attached;         /* the scratch database `stage` is attached */
	struct snap_rec run;     /* the run in flight (valid while is_in_run) */

	struct snap_cached *cache; /* statements kept by snap_prepare_cached; owned */
	size_t ncache, cache_alloc;

	/* The enrollments' stage (snap_enr.c): a second scratch database,
	 * attached as `enr`, whose index is built by a thread of its own. */
	char *enr_path;          /* its file; owned; NULL when there is none */
	int is_enr_attached;     /* attached to `db` as `enr` */
	struct sqlite3 *enr_db;  /* the second connection, until the index is built; owned */
	int is_enr_building;     /* enr_th is building the index: join it */
	atomic_int is_enr_stopped; /* the run ends: the build stops at its next step */
	pthread_t enr_th;
	int enr_rc;              /* the index build's SQLite result code */
	char *enr_err;           /* and its message when it failed; owned */
	double enr_seconds;      /* and how long it took */
	const char *const *enr_then; /* statements the thread runs after it (snap_enr_then); borrowed */
	size_t enr_nthen;
	long long enr_p4;        /* their parameter ?4 */
	int is_enr_then_done;    /* the thread ran them */

	/* The snapshot's pages in the page cache during the first run (snap_pages.c). */
	struct dropbehind pages; /* fd: the file, read-only, from the first run's begin until the
				  * connection is closed; -1 when none */
};

/* A statement kept prepared for the rest of the run, found by the address
 * of its SQL text (a string literal of the caller). */
struct snap_cached {
	const char *sql;          /* borrowed: the caller's literal */
	struct snap_stmt *st;     /* owned */
};

/* For the first run into a snapshot (after its row in `runs` is written):
 * what the run adds to the file goes to the disk and out of the page
 * cache as the file grows. Later runs leave the cache alone. Advisory;
 * never fails. */
void snap_pages_begin(struct snap *s);
/* Stops it at the run's end: removes the progress handler. Safe to call
 * more than once, and without a begin. */
void snap_pages_end(struct snap *s);
/* Closes the file snap_pages_begin opened: only once SQLite's connection
 * is closed, as closing any descriptor of the file drops the process's
 * locks on it. */
void snap_pages_close(struct snap *s);

/* Finalizes every cached statement (before the scratch database is
 * detached, and at close). */
void snap_cache_clear(struct snap *s);

/* Records a failed SQLite call: maps the SQLite code `sqlite_rc` to an
 * `enum rc`, prints the message once (with `sql` for context when not NULL)
 * and makes it the sticky status. Later failures are not printed. Returns
 * the sticky status. */
enum rc snap_fail(struct snap *s, int sqlite_rc, const char *sql);
/* The same for a failed call on connection `db` (the enrollments' stage's
 * second connection, or s->db). */
enum rc snap_fail_db(struct snap *s, struct sqlite3 *db, int sqlite_rc, const char *sql);
/* The exit status of an SQLite result code: what snap_fail records. */
enum rc snap_rc_of(int sqlite_rc);
/* Replaces the file at `path` by an empty one, which SQLite takes for a
 * new database (ATTACH cannot create one when the snapshot was opened
 * without SQLITE_OPEN_CREATE, any run but the first). Sticky. */
enum rc snap_scratch_file(struct snap *s, const char *path);

/* The enrollments' stage (snap_enr.c). Creates its file and the second
 * connection with its tables, and attaches it to s->db as `enr`: before the
 * run's transaction begins. */
enum rc snap_enr_attach(struct snap *s);
/* The connection entity `e` is staged through: the second one for the
 * tables of `enr` (in a transaction begun on first use), else s->db; and
 * the schema name of its table. */
struct sqlite3 *snap_enr_stage_db(struct snap *s, const struct entity *e, const char **schema);
/* After the load: commits the staged rows and starts building the
 * index of `enr` in a thread (in the caller's when none can be started). */
enum rc snap_enr_index(struct snap *s);
/* Ends what snap_enr_attach began, whatever state the run is in (the
 * build is interrupted and joined): after the run's transaction, before
 * `stage` is detached. Deletes the file unless the stage is kept. */
void snap_enr_detach(struct snap *s);

/* Records a failure of our own (not SQLite's) the same way: prints `msg`
 * once and makes `rc` the sticky status. Returns the sticky status. */
enum rc snap_fail_msg(struct snap *s, enum rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Runs the `len` bytes of SQL at `sql` (any number of statements, no
 * parameters), ignoring result rows. Sticky. */
enum rc snap_exec_n(struct snap *s, const char *sql, size_t len);

/* Finds a section of the compiled-in schema (src/snap_schema.sql) by its
 * marker, "stage" or "stage-index"; sets *sql and *len to its text (not
 * NUL-terminated; borrowed, static). Returns 0, or -1 when there is none. */
int snap_schema_section(const char *name, const char **sql, size_t *len);

/* Resets every statement of the connection, so that a rollback or a DETACH
 * is not refused because a caller left one in the middle of its rows. */
void snap_reset_all(struct snap *s);

/* Reads the lock file at `fd` into s->recs. With `is_owner` (we hold the
 * exclusive lock) a `running` record is a killed run and becomes
 * `interrupted`. Records whose id is already in the runs table are dropped
 * (the commit that wrote them ended before it could clear the file).
 * Malformed lines are warned about and ignored. Sets s->found. */
enum rc snap_lock_load(struct snap *s, int fd, int is_owner);
/* The pid in the `running` record of the lock file at `fd`, or 0. */
long snap_lock_holder(int fd);

#endif
