/* SPDX-License-Identifier: MIT */
/* snap_func: the SQL functions lmsrecon adds to every connection: the
 * digest of an emitted record, the row hash of a learner's inputs and its
 * sum over a group, whether a group repeats a value, and the JSON object of
 * a record's fields. */
#include "snap_int.h"
#include "util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text of `v` and its length in *n; NULL, reported through ctx, when
 * SQLite is out of memory making it. */
static const unsigned char *value_text(sqlite3_context *ctx, sqlite3_value *v, int *n)
{
	const unsigned char *p = sqlite3_value_text(v);

	*n = sqlite3_value_bytes(v);
	if (!p)
		sqlite3_result_error_nomem(ctx);
	return p;
}

/* lmsrecon_digest(TEXT): the 64-bit FNV-1a hash of the text's bytes, as
 * a signed integer; NULL for NULL. emitted.digest holds it for the fields
 * of each record, so that a later run finds a record sent unchanged by
 * comparing one integer of an index (docs/snapshot.md). Part of the
 * snapshot format: never change it. */
static void sql_digest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *p;
	int n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    !(p = value_text(ctx, argv[0], &n)))
		return;
	sqlite3_result_int64(ctx, (sqlite3_int64)fnv1a(FNV1A_BASIS, p, (size_t)n));
}

/* lmsrecon_digest_is(D, TEXT): 1 when D is lmsrecon_digest(TEXT), else 0
 * (D NULL: 0). The text is hashed only when there is a digest to compare
 * with: most records of a first run have none (a million contacts: 2.4
 * million records, about 840 MB of JSON). */
static void sql_digest_is(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *p;
	int n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	if (!(p = value_text(ctx, argv[1], &n)))
		return;
	sqlite3_result_int(ctx, (sqlite3_int64)fnv1a(FNV1A_BASIS, p, (size_t)n) ==
			   sqlite3_value_int64(argv[0]));
}

/* One step of the row hash: `w` mixed into `h` (a multiply and a shift,
 * as in MurmurHash's 64-bit mixing). */
static unsigned long long mix(unsigned long long h, unsigned long long w)
{
	h ^= w * 0x87c37b91114253d5ULL;
	h ^= h >> 31;
	return h * 0x4cf5ad432745937fULL;
}

/* `n` bytes into `h`, eight at a time, the last word padded with zeros
 * (the length was mixed in before). */
static unsigned long long mix_bytes(unsigned long long h, const unsigned char *p, size_t n)
{
	unsigned long long w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h, w);
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, n);
		h = mix(h, w);
	}
	return h;
}

/* The 64-bit hash of a row of values into *out: each value is its type,
 * then an integer or real as its 8 bytes, a text or blob as its length and
 * bytes, so no two different rows run together into one stream; the
 * result goes through MurmurHash3's finaliser so that every bit of it
 * depends on every input bit (the rows of a group are added up).
 * -1 when out of memory (reported through ctx). */
static int row_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv,
		    unsigned long long *out)
{
	unsigned long long h = FNV1A_BASIS;

	for (int i = 0; i < argc; i++) {
		int type = sqlite3_value_type(argv[i]);
		if (type == SQLITE_INTEGER) {
			h = mix(mix(h, (unsigned long long)type),
				(unsigned long long)sqlite3_value_int64(argv[i]));
		} else if (type == SQLITE_FLOAT) {
			double v = sqlite3_value_double(argv[i]);
			unsigned long long w;
			memcpy(&w, &v, sizeof w);
			h = mix(mix(h, (unsigned long long)type), w);
		} else if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
			const unsigned char *p = type == SQLITE_TEXT ? sqlite3_value_text(argv[i])
								     : sqlite3_value_blob(argv[i]);
			int n = sqlite3_value_bytes(argv[i]);
			if (!p && n > 0) {
				sqlite3_result_error_nomem(ctx);
				return -1;
			}
			h = mix(h, (unsigned long long)type << 32 | (unsigned)n);
			h = mix_bytes(h, p, (size_t)n);
		} else {
			h = mix(h, (unsigned long long)type);
		}
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	*out = h;
	return 0;
}

/* lmsrecon_hash(V, ...): the hash of a row of values, as a signed
 * integer. The learning rule keeps it per learner (learner_state) to tell
 * learners whose inputs did not change since the last run. Not part of the
 * snapshot's meaning: were it changed, every learner would read as changed
 * once and be built again. */
static void sql_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned long long h;
	if (row_hash(ctx, argc, argv, &h) == 0)
		sqlite3_result_int64(ctx, (sqlite3_int64)h);
}

/* lmsrecon_hash_sum(V, ...): the aggregate of lmsrecon_hash over the rows
 * of a group, added modulo 2^64, so that it does not depend on the order
 * the rows come in; 0 for no row. */
static void sql_hash_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned long long *sum = sqlite3_aggregate_context(ctx, sizeof *sum);
	unsigned long long h;
	if (!sum) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (row_hash(ctx, argc, argv, &h) == 0)
		*sum += h;
}

static void sql_hash_final(sqlite3_context *ctx)
{
	unsigned long long *sum = sqlite3_aggregate_context(ctx, 0);
	sqlite3_result_int64(ctx, sum ? (sqlite3_int64)*sum : 0);
}

/* lmsrecon_repeats(V): over the rows of a group, whether a value comes
 * twice, told from the order the rows come in: 1 when two rows in a row
 * have the same value (it comes twice, whatever the rest), 0 when every
 * value is greater than the one before (none comes twice), -1 when
 * neither can be told (a value smaller than the one before it, or longer
 * than REPEATS_MAX bytes). NULLs are skipped. Read through an index whose
 * order puts V's equal values together, a group answers 0 or 1 in one
 * pass; the caller looks again at the groups that answer -1. Values are
 * compared as SQLite's BINARY collation compares texts. */
