/* SPDX-License-Identifier: MIT */
/* Tests of value.c: Salesforce ids, ISO 8601 dates and profile date
 * layouts, booleans, numbers and UTF-8 checks. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

#define CORPORA "../shared/corpora"

/* value_sfid18 on a NUL-terminated string. */
static int sfid(const char *s, char out[19])
{
	return value_sfid18(s, strlen(s), out);
}

/* Real 18-character ids from Salesforce Data Loader sample exports
 * (corpora/sf-dataloader), covering several suffixes. */
static const char *const real_ids[] = {
	"001x0000002lBtmAAE", "001x0000002xLCAAA2", "001x0000002xLCaAAM",
	"001x0000002rlXpAAI", "005x0000000fNSiAAM", "006x0000001YZ8YAAW",
	"006x0000001YnVNAA0", "006x0000001YtwJAAS", "006x0000001YuG5AAK",
};

Test(value_sfid, suffix_of_real_ids_is_recomputed_from_15_characters)
{
	for (size_t i = 0; i < sizeof real_ids / sizeof real_ids[0]; i++) {
		char out[19];
		cr_assert_eq(value_sfid18(real_ids[i], 15, out), 0, "%s", real_ids[i]);
		cr_assert_str_eq(out, real_ids[i]);
	}
}

Test(value_sfid, real_18_character_ids_are_accepted_unchanged)
{
	for (size_t i = 0; i < sizeof real_ids / sizeof real_ids[0]; i++) {
		char out[19];
		cr_assert_eq(sfid(real_ids[i], out), 0, "%s", real_ids[i]);
		cr_assert_str_eq(out, real_ids[i]);
	}
}

Test(value_sfid, upper_case_in_every_chunk_sets_the_matching_bits)
{
	char out[19];

	/* Chunk bits: all five upper case = 31 -> '5'; none -> 'A';
	 * only the first character -> 1 -> 'B'; only the last -> 16 -> 'Q'. */
	cr_assert_eq(sfid("ABCDEabcdeABCDE", out), 0);
	cr_assert_str_eq(out, "ABCDEabcdeABCDE5A5");
	cr_assert_eq(sfid("A000000000z000Z", out), 0);
	cr_assert_str_eq(out, "A000000000z000ZBAQ");
	cr_assert_eq(sfid("0a0B00000000000", out), 0);
	cr_assert_str_eq(out, "0a0B00000000000IAA");
}

Test(value_sfid, every_id_of_the_data_loader_account_sample_checks)
{
	FILE *f = fopen(CORPORA "/sf-dataloader/samples/data/accountData.csv", "rb");
	char line[8192];
	size_t nids = 0;

	if (!f)
		cr_skip_test("corpora not available");
	while (fgets(line, sizeof line, f)) {
		/* Every field is quoted; look at each quoted 18-character token. */
		for (char *p = line; (p = strchr(p, '"')) != NULL;) {
			char *q = strchr(p + 1, '"');
			char out[19];
			if (!q)
				break;
			if (q - p - 1 == 18 && strncmp(p + 1, "001", 3) == 0) {
				cr_assert_eq(value_sfid18(p + 1, 15, out), 0);
				cr_assert_eq(memcmp(out, p + 1, 18), 0, "%.18s -> %s", p + 1, out);
				cr_assert_eq(value_sfid18(p + 1, 18, out), 0);
				nids++;
			}
			p = q + 1;
		}
	}
	fclose(f);
	cr_assert_gt(nids, 100);
}

Test(value_sfid, wrong_suffix_length_or_characters_are_rejected)
{
	char out[19];

	cr_assert_eq(sfid("001x0000002lBtmAAA", out), -1); /* suffix of another id */
	cr_assert_eq(sfid("001x0000002lBtmaae", out), -1); /* suffix case-folded */
	cr_assert_eq(sfid("001X0000002lBtmAAE", out), -1); /* id case changed */
	cr_assert_eq(sfid("001x0000002lBt", out), -1);     /* 14 */
	cr_assert_eq(sfid("001x0000002lBtmA", out), -1);   /* 16 */
	cr_assert_eq(sfid("001x0000002lBtmAAEA", out), -1);/* 19 */
	cr_assert_eq(sfid("", out), -1);
	cr_assert_eq(sfid("001x0000002lBt-", out), -1);
	cr_assert_eq(sfid("001x0000002lBt ", out), -1);
	cr_assert_eq(sfid("001x000000\xc3\xa9lBt", out), -1);
	cr_assert_eq(value_sfid18("001x0000002lB\0m", 15, out), -1);
}

