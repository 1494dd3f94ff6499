/* SPDX-License-Identifier: MIT */
/* snap_stage: loads the records of a run's inputs into the staging tables
 * of the scratch database `stage` (one table per entity, created from
 * src/snap_schema.sql by snap_run_begin) and indexes them for the rules. */
#include "snap.h"
#include "snap_int.h"
#include "util.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The prepared insert into one staging table. */
struct snap_stage {
	struct snap *s;          /* borrowed */
	const struct entity *e;  /* entity staged; static */
	int src_file;            /* index of the input in the job, stored with each row */
	sqlite3 *db;             /* the connection it goes through (snap_enr_stage_db); borrowed */
	sqlite3_stmt *ins;       /* INSERT INTO stage.<table> or enr.<table>; owned */
	struct buf num;          /* NUL-terminated copy of a number for strtod, reused */
};

void snap_set_stage_path(struct snap *s, const char *path)
{
	free(s->stage_path);
	s->stage_path = path ? xstrdup(path) : NULL;
}

enum rc snap_stage_open(struct snap *s, const struct entity *e, int src_file,
			struct snap_stage **out)
{
	struct buf sql = BUF_INIT;
	struct snap_stage *st;
	const char *schema;
	sqlite3 *db;
	size_t nparams;
	int r;

	*out = NULL;
	if (s->rc != RC_OK)
		return s->rc;
	if (!s->is_attached)
		return snap_fail_msg(s, RC_INTERNAL, "no run in progress to stage '%s' into", e->name);
	if (!(db = snap_enr_stage_db(s, e, &schema)))
		return s->rc;
	/* Identifiers cannot be bound, so the statement names the table and
	 * its columns in the text. They come from the static entity table of
	 * src/entity.c, never from an input or the job file; the values are
	 * all bound. */
	buf_init(&sql);
	buf_addf(&sql, "INSERT INTO %s.\"%s\" (src_file, src_line", schema, e->table);
	for (size_t i = 0; i < e->ncols; i++)
		buf_addf(&sql, ", \"%s\"", e->cols[i].key);
	if (e->has_extra)
		buf_adds(&sql, ", extra");
	buf_adds(&sql, ") VALUES (?");
	nparams = 2 + e->ncols + (e->has_extra ? 1 : 0);
	for (size_t i = 1; i < nparams; i++)
		buf_adds(&sql, ", ?");
	buf_addch(&sql, ')');

	st = xcalloc(1, sizeof *st);
	st->s = s;
	st->e = e;
	st->src_file = src_file;
	st->db = db;
	buf_init(&st->num);
	r = sqlite3_prepare_v3(db, sql.buf, (int)sql.len, SQLITE_PREPARE_PERSISTENT,
			       &st->ins, NULL);
	if (r != SQLITE_OK) {
		snap_fail_db(s, db, r, sql.buf);
		buf_release(&sql);
		snap_stage_close(st);
		return s->rc;
	}
	buf_release(&sql);
	*out = st;
	return RC_OK;
}

/* Binds a COL_NUMBER value as a double; text that is not a finite number
 * (the loader lets none through) is kept as text rather than lost. */
static int bind_number(struct snap_stage *st, int i, const char *v, size_t len)
{
	char *end;
	double x;

	buf_reset(&st->num);
	buf_add(&st->num, v, len);
	x = strtod(st->num.buf, &end);
	if (len > 0 && *end == '\0' && isfinite(x))
		return sqlite3_bind_double(st->ins, i, x);
	return sqlite3_bind_text(st->ins, i, v, (int)len, SQLITE_STATIC);
}

enum rc snap_stage_row(struct snap_stage *st, unsigned long src_line,
		       const char *const *vals, const size_t *lens,
		       const char *extra, size_t extra_len)
{
	struct snap *s = st->s;
	const struct entity *e = st->e;
	int p = 3, r = SQLITE_OK;

	if (s->rc != RC_OK)
		return s->rc;
	/* The values are bound SQLITE_STATIC: they stay valid until the step
	 * below, and every parameter is bound again for the next row. */
	sqlite3_bind_int(st->ins, 1, st->src_file);
	sqlite3_bind_int64(st->ins, 2, (sqlite3_int64)src_line);
	for (size_t c = 0; c < e->ncols && r == SQLITE_OK; c++, p++) {
		const char *v = vals[c];
		size_t len = v ? (lens ? lens[c] : strlen(v)) : 0;
		if (len > 0x7fffffff) {
			return snap_fail_msg(s, RC_DATA, "a value of %zu bytes in '%s' is too long",
					     len, e->name);
		} else if (!v) {
			r = sqlite3_bind_null(st->ins, p);
		} else if (e->cols[c].type == COL_BOOL && len == 1 && (*v == '0' || *v == '1')) {
			r = sqlite3_bind_int(st->ins, p, *v - '0');
		} else if (e->cols[c].type == COL_NUMBER) {
			r = bind_number(st, p, v, len);
		} else {
			r = sqlite3_bind_text(st->ins, p, v, (int)len, SQLITE_STATIC);
		}
	}
	if (r == SQLITE_OK && e->has_extra) {
		if (!extra)
			r = sqlite3_bind_null(st->ins, p);
		else if (extra_len > 0x7fffffff)
			return snap_fail_msg(s, RC_DATA, "extra fields of %zu bytes in '%s' are too long",
					     extra_len, e->name);
		else
			r = sqlite3_bind_text(st->ins, p, extra, (int)extra_len, SQLITE_STATIC);
	}
	if (r == SQLITE_OK && (r = sqlite3_step(st->ins)) == SQLITE_DONE) {
		sqlite3_reset(st->ins);
		return RC_OK;
	}
	snap_fail_db(s, st->db, r, sqlite3_sql(st->ins));
	sqlite3_reset(st->ins);
	return s->rc;
}

enum rc snap_stage_close(struct snap_stage *st)
{
	enum rc rc;

	if (!st)
		return RC_OK;
	rc = st->s->rc;
	sqlite3_finalize(st->ins);
	/* The enrollments' stage commits input by input: what is staged is
	 * there for the run's connection to read. */
	if (st->db != st->s->db && !sqlite3_get_autocommit(st->db)) {
		int r = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
		if (r != SQLITE_OK && rc == RC_OK)
			rc = snap_fail_db(st->s, st->db, r, "COMMIT");
	}
	buf_release(&st->num);
	free(st);
	return rc;
}

enum rc snap_stage_index(struct snap *s)
{
	const char *sql;
	size_t len;

	if (s->rc != RC_OK)
		return s->rc;
	if (!s->is_attached)
		return snap_fail_msg(s, RC_INTERNAL, "no run in progress to index");
	/* First: the enrollments' index is built alongside the stage's. */
	if (snap_enr_index(s) != RC_OK)
		return s->rc;
	if (snap_schema_section("stage-index", &sql, &len) != 0)
		return snap_fail_msg(s, RC_INTERNAL, "the compiled-in schema has no staging indexes");
	if (snap_exec_n(s, sql, len) != RC_OK)
		return s->rc;
	/* Statistics, from a sample of each index (cheap at any size): without
	 * them the planner guesses, and may scan a whole table per look-up. */
	return snap_exec(s, "PRAGMA analysis_limit = 400; ANALYZE stage");
}
