/* SPDX-License-Identifier: MIT */
/* value: checks and normalises one field's text by its column type
 * (Salesforce ids, ISO 8601 dates, booleans, numbers). Pure functions, no
 * I/O, so the loader, the rules and the fuzzers share them. */
#ifndef LMSRECON_VALUE_H
#define LMSRECON_VALUE_H

#include <stddef.h>

/* Salesforce id: a 15-character id gets its 3-character case-safe suffix
 * computed; an 18-character id is checked (characters [0-9A-Za-z], suffix
 * matching the first 15). Writes 18 characters and a NUL to out.
 * Returns 0, or -1 when `s` is not an id. */
int value_sfid18(const char *s, size_t len, char out[19]);

/* ISO 8601 date `YYYY-MM-DD` or date-time `YYYY-MM-DD[T ]HH:MM[:SS[.sss]][Z|±HH:MM|±HHMM]`.
 * A date is written back as `YYYY-MM-DD`; a date-time is converted to UTC
 * and written as `YYYY-MM-DDTHH:MM:SS.sssZ` (a time with no zone is taken
 * as UTC). `pattern` (may be NULL) is an alternative input layout from a
 * profile using the tokens YYYY MM DD hh mm ss (e.g. "MM/DD/YYYY hh:mm");
 * ISO is always accepted too. Returns 0, or -1 with *why set to a short
 * reason ("month 13 out of range"). */
int value_datetime(const char *s, size_t len, const char *pattern,
		   char out[25], const char **why);

/* Boolean: 1/0, true/false, yes/no (any case). Returns 0 or 1, -1 if neither. */
int value_bool(const char *s, size_t len);

/* Decimal number: optional sign, digits, optional fraction, optional
 * exponent. Returns 0 if valid, -1 otherwise. */
int value_number(const char *s, size_t len);

/* Valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF)?
 * Returns the byte offset of the first bad byte, or `len` when all is valid. */
size_t value_utf8_check(const unsigned char *s, size_t len);

#endif
