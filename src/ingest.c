/* SPDX-License-Identifier: MIT */
/* ingest: the readers' entry point; picks the CSV or the XML reader by the
 * kind the format profile gives. */
#include "ingest.h"

enum rc ingest_read(struct diag *d, const char *path, const char *name,
		    const struct ingest_fmt *fmt, const struct ingest_cols *cols,
		    ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	switch (fmt->kind) {
	case INGEST_CSV:
		return ingest_csv_read(d, path, name, fmt, cols, cb, ctx, st);
	case INGEST_XML:
		return ingest_xml_read(d, path, name, fmt, cols, cb, ctx, st);
	}
	return diag_err(d, RC_INTERNAL, "%s: unknown input kind %d", name, (int)fmt->kind);
}
