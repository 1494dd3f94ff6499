/* SPDX-License-Identifier: MIT */
/* Tests for emit_csv: which fields are quoted, how quotes inside are
 * doubled, and the report files' formula guard. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_csv.h"

/* The row of `n` fields as written in `mode`. */
static void check_row(enum emit_csv_mode mode, const char *const *vals, size_t n,
		      const char *want)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert(f != NULL);
	emit_csv_row(f, mode, vals, NULL, n);
	cr_assert_eq(fclose(f), 0);
	cr_expect_str_eq(out, want);
	free(out);
}

/* One field, in `mode`. */
static void check_field(enum emit_csv_mode mode, const char *v, const char *want)
{
	const char *vals[] = { v };

	check_row(mode, vals, 1, want);
}

Test(emit_csv, plain_fields_are_written_as_they_are)
{
	const char *vals[] = { "a", NULL, "", "x y", "caf\xc3\xa9" };

	check_row(CSV_IMPORT, vals, 5, "a,,,x y,caf\xc3\xa9\n");
}

Test(emit_csv, a_comma_quote_or_line_break_anywhere_quotes_the_field)
{
	check_field(CSV_IMPORT, "Nowak, Jr.", "\"Nowak, Jr.\"\n");
	check_field(CSV_IMPORT, "say \"hi\"", "\"say \"\"hi\"\"\"\n");
	check_field(CSV_IMPORT, "two\nlines", "\"two\nlines\"\n");
	check_field(CSV_IMPORT, "two\r\nlines", "\"two\r\nlines\"\n");
	check_field(CSV_IMPORT, "end,", "\"end,\"\n");
	check_field(CSV_IMPORT, "\"", "\"\"\"\"\n");
}

Test(emit_csv, edge_spaces_quote_the_field)
{
	check_field(CSV_IMPORT, " lead", "\" lead\"\n");
	check_field(CSV_IMPORT, "trail ", "\"trail \"\n");
	/* Other bytes, a tab or a semicolon inside, do not. */
	check_field(CSV_IMPORT, "a\tb;c", "a\tb;c\n");
}

Test(emit_csv, report_cells_a_spreadsheet_would_run_get_a_leading_quote)
{
	check_field(CSV_REPORT, "=1+1", "\"'=1+1\"\n");
	check_field(CSV_REPORT, "-3", "\"'-3\"\n");
	check_field(CSV_REPORT, "@SUM(A1)", "\"'@SUM(A1)\"\n");
	check_field(CSV_REPORT, "a=b", "a=b\n");
	/* An import file carries the data as it is. */
	check_field(CSV_IMPORT, "=1+1", "=1+1\n");
}