#define REPEATS_MAX 256
struct repeats {
	int has_prev;
	int result;
	int len;
	unsigned char prev[REPEATS_MAX];
};

static void sql_repeats_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct repeats *r = sqlite3_aggregate_context(ctx, sizeof *r);
	const unsigned char *p;
	int n, cmp;

	(void)argc;
	if (!r) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (r->result == 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    !(p = value_text(ctx, argv[0], &n)))
		return;
	if (r->len < 0) {
		/* the value before was not kept: no telling */
		r->result = -1;
	} else if (r->has_prev) {
		cmp = memcmp(p, r->prev, (size_t)(n < r->len ? n : r->len));
		if (cmp == 0)
			cmp = (n > r->len) - (n < r->len);
		if (cmp == 0) {
			r->result = 1;
			return;
		}
		if (cmp < 0)
			r->result = -1;
	}
	r->has_prev = 1;
	if (n > REPEATS_MAX) {
		r->len = -1;
		r->result = -1;
		return;
	}
	memcpy(r->prev, p, (size_t)n);
	r->len = n;
}

static void sql_repeats_final(sqlite3_context *ctx)
{
	struct repeats *r = sqlite3_aggregate_context(ctx, 0);
	sqlite3_result_int(ctx, r ? r->result : 0);
}

/* `v` (text) as a JSON string into `b`, escaped as SQLite's json_object()
 * escapes it. */
static void add_json_text(struct buf *b, sqlite3_value *v)
{
	buf_add_json_string_named(b, (const char *)sqlite3_value_text(v),
				  (size_t)sqlite3_value_bytes(v));
}

/* lmsrecon_json_object(NAME, VALUE, ...): the text json_object() makes of
 * the same arguments, byte for byte (integers in decimal, reals as
 * SQLite's "%!0.15g", NULL as null, text escaped as json_object() escapes
 * it, a value that is already JSON as it is), without the general JSON
 * machinery: the records of a full run at a million contacts are 2.4
 * million objects (their enrollments' statement took 13.4 s with
 * json_object(), 11.6 s with this). Every record of R9 is built by it:
 * what the emitted digests of earlier runs were taken of. Its result is
 * JSON to the JSON functions (subtype 'J'), as json_object()'s is. The
 * buffer is the connection's (`sqlite3_user_data`). */
static void sql_json_object(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct buf *b = sqlite3_user_data(ctx);
	char num[48];

	if (argc % 2) {
		sqlite3_result_error(ctx, "lmsrecon_json_object() requires an even number of arguments", -1);
		return;
	}
	buf_reset(b);
	buf_addch(b, '{');
	for (int i = 0; i < argc; i += 2) {
		sqlite3_value *v = argv[i + 1];
		if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
			sqlite3_result_error(ctx, "lmsrecon_json_object() labels must be TEXT", -1);
			return;
		}
		if (i)
			buf_addch(b, ',');
		add_json_text(b, argv[i]);
		buf_addch(b, ':');
		switch (sqlite3_value_type(v)) {
		case SQLITE_NULL:
			buf_add(b, "null", 4);
			break;
		case SQLITE_INTEGER:
			snprintf(num, sizeof num, "%lld", (long long)sqlite3_value_int64(v));
			buf_adds(b, num);
			break;
		case SQLITE_FLOAT:
			sqlite3_snprintf((int)sizeof num, num, "%!0.15g", sqlite3_value_double(v));
			buf_adds(b, num);
			break;
		case SQLITE_TEXT:
			/* JSON from json() or json_object() (subtype 'J') goes in as it is. */
			if (sqlite3_value_subtype(v) == 'J')
				buf_add(b, sqlite3_value_text(v), (size_t)sqlite3_value_bytes(v));
			else
				add_json_text(b, v);
			break;
		default:
			sqlite3_result_error(ctx, "JSON cannot hold BLOB values", -1);
			return;
		}
	}
	buf_addch(b, '}');
	sqlite3_result_text64(ctx, b->buf, b->len, SQLITE_TRANSIENT, SQLITE_UTF8);
	/* JSON to the JSON functions, as json_object()'s result is. */
	sqlite3_result_subtype(ctx, 'J');
	/* One very large record does not keep its buffer. */
	if (b->alloc > 1 << 20)
		buf_release(b);
}

/* Frees the buffer of lmsrecon_json_object when the connection closes. */
static void free_json_buf(void *p)
{
	buf_release(p);
	free(p);
}

int snap_func_register(struct sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	struct buf *json = xcalloc(1, sizeof *json);
	int r;

	buf_init(json);
	/* It reads its arguments' subtype and sets its result's (newer
	 * SQLite asks for the second to be declared). */
	r = sqlite3_create_function_v2(db, "lmsrecon_json_object", -1, flags | SQLITE_SUBTYPE
#ifdef SQLITE_RESULT_SUBTYPE
				       | SQLITE_RESULT_SUBTYPE
#endif
				       , json,
				       sql_json_object, NULL, NULL, free_json_buf);
	if (r == SQLITE_OK)
		r = sqlite3_create_function(db, "lmsrecon_digest", 1, flags, NULL,
					    sql_digest, NULL, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_create_function(db, "lmsrecon_digest_is", 2, flags, NULL,
					    sql_digest_is, NULL, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_create_function(db, "lmsrecon_hash", -1, flags, NULL,
					    sql_hash, NULL, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_create_function(db, "lmsrecon_hash_sum", -1, flags, NULL,
					    NULL, sql_hash_step, sql_hash_final);
	if (r == SQLITE_OK)
		r = sqlite3_create_function(db, "lmsrecon_repeats", 1, flags, NULL,
					    NULL, sql_repeats_step, sql_repeats_final);
	return r;
}
