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

static enum rc write_changes(const struct job *j, struct snap *s, struct emit_out *o)
{
	static const char *const hdr[] = { "entity", "key", "action", "field", "before",
					   "after", "source", "rule" };
	struct buf src = BUF_INIT;
	struct snap_stmt *st;
	FILE *f = emit_out_open(o, "report/changes.csv");

	if (!f)
		return emit_out_rc(o);
	emit_csv_row(f, CSV_REPORT, hdr, NULL, 8);
	st = snap_prepare(s, "SELECT entity, key, action, field, before, after, src_file, src_line, rule"
			  " FROM stage.report_changes ORDER BY rowid");
	while (st && snap_step(st) == 1) {
		const char *v[8];
		for (int i = 0; i < 6; i++)
			v[i] = snap_col_text(st, i);
		v[6] = report_source(&src, j, st, 6);
		v[7] = snap_col_text(st, 8);
		emit_csv_row(f, CSV_REPORT, v, NULL, 8);
	}
	snap_finalize(st);
	buf_release(&src);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}

static enum rc write_exceptions(const struct job *j, struct snap *s, struct emit_out *o)
{
	static const char *const hdr[] = { "kind", "entity", "key", "candidates", "reason", "source" };
	struct buf src = BUF_INIT;
	struct snap_stmt *st;
	FILE *f = emit_out_open(o, "report/exceptions.csv");

	if (!f)
		return emit_out_rc(o);
	emit_csv_row(f, CSV_REPORT, hdr, NULL, 6);
	st = snap_prepare(s, "SELECT kind, entity, key, candidates, reason, src_file, src_line"
			  " FROM stage.report_exceptions ORDER BY rowid");
	while (st && snap_step(st) == 1) {
		const char *v[6];
		for (int i = 0; i < 5; i++)
			v[i] = snap_col_text(st, i);
		v[5] = report_source(&src, j, st, 5);
		emit_csv_row(f, CSV_REPORT, v, NULL, 6);
	}
	snap_finalize(st);
	buf_release(&src);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}

enum rc emit_report(const struct report_run *run, const struct job *j,
		    struct snap *s, struct emit_out *o)
{
	FILE *f = emit_out_open(o, "report/summary.txt");
	enum rc rc;

	if (f)
		emit_report_summary(f, run, s);
	rc = snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
	if (rc == RC_OK)
		rc = write_changes(j, s, o);
	if (rc == RC_OK)
		rc = write_exceptions(j, s, o);
	if (rc == RC_OK)
		rc = emit_report_json(run, j, s, o);
	if (rc == RC_OK)
		rc = emit_report_html(run, j, s, o);
	return rc;
}
