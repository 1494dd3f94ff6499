/* SPDX-License-Identifier: MIT */
/* sha256: SHA-256 as specified by FIPS 180-4, streaming. The compression
 * function runs on the x86 SHA extensions when the processor has them,
 * otherwise in portable C. */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* The round constants: the first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Whether the SHA instructions are used: -1 not yet decided, 0 no, 1 yes. */
static int sha256_hw = -1;

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Compresses `nblk` 64-byte blocks at `p` into `h`, in portable C. */
static void sha256_blocks_c(uint32_t h[8], const unsigned char *p, size_t nblk)
{
	uint32_t w[64];

	for (; nblk; nblk--, p += 64) {
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];

		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
			       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		for (int i = 0; i < 64; i++) {
			uint32_t s1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
			uint32_t ch = (e & f) ^ (~e & g);
			uint32_t t1 = hh + s1 + ch + sha256_k[i] + w[i];
			uint32_t s0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
			uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
			uint32_t t2 = s0 + maj;

			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

#ifdef SHA256_X86
/* Compresses `nblk` 64-byte blocks at `p` into `h` with the SHA
 * extensions. The state is kept as the two vectors the instructions want
 * (ABEF and CDGH); each step of the loop does four rounds and the message
 * schedule for four rounds ahead. */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_x86(uint32_t h[8], const unsigned char *p, size_t nblk)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i st0, st1, tmp, m, abef, cdgh;
	__m128i w0, w1, w2, w3;

	tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);      /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);      /* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);      /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);   /* CDGH */

	for (; nblk; nblk--, p += 64) {
		abef = st0;
		cdgh = st1;
		w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 0)), bswap);
		w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), bswap);
		w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), bswap);
		w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), bswap);
		/* Rounds g*4..g*4+3 with the message words in `a`; `b`, `c`,
		 * `d` are the next three groups. msg2 finishes the schedule of
		 * the group after `a` (from 12 rounds on), msg1 starts the one
		 * three groups ahead (from 4 rounds on). */
#define SHA_ROUNDS(g, a, b, c, d)                                                   \
	do {                                                                        \
		m = _mm_add_epi32(a, _mm_loadu_si128((const __m128i *)(const void *)&sha256_k[4 * (g)])); \
		st1 = _mm_sha256rnds2_epu32(st1, st0, m);                           \
		if ((g) >= 3 && (g) <= 14) {                                        \
			tmp = _mm_alignr_epi8(a, d, 4);                             \
			b = _mm_sha256msg2_epu32(_mm_add_epi32(b, tmp), a);         \
		}                                                                   \
		m = _mm_shuffle_epi32(m, 0x0E);                                     \
		st0 = _mm_sha256rnds2_epu32(st0, st1, m);                           \
		if ((g) >= 1 && (g) <= 12)                                          \
			d = _mm_sha256msg1_epu32(d, a);                             \
	} while (0)
		SHA_ROUNDS(0, w0, w1, w2, w3);
		SHA_ROUNDS(1, w1, w2, w3, w0);
		SHA_ROUNDS(2, w2, w3, w0, w1);
		SHA_ROUNDS(3, w3, w0, w1, w2);
		SHA_ROUNDS(4, w0, w1, w2, w3);
		SHA_ROUNDS(5, w1, w2, w3, w0);
		SHA_ROUNDS(6, w2, w3, w0, w1);
		SHA_ROUNDS(7, w3, w0, w1, w2);
		SHA_ROUNDS(8, w0, w1, w2, w3);
		SHA_ROUNDS(9, w1, w2, w3, w0);
		SHA_ROUNDS(10, w2, w3, w0, w1);
		SHA_ROUNDS(11, w3, w0, w1, w2);
		SHA_ROUNDS(12, w0, w1, w2, w3);
		SHA_ROUNDS(13, w1, w2, w3, w0);
		SHA_ROUNDS(14, w2, w3, w0, w1);
		SHA_ROUNDS(15, w3, w0, w1, w2);
#undef SHA_ROUNDS
		st0 = _mm_add_epi32(st0, abef);
		st1 = _mm_add_epi32(st1, cdgh);
	}

	tmp = _mm_shuffle_epi32(st0, 0x1B);      /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);      /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);   /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);      /* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&h[0], st0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

/* Whether the processor has the SHA extensions and the SSE levels the
 * code above also uses. */
static int sha256_cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_SHA) != 0;
}
#endif

int sha256_use_hw(int on)
{
#ifdef SHA256_X86
	sha256_hw = on ? sha256_cpu_has_sha() : 0;
#else
	(void)on;
	sha256_hw = 0;
#endif
	return sha256_hw;
}

/* Compresses whole blocks with the chosen implementation. */
static void sha256_blocks(uint32_t h[8], const unsigned char *p, size_t nblk)
{
	if (sha256_hw < 0)
		sha256_use_hw(1);
#ifdef SHA256_X86
	if (sha256_hw) {
		sha256_blocks_x86(h, p, nblk);
		return;
	}
#endif
	sha256_blocks_c(h, p, nblk);
}

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof iv);
	c->nblk = 0;
	c->nbytes = 0;
}

void sha256_update(struct sha256 *c, const void *p, size_t len)
{
	const unsigned char *s = p;

	c->nbytes += len;
	if (c->nblk) {
		size_t take = 64 - c->nblk;

		if (take > len)
			take = len;
		memcpy(c->blk + c->nblk, s, take);
		c->nblk += take;
		s += take;
		len -= take;
		if (c->nblk < 64)
			return;
		sha256_blocks(c->h, c->blk, 1);
		c->nblk = 0;
	}
	if (len >= 64) {
		sha256_blocks(c->h, s, len / 64);
		s += len & ~(size_t)63;
		len &= 63;
	}
	if (len) {
		memcpy(c->blk, s, len);
		c->nblk = len;
	}
}

void sha256_final(struct sha256 *c, unsigned char out[32])
{
	unsigned long long bits = c->nbytes * 8;

	c->blk[c->nblk++] = 0x80;
	if (c->nblk > 56) {
		memset(c->blk + c->nblk, 0, 64 - c->nblk);
		sha256_blocks(c->h, c->blk, 1);
		c->nblk = 0;
	}
	memset(c->blk + c->nblk, 0, 56 - c->nblk);
	for (int i = 0; i < 8; i++)
		c->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_blocks(c->h, c->blk, 1);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

void sha256_hex(const unsigned char dg[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[dg[i] >> 4];
		hex[2 * i + 1] = digits[dg[i] & 15];
	}
	hex[64] = '\0';
}
