/* SPDX-License-Identifier: MIT */
/* emit_json: report/report.json, the machine-readable report (its shape is
 * documented in docs/report.md). Streamed row by row: the changes of a large
 * run never sit in memory. */
#include "emit_report.h"
#include "util.h"

#include <string.h>

static void put_str(FILE *f, struct buf *b, const char *s)
{
	buf_reset(b);
	if (s)
		buf_add_json_string(b, s, strlen(s));
	else
		buf_adds(b, "null");
	fwrite(b->buf, 1, b->len, f);
}

/* `"key": value` for a text value (NULL → null). */
static void put_kv(FILE *f, struct buf *b, const char *key, const char *val, int is_first)
{
	fprintf(f, "%s\"%s\": ", is_first ? "" : ", ", key);
	put_str(f, b, val);
}

static void put_source(FILE *f, struct buf *b, const struct job *j,
		       struct snap_stmt *st, int col)
{
	struct buf src = BUF_INIT;
	report_source(&src, j, st, col);
	fputs(", \"source\": ", f);
	put_str(f, b, src.len ? src.buf : NULL);
	buf_release(&src);
}

enum rc emit_report_json(const struct report_run *run, const struct job *j,
			 struct snap *s, struct emit_out *o)
{
	static const char *const change_cols[] = { "entity", "key", "action", "field", "before", "after" };
	static const char *const exc_cols[] = { "kind", "entity", "key", "candidates", "reason" };
	FILE *f = emit_out_open(o, "report/report.json");
	struct buf b = BUF_INIT;
	struct snap_stmt *st;
	int n;

	if (!f)
		return emit_out_rc(o);
	fputs("{\n  \"format\": \"lmsrecon-report-1\",\n  \"run\": {", f);
	if (run->id)
		fprintf(f, "\"id\": %lld", run->id);
	else
		fputs("\"id\": null", f);
	put_kv(f, &b, "mode", run->mode, 0);
	put_kv(f, &b, "time", run->now, 0);
	put_kv(f, &b, "job", run->job, 0);
	fprintf(f, ", \"bad_records\": %lu},\n  \"inputs\": [", run->nbad);
	st = report_inputs(s, run);
	for (n = 0; st && snap_step(st) == 1; n++) {
		fprintf(f, "%s\n    {", n ? "," : "");
		put_kv(f, &b, "entity", snap_col_text(st, 0), 1);
		put_kv(f, &b, "file", snap_col_text(st, 1), 0);
		fprintf(f, ", \"records\": %lld, \"bytes\": %lld", snap_col_int(st, 2),
			snap_col_int(st, 3));
		put_kv(f, &b, "sha256", snap_col_text(st, 4), 0);
		fputc('}', f);
	}
	snap_finalize(st);
	fputs("\n  ],\n  \"counts\": {\n    \"changes\": [", f);
	st = snap_prepare(s, "SELECT entity, action, records FROM stage.change_counts"
			  " ORDER BY entity, action");
	for (n = 0; st && snap_step(st) == 1; n++) {
		fprintf(f, "%s\n      {", n ? "," : "");
		put_kv(f, &b, "entity", snap_col_text(st, 0), 1);
		put_kv(f, &b, "action", snap_col_text(st, 1), 0);
		fprintf(f, ", \"records\": %lld}", snap_col_int(st, 2));
	}
	snap_finalize(st);
	fputs("\n    ],\n    \"exceptions\": [", f);
	st = snap_prepare(s, "SELECT kind, entity, count FROM stage.exception_counts"
			  " ORDER BY kind, entity");
	for (n = 0; st && snap_step(st) == 1; n++) {
		fprintf(f, "%s\n      {", n ? "," : "");
		put_kv(f, &b, "kind", snap_col_text(st, 0), 1);
		put_kv(f, &b, "entity", snap_col_text(st, 1), 0);
		fprintf(f, ", \"count\": %lld}", snap_col_int(st, 2));
	}
	snap_finalize(st);
	fputs("\n    ]\n  },\n  \"exceptions\": [", f);
	st = snap_prepare(s, "SELECT kind, entity, key, candidates, reason, src_file, src_line"
			  " FROM stage.report_exceptions ORDER BY rowid");
	for (n = 0; st && snap_step(st) == 1; n++) {
		fprintf(f, "%s\n    {", n ? "," : "");
		for (int c = 0; c < 5; c++)
			put_kv(f, &b, exc_cols[c], snap_col_text(st, c), c == 0);
		put_source(f, &b, j, st, 5);
		fputc('}', f);
	}
	snap_finalize(st);
	fputs("\n  ],\n  \"changes\": [", f);
	st = snap_prepare(s, "SELECT entity, key, action, field, before, after, src_file, src_line, rule"
			  " FROM stage.report_changes ORDER BY rowid");
	for (n = 0; st && snap_step(st) == 1; n++) {
		fprintf(f, "%s\n    {", n ? "," : "");
		for (int c = 0; c < 6; c++)
			put_kv(f, &b, change_cols[c], snap_col_text(st, c), c == 0);
		put_source(f, &b, j, st, 6);
		put_kv(f, &b, "rule", snap_col_text(st, 8), 0);
		fputc('}', f);
	}
	snap_finalize(st);
	fputs("\n  ]\n}\n", f);
	buf_release(&b);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}
