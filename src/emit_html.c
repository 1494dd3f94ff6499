/* SPDX-License-Identifier: MIT */
/* emit_html: report/report.html, one self-contained page for an auditor:
 * no script, no network, inline CSS and an SVG chart of the counts, the
 * exceptions before the changes, readable on screen and printable. */
#include "emit_report.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Rows of each table shown in the page; the CSV files hold them all. */
#define HTML_MAX_ROWS 5000

static const char css[] =
	"body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;"
	"color:#1d2733;margin:0;background:#f4f6f8}"
	"main{max-width:1180px;margin:0 auto;padding:28px 32px 48px;background:#fff}"
	"h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;"
	"border-bottom:2px solid #d8dee4;padding-bottom:4px}"
	".meta{color:#57606a;margin:0 0 20px}.meta b{color:#1d2733}"
	".cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}"
	".card{flex:1 1 160px;border:1px solid #d8dee4;border-radius:6px;padding:10px 14px}"
	".card .n{font-size:26px;font-weight:600}.card .l{color:#57606a;font-size:12px;"
	"text-transform:uppercase;letter-spacing:.04em}"
	".card.warn .n{color:#b35900}.card.ok .n{color:#1a7f37}"
	"table{border-collapse:collapse;width:100%;font-size:12.5px}"
	"th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e5e9ed;vertical-align:top}"
	"th{background:#eef1f4;position:sticky;top:0}tr:nth-child(even) td{background:#fafbfc}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px}"
	".kind{font-weight:600;color:#b35900}.none{color:#57606a;font-style:italic}"
	".note{color:#57606a;font-size:12px;margin:6px 0}"
	"td.wrap{word-break:break-all;max-width:340px}"
	"@media print{body{background:#fff}main{padding:0;max-width:none}th{position:static}"
	"h2{break-after:avoid}tr{break-inside:avoid}.cards{break-inside:avoid}}";

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void td(FILE *f, const char *cls, const char *s)
{
	fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	esc(f, s);
	fputs("</td>", f);
}

/* One bar of the chart. */
struct bar {
	char *label;     /* owned */
	long long n;
	int is_exception;
};

/* A horizontal bar chart of the counts, as inline SVG. */
static void chart(FILE *f, struct bar *bars, size_t nbars)
{
	long long max = 1;
	const int row = 24, label_w = 300, bar_w = 520;
	int h = (int)nbars * row + 30;

	for (size_t i = 0; i < nbars; i++)
		if (bars[i].n > max)
			max = bars[i].n;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"%d\" height=\"%d\""
		" viewBox=\"0 0 %d %d\" aria-label=\"counts of changes and exceptions\">",
		label_w + bar_w + 80, h, label_w + bar_w + 80, h);
	for (size_t i = 0; i < nbars; i++) {
		int y = (int)i * row + 4;
		int w = (int)((double)bars[i].n / (double)max * bar_w);
		if (w < 2)
			w = 2;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"12\" fill=\"#1d2733\">",
			label_w - 8, y + 15);
		esc(f, bars[i].label);
		fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" rx=\"3\" fill=\"%s\"/>",
			label_w, y + 2, w, bars[i].is_exception ? "#e08a2e" : "#3b7dd8");
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#1d2733\">%lld</text>",
			label_w + w + 6, y + 15, bars[i].n);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#57606a\">blue: records changed per"
		" target and action; orange: exceptions per kind</text></svg>", label_w, h - 6);
}

static size_t collect_bars(struct snap *s, struct bar **out, long long *nchanges, long long *nexc)
{
	struct snap_stmt *st;
	size_t n = 0;

	*out = NULL;
	*nchanges = *nexc = 0;
	st = snap_prepare(s, "SELECT entity || ' ' || action, records FROM stage.change_counts"
			  " ORDER BY entity, action");
	while (st && snap_step(st) == 1) {
		*out = xreallocarray(*out, n + 1, sizeof **out);
		(*out)[n].label = xstrdup(snap_col_text(st, 0));
		(*out)[n].n = snap_col_int(st, 1);
		(*out)[n].is_exception = 0;
		*nchanges += (*out)[n++].n;
	}
	snap_finalize(st);
	st = snap_prepare(s, "SELECT kind, sum(count) FROM stage.exception_counts GROUP BY kind ORDER BY kind");
	while (st && snap_step(st) == 1) {
		*out = xreallocarray(*out, n + 1, sizeof **out);
		(*out)[n].label = xstrdup(snap_col_text(st, 0));
		(*out)[n].n = snap_col_int(st, 1);
		(*out)[n].is_exception = 1;
		*nexc += (*out)[n++].n;
	}
	snap_finalize(st);
	return n;
}

enum rc emit_report_html(const struct report_run *run, const struct job *j,
			 struct snap *s, struct emit_out *o)
{
	FILE *f = emit_out_open(o, "report/report.html");
	struct buf src = BUF_INIT;
	struct snap_stmt *st;
	struct bar *bars;
	size_t nbars;
	long long nchanges, nexc, nrows, total;
	unsigned long nrecords = 0;
	char num[32];

