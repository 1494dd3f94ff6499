/* SPDX-License-Identifier: MIT */
/* Tests of emit_out: output files appear whole at commit, and a large one
 * is handed to the disk and dropped from the page cache as it is written
 * (checked with mincore on the committed file). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "diag.h"
#include "emit_out.h"
#include "util.h"

static FILE *diag_out;
static char *diag_buf;
static size_t diag_len;
static struct diag d;
static char tmpdir[64];

static void setup(void)
{
	diag_out = open_memstream(&diag_buf, &diag_len);
	diag_init(&d, diag_out);
	strcpy(tmpdir, "/tmp/test_emit_out.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

/* nftw callback: removes one file or (depth first) directory. */
static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

/* Frees the diag and removes what is left of the directory. */
static void teardown(void)
{
	diag_release(&d);
	fclose(diag_out);
	free(diag_buf);
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* What was printed so far. */
static const char *printed(void)
{
	fflush(diag_out);
	return diag_buf ? diag_buf : "";
}

TestSuite(emit_out, .init = setup, .fini = teardown);

/* The byte at `i` of the test file: not a run of one value, so a chunk
 * written twice or out of place shows. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 20)) & 0xff);
}

/* The pages of `path` the page cache holds, and all of its pages. */
static void resident(const char *path, size_t *in, size_t *all)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	int fd = open(path, O_RDONLY);
	unsigned char *vec;
	void *map;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0);
	*all = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(map != MAP_FAILED);
	vec = xmalloc(*all);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	*in = 0;
	for (size_t i = 0; i < *all; i++)
		*in += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
}

Test(emit_out, large_file_is_whole_and_mostly_out_of_the_page_cache)
{
	enum { SIZE = 100 << 20, BLOCK = 1 << 16 };
	static unsigned char block[BLOCK];
	struct statfs fs;
	struct emit_out *o;
	char *path;
	size_t in, all, at;
	FILE *f;

	cr_assert_eq(statfs(tmpdir, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC)
		cr_skip_test("%s is on tmpfs, whose pages are the file", tmpdir);
	o = emit_out_new(&d, tmpdir);
	f = emit_out_open(o, "report/big.csv");
	cr_assert_not_null(f);
	for (at = 0; at < SIZE; at += BLOCK) {
		for (size_t i = 0; i < BLOCK; i++)
			block[i] = pattern(at + i);
		cr_assert_eq(fwrite(block, 1, BLOCK, f), (size_t)BLOCK);
	}
	cr_assert_eq(emit_out_commit(o), RC_OK);
	emit_out_free(o);

	path = path_join(tmpdir, "report/big.csv");
	/* Before the file is read back: at most the last two 32 MiB chunks
	 * are still in the cache (all of it without the writeback). */
	resident(path, &in, &all);
	cr_assert_eq(all * (size_t)sysconf(_SC_PAGESIZE), (size_t)SIZE);
	cr_assert(in <= all / 2, "%zu of %zu pages in the page cache", in, all);

	f = fopen(path, "rb");
	cr_assert_not_null(f);
	for (at = 0; at < SIZE; at += BLOCK) {
		cr_assert_eq(fread(block, 1, BLOCK, f), (size_t)BLOCK);
		for (size_t i = 0; i < BLOCK; i++)
			if (block[i] != pattern(at + i))
				cr_assert_fail("byte %zu is %u, not %u", at + i, block[i], pattern(at + i));
	}
	cr_assert_eq(fgetc(f), EOF);
	fclose(f);
	cr_assert_str_eq(printed(), "");
	free(path);
}

/* A write the disk refuses part way (here the file size limit, as a full
 * disk would) fails the commit with the file's name and the system's
 * reason, and no file appears: one write larger than the stream's buffer
 * included, which glibc hands to the stream in one call. */
Test(emit_out, refused_write_fails_the_commit_and_leaves_no_file)
{
	enum { BIG = 1 << 20 };
	struct rlimit lim = { 100000, RLIM_INFINITY };
	long page = sysconf(_SC_PAGESIZE);
	struct emit_out *o;
	char *path = path_join(tmpdir, "big.csv"), *want;
	unsigned char *big;
	FILE *f;

	/* The data ends at a page no one may read: a stream that read past
	 * it would crash the test. */
	big = mmap(NULL, BIG + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(big != MAP_FAILED);
	cr_assert_eq(mprotect(big + BIG, (size_t)page, PROT_NONE), 0);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	memset(big, 'x', BIG);
	o = emit_out_new(&d, tmpdir);
	f = emit_out_open(o, "big.csv");
	cr_assert_not_null(f);
	cr_assert_lt(fwrite(big, 1, BIG, f), (size_t)BIG);
	cr_assert_eq(emit_out_commit(o), RC_IO);
	emit_out_free(o);
	want = xasprintf("lmsrecon: %s: cannot write: File too large\n", path);
	cr_assert_str_eq(printed(), want);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(rmdir(tmpdir), 0, "the directory holds no temporary file");
	free(want);
	free(path);
	munmap(big, BIG + (size_t)page);
}

/* A failed run leaves no file behind, the chunks already written out
 * included. */
Test(emit_out, files_not_committed_are_removed)
{
	static unsigned char block[1 << 16];
	struct emit_out *o = emit_out_new(&d, tmpdir);
	FILE *f = emit_out_open(o, "big.csv");
	char *path = path_join(tmpdir, "big.csv");

	cr_assert_not_null(f);
	for (int i = 0; i < (40 << 20) / (int)sizeof block; i++)
		cr_assert_eq(fwrite(block, 1, sizeof block, f), sizeof block);
	emit_out_free(o);
	cr_assert_eq(access(path, F_OK), -1);
	free(path);
	cr_assert_eq(rmdir(tmpdir), 0, "the directory holds no temporary file");
}
