/* SPDX-License-Identifier: MIT */
/* util: allocation wrappers, struct buf, path helpers. */
#include "util.h"
#include "testhook.h"

#include <errno.h>
#include <fcntl.h>

#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(void)
{
	fputs("lmsrecon: out of memory\n", stderr);
	exit(71);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die_oom();
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	if (vasprintf(&p, fmt, ap) < 0)
		die_oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

static char buf_empty[1];

void buf_init(struct buf *b)
{
	b->buf = buf_empty;
	b->len = b->alloc = 0;
}

void buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->buf);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->buf[0] = '\0';
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t need;
	if (!b->buf)
		buf_init(b);
	if (extra >= SIZE_MAX - b->len - 1)
		die_oom();
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return;
	if (need < 2 * b->alloc)
		need = 2 * b->alloc;
	if (need < 64)
		need = 64;
	if (b->alloc) {
		b->buf = xrealloc(b->buf, need);
	} else {
		b->buf = xmalloc(need);
		b->buf[0] = '\0';
	}
	b->alloc = need;
}

void buf_add(struct buf *b, const void *p, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, int c)
{
	buf_grow(b, 1);
	b->buf[b->len++] = (char)c;
	b->buf[b->len] = '\0';
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	buf_grow(b, 64);
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_oom();
	if ((size_t)n >= b->alloc - b->len) {
		buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* `s` (`len` bytes) as a JSON string literal into `b`: a quote and a
 * backslash after a backslash, other bytes below 0x20 as \u00XX or, with
 * `is_named`, \b \t \n \f \r by their names; every other byte as it
 * is, copied in runs. */
static void add_json_string(struct buf *b, const char *s, size_t len, int is_named)
{
	static const char named[32] = { ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
					 ['\f'] = 'f', ['\r'] = 'r' };
	/* The bytes written escaped: the quote, the backslash, the controls. */
	static const unsigned char escaped[256] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		['"'] = 1, ['\\'] = 1 };
	size_t run = 0; /* start of the bytes not yet added */

	buf_grow(b, len + 2);
	buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!escaped[c])
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		buf_addch(b, '\\');
		if (c == '"' || c == '\\')
			buf_addch(b, c);
		else if (is_named && named[c])
			buf_addch(b, named[c]);
		else
			buf_addf(b, "u%04x", c);
	}
	buf_add(b, s + run, len - run);
	buf_addch(b, '"');
}

void buf_add_json_string(struct buf *b, const char *s, size_t len)
{
	add_json_string(b, s, len, 0);
}

void buf_add_json_string_named(struct buf *b, const char *s, size_t len)
{
	add_json_string(b, s, len, 1);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;
	if (!b->alloc)
		buf_grow(b, 0);
	p = b->buf;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

int name_is_plain(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

char *path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
		return xstrdup(rel);
	return xasprintf("%s/%s", dir, rel);
}

char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

unsigned long long fnv1a(unsigned long long h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int dropbehind_advance(struct dropbehind *w, off_t end)
{
	int err = 0;

	if (w->started > w->dropped) {
		off_t len = w->started - w->dropped;
		if (sync_file_range(w->fd, w->dropped, len, SYNC_FILE_RANGE_WAIT_BEFORE |
				    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
			if (errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
				err = errno;
		} else {
			(void)posix_fadvise(w->fd, w->dropped, len, POSIX_FADV_DONTNEED);
		}
		w->dropped = w->started;
	}
	(void)sync_file_range(w->fd, w->started, end - w->started, SYNC_FILE_RANGE_WRITE);
	w->started = end;
	return err;
}

int thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	if (testhook_fails("thread"))
		return EAGAIN;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void handoff_init(struct handoff *h, unsigned n)
{
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->filled, NULL);
	pthread_cond_init(&h->freed, NULL);
	h->n = n;
	h->nfilled = h->nconsumed = 0;
	h->is_done = 0;
	atomic_init(&h->is_stopped, 0);
}

void handoff_destroy(struct handoff *h)
{
	pthread_cond_destroy(&h->filled);
	pthread_cond_destroy(&h->freed);
	pthread_mutex_destroy(&h->mu);
}

int handoff_put(struct handoff *h, int is_filled, int is_last)
{
	int is_stopped;

	pthread_mutex_lock(&h->mu);
	if (is_filled)
		h->nfilled++;
	if (is_last)
		h->is_done = 1;
	pthread_cond_signal(&h->filled);
	while (!is_last && h->nfilled - h->nconsumed == h->n &&
	       !atomic_load_explicit(&h->is_stopped, memory_order_relaxed))
		pthread_cond_wait(&h->freed, &h->mu);
	is_stopped = atomic_load_explicit(&h->is_stopped, memory_order_relaxed);
	pthread_mutex_unlock(&h->mu);
	return is_stopped ? -1 : 0;
}

long handoff_get(struct handoff *h)
{
	long i = -1;

	pthread_mutex_lock(&h->mu);
	while (h->nconsumed == h->nfilled && !h->is_done)
		pthread_cond_wait(&h->filled, &h->mu);
	if (h->nconsumed < h->nfilled)
		i = (long)(h->nconsumed % h->n);
	pthread_mutex_unlock(&h->mu);
	return i;
}

void handoff_release(struct handoff *h)
{
	pthread_mutex_lock(&h->mu);
	h->nconsumed++;
	pthread_cond_signal(&h->freed);
	pthread_mutex_unlock(&h->mu);
}

void handoff_stop(struct handoff *h)
{
	pthread_mutex_lock(&h->mu);
	atomic_store_explicit(&h->is_stopped, 1, memory_order_relaxed);
	pthread_cond_signal(&h->freed);
	pthread_mutex_unlock(&h->mu);
}

int handoff_is_stopped(struct handoff *h)
{
	return atomic_load_explicit(&h->is_stopped, memory_order_relaxed);
}
