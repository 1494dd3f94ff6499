/* SPDX-License-Identifier: MIT */
/* fuzz_date: libFuzzer harness for the value checks of value.h, mainly the
 * date parser. The first byte picks the mode: bit 0 clear, the rest of the
 * input is the text, parsed as ISO only; bit 0 set, the rest is a profile
 * pattern, a newline, then the text. The text is also given to
 * value_sfid18, value_bool, value_number and value_utf8_check. Every text
 * is copied into a buffer of its exact size, so a read past `len` is an
 * AddressSanitizer error. Results are checked for shape and for being
 * fixed points: a normalised date or id parses back to itself. */
#include "fuzz.h"
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is c an ASCII digit? */
static int fz_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks the canonical form `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS.sssZ`. */
static void check_date_shape(const char *out)
{
	size_t n = strnlen(out, 25);
	static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	fuzz_check(n == 10 || n == 24);
	for (size_t i = 0; i < n; i++)
		fuzz_check(form[i] == 'd' ? fz_digit(out[i]) : out[i] == form[i]);
}

/* Runs every value check on the text s (len bytes, not NUL-terminated). */
static void check_text(const char *s, size_t len, const char *pattern)
{
	char out[25], again[25], id[19], id2[19];
	const char *why = NULL;
	size_t u;
	int r, b;

	memset(out, 0x55, sizeof out);
	r = value_datetime(s, len, pattern, out, &why);
	fuzz_check(r == 0 || r == -1);
	if (r == 0) {
		check_date_shape(out);
		/* The canonical form is ISO, and ISO maps it to itself. */
		fuzz_check(value_datetime(out, strlen(out), NULL, again, &why) == 0);
		fuzz_check(strcmp(out, again) == 0);
		/* Without the pattern, an ISO text gives the same result. */
		if (pattern && value_datetime(s, len, NULL, again, NULL) == 0)
			fuzz_check(strcmp(out, again) == 0);
	} else {
		fuzz_check(why && why[0]);
	}

	r = value_sfid18(s, len, id);
	fuzz_check(r == 0 || r == -1);
	if (r == 0) {
		fuzz_check(strlen(id) == 18 && memcmp(id, s, 15) == 0);
		fuzz_check(value_sfid18(id, 18, id2) == 0 && strcmp(id, id2) == 0);
		if (len == 18)
			fuzz_check(memcmp(id, s, 18) == 0);
	}

	b = value_bool(s, len);
	fuzz_check(b >= -1 && b <= 1);
	fuzz_check(b == -1 || (len >= 1 && len <= 5));

	r = value_number(s, len);
	fuzz_check(r == 0 || r == -1);
	if (r == 0)
		fuzz_check(len >= 1);

	u = value_utf8_check((const unsigned char *)s, len);
	fuzz_check(u <= len);
	/* The valid prefix is valid on its own. */
	if (u < len)
		fuzz_check(value_utf8_check((const unsigned char *)s, u) == u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *text = data + 1, *nl;
	char *pattern = NULL, *s;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	if ((data[0] & 1) && (nl = memchr(text, '\n', len)) != NULL) {
		size_t plen = (size_t)(nl - text);
		pattern = malloc(plen + 1);
		if (!pattern)
			abort();
		memcpy(pattern, text, plen);
		pattern[plen] = '\0';
		len -= plen + 1;
		text = nl + 1;
	}
	s = malloc(len ? len : 1);
	if (!s)
		abort();
	if (len)
		memcpy(s, text, len);
	check_text(s, len, pattern);
	free(s);
	free(pattern);
	return 0;
}
