/* SPDX-License-Identifier: MIT */
/* Tests for sha256: the FIPS 180 test vectors fed at several chunk sizes,
 * through both the SHA-instruction and the portable implementations. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

/* One known message and its digest. */
struct vector {
	const char *msg;    /* the message, repeated `nrep` times */
	size_t nrep;
	const char *hex;    /* expected digest */
};

static const struct vector vectors[] = {
	{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

/* Builds the whole message of a vector. Caller frees. */
static char *vector_bytes(const struct vector *v, size_t *len)
{
	size_t n = strlen(v->msg);
	char *s = malloc(n * v->nrep + 1);

	for (size_t i = 0; i < v->nrep; i++)
		memcpy(s + i * n, v->msg, n);
	*len = n * v->nrep;
	return s;
}

/* Digests `s` fed in pieces of `chunk` bytes, as hex. */
static void digest_chunked(const char *s, size_t len, size_t chunk, char hex[65])
{
	struct sha256 c;
	unsigned char dg[32];

	sha256_init(&c);
	for (size_t off = 0; off < len; off += chunk)
		sha256_update(&c, s + off, len - off < chunk ? len - off : chunk);
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
}

/* Checks every vector at several chunk sizes with the current implementation. */
static void check_vectors(void)
{
	static const size_t chunks[] = { 1, 3, 55, 56, 63, 64, 65, 127, 1000, 65536, 2000000 };

	for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
		size_t len;
		char *s = vector_bytes(&vectors[i], &len);

		for (size_t j = 0; j < sizeof chunks / sizeof *chunks; j++) {
			char hex[65];

			/* Chunks of one byte over a million bytes add nothing but time. */
			if (chunks[j] < 50 && len > 100000)
				continue;
			digest_chunked(s, len, chunks[j], hex);
			cr_assert_str_eq(hex, vectors[i].hex, "vector %zu at chunk %zu", i, chunks[j]);
		}
		free(s);
	}
}

Test(sha256, fips_vectors_portable)
{
	sha256_use_hw(0);
	check_vectors();
	sha256_use_hw(1);
}

Test(sha256, fips_vectors_default_implementation)
{
	sha256_use_hw(1);
	check_vectors();
}

Test(sha256, implementations_agree_on_every_length)
{
	unsigned char buf[300];
	unsigned seed = 12345;

	for (size_t i = 0; i < sizeof buf; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
	for (size_t len = 0; len <= sizeof buf; len++) {
		char hw[65], c[65];

		sha256_use_hw(1);
		digest_chunked((const char *)buf, len, 7, hw);
		sha256_use_hw(0);
		digest_chunked((const char *)buf, len, 64, c);
		cr_assert_str_eq(hw, c, "length %zu", len);
	}
	sha256_use_hw(1);
}

Test(sha256, copy_of_state_gives_digest_so_far)
{
	struct sha256 c, copy;
	unsigned char dg[32];
	char hex[65];

	sha256_init(&c);
	sha256_update(&c, "ab", 2);
	copy = c;
	sha256_final(&copy, dg);
	sha256_update(&c, "c", 1);
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
	cr_assert_str_eq(hex, vectors[1].hex);
}

Test(sha256, hex_is_lowercase_and_terminated)
{
	unsigned char dg[32];
	char hex[65];

	for (int i = 0; i < 32; i++)
		dg[i] = (unsigned char)(0xF0 | i);
	memset(hex, 'x', sizeof hex);
	sha256_hex(dg, hex);
	cr_assert_eq(hex[64], '\0');
	cr_assert_str_eq(hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
}
