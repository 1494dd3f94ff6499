/* SPDX-License-Identifier: MIT */
/* emit_json: report/report.json, the machine-readable report (its shape is
 * documented in docs/report.md), in parts: emit_report streams its rows,
 * writing each to the CSV report too, so the changes of a large run are
 * read once and never sit in memory. */
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

void emit_json_head(FILE *f, const struct report_run *run, struct snap *s)
{
	struct buf b = BUF_INIT;
	struct snap_stmt *st;
	int n;

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
	buf_release(&b);
}

void emit_json_row(FILE *f, struct buf *b, int is_first, const char *const *keys,
		   const char *const *vals, size_t n)
{
	buf_reset(b);
	buf_adds(b, is_first ? "\n    {" : ",\n    {");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_add(b, ", ", 2);
		buf_addch(b, '"');
		buf_adds(b, keys[i]);
		buf_add(b, "\": ", 3);
		if (vals[i])
			buf_add_json_string(b, vals[i], strlen(vals[i]));
		else
			buf_add(b, "null", 4);
	}
	buf_addch(b, '}');
	fwrite(b->buf, 1, b->len, f);
}

void emit_json_changes(FILE *f)
{
	fputs("\n  ],\n  \"changes\": [", f);
}

void emit_json_tail(FILE *f)
{
	fputs("\n  ]\n}\n", f);
}
