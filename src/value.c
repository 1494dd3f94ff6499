/* SPDX-License-Identifier: MIT */
/* value: checks and normalises field text by column type (Salesforce ids,
 * ISO 8601 dates, booleans, numbers, UTF-8). Used by the loader on every
 * field, so no allocation, and never a read past `len`. */
#include "value.h"

#include <stdint.h>
#include <string.h>

/* The characters of the case-safe suffix, indexed by the 5-bit chunk value. */
static const char sfid_suffix_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/* Is `c` one of the characters a Salesforce id is made of ([0-9A-Za-z])? */
static int is_alnum_ascii(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	       (c >= 'a' && c <= 'z');
}

/* Is `c` an ASCII digit? (isdigit() depends on the locale.) */
static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ASCII lower case, whatever the locale. */
static unsigned char lower_ascii(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int value_sfid18(const char *s, size_t len, char out[19])
{
	char suffix[3];

	if (len != 15 && len != 18)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum_ascii((unsigned char)s[i]))
			return -1;
	/* Bit i of chunk k tells whether character 5k+i is an upper-case
	 * letter, so the suffix keeps the case of a case-folded id. */
	for (size_t k = 0; k < 3; k++) {
		unsigned bits = 0;
		for (size_t i = 0; i < 5; i++) {
			unsigned char c = (unsigned char)s[5 * k + i];
			if (c >= 'A' && c <= 'Z')
				bits |= 1u << i;
		}
		suffix[k] = sfid_suffix_chars[bits];
	}
	if (len == 18 && memcmp(s + 15, suffix, 3) != 0)
		return -1;
	memcpy(out, s, 15);
	memcpy(out + 15, suffix, 3);
	out[18] = '\0';
	return 0;
}

/* ---- dates ---- */

/* A broken-down date-time as parsed, before the conversion to UTC. */
struct dt {
	int year, month, day;     /* calendar date */
	int hour, min, sec, msec; /* time of day; all 0 for a date */
	int offset_min;           /* zone offset east of UTC, in minutes */
	int has_time;             /* a time was given: output as a date-time */
};

/* The reason given when the text does not have the shape of a date. */
static const char why_not_date[] = "not a date";

/* Is `y` a leap year of the proleptic Gregorian calendar? */
static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month `m` (1-12) of year `y`. */
static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), exact for every year this module accepts. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly `n` digits at s[*i] (within len) into *v. Returns 0, or -1
 * when fewer than n digits are there. */
static int take_digits(const char *s, size_t len, size_t *i, int n, int *v)
{
	int x = 0;

	if (len - *i < (size_t)n)
		return -1;
	for (int k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[*i + (size_t)k];
		if (!is_digit(c))
			return -1;
		x = x * 10 + (c - '0');
	}
	*i += (size_t)n;
	*v = x;
	return 0;
}

/* Reads one or two digits (a field of a pattern such as "D/M/YYYY"). */
static int take_1or2_digits(const char *s, size_t len, size_t *i, int *v)
{
	if (*i >= len || !is_digit((unsigned char)s[*i]))
		return -1;
	*v = s[(*i)++] - '0';
	if (*i < len && is_digit((unsigned char)s[*i]))
		*v = *v * 10 + (s[(*i)++] - '0');
	return 0;
}

/* Does s[*i] hold character c? Consumes it when it does. */
static int take_char(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return 0;
	(*i)++;
	return 1;
}

/* Checks the ranges of every field of `t`. Returns NULL or the reason. */
static const char *dt_check(const struct dt *t)
{
	if (t->month < 1 || t->month > 12)
		return "month out of range";
	if (t->day < 1 || t->day > month_days(t->year, t->month))
		return "day out of range for the month";
	if (t->hour > 23)
		return "hour out of range";
	if (t->min > 59)
		return "minute out of range";
	if (t->sec > 59)
		return "second out of range";
	if (t->offset_min > 14 * 60 || t->offset_min < -14 * 60)
		return "zone offset out of range";
	return NULL;
}

/* Parses the ISO 8601 forms of value.h into *t. Returns NULL or the
 * reason. */
static const char *parse_iso(const char *s, size_t len, struct dt *t)
{
	size_t i = 0;
	int ndig = 0;

	memset(t, 0, sizeof *t);
	if (take_digits(s, len, &i, 4, &t->year) || !take_char(s, len, &i, '-') ||
	    take_digits(s, len, &i, 2, &t->month) || !take_char(s, len, &i, '-') ||
	    take_digits(s, len, &i, 2, &t->day))
		return why_not_date;
	if (i == len)
		return dt_check(t);
	if (!take_char(s, len, &i, 'T') && !take_char(s, len, &i, ' '))
		return why_not_date;
	t->has_time = 1;
	if (take_digits(s, len, &i, 2, &t->hour) || !take_char(s, len, &i, ':') ||
	    take_digits(s, len, &i, 2, &t->min))
		return why_not_date;
	if (take_char(s, len, &i, ':')) {
		if (take_digits(s, len, &i, 2, &t->sec))
			return why_not_date;
		if (take_char(s, len, &i, '.') || take_char(s, len, &i, ',')) {
			/* Keep milliseconds; further digits are truncated. */
			int scale = 100;
			while (i < len && is_digit((unsigned char)s[i])) {
				if (++ndig > 9)
					return "more than 9 digits of fractional seconds";
				t->msec += (s[i] - '0') * scale;
				scale /= 10;
				i++;
			}
			if (ndig == 0)
				return why_not_date;
		}
	}
	if (i < len) {
		if (s[i] == 'Z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			int sign = s[i++] == '-' ? -1 : 1, oh, om;
			if (take_digits(s, len, &i, 2, &oh))
				return why_not_date;
			take_char(s, len, &i, ':');
			if (take_digits(s, len, &i, 2, &om))
				return why_not_date;
			if (om > 59)
				return "zone offset out of range";
			t->offset_min = sign * (oh * 60 + om);
		} else {
			return why_not_date;
		}
	}
	if (i != len)
		return why_not_date;
	return dt_check(t);
}

