/* SPDX-License-Identifier: MIT */
/* rule_util: exception and change rows, field expressions. */
#include "rule_util.h"

#include <string.h>
#include <strings.h>

static void bind_opt(struct snap_stmt *st, int i, const char *v)
{
	if (v)
		snap_bind_text(st, i, v, strlen(v));
	else
		snap_bind_null(st, i);
}

static void bind_src(struct snap_stmt *st, int i, int src_file, unsigned long src_line)
{
	if (src_file >= 0)
		snap_bind_int(st, i, src_file);
	else
		snap_bind_null(st, i);
	if (src_line)
		snap_bind_int(st, i + 1, (long long)src_line);
	else
		snap_bind_null(st, i + 1);
}

enum rc rule_exception(struct snap *s, const char *kind, const char *entity,
		       const char *key, const char *candidates, const char *reason,
		       int src_file, unsigned long src_line)
{
	static const char sql[] =
		"INSERT INTO stage.exceptions (kind, entity, key, candidates, reason, src_file, src_line)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	struct snap_stmt *st = snap_prepare_cached(s, sql);
	if (!st)
		return snap_rc(s);
	bind_opt(st, 1, kind);
	bind_opt(st, 2, entity);
	bind_opt(st, 3, key);
	bind_opt(st, 4, candidates);
	bind_opt(st, 5, reason);
	bind_src(st, 6, src_file, src_line);
	snap_step(st);
	return snap_rc(s);
}

enum rc rule_change(struct snap *s, const char *entity, const char *key,
		    const char *action, const char *field, const char *before,
		    const char *after, int src_file, unsigned long src_line,
		    const char *rule)
{
	static const char sql[] =
		"INSERT INTO stage.changes (entity, key, action, field, before, after, src_file, src_line, rule)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	struct snap_stmt *st = snap_prepare_cached(s, sql);
	if (!st)
		return snap_rc(s);
	bind_opt(st, 1, entity);
	bind_opt(st, 2, key);
	bind_opt(st, 3, action);
	bind_opt(st, 4, field);
	bind_opt(st, 5, before);
	bind_opt(st, 6, after);
	bind_src(st, 7, src_file, src_line);
	bind_opt(st, 9, rule);
	snap_step(st);
	return snap_rc(s);
}

int rule_field_expr(struct buf *sql, const struct entity *e, const char *field)
{
	if (!name_is_plain(field))
		return -1;
	for (size_t i = 0; i < e->ncols; i++)
		if (strcasecmp(e->cols[i].key, field) == 0) {
			buf_addf(sql, "\"%s\"", e->cols[i].key);
			return 0;
		}
	if (!e->has_extra)
		return -1;
	buf_addf(sql, "json_extract(extra, '$.\"%s\"')", field);
	return 0;
}

/* The next row of `st` into r; 0 at the end, after which `st` is not
 * stepped again (*done): a finished statement stepped starts over. */
static int sweep_read(struct snap_stmt *st, int *done, struct rule_sweep_row *r)
{
	int ncols;

	if (*done || snap_step(st) != 1) {
		*done = 1;
		return 0;
	}
	buf_reset(&r->key);
	buf_add(&r->key, snap_col_text(st, 0), snap_col_len(st, 0));
	ncols = snap_col_count(st) - 1;
	for (int i = 0; i < RULE_SWEEP_COLS; i++) {
		r->is_null[i] = i >= ncols || snap_col_is_null(st, 1 + i);
		r->v[i] = r->is_null[i] ? 0 : snap_col_int(st, 1 + i);
	}
	return 1;
}

/* Byte order of two keys, as SQLite's BINARY collation sorts texts. */
static int sweep_cmp(const struct buf *a, const struct buf *b)
{
	int r = memcmp(a->buf, b->buf, a->len < b->len ? a->len : b->len);
	return r ? r : (a->len > b->len) - (a->len < b->len);
}

void rule_sweep(struct snap *s, struct snap_stmt *was, struct snap_stmt *now,
		void (*visit)(void *arg, const struct rule_sweep_row *w,
			      const struct rule_sweep_row *n),
		void *arg)
{
	struct rule_sweep_row a, a_next, b, t;
	int was_done = 0, now_done = 0, has_a, has_next, has_b;

	memset(&a, 0, sizeof a);
	memset(&a_next, 0, sizeof a_next);
	memset(&b, 0, sizeof b);
	buf_init(&a.key);
	buf_init(&a_next.key);
	buf_init(&b.key);
	has_a = sweep_read(was, &was_done, &a);
	has_next = has_a && sweep_read(was, &was_done, &a_next);
	has_b = sweep_read(now, &now_done, &b);
	while (snap_rc(s) == RC_OK && (has_a || has_b)) {
		int cmp = !has_a ? 1 : !has_b ? -1 : sweep_cmp(&a.key, &b.key);
		visit(arg, cmp <= 0 ? &a : NULL, cmp >= 0 ? &b : NULL);
		if (cmp >= 0)
			has_b = sweep_read(now, &now_done, &b);
		if (cmp <= 0) {
			t = a;
			a = a_next;
			a_next = t;
			has_a = has_next;
			has_next = has_a && sweep_read(was, &was_done, &a_next);
		}
	}
	buf_release(&a.key);
	buf_release(&a_next.key);
	buf_release(&b.key);
}

void rule_sweep_write(struct snap_stmt *st, int i, const struct buf *key)
{
	snap_bind_text(st, i, key->buf, key->len);
	snap_step(st);
	snap_reset(st);
}
