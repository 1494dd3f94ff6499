/* SPDX-License-Identifier: MIT */
/* load: reads each job input through its reader, checks every value by its
 * column type, and stages the rows (ingest → snapshot). */
#include "load.h"
#include "sha256.h"
#include "testhook.h"
#include "util.h"
#include "value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Scratch bytes per standard column for a normalised value (ids, dates). */
#define NORM_LEN 32

/* The state of one input being loaded; the callback's context. */
struct loader {
	struct diag *d;               /* borrowed */
	const struct job_input *in;   /* borrowed */
	const struct entity *e;       /* borrowed */
	const struct profile *prof;   /* borrowed */
	size_t nstd;                  /* entity columns */
	size_t nextra;                /* extra fields after them */
	const char **keys;            /* nstd + nextra field names (JSON keys for extras); owned array */
	const char **names;           /* header/element names asked of the reader; owned array */
	unsigned char *is_required;   /* owned */
	const char **vals;            /* per-record values handed to the stage; owned array */
	size_t *lens;                 /* owned */
	char (*norm)[NORM_LEN];       /* scratch per standard column; owned */
	struct buf extra;             /* per-record JSON of the extra fields */
	struct snap_stage *stage;     /* NULL when only checking */
	unsigned long nstaged;
	int is_progress;
	struct timespec t0;
};

static double elapsed(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Adds `name` to the list unless it is there already (field names are
 * compared as Salesforce does, ignoring ASCII case). */
static void add_unique(const char ***names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp((*names)[i], name) == 0)
			return;
	*names = xreallocarray(*names, *n + 1, sizeof **names);
	(*names)[(*n)++] = name;
}

/* Every field name of entity `e` that the job refers to: columns it lists
 * for the input, mapped and matched CRM fields of a people source, LMS user
 * fields it maps or uses for sync back. */
static size_t referenced_fields(const struct job *j, const struct entity_fields *need,
				const struct entity *e, const char ***names)
{
	size_t n = 0;
	const struct job_input *in = job_input_of(j, e->id);

	*names = NULL;
	if (in)
		for (size_t i = 0; i < in->ncolumns; i++)
			add_unique(names, &n, in->columns[i].key);
	for (size_t p = 0; p < j->npeople; p++) {
		const struct job_people *pe = &j->people[p];
		if (pe->source == e->id) {
			for (size_t i = 0; i < pe->nmaps; i++)
				add_unique(names, &n, pe->maps[i].crm);
			if (pe->match_field)
				add_unique(names, &n, pe->match_field);
			if (pe->picklist_field)
				add_unique(names, &n, pe->picklist_field);
		}
		if (e->id == ENT_LMS_USER)
			for (size_t i = 0; i < pe->nmaps; i++)
				add_unique(names, &n, pe->maps[i].lms);
	}
	if (e->id == ENT_LMS_USER && j->syncback.is_enabled && j->syncback.account_field)
		add_unique(names, &n, j->syncback.account_field);
	if (e->id == ENT_CONTACT && j->syncback.is_enabled && j->syncback.match_field)
		add_unique(names, &n, j->syncback.match_field);
	for (size_t i = 0; need && i < need->n[e->id]; i++)
		add_unique(names, &n, need->names[e->id][i]);
	return n;
}

size_t load_extra_fields(const struct job *j, const struct entity_fields *need,
			 const struct entity *e, const char ***names)
{
	const char **ref;
	size_t nref = referenced_fields(j, need, e, &ref), n = 0;

	*names = NULL;
	for (size_t i = 0; i < nref; i++) {
		int is_std = 0;
		for (size_t c = 0; c < e->ncols; c++)
			if (strcasecmp(e->cols[c].key, ref[i]) == 0)
				is_std = 1;
		if (!is_std)
			add_unique(names, &n, ref[i]);
	}
	free(ref);
	if (!e->has_extra && n) {
		/* Entities without extra fields ignore the job's extras. */
		free(*names);
		*names = NULL;
		n = 0;
	}
	return n;
}

/* The header (or element) name of field `key` in this input: the job's
 * <column> rename, else the profile's header, else the key itself. */
static const char *header_of(const struct job_input *in, const char *key,
			     const char *profile_header)
{
	for (size_t i = 0; i < in->ncolumns; i++)
		if (strcasecmp(in->columns[i].key, key) == 0 && in->columns[i].header)
			return in->columns[i].header;
	return profile_header ? profile_header : key;
}