Test(value_sfid, reads_only_len_bytes)
{
	char out[19];

	/* The text goes on past the id: only the first 15 bytes are the id. */
	cr_assert_eq(value_sfid18("001x0000002lBtmXYZ,more", 15, out), 0);
	cr_assert_str_eq(out, "001x0000002lBtmAAE");
}

/* value_datetime on a NUL-terminated string; returns the output or the
 * reason, in a static buffer. */
static const char *dt(const char *s, const char *pattern)
{
	static char res[64];
	char out[25];
	const char *why = NULL;

	memset(out, '#', sizeof out);
	if (value_datetime(s, strlen(s), pattern, out, &why) == 0) {
		cr_assert_lt(strlen(out), sizeof out);
		snprintf(res, sizeof res, "%s", out);
	} else {
		cr_assert_not_null(why);
		snprintf(res, sizeof res, "error: %s", why);
	}
	return res;
}

Test(value_datetime, dates_are_written_back_as_dates)
{
	cr_assert_str_eq(dt("2026-03-07", NULL), "2026-03-07");
	cr_assert_str_eq(dt("0001-01-01", NULL), "0001-01-01");
	cr_assert_str_eq(dt("9999-12-31", NULL), "9999-12-31");
}

Test(value_datetime, date_times_become_utc_with_milliseconds)
{
	cr_assert_str_eq(dt("2011-05-02T21:13:40.000Z", NULL), "2011-05-02T21:13:40.000Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30Z", NULL), "2026-03-07T10:20:30.000Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30", NULL), "2026-03-07T10:20:30.000Z");
	cr_assert_str_eq(dt("2026-03-07 10:20:30", NULL), "2026-03-07T10:20:30.000Z");
	cr_assert_str_eq(dt("2026-03-07T10:20", NULL), "2026-03-07T10:20:00.000Z");
	cr_assert_str_eq(dt("2026-03-07T10:20Z", NULL), "2026-03-07T10:20:00.000Z");
	cr_assert_str_eq(dt("2026-03-07T00:00:00+00:00", NULL), "2026-03-07T00:00:00.000Z");
}

Test(value_datetime, fractions_of_1_to_9_digits_are_truncated_to_ms)
{
	cr_assert_str_eq(dt("2026-03-07T10:20:30.5Z", NULL), "2026-03-07T10:20:30.500Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30.07", NULL), "2026-03-07T10:20:30.070Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30.1239", NULL), "2026-03-07T10:20:30.123Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30.999999999Z", NULL), "2026-03-07T10:20:30.999Z");
	cr_assert_str_eq(dt("2026-03-07T10:20:30.1234567890Z", NULL),
			 "error: more than 9 digits of fractional seconds");
	cr_assert_str_eq(dt("2026-03-07T10:20:30.Z", NULL), "error: not a date");
}

Test(value_datetime, offsets_are_applied_across_day_month_and_year)
{
	cr_assert_str_eq(dt("2026-03-07T01:30:00+02:00", NULL), "2026-03-06T23:30:00.000Z");
	cr_assert_str_eq(dt("2026-03-07T22:30:00-0330", NULL), "2026-03-08T02:00:00.000Z");
	cr_assert_str_eq(dt("2026-03-01T00:30:00+01:00", NULL), "2026-02-28T23:30:00.000Z");
	cr_assert_str_eq(dt("2024-03-01T00:30+0100", NULL), "2024-02-29T23:30:00.000Z");
	cr_assert_str_eq(dt("2026-04-30T23:00:00-05:00", NULL), "2026-05-01T04:00:00.000Z");
	cr_assert_str_eq(dt("2025-12-31T22:00:00-05:00", NULL), "2026-01-01T03:00:00.000Z");
	cr_assert_str_eq(dt("2026-01-01T05:59:59.250+14:00", NULL), "2025-12-31T15:59:59.250Z");
	cr_assert_str_eq(dt("2026-01-01T00:00-12:00", NULL), "2026-01-01T12:00:00.000Z");
}