	if (!f)
		return emit_out_rc(o);
	st = report_inputs(s, run);
	while (st && snap_step(st) == 1)
		nrecords += (unsigned long)snap_col_int(st, 2);
	snap_finalize(st);
	nbars = collect_bars(s, &bars, &nchanges, &nexc);

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	      "<title>lmsrecon report</title><style>", f);
	fputs(css, f);
	fputs("</style></head><body><main>\n<h1>Reconciliation report</h1>\n<p class=\"meta\">Job <b>", f);
	esc(f, run->job);
	fputs("</b> &middot; ", f);
	if (run->id)
		fprintf(f, "run <b>%lld</b> ", run->id);
	else
		fputs("<b>no run recorded</b> ", f);
	fputs("(", f);
	esc(f, run->mode);
	fputs(")", f);
	if (run->now) {
		fputs(" &middot; ", f);
		esc(f, run->now);
	}
	fputs("</p>\n<div class=\"cards\">", f);
	fprintf(f, "<div class=\"card\"><div class=\"n\">%lu</div><div class=\"l\">records read</div></div>", nrecords);
	fprintf(f, "<div class=\"card\"><div class=\"n\">%lld</div><div class=\"l\">records changed</div></div>", nchanges);
	fprintf(f, "<div class=\"card %s\"><div class=\"n\">%lld</div><div class=\"l\">exceptions</div></div>",
		nexc ? "warn" : "ok", nexc);
	fprintf(f, "<div class=\"card %s\"><div class=\"n\">%lu</div><div class=\"l\">bad records skipped</div></div>",
		run->nbad ? "warn" : "ok", run->nbad);
	fputs("</div>\n<h2>Counts</h2>\n", f);
	if (nbars)
		chart(f, bars, nbars);
	else
		fputs("<p class=\"none\">No change and no exception: the two systems agree.</p>", f);
	for (size_t i = 0; i < nbars; i++)
		free(bars[i].label);
	free(bars);

	total = snap_query_int(s, "SELECT coalesce(sum(count), 0) FROM stage.exception_counts");
	fprintf(f, "\n<h2>Exceptions (%lld)</h2>\n", total);
	if (!total) {
		fputs("<p class=\"none\">None.</p>", f);
	} else {
		fputs("<table><thead><tr><th>kind</th><th>entity</th><th>key</th><th>candidates</th>"
		      "<th>reason</th><th>source</th></tr></thead><tbody>\n", f);
		st = snap_prepare(s, "SELECT kind, entity, key, candidates, reason, src_file, src_line"
				  " FROM stage.report_exceptions ORDER BY rowid");
		for (nrows = 0; st && snap_step(st) == 1 && nrows < HTML_MAX_ROWS; nrows++) {
			fputs("<tr>", f);
			td(f, "kind", snap_col_text(st, 0));
			td(f, NULL, snap_col_text(st, 1));
			td(f, "mono", snap_col_text(st, 2));
			td(f, "mono wrap", snap_col_text(st, 3));
			td(f, NULL, snap_col_text(st, 4));
			td(f, "mono", report_source(&src, j, st, 5));
			fputs("</tr>\n", f);
		}
		snap_finalize(st);
		fputs("</tbody></table>\n", f);
		if (total > HTML_MAX_ROWS)
			fprintf(f, "<p class=\"note\">The first %d of %lld; report/exceptions.csv holds them all.</p>",
				HTML_MAX_ROWS, total);
	}

	total = snap_query_int(s, "SELECT count(*) FROM stage.report_changes");
	fprintf(f, "\n<h2>Changes (%lld)</h2>\n", total);
	if (!total) {
		fputs("<p class=\"none\">None.</p>", f);
	} else {
		fputs("<table><thead><tr><th>entity</th><th>key</th><th>action</th><th>field</th>"
		      "<th>before</th><th>after</th><th>source</th><th>rule</th></tr></thead><tbody>\n", f);
		st = snap_prepare(s, "SELECT entity, key, action, field, before, after, src_file, src_line, rule"
				  " FROM stage.report_changes ORDER BY rowid");
		for (nrows = 0; st && snap_step(st) == 1 && nrows < HTML_MAX_ROWS; nrows++) {
			fputs("<tr>", f);
			td(f, NULL, snap_col_text(st, 0));
			td(f, "mono wrap", snap_col_text(st, 1));
			td(f, NULL, snap_col_text(st, 2));
			td(f, NULL, snap_col_text(st, 3));
			td(f, "wrap", snap_col_text(st, 4));
			td(f, "wrap", snap_col_text(st, 5));
			td(f, "mono", report_source(&src, j, st, 6));
			td(f, NULL, snap_col_text(st, 8));
			fputs("</tr>\n", f);
		}
		snap_finalize(st);
		fputs("</tbody></table>\n", f);
		if (total > HTML_MAX_ROWS)
			fprintf(f, "<p class=\"note\">The first %d of %lld; report/changes.csv holds them all.</p>",
				HTML_MAX_ROWS, total);
	}

	fputs("\n<h2>Inputs</h2>\n<table><thead><tr><th>entity</th><th>file</th><th>records</th>"
	      "<th>SHA-256</th></tr></thead><tbody>\n", f);
	st = report_inputs(s, run);
	while (st && snap_step(st) == 1) {
		fputs("<tr>", f);
		td(f, NULL, snap_col_text(st, 0));
		td(f, "mono", snap_col_text(st, 1));
		snprintf(num, sizeof num, "%lld", snap_col_int(st, 2));
		td(f, "num", num);
		td(f, "mono", snap_col_text(st, 4));
		fputs("</tr>\n", f);
	}
	snap_finalize(st);
	fputs("</tbody></table>\n<p class=\"note\">Written by lmsrecon. The import files and"
	      " report/changes.csv, report/exceptions.csv and report/report.json carry every row.</p>\n"
	      "</main></body></html>\n", f);
	buf_release(&src);
	return snap_rc(s) != RC_OK ? snap_rc(s) : emit_out_rc(o);
}
