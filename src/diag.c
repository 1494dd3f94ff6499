/* SPDX-License-Identifier: MIT */
/* diag: formats every message lmsrecon prints and counts bad records. */
#include "diag.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void diag_init(struct diag *d, FILE *out)
{
	memset(d, 0, sizeof *d);
	d->out = out;
	d->max_printed = 100;
}

void diag_release(struct diag *d)
{
	for (size_t i = 0; i < d->nbad_kept; i++) {
		free(d->bad[i].file);
		free(d->bad[i].msg);
	}
	free(d->bad);
	d->bad = NULL;
	d->nbad_kept = d->bad_alloc = 0;
}

static void put_pos(FILE *out, const struct srcpos *pos)
{
	if (!pos || !pos->file)
		return;
	fputs(pos->file, out);
	if (pos->line) {
		fprintf(out, ":%lu", pos->line);
		if (pos->col)
			fprintf(out, ":%lu", pos->col);
	}
	fputs(": ", out);
}

/* Hands a message to d->defer; returns what it returns. */
static enum rc defer_msg(struct diag *d, int is_bad, enum rc rc, const struct srcpos *pos,
			 const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);

	rc = d->defer(d->defer_ctx, is_bad, rc, pos, msg);
	free(msg);
	return rc;
}

enum rc diag_vat(struct diag *d, enum rc rc, const struct srcpos *pos,
		 const char *fmt, va_list ap)
{
	if (d->defer) {
		defer_msg(d, 0, rc, pos, fmt, ap);
		return rc;
	}
	fputs("lmsrecon: ", d->out);
	put_pos(d->out, pos);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
	fflush(d->out);
	return rc;
}

enum rc diag_at(struct diag *d, enum rc rc, const struct srcpos *pos,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vat(d, rc, pos, fmt, ap);
	va_end(ap);
	return rc;
}

enum rc diag_err(struct diag *d, enum rc rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vat(d, rc, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

void diag_warn(struct diag *d, const struct srcpos *pos, const char *fmt, ...)
{
	va_list ap;
	fputs("lmsrecon: ", d->out);
	put_pos(d->out, pos);
	fputs("warning: ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	fflush(d->out);
}

void diag_note(struct diag *d, const char *fmt, ...)
{
	va_list ap;
	fputs("lmsrecon: ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	fflush(d->out);
}

enum rc diag_bad_record(struct diag *d, const struct srcpos *pos,
			const char *fmt, ...)
{
	va_list ap;
	if (d->defer) {
		enum rc rc;

		va_start(ap, fmt);
		rc = defer_msg(d, 1, RC_DATA, pos, fmt, ap);
		va_end(ap);
		return rc;
	}
	d->nbad++;
	if (d->nprinted < d->max_printed) {
		va_start(ap, fmt);
		diag_vat(d, RC_DATA, pos, fmt, ap);
		va_end(ap);
		d->nprinted++;
	}
	/* Keep only as many as can reach the report: the run fails past that. */
	if (d->nbad_kept <= d->max_errors) {
		struct diag_record *r;
		if (d->nbad_kept == d->bad_alloc) {
			d->bad_alloc = d->bad_alloc ? 2 * d->bad_alloc : 16;
			d->bad = xreallocarray(d->bad, d->bad_alloc, sizeof *d->bad);
		}
		r = &d->bad[d->nbad_kept++];
		r->file = xstrdup(pos && pos->file ? pos->file : "");
		r->line = pos ? pos->line : 0;
		r->col = pos ? pos->col : 0;
		va_start(ap, fmt);
		r->msg = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return d->nbad > d->max_errors ? RC_DATA : RC_OK;
}

const char *diag_rc_name(enum rc rc)
{
	switch (rc) {
	case RC_OK: return "success";
	case RC_DRIFT: return "drift found, or exceptions with --fail-on-exceptions";
	case RC_USAGE: return "usage error";
	case RC_DATA: return "bad input data";
	case RC_NOINPUT: return "input file missing or unreadable";
	case RC_INTERNAL: return "internal error";
	case RC_OSERR: return "out of memory";
	case RC_CANTCREAT: return "cannot create output";
	case RC_IO: return "I/O error";
	case RC_BUSY: return "snapshot in use by another run";
	case RC_CONFIG: return "bad job file";
	}
	return "unknown";
}
