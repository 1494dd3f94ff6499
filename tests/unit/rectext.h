/* SPDX-License-Identifier: MIT */
/* rectext.h: a record as the ingest tests compare it, one line of text.
 * Include after criterion.h. */
#ifndef LMSRECON_TEST_RECTEXT_H
#define LMSRECON_TEST_RECTEXT_H

#include <string.h>

#include "ingest.h"
#include "util.h"

/* Appends "LINE:v1|v2\n" to `out`, "~" for an absent value, checking that
 * each value's length is the one given with it. */
static inline void rectext_add(struct buf *out, unsigned long line, const struct ingest_rec *rec)
{
	buf_addf(out, "%lu:", line);
	for (size_t k = 0; k < rec->n; k++) {
		if (k)
			buf_addch(out, '|');
		if (rec->vals[k]) {
			cr_assert_eq(strlen(rec->vals[k]), rec->lens[k]);
			buf_add(out, rec->vals[k], rec->lens[k]);
		} else {
			cr_assert_eq(rec->lens[k], 0);
			buf_addch(out, '~');
		}
	}
	buf_addch(out, '\n');
}

#endif