static void loader_init(struct loader *l, struct diag *d, const struct job *j,
			const struct entity_fields *need, const struct job_input *in)
{
	const char **ref, **extra;
	size_t nref, n;

	memset(l, 0, sizeof *l);
	l->d = d;
	l->in = in;
	l->e = in->entity;
	l->prof = in->profile;
	l->nstd = l->e->ncols;
	l->nextra = load_extra_fields(j, need, l->e, &extra);
	n = l->nstd + l->nextra;
	l->keys = xcalloc(n, sizeof *l->keys);
	l->names = xcalloc(n, sizeof *l->names);
	l->is_required = xcalloc(n, 1);
	l->vals = xcalloc(n, sizeof *l->vals);
	l->lens = xcalloc(n, sizeof *l->lens);
	l->norm = xcalloc(l->nstd ? l->nstd : 1, sizeof *l->norm);
	buf_init(&l->extra);

	nref = referenced_fields(j, need, l->e, &ref);
	for (size_t c = 0; c < l->nstd; c++) {
		const char *ph = l->prof->ents[l->e->id].headers ?
			l->prof->ents[l->e->id].headers[c] : NULL;
		l->keys[c] = l->e->cols[c].key;
		l->names[c] = header_of(in, l->e->cols[c].key, ph);
		l->is_required[c] = l->e->cols[c].is_required;
	}
	for (size_t x = 0; x < l->nextra; x++) {
		l->keys[l->nstd + x] = extra[x];
		l->names[l->nstd + x] = header_of(in, extra[x], NULL);
	}
	/* A field the job relies on must be in the file's header. */
	for (size_t r = 0; r < nref; r++)
		for (size_t c = 0; c < n; c++)
			if (strcasecmp(l->keys[c], ref[r]) == 0)
				l->is_required[c] = 1;
	free(ref);
	free(extra);
}

static void loader_release(struct loader *l)
{
	free(l->keys);
	free(l->names);
	free(l->is_required);
	free(l->vals);
	free(l->lens);
	free(l->norm);
	buf_release(&l->extra);
}

/* Checks and normalises column `c`'s value in place (vals/lens), using the
 * column's scratch. Returns 0, or -1 after reporting a bad record (and
 * *rc says whether reading goes on). */
static int check_value(struct loader *l, size_t c, unsigned long line, enum rc *rc)
{
	const struct entity_col *col = &l->e->cols[c];
	const char *v = l->vals[c];
	size_t len = l->lens[c];
	struct srcpos pos = { l->in->name, line, 0 };
	const char *why = NULL;
	enum status st;
	int b;

	switch (col->type) {
	case COL_TEXT:
		return 0;
	case COL_SFID:
		if (value_sfid18(v, len, l->norm[c]) != 0) {
			*rc = diag_bad_record(l->d, &pos, "bad Salesforce id '%.*s' in column '%s'",
					      (int)(len > 40 ? 40 : len), v, l->names[c]);
			return -1;
		}
		l->vals[c] = l->norm[c];
		l->lens[c] = 18;
		return 0;
	case COL_DATETIME:
		if (value_datetime(v, len, l->prof->date_pattern, l->norm[c], &why) != 0) {
			*rc = diag_bad_record(l->d, &pos, "bad date '%.*s' in column '%s': %s",
					      (int)(len > 40 ? 40 : len), v, l->names[c],
					      why ? why : "not a date");
			return -1;
		}
		l->vals[c] = l->norm[c];
		l->lens[c] = strlen(l->norm[c]);
		return 0;
	case COL_BOOL:
		b = value_bool(v, len);
		if (b < 0) {
			*rc = diag_bad_record(l->d, &pos, "bad boolean '%.*s' in column '%s' (expected 1/0 or true/false)",
					      (int)(len > 40 ? 40 : len), v, l->names[c]);
			return -1;
		}
		l->vals[c] = b ? "1" : "0";
		l->lens[c] = 1;
		return 0;
	case COL_NUMBER:
		if (value_number(v, len) != 0) {
			*rc = diag_bad_record(l->d, &pos, "bad number '%.*s' in column '%s'",
					      (int)(len > 40 ? 40 : len), v, l->names[c]);
			return -1;
		}
		return 0;
	case COL_STATUS:
		if (profile_status(l->prof, v, len, &st) != 0) {
			*rc = diag_bad_record(l->d, &pos, "unknown status '%.*s' in column '%s'",
					      (int)(len > 40 ? 40 : len), v, l->names[c]);
			return -1;
		}
		l->vals[c] = profile_status_name(st);
		l->lens[c] = strlen(l->vals[c]);
		return 0;
	case COL_COURSE_TYPE:
		if (len == 9 && strncasecmp(v, "elearning", 9) == 0)
			l->vals[c] = "elearning";
		else if (len == 9 && strncasecmp(v, "classroom", 9) == 0)
			l->vals[c] = "classroom";
		else if (len == 7 && strncasecmp(v, "webinar", 7) == 0)
			l->vals[c] = "webinar";
		else {
			*rc = diag_bad_record(l->d, &pos, "unknown course type '%.*s' in column '%s' (expected elearning, classroom or webinar)",
					      (int)(len > 40 ? 40 : len), v, l->names[c]);
			return -1;
		}
		l->lens[c] = strlen(l->vals[c]);
		return 0;
	}
	return 0;
}

static enum rc on_record(void *ctx, const struct ingest_rec *rec)
{
	struct loader *l = ctx;
	const char *null_token = l->prof->null_token;
	size_t null_len = null_token ? strlen(null_token) : 0;
	size_t n = l->nstd + l->nextra;
	enum rc rc = RC_OK;