Test(value_datetime, offsets_beyond_14_hours_are_rejected)
{
	cr_assert_str_eq(dt("2026-01-01T00:00+14:01", NULL), "error: zone offset out of range");
	cr_assert_str_eq(dt("2026-01-01T00:00-15:00", NULL), "error: zone offset out of range");
	cr_assert_str_eq(dt("2026-01-01T00:00+05:60", NULL), "error: zone offset out of range");
}

Test(value_datetime, leap_days_follow_the_gregorian_rules)
{
	cr_assert_str_eq(dt("2024-02-29", NULL), "2024-02-29");
	cr_assert_str_eq(dt("2000-02-29T12:00:00Z", NULL), "2000-02-29T12:00:00.000Z");
	cr_assert_str_eq(dt("2023-02-29", NULL), "error: day out of range for the month");
	cr_assert_str_eq(dt("1900-02-29", NULL), "error: day out of range for the month");
}

Test(value_datetime, fields_out_of_range_say_which)
{
	cr_assert_str_eq(dt("2026-13-01", NULL), "error: month out of range");
	cr_assert_str_eq(dt("2026-00-10", NULL), "error: month out of range");
	cr_assert_str_eq(dt("2026-04-31", NULL), "error: day out of range for the month");
	cr_assert_str_eq(dt("2026-04-00", NULL), "error: day out of range for the month");
	cr_assert_str_eq(dt("2026-03-07T24:00:00Z", NULL), "error: hour out of range");
	cr_assert_str_eq(dt("2026-03-07T23:60:00Z", NULL), "error: minute out of range");
	cr_assert_str_eq(dt("2026-03-07T23:59:60Z", NULL), "error: second out of range");
	cr_assert_str_eq(dt("0000-01-01T00:30:00+01:00", NULL), "error: year out of range");
	cr_assert_str_eq(dt("9999-12-31T23:00:00-02:00", NULL), "error: year out of range");
}

Test(value_datetime, other_shapes_are_not_dates)
{
	static const char *const bad[] = {
		"", "2026", "2026-3-7", "2026-03-7", "20260307", "2026/03/07",
		"2026-03-07T", "2026-03-07X10:00", "2026-03-07  10:00",
		"2026-03-07T10", "2026-03-07T10:0", "2026-03-07T10:00:0",
		"2026-03-07T10:00:00Zjunk", "2026-03-07T10:00:00+5", "2026-03-07T10:00:00+05:",
		"2026-03-07t10:00:00z", " 2026-03-07", "2026-03-07 ", "07/03/2026",
		"2011-05-02T21:13:40.000Z-0300",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_str_eq(dt(bad[i], NULL), "error: not a date", "'%s'", bad[i]);
}

Test(value_datetime, normalised_values_read_back_unchanged)
{
	static const char *const in[] = { "2026-03-07", "2026-03-07T01:30:00+02:00",
					  "2024-02-29 23:59:59.999", "1970-01-01T00:00Z" };
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		char once[25], twice[25];
		const char *why = NULL;
		cr_assert_eq(value_datetime(in[i], strlen(in[i]), NULL, once, &why), 0);
		cr_assert_eq(value_datetime(once, strlen(once), NULL, twice, &why), 0);
		cr_assert_str_eq(once, twice);
	}
}

Test(value_datetime, reads_only_len_bytes)
{
	char out[25];
	const char *why = NULL;
	char buf[10];

	memcpy(buf, "2026-03-07", 10); /* no NUL anywhere */
	cr_assert_eq(value_datetime(buf, 10, NULL, out, &why), 0);
	cr_assert_str_eq(out, "2026-03-07");
	cr_assert_eq(value_datetime("2026-03-07T10:00", 10, NULL, out, &why), 0);
	cr_assert_str_eq(out, "2026-03-07");
	cr_assert_eq(value_datetime("2026-03-07T10:00", 13, NULL, out, &why), -1);
	cr_assert_str_eq(why, "not a date");
}

