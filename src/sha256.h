/* SPDX-License-Identifier: MIT */
/* sha256: a streaming SHA-256 (FIPS 180-4), used to record the digest of
 * every input file as stored on disk. Uses the x86 SHA extensions when the
 * processor has them, portable C otherwise; both give the same digests. */
#ifndef LMSRECON_SHA256_H
#define LMSRECON_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The state of one digest in progress. Plain data: it may be copied to
 * finish a digest of the bytes so far while the original goes on. */
struct sha256 {
	uint32_t h[8];            /* chaining value */
	unsigned char blk[64];    /* bytes of the current, incomplete block */
	size_t nblk;              /* bytes used in blk (0..63) */
	unsigned long long nbytes;/* message length so far, in bytes */
};

/* Starts a new digest. */
void sha256_init(struct sha256 *c);
/* Adds `len` bytes at `p` (p may be NULL when len is 0). */
void sha256_update(struct sha256 *c, const void *p, size_t len);
/* Finishes the digest into `out`; `c` must be initialised again before
 * further use. */
void sha256_final(struct sha256 *c, unsigned char out[32]);
/* Writes the 64 lowercase hex digits of `dg` and a NUL to `hex`. */
void sha256_hex(const unsigned char dg[32], char hex[65]);

/* Chooses the implementation: `on` nonzero uses the processor's SHA
 * instructions when present (the default), 0 forces portable C. For the
 * tests and benchmarks, which check that both agree. Returns whether the
 * SHA instructions are in use after the call. */
int sha256_use_hw(int on);

#endif