	for (size_t c = 0; c < n; c++) {
		const char *v = rec->vals[c];
		size_t len = rec->lens[c];
		/* An empty field, or the profile's null token, is no value. */
		if (v && (len == 0 || (null_len && len == null_len && memcmp(v, null_token, len) == 0)))
			v = NULL;
		l->vals[c] = v;
		l->lens[c] = v ? len : 0;
		if (!v && c < l->nstd && l->e->cols[c].is_required) {
			struct srcpos pos = { l->in->name, rec->line, 0 };
			return diag_bad_record(l->d, &pos, "empty value in required column '%s'",
					       l->names[c]);
		}
		if (v && c < l->nstd && check_value(l, c, rec->line, &rc) != 0)
			return rc;
	}
	buf_reset(&l->extra);
	if (l->nextra) {
		buf_addch(&l->extra, '{');
		for (size_t x = l->nstd; x < n; x++) {
			if (!l->vals[x])
				continue;
			if (l->extra.len > 1)
				buf_addch(&l->extra, ',');
			buf_add_json_string(&l->extra, l->keys[x], strlen(l->keys[x]));
			buf_addch(&l->extra, ':');
			buf_add_json_string(&l->extra, l->vals[x], l->lens[x]);
		}
		buf_addch(&l->extra, '}');
	}
	if (l->stage) {
		rc = snap_stage_row(l->stage, rec->line, l->vals, l->lens,
				    l->nextra ? l->extra.buf : NULL, l->extra.len);
		if (rc != RC_OK)
			return rc;
	}
	l->nstaged++;
	testhook("row");
	if (l->is_progress && (l->nstaged & 0xffff) == 0) {
		double s = elapsed(&l->t0);
		fprintf(stderr, "\rlmsrecon: reading %s: %lu records (%.0f/s)",
			l->in->name, l->nstaged, s > 0 ? (double)l->nstaged / s : 0.0);
		fflush(stderr);
	}
	return RC_OK;
}

static enum rc load_one(struct diag *d, const struct job *j, struct snap *s,
			const struct entity_fields *need, size_t idx, int is_progress,
			struct load_input *li)
{
	const struct job_input *in = &j->inputs[idx];
	const struct profile_entity *pe = &in->profile->ents[in->entity->id];
	struct ingest_fmt fmt = { 0 };
	struct ingest_cols cols;
	struct loader l;
	enum rc rc = RC_OK;

	loader_init(&l, d, j, need, in);
	l.is_progress = is_progress;
	clock_gettime(CLOCK_MONOTONIC, &l.t0);
	fmt.kind = in->kind;
	fmt.delim = in->profile->delim;
	fmt.quote = in->profile->quote;
	fmt.record_elem = pe->record_elem ? pe->record_elem : "records";
	cols.n = l.nstd + l.nextra;
	cols.names = l.names;
	cols.is_required = l.is_required;

	if (s)
		rc = snap_stage_open(s, in->entity, (int)idx, &l.stage);
	if (rc == RC_OK)
		rc = ingest_read(d, in->path, in->name, &fmt, &cols, on_record, &l, &li->st);
	if (l.stage) {
		enum rc rc2 = snap_stage_close(l.stage);
		if (rc == RC_OK)
			rc = rc2;
	}
	li->in = in;
	li->nstaged = l.nstaged;
	li->seconds = elapsed(&l.t0);
	sha256_hex(li->st.sha256, li->sha256_hex);
	if (is_progress) {
		double mb = (double)li->st.bytes / 1e6;
		fprintf(stderr, "\rlmsrecon: read %s: %lu records, %.1f MB in %.2f s (%.1f MB/s)\n",
			in->name, li->st.nrecords, mb, li->seconds,
			li->seconds > 0 ? mb / li->seconds : 0.0);
	}
	if (rc == RC_OK && s)
		rc = snap_run_input(s, in->entity->name, in->name, li->sha256_hex,
				    li->nstaged, li->st.bytes);
	loader_release(&l);
	return rc;
}

enum rc load_inputs(struct diag *d, const struct job *j, struct snap *s,
		    const struct entity_fields *need, unsigned flags,
		    struct load_result *res)
{
	enum rc rc = RC_OK;

	res->inputs = xcalloc(j->ninputs ? j->ninputs : 1, sizeof *res->inputs);
	res->ninputs = 0;
	for (size_t i = 0; i < j->ninputs; i++) {
		enum rc rc1 = load_one(d, j, s, need, i, flags & LOAD_PROGRESS, &res->inputs[i]);
		res->ninputs = i + 1;
		if (rc1 == RC_OK)
			continue;
		if (rc == RC_OK)
			rc = rc1;
		/* Bad data in one file says nothing of the others; anything
		 * else (I/O, the snapshot) ends the load. */
		if (!(flags & LOAD_KEEP_GOING) || (rc1 != RC_DATA && rc1 != RC_NOINPUT))
			break;
	}
	if (rc == RC_OK && s)
		rc = snap_stage_index(s);
	return rc;
}

void load_result_release(struct load_result *res)
{
	free(res->inputs);
	res->inputs = NULL;
	res->ninputs = 0;
}
