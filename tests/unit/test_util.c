/* SPDX-License-Identifier: MIT */
/* Tests for util: the JSON string writer that the records' fields and the
 * report's JSON go through. */
#include <criterion/criterion.h>
#include <string.h>

#include "util.h"

/* `s` (`len` bytes) as a JSON string, appended to `prefix`. */
static void check_json(const char *prefix, const char *s, size_t len, const char *want)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, prefix);
	buf_add_json_string(&b, s, len);
	cr_expect_str_eq(b.buf, want);
	cr_expect_eq(b.len, strlen(want));
	buf_release(&b);
}

Test(util, json_string_plain)
{
	check_json("", "", 0, "\"\"");
	check_json("", "Nowak, Jr.", 10, "\"Nowak, Jr.\"");
	check_json("x: ", "abc", 3, "x: \"abc\"");
}

Test(util, json_string_escapes_quote_and_backslash)
{
	check_json("", "say \"hi\"", 8, "\"say \\\"hi\\\"\"");
	check_json("", "C:\\dir\\", 7, "\"C:\\\\dir\\\\\"");
	check_json("", "\"", 1, "\"\\\"\"");
}

Test(util, json_string_escapes_controls)
{
	check_json("", "a\nb\tc\r", 6, "\"a\\u000ab\\u0009c\\u000d\"");
	check_json("", "\x01\x1f", 2, "\"\\u0001\\u001f\"");
	/* A NUL inside the length is written, not taken for the end. */
	check_json("", "a\0b", 3, "\"a\\u0000b\"");
}

Test(util, json_string_keeps_other_bytes)
{
	/* UTF-8 and DEL pass through as they are. */
	check_json("", "Zo\xc3\xab \x7f", 6, "\"Zo\xc3\xab \x7f\"");
	/* Only `len` bytes are read. */
	check_json("", "abcdef", 3, "\"abc\"");
}

Test(util, json_string_long_value_grows_buffer)
{
	char s[5000];
	struct buf b = BUF_INIT;
	memset(s, 'q', sizeof s);
	s[2500] = '"';
	buf_add_json_string(&b, s, sizeof s);
	cr_expect_eq(b.len, sizeof s + 3);
	cr_expect_eq(b.buf[2501], '\\');
	cr_expect_eq(b.buf[2502], '"');
	cr_expect_eq(b.buf[b.len - 1], '"');
	cr_expect_eq(b.buf[b.len], '\0');
	buf_release(&b);
}

Test(util, json_string_named_escapes_as_sqlite_writes_them)
{
	struct buf b = BUF_INIT;
	buf_add_json_string_named(&b, "a\b\t\n\f\r\x01\x1f\"\\z", 11);
	cr_expect_str_eq(b.buf, "\"a\\b\\t\\n\\f\\r\\u0001\\u001f\\\"\\\\z\"");
	buf_release(&b);
}
