/* SPDX-License-Identifier: MIT */
/* tmpfiles.h: a temporary directory per test suite and the files a test
 * writes into it. Include once, after criterion.h; set the suite's .init
 * and .fini to make_tmpdir and remove_tmpdir. */
#ifndef LMSRECON_TEST_TMPFILES_H
#define LMSRECON_TEST_TMPFILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

static char tmpdir[] = "/tmp/lmsrecon_test.XXXXXX";

static void make_tmpdir(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *dir = opendir(tmpdir);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = path_join(tmpdir, e->d_name);
		unlink(p);
		free(p);
	}
	closedir(dir);
	rmdir(tmpdir);
}

/* Reads the whole file at `path`; fails the test when it cannot. Caller
 * frees. */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;

	cr_assert_not_null(f, "cannot open %s", path);
	buf_init(&b);
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	return buf_detach(&b, len);
}

/* Writes `len` bytes to `name` in the temporary directory. Caller frees the path. */
static inline char *write_file(const char *name, const void *data, size_t len)
{
	char *path = path_join(tmpdir, name);
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* Writes `len` bytes gzip-compressed to `name`. Caller frees the path. */
static inline char *write_gz(const char *name, const void *data, size_t len)
{
	char *path = path_join(tmpdir, name);
	gzFile g = gzopen(path, "wb");

	cr_assert_not_null(g);
	cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
	cr_assert_eq(gzclose(g), Z_OK);
	return path;
}

#endif
