/* SPDX-License-Identifier: MIT */
/* emit_report: writes the report files from what the run staged and the
 * rules decided. */
#include "emit_report.h"
#include "emit_csv.h"
#include "util.h"

#include <string.h>

const char *report_source(struct buf *b, const struct job *j,
			  struct snap_stmt *st, int file_col)
{
	buf_reset(b);
	if (!snap_col_is_null(st, file_col)) {
		long long f = snap_col_int(st, file_col);
		if (f >= 0 && (size_t)f < j->ninputs)
			buf_adds(b, j->inputs[f].name);
		if (!snap_col_is_null(st, file_col + 1))
			buf_addf(b, ":%lld", snap_col_int(st, file_col + 1));
	}
	return b->buf;
}

struct snap_stmt *report_inputs(struct snap *s, const struct report_run *run)
{
	struct snap_stmt *st = snap_prepare(s, "SELECT entity, name, nrecords, bytes, sha256"
					    " FROM run_inputs WHERE run_id = ?1 ORDER BY rowid");
	if (st)
		snap_bind_int(st, 1, run->row);
	return st;
}

void emit_report_summary(FILE *out, const struct report_run *run, struct snap *s)
{
	unsigned long total = 0;
	struct snap_stmt *st;

	fprintf(out, "lmsrecon summary\n");
	fprintf(out, "job:   %s\n", run->job);
	if (run->id)
		fprintf(out, "run:   %lld (%s)\n", run->id, run->mode);
	else
		fprintf(out, "run:   none (%s)\n", run->mode);
	if (run->now)
		fprintf(out, "time:  %s\n", run->now);
	fprintf(out, "\ninputs:\n");
	fprintf(out, "  %-18s %-32s %10s  %s\n", "entity", "file", "records", "sha256");
	st = report_inputs(s, run);
	while (st && snap_step(st) == 1) {
		fprintf(out, "  %-18s %-32s %10lld  %s\n", snap_col_text(st, 0),
			snap_col_text(st, 1), snap_col_int(st, 2), snap_col_text(st, 4));
		total += (unsigned long)snap_col_int(st, 2);
	}
	snap_finalize(st);
	fprintf(out, "\nrecords staged: %lu\n", total);
	fprintf(out, "bad records skipped: %lu\n", run->nbad);

	fprintf(out, "\nchanges (records per target and action):\n");
	st = snap_prepare(s, "SELECT entity, action, records FROM stage.change_counts"
			  " ORDER BY entity, action");
	total = 0;
	while (st && snap_step(st) == 1) {
		fprintf(out, "  %-36s %-16s %8lld\n", snap_col_text(st, 0), snap_col_text(st, 1),
			snap_col_int(st, 2));
		total++;
	}
	snap_finalize(st);
	if (!total)
		fprintf(out, "  none\n");

	fprintf(out, "\nexceptions by kind:\n");
	st = snap_prepare(s, "SELECT kind, entity, count FROM stage.exception_counts"
			  " ORDER BY kind, entity");
	total = 0;
	while (st && snap_step(st) == 1) {
		fprintf(out, "  %-36s %-16s %8lld\n", snap_col_text(st, 0), snap_col_text(st, 1),
			snap_col_int(st, 2));
		total++;
	}
	snap_finalize(st);
	if (!total)
		fprintf(out, "  none\n");
}

/* The columns of changes.csv, the wider of the two report CSV files. */
#define REPORT_MAX_COLS 8

/* The rows of changes.csv and of report.json's changes, or of
 * exceptions.csv and report.json's exceptions: one read of the rules'
 * table for both files (the changes of a full run at a million contacts
 * are 4.5 million rows). `sql` selects `ncols` text columns, then
 * src_file and src_line, then `nafter` more text columns; `cols` names
 * them all in the files' order, with "source" in between. */
static void write_rows(const struct job *j, struct snap *s, const char *sql,
		       const char *const *cols, size_t ncols, size_t nafter,
		       FILE *csv, FILE *json)
{
	struct buf src = BUF_INIT, row = BUF_INIT;
	struct snap_stmt *st;
	const char *v[REPORT_MAX_COLS];
	size_t n = ncols + 1 + nafter;
	int is_first = 1;

	emit_csv_row(csv, CSV_REPORT, cols, NULL, n);
	st = snap_prepare(s, sql);
	while (st && snap_step(st) == 1) {
		for (size_t i = 0; i < ncols; i++)
			v[i] = snap_col_text(st, (int)i);
		v[ncols] = report_source(&src, j, st, (int)ncols);
		for (size_t i = 0; i < nafter; i++)
			v[ncols + 1 + i] = snap_col_text(st, (int)(ncols + 2 + i));
		emit_csv_row(csv, CSV_REPORT, v, NULL, n);
		/* In JSON a row with no source says null. */
		if (!src.len)
			v[ncols] = NULL;
		emit_json_row(json, &row, is_first, cols, v, n);
		is_first = 0;
	}
	snap_finalize(st);
	buf_release(&src);
	buf_release(&row);
}

enum rc emit_report(const struct report_run *run, const struct job *j,
		    struct snap *s, struct emit_out *o)
{
	static const char *const change_cols[] = { "entity", "key", "action", "field", "before",
						   "after", "source", "rule" };
	static const char *const exc_cols[] = { "kind", "entity", "key", "candidates", "reason",
						"source" };
	FILE *f = emit_out_open(o, "report/summary.txt");
	FILE *changes, *exceptions, *json;
	enum rc rc;

	if (f)
		emit_report_summary(f, run, s);
	changes = emit_out_open(o, "report/changes.csv");
	exceptions = emit_out_open(o, "report/exceptions.csv");
	json = emit_out_open(o, "report/report.json");
	/* A file that cannot be opened has been reported (emit_out_rc). */
	rc = snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
	if (rc != RC_OK)
		return rc;
	emit_json_head(json, run, s);
	write_rows(j, s, "SELECT kind, entity, key, candidates, reason, src_file, src_line"
		   " FROM stage.report_exceptions ORDER BY rowid", exc_cols, 5, 0, exceptions, json);
	emit_json_changes(json);
	write_rows(j, s, "SELECT entity, key, action, field, before, after, src_file, src_line,"
		   " rule FROM stage.report_changes ORDER BY rowid", change_cols, 6, 1, changes, json);
	emit_json_tail(json);
	rc = snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
	if (rc == RC_OK)
		rc = emit_report_html(run, j, s, o);
	return rc;
}
