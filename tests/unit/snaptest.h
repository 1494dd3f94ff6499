/* SPDX-License-Identifier: MIT */
/* snaptest: what the rule suites share — an in-memory snapshot with a run
 * begun and its messages in a memstream, SQL with text parameters, and
 * query results as text to compare. Included by one test file each, so
 * everything is static. The including file defines TestSuite itself. */
#ifndef LMSRECON_SNAPTEST_H
#define LMSRECON_SNAPTEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "snap.h"
#include "util.h"

static FILE *diag_out;    /* the memstream every diag writes to */
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static struct snap *s;     /* an in-memory snapshot, a run begun */
static long long run_id;

/* Opens the snapshot and begins run 1 at `now`, with the staging indexes
 * (the enrollments' built and waited for: the tests then write `enr`
 * through the run's connection). */
static __attribute__((unused)) void snaptest_open(const char *now)
{
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	cr_assert_eq(snap_open(&d, "state.db", SNAP_MEMORY | SNAP_CREATE, &s), RC_OK);
	cr_assert_eq(snap_run_begin(s, "full", now, &run_id), RC_OK);
	cr_assert_eq(snap_stage_index(s), RC_OK);
	cr_assert_eq(snap_enr_wait(s), RC_OK);
}

static __attribute__((unused)) void snaptest_close(void)
{
	snap_close(s);
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
}

/* Runs `sql` with text parameters ?1..?n (NULL = SQL NULL). */
static __attribute__((unused)) void exec_n(const char *sql, int n, const char *const *v)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	cr_assert_not_null(st, "%s", sql);
	for (int i = 0; i < n; i++)
		snap_bind_text(st, i + 1, v[i], v[i] ? strlen(v[i]) : 0);
	cr_assert_eq(snap_step(st), 0, "%s", sql);
	snap_finalize(st);
}

#define EXEC(sql, ...) do { \
	const char *const v_[] = { __VA_ARGS__ }; \
	exec_n(sql, (int)(sizeof v_ / sizeof v_[0]), v_); \
} while (0)

/* The rows of `sql`, `ncols` columns joined by '|', NULL as '-', one line
 * each. Caller frees. */
static __attribute__((unused)) char *rows(const char *sql, int ncols)
{
	struct snap_stmt *st = snap_prepare(s, sql);
	struct buf b = BUF_INIT;
	cr_assert_not_null(st, "%s", sql);
	while (snap_step(st) == 1) {
		for (int i = 0; i < ncols; i++) {
			const char *v = snap_col_text(st, i);
			buf_addf(&b, "%s%s", i ? "|" : "", v ? v : "-");
		}
		buf_addch(&b, '\n');
	}
	snap_finalize(st);
	buf_addch(&b, '\0');
	return buf_detach(&b, NULL);
}

#define assert_rows(sql, ncols, want) do { \
	char *got_ = rows(sql, ncols); \
	cr_assert_str_eq(got_, want); \
	free(got_); \
} while (0)

#endif
