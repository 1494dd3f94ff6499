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