/* Parses `s` with a profile's layout (tokens YYYY MM DD hh mm ss, other
 * characters literal). Returns NULL or the reason. */
static const char *parse_pattern(const char *s, size_t len, const char *pat,
				 struct dt *t)
{
	size_t i = 0;
	int seen_y = 0, seen_m = 0, seen_d = 0;

	memset(t, 0, sizeof *t);
	while (*pat) {
		int r = 0;
		if (strncmp(pat, "YYYY", 4) == 0) {
			r = take_digits(s, len, &i, 4, &t->year);
			seen_y = 1;
			pat += 4;
		} else if (strncmp(pat, "MM", 2) == 0) {
			r = take_1or2_digits(s, len, &i, &t->month);
			seen_m = 1;
			pat += 2;
		} else if (strncmp(pat, "DD", 2) == 0) {
			r = take_1or2_digits(s, len, &i, &t->day);
			seen_d = 1;
			pat += 2;
		} else if (strncmp(pat, "hh", 2) == 0) {
			r = take_1or2_digits(s, len, &i, &t->hour);
			t->has_time = 1;
			pat += 2;
		} else if (strncmp(pat, "mm", 2) == 0) {
			r = take_1or2_digits(s, len, &i, &t->min);
			pat += 2;
		} else if (strncmp(pat, "ss", 2) == 0) {
			r = take_1or2_digits(s, len, &i, &t->sec);
			pat += 2;
		} else {
			r = take_char(s, len, &i, *pat) ? 0 : -1;
			pat++;
		}
		if (r)
			return why_not_date;
	}
	if (i != len || !seen_y || !seen_m || !seen_d)
		return why_not_date;
	return dt_check(t);
}

/* Writes `v` as `n` zero-padded decimal digits at p. */
static char *put_digits(char *p, int64_t v, int n)
{
	for (int k = n - 1; k >= 0; k--) {
		p[k] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/* Converts *t to UTC and writes it in the canonical form. Returns NULL or
 * the reason (the year leaves 0000-9999 after the conversion). */
static const char *dt_format(const struct dt *t, char out[25])
{
	int64_t days = days_from_civil(t->year, t->month, t->day), y, secs = 0;
	int m, d;
	char *p = out;

	if (!t->has_time) {
		y = t->year;
		m = t->month;
		d = t->day;
	} else {
		secs = days * 86400 + t->hour * 3600 + t->min * 60 + t->sec -
		       (int64_t)t->offset_min * 60;
		days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
		secs -= days * 86400;
		civil_from_days(days, &y, &m, &d);
		if (y < 0 || y > 9999)
			return "year out of range";
	}
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	if (t->has_time) {
		*p++ = 'T';
		p = put_digits(p, secs / 3600, 2);
		*p++ = ':';
		p = put_digits(p, secs / 60 % 60, 2);
		*p++ = ':';
		p = put_digits(p, secs % 60, 2);
		*p++ = '.';
		p = put_digits(p, t->msec, 3);
		*p++ = 'Z';
	}
	*p = '\0';
	return NULL;
}

int value_datetime(const char *s, size_t len, const char *pattern,
		   char out[25], const char **why)
{
	struct dt t;
	const char *err = parse_iso(s, len, &t);

	if (err && pattern && *pattern) {
		/* A text shaped like ISO keeps ISO's more precise reason. */
		const char *perr = parse_pattern(s, len, pattern, &t);
		if (!perr || err == why_not_date)
			err = perr;
	}
	if (!err)
		err = dt_format(&t, out);
	if (err) {
		if (why)
			*why = err;
		return -1;
	}
	return 0;
}

/* ---- booleans and numbers ---- */

/* Does s[0..len) equal the lower-case word `w`, ignoring ASCII case? */
static int eq_word(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);

	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower_ascii((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return 1;
}

int value_bool(const char *s, size_t len)
{
	if (eq_word(s, len, "1") || eq_word(s, len, "true") || eq_word(s, len, "yes"))
		return 1;
	if (eq_word(s, len, "0") || eq_word(s, len, "false") || eq_word(s, len, "no"))
		return 0;
	return -1;
}

int value_number(const char *s, size_t len)
{
	size_t i = 0, nint = 0, nfrac = 0, nexp = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < len && is_digit((unsigned char)s[i]))
		i++, nint++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit((unsigned char)s[i]))
			i++, nfrac++;
	}
	if (nint + nfrac == 0)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < len && is_digit((unsigned char)s[i]))
			i++, nexp++;
		if (nexp == 0)
			return -1;
	}
	return i == len ? 0 : -1;
}

/* ---- UTF-8 ---- */

size_t value_utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF; /* range of the 2nd byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0; /* overlong below U+0800 */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates U+D800-DFFF */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i; /* continuation byte, C0, C1 or F5-FF */
		}
		if (len - i < n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += n;
	}
	return len;
}
