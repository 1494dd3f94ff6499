/* SPDX-License-Identifier: MIT */
/* emit_csv: writes CSV rows (RFC 4180: comma, LF, a field quoted only when
 * it holds a comma, a quote, a line break or edge spaces). Report files
 * neutralise cells a spreadsheet would run as a formula; import files carry
 * the data as is. */
#ifndef LMSRECON_EMIT_CSV_H
#define LMSRECON_EMIT_CSV_H

#include <stddef.h>
#include <stdio.h>

enum emit_csv_mode {
	CSV_IMPORT,  /* data as is */
	CSV_REPORT,  /* a cell starting with = + - @ TAB or CR gets a leading ' */
};

/* Writes one row of n fields (NULL = empty) and a LF. */
void emit_csv_row(FILE *f, enum emit_csv_mode mode, const char *const *vals,
		  const size_t *lens, size_t n);

#endif