Test(value_datetime, patterns_read_other_layouts)
{
	cr_assert_str_eq(dt("07/03/2026", "DD/MM/YYYY"), "2026-03-07");
	cr_assert_str_eq(dt("7/3/2026", "DD/MM/YYYY"), "2026-03-07");
	cr_assert_str_eq(dt("03/07/2026 14:05:09", "MM/DD/YYYY hh:mm:ss"),
			 "2026-03-07T14:05:09.000Z");
	cr_assert_str_eq(dt("3/7/2026 4:05", "MM/DD/YYYY hh:mm"), "2026-03-07T04:05:00.000Z");
	cr_assert_str_eq(dt("20260307", "YYYYMMDD"), "2026-03-07");
	cr_assert_str_eq(dt("07.03.2026", "DD.MM.YYYY"), "2026-03-07");
}

Test(value_datetime, iso_is_accepted_when_a_pattern_is_given)
{
	cr_assert_str_eq(dt("2026-03-07T10:20:30+01:00", "DD/MM/YYYY"),
			 "2026-03-07T09:20:30.000Z");
	cr_assert_str_eq(dt("2026-03-07", "MM/DD/YYYY"), "2026-03-07");
}

Test(value_datetime, pattern_mismatch_and_ranges_are_reported)
{
	cr_assert_str_eq(dt("31/02/2026", "DD/MM/YYYY"), "error: day out of range for the month");
	cr_assert_str_eq(dt("02/30/2026", "MM/DD/YYYY"), "error: day out of range for the month");
	cr_assert_str_eq(dt("13/07/2026", "MM/DD/YYYY"), "error: month out of range");
	cr_assert_str_eq(dt("07-03-2026", "DD/MM/YYYY"), "error: not a date");
	cr_assert_str_eq(dt("07/03/2026 10:00", "DD/MM/YYYY"), "error: not a date");
	cr_assert_str_eq(dt("07/03/26", "DD/MM/YYYY"), "error: not a date");
	cr_assert_str_eq(dt("07/03/2026 25:00", "DD/MM/YYYY hh:mm"), "error: hour out of range");
	/* An ISO-shaped text keeps ISO's reason. */
	cr_assert_str_eq(dt("2026-13-07", "DD/MM/YYYY"), "error: month out of range");
	/* A pattern without a year, month and day reads no date. */
	cr_assert_str_eq(dt("07/03", "DD/MM"), "error: not a date");
}

/* value_bool on a NUL-terminated string. */
static int vb(const char *s)
{
	return value_bool(s, strlen(s));
}

Test(value_bool, words_and_digits_in_any_case)
{
	cr_assert_eq(vb("1"), 1);
	cr_assert_eq(vb("true"), 1);
	cr_assert_eq(vb("TRUE"), 1);
	cr_assert_eq(vb("True"), 1);
	cr_assert_eq(vb("yes"), 1);
	cr_assert_eq(vb("Yes"), 1);
	cr_assert_eq(vb("0"), 0);
	cr_assert_eq(vb("false"), 0);
	cr_assert_eq(vb("FALSE"), 0);
	cr_assert_eq(vb("no"), 0);
	cr_assert_eq(vb("NO"), 0);
}

