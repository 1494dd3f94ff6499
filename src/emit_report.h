/* SPDX-License-Identifier: MIT */
/* emit_report: the report files of a run (SPEC §6): summary.txt,
 * changes.csv and exceptions.csv, read from the rules' tables. */
#ifndef LMSRECON_EMIT_REPORT_H
#define LMSRECON_EMIT_REPORT_H

#include <stdio.h>
#include "diag.h"
#include "emit_out.h"
#include "job.h"
#include "snap.h"
#include "util.h"

/* Facts about the run that the report states. */
struct report_run {
	long long id;          /* run id; 0 for plan and audit, which record no run */
	long long row;         /* the run's row in the snapshot's run tables (uncommitted
				  for plan and audit): where its inputs are listed */
	const char *mode;      /* "full", "incremental", "plan" */
	const char *now;       /* ISO time when given by --now/SOURCE_DATE_EPOCH, else NULL */
	const char *job;       /* job file as given */
	unsigned long nbad;    /* bad records skipped */
};

/* Writes summary.txt's text to `out`. */
void emit_report_summary(FILE *out, const struct report_run *run, struct snap *s);

/* The inputs of the run, as the snapshot recorded them: a statement whose
 * rows are entity, file, records, bytes, sha256, in job order. Caller
 * finalizes. */
struct snap_stmt *report_inputs(struct snap *s, const struct report_run *run);

/* "FILE:LINE" of the source of the current row of `st`, whose columns
 * file_col and file_col + 1 hold src_file and src_line; in `b`, returned
 * (empty when the row comes from no input). */
const char *report_source(struct buf *b, const struct job *j,
			  struct snap_stmt *st, int file_col);

/* report/report.json (emit_json.c), written in order: the head (run,
 * inputs, counts) up to the exceptions' array, the exception rows, the
 * start of the changes' array, the change rows, the tail. */
void emit_json_head(FILE *f, const struct report_run *run, struct snap *s);
/* One row: an object of `n` text values (NULL → null) under `keys`, in
 * their order, built in `b`; `is_first` for the first of its array. */
void emit_json_row(FILE *f, struct buf *b, int is_first, const char *const *keys,
		   const char *const *vals, size_t n);
void emit_json_changes(FILE *f);
void emit_json_tail(FILE *f);

/* report/report.html (emit_html.c). */
enum rc emit_report_html(const struct report_run *run, const struct job *j, struct snap *s, struct emit_out *o);

/* Writes every report file: summary.txt, changes.csv, exceptions.csv,
 * report.json and report.html. */
enum rc emit_report(const struct report_run *run, const struct job *j, struct snap *s, struct emit_out *o);

#endif
