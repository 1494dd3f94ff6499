/* SPDX-License-Identifier: MIT */
/* util: allocation that cannot fail (exits 71), a growable byte buffer,
 * and small string helpers shared by every stage. */
#ifndef LMSRECON_UTIL_H
#define LMSRECON_UTIL_H

#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

/* Allocation wrappers: on failure they print and exit with 71. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A growable byte buffer, always NUL-terminated after _init (git's strbuf).
 * `buf` is owned; reset keeps the allocation for reuse. */
struct buf {
	char *buf;    /* the bytes, NUL-terminated; owned */
	size_t len;   /* bytes used, without the NUL */
	size_t alloc; /* bytes allocated */
};
#define BUF_INIT { NULL, 0, 0 }
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, int c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` (len bytes) as a JSON string literal, quotes included: a
 * quote and a backslash escaped, the other bytes below 0x20 as \u00XX. */
void buf_add_json_string(struct buf *b, const char *s, size_t len);
/* The same, with \b \t \n \f \r by their names, as SQLite's JSON
 * functions write them (lmsrecon_json_object). */
void buf_add_json_string_named(struct buf *b, const char *s, size_t len);
/* Hands the bytes to the caller (caller frees) and re-initialises b. */
char *buf_detach(struct buf *b, size_t *len);

/* The 64-bit FNV-1a hash of `n` bytes, continuing from `h`: FNV1A_BASIS
 * to start. The snapshot's digest of emitted records is one (so it must
 * never change). */
#define FNV1A_BASIS 0xcbf29ce484222325ULL
unsigned long long fnv1a(unsigned long long h, const void *data, size_t n);

/* 1 when `s` is a plain field name — letters, digits, '_' and '.', not
 * empty: a Salesforce API name or an LMS field name. Only such names are
 * put into SQL text (as a JSON key or a column), never other input. */
int name_is_plain(const char *s);

/* Joins a directory and a relative path; an absolute `rel` is returned as is.
 * Caller frees. */
char *path_join(const char *dir, const char *rel);
/* The directory part of `path` ("." when there is none). Caller frees. */
char *path_dirname(const char *path);

/* A file written front to back that the writer does not read back (the
 * output files, the first run's snapshot): what was written is handed to
 * the disk, and once there dropped from the kernel's page cache, a chunk
 * behind the writer. The file then holds about two chunks of the cache
 * instead of its size. On a virtual machine that hands freed memory back
 * to its host, each page the cache takes anew costs a trip to the host,
 * and memory freed a moment before does not (docs/performance.md). */
struct dropbehind {
	int fd;        /* the file, which the caller opens and closes */
	off_t started; /* bytes handed to the disk */
	off_t dropped; /* bytes on the disk and out of the cache */
};

/* How far a writer goes past `started` before calling dropbehind_advance. */
#define DROPBEHIND_CHUNK ((off_t)32 << 20)

/* Waits for what was handed to the disk last and drops it from the cache,
 * then hands the disk the bytes up to `end`. Advisory: returns 0, or the
 * errno of a failed wait (a write error: the kernel reports it once, so a
 * later fsync of the same descriptor may not see it). A file system that
 * cannot do it is not an error. */
int dropbehind_advance(struct dropbehind *w, off_t end);

/* Starts a thread running fn(arg) with every signal blocked in it, so that
 * signals reach the main thread. Returns 0 or the error number (EAGAIN at
 * the test point "thread", see testhook.h). */
int thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

/* A ring of `n` buffers handed from one producing thread to one consuming
 * thread: buffer nfilled % n is the producer's to fill, nconsumed % n the
 * consumer's to read. The buffers are the caller's; this keeps the counts
 * and the waits. */
struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t filled;          /* a buffer was handed over, or the last */
	pthread_cond_t freed;           /* a buffer was given back, or stop */
	unsigned n;
	unsigned long long nfilled;     /* buffers handed over */
	unsigned long long nconsumed;   /* buffers given back */
	int is_done;                    /* the producer has handed over its last */
	atomic_int is_stopped;          /* the consumer wants no more */
};
void handoff_init(struct handoff *h, unsigned n);
void handoff_destroy(struct handoff *h);
/* Producer: hands over buffer nfilled % n when `is_filled`, and its last
 * when `is_last`; otherwise waits until the next buffer is free. Returns
 * 0, or -1 once the consumer has stopped. */
int handoff_put(struct handoff *h, int is_filled, int is_last);
/* Consumer: waits for the next buffer; returns its index, or -1 when the
 * producer has handed over its last. */
long handoff_get(struct handoff *h);
/* Consumer: gives back the buffer handoff_get returned. */
void handoff_release(struct handoff *h);
/* Consumer: wants no more; a producer waiting for a buffer goes on. */
void handoff_stop(struct handoff *h);
/* Whether handoff_stop was called, without waiting for the lock. */
int handoff_is_stopped(struct handoff *h);

#endif