Test(value_bool, anything_else_is_neither)
{
	static const char *const bad[] = { "", "2", "10", "t", "f", "y", "n", "on", "off",
					   " 1", "1 ", "truee", "tru", "-1", "yes!" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(vb(bad[i]), -1, "'%s'", bad[i]);
	cr_assert_eq(value_bool("truex", 4), 1);
	cr_assert_eq(value_bool("0", 0), -1);
}

/* value_number on a NUL-terminated string. */
static int vn(const char *s)
{
	return value_number(s, strlen(s));
}

Test(value_number, decimal_forms_are_accepted)
{
	static const char *const good[] = { "85", "85.5", "-0.5", "1e3", "+2", "0", "100.00",
					    "1E-3", "2.5e+10", ".5", "5.", "-.5e2" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert_eq(vn(good[i]), 0, "'%s'", good[i]);
}

Test(value_number, other_text_is_rejected)
{
	static const char *const bad[] = { "", "1e", ".", "--1", "1,5", "+", "-", "e3",
					   "1e+", "1.2.3", " 1", "1 ", "0x10", "inf", "NaN",
					   "1e3.5", "85%", "+-1", ".e1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(vn(bad[i]), -1, "'%s'", bad[i]);
	cr_assert_eq(value_number("12abc", 2), 0);
}

/* value_utf8_check on a NUL-terminated byte string. */
static size_t u8(const char *s)
{
	return value_utf8_check((const unsigned char *)s, strlen(s));
}

Test(value_utf8, valid_text_returns_its_length)
{
	cr_assert_eq(u8(""), 0);
	cr_assert_eq(u8("plain ascii"), 11);
	cr_assert_eq(u8("caf\xc3\xa9"), 5);                 /* U+00E9 */
	cr_assert_eq(u8("\xc2\x80"), 2);                    /* U+0080 */
	cr_assert_eq(u8("\xe0\xa0\x80"), 3);                /* U+0800 */
	cr_assert_eq(u8("\xed\x9f\xbf"), 3);                /* U+D7FF */
	cr_assert_eq(u8("\xee\x80\x80"), 3);                /* U+E000 */
	cr_assert_eq(u8("\xef\xbb\xbf"), 3);                /* BOM */
	cr_assert_eq(u8("\xf0\x90\x80\x80"), 4);            /* U+10000 */
	cr_assert_eq(u8("\xf4\x8f\xbf\xbf"), 4);            /* U+10FFFF */
	cr_assert_eq(u8("\xe3\x80\x80x"), 4);               /* U+3000 */
}

Test(value_utf8, bad_sequences_give_their_offset)
{
	cr_assert_eq(u8("ab\xc0\x80"), 2);         /* overlong NUL */
	cr_assert_eq(u8("ab\xc1\xbf"), 2);         /* overlong U+007F */
	cr_assert_eq(u8("a\xe0\x80\x80"), 1);      /* overlong 3-byte */
	cr_assert_eq(u8("a\xe0\x9f\xbf"), 1);      /* overlong U+07FF */
	cr_assert_eq(u8("a\xed\xa0\x80"), 1);      /* surrogate U+D800 */
	cr_assert_eq(u8("a\xed\xbf\xbf"), 1);      /* surrogate U+DFFF */
	cr_assert_eq(u8("\xf0\x8f\xbf\xbf"), 0);   /* overlong 4-byte */
	cr_assert_eq(u8("\xf4\x90\x80\x80"), 0);   /* U+110000 */
	cr_assert_eq(u8("x\xf5\x80\x80\x80"), 1);
	cr_assert_eq(u8("x\xff"), 1);
	cr_assert_eq(u8("x\xfe"), 1);
	cr_assert_eq(u8("abc\x80"), 3);            /* lone continuation */
	cr_assert_eq(u8("caf\xe9!"), 3);           /* Latin-1 */
	cr_assert_eq(u8("\xc3\xa9\xc3("), 2);      /* continuation missing */
	cr_assert_eq(u8("\xe2\x82("), 0);
	cr_assert_eq(u8("\xf0\x9f\x98("), 0);
}

Test(value_utf8, truncated_sequences_at_the_end_are_bad)
{
	cr_assert_eq(u8("ab\xe2\x82"), 2);
	cr_assert_eq(u8("ab\xc3"), 2);
	cr_assert_eq(u8("\xf0\x9f\x98"), 0);
	/* len cuts a valid sequence: the bytes after len are not read. */
	cr_assert_eq(value_utf8_check((const unsigned char *)"a\xc3\xa9", 2), 1);
	cr_assert_eq(value_utf8_check((const unsigned char *)"a\xc3\xa9", 3), 3);
}

/* The first bad byte of a corpus file, or (size_t)-1 when it is absent. */
static size_t corpus_utf8(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char data[4096];
	size_t n;

	if (!f)
		return (size_t)-1;
	n = fread(data, 1, sizeof data, f);
	fclose(f);
	return value_utf8_check(data, n);
}

Test(value_utf8, latin1_bytes_in_real_files_are_found)
{
	size_t a = corpus_utf8(CORPORA "/zsv/input/latin1.csv");
	size_t b = corpus_utf8(CORPORA "/zsv/input/invalid_surrogate_pair.csv");

	if (a == (size_t)-1 || b == (size_t)-1)
		cr_skip_test("corpora not available");
	cr_assert_eq(a, 63);  /* 'caf\xe9' on the second line */
	cr_assert_eq(b, 70);  /* 'Rahov\xedc\xeb' */
}
