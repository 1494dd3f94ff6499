/* SPDX-License-Identifier: MIT */
/* emit_csv: minimal-quoting CSV writer for import and report files. */
#include "emit_csv.h"

#include <string.h>

/* The bytes that make a field quoted wherever they are. */
static const unsigned char quoted_by[256] = { [','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1 };

static void put_field(FILE *f, enum emit_csv_mode mode, const char *v, size_t len)
{
	int is_formula = mode == CSV_REPORT && len &&
		strchr("=+-@\t\r", v[0]) != NULL;
	int needs_quote = is_formula || (len && (v[0] == ' ' || v[len - 1] == ' '));

	for (size_t i = 0; i < len && !needs_quote; i++)
		needs_quote = quoted_by[(unsigned char)v[i]];
	if (!needs_quote) {
		fwrite(v, 1, len, f);
		return;
	}
	putc('"', f);
	if (is_formula)
		putc('\'', f);
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"')
			putc('"', f);
		putc(v[i], f);
	}
	putc('"', f);
}

void emit_csv_row(FILE *f, enum emit_csv_mode mode, const char *const *vals,
		  const size_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			putc(',', f);
		if (vals[i])
			put_field(f, mode, vals[i], lens ? lens[i] : strlen(vals[i]));
	}
	putc('\n', f);
}
