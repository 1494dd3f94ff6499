/* SPDX-License-Identifier: MIT */
/* fuzz: what every libFuzzer harness of tests/fuzz shares. A harness writes
 * the fuzz input into a file of its own scratch directory (the readers take
 * paths, not buffers), sends every message to /dev/null and checks the
 * contract of the API it drives with fuzz_check(), which aborts so that
 * libFuzzer keeps the input as a crash. Included by one harness per binary,
 * so everything here is static (inline, as not every harness uses all of it). */
#ifndef LMSRECON_FUZZ_H
#define LMSRECON_FUZZ_H

#define _GNU_SOURCE 1
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"

/* The harness's scratch directory, made on first use and removed at exit
 * (libFuzzer does not always exit through exit(): scripts/fuzz also points
 * TMPDIR at a folder of build/fuzz/tmp that it empties). */
static char fuzz_dir_path[4096];
/* The message sink: /dev/null, opened on first use. */
static FILE *fuzz_null;

/* Removes one entry of the scratch directory (nftw callback, depth first). */
static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes the scratch directory and what it holds (atexit handler). */
static inline void fuzz_cleanup(void)
{
	if (fuzz_dir_path[0])
		nftw(fuzz_dir_path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (fuzz_null)
		fclose(fuzz_null);
	fuzz_dir_path[0] = '\0';
	fuzz_null = NULL;
}

/* The scratch directory ($TMPDIR or /tmp, one per process). */
static inline const char *fuzz_dir(void)
{
	if (!fuzz_dir_path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/lmsrecon-fuzz-XXXXXX",
			 tmp && *tmp && strlen(tmp) < 4000 ? tmp : "/tmp");
		if (!mkdtemp(fuzz_dir_path)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fuzz_cleanup);
	}
	return fuzz_dir_path;
}

/* Writes `len` bytes to the file `name` of the scratch directory and returns
 * its path (caller frees). */
static inline char *fuzz_write(const char *name, const void *p, size_t len)
{
	const char *dir = fuzz_dir();
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = malloc(n);
	FILE *f;

	if (!path)
		abort();
	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}

/* The FILE* every diag of a harness writes to: /dev/null, or stderr when
 * FUZZ_VERBOSE is set (to read the messages of one reproducer). */
static inline FILE *fuzz_devnull(void)
{
	if (!fuzz_null) {
		const char *v = getenv("FUZZ_VERBOSE");
		fuzz_null = v && *v ? fdopen(dup(2), "w") : fopen("/dev/null", "w");
		if (!fuzz_null) {
			perror("/dev/null");
			abort();
		}
		fuzz_dir();	/* registers the cleanup that closes it */
	}
	return fuzz_null;
}

/* Aborts (a crash libFuzzer keeps) when a contract does not hold. */
#define fuzz_check(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
