/* SPDX-License-Identifier: MIT */
/* rule_branch: R6, the LMS branch of every person (single, Account
 * hierarchy, or dependent picklists, whose metadata meta_picklist reads)
 * and the branches the org chart needs. */
#include "rule_branch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_picklist.h"
#include "rule_util.h"
#include "sha256.h"
#include "util.h"

#define NONE SIZE_MAX /* no index */

/* What one call works with: its inputs and the statements it reuses. */
struct br {
	struct diag *d;               /* where warnings and errors go; borrowed */
	const struct job *j;          /* the job (input names for messages); borrowed */
	const struct job_people *pe;  /* the people source placed; borrowed */
	struct snap *s;               /* the snapshot in its run; borrowed */
	long long run_id;             /* the run in flight */
	const char *source;           /* entity name of the people source; static */
	const char *dest;             /* the destination branch code; borrowed from pe */
	struct snap_stmt *st_known;   /* is a code in the LMS branches export */
	struct snap_stmt *st_out;     /* insert into stage.branch_out */
	struct snap_stmt *st_created; /* insert into branches_created */
	struct snap_stmt *st_place;   /* record a person's place or rejection */
	struct snap_stmt *st_codeless;/* an LMS branch without a code, by name */
};

/* One person of the source, as people_next reads it: the pointers are
 * the statement's and last until its next step. */
struct br_person {
	const char *crm_id;
	const char *vals[3];   /* accounts: [0] AccountId; picklist: the record's values; NULL when empty */
	int is_person;         /* accounts: the Contact's own IsPersonAccount */
	int src_file;          /* job input of its record */
	unsigned long src_line;/* line its record started on */
};

/* ---- shared helpers ---------------------------------------------------- */

/* Binds text parameter i (NULL binds SQL NULL). */
static void bind_str(struct snap_stmt *st, int i, const char *v)
{
	snap_bind_text(st, i, v, v ? strlen(v) : 0);
}

/* Non-empty text of column i, else NULL. */
static const char *col_or_null(struct snap_stmt *st, int i)
{
	const char *v = snap_col_text(st, i);
	return v && v[0] ? v : NULL;
}

/* Copy of col_or_null; caller frees. */
static char *col_dup(struct snap_stmt *st, int i)
{
	const char *v = col_or_null(st, i);
	return v ? xstrdup(v) : NULL;
}

/* The name of job input `src_file` as the job gives it, or NULL. */
static const char *input_name(const struct job *j, long long src_file)
{
	return src_file >= 0 && (size_t)src_file < j->ninputs ?
		j->inputs[src_file].name : NULL;
}

/* Adds one branch to stage.branch_out; when the LMS export lacks it, also
 * records the change and the branch in branches_created. */
static void branch_emit(struct br *b, const char *code, const char *name,
			const char *parent, int depth, const char *origin,
			const char *key, int src_file, unsigned long src_line)
{
	int is_new;

	bind_str(b->st_known, 1, code);
	is_new = snap_step(b->st_known);
	if (is_new < 0)
		return;
	if (is_new == 1)
		snap_reset(b->st_known);
	is_new = !is_new;
	bind_str(b->st_out, 1, code);
	bind_str(b->st_out, 2, name);
	bind_str(b->st_out, 3, parent);
	snap_bind_int(b->st_out, 4, depth);
	bind_str(b->st_out, 5, origin);
	bind_str(b->st_out, 6, key);
	snap_bind_int(b->st_out, 7, is_new);
	snap_step(b->st_out);
	if (!is_new)
		return;
	rule_change(b->s, "lms.branches", code, "create", NULL, NULL, name,
		    src_file, src_line, "R6");
	bind_str(b->st_created, 1, code);
	bind_str(b->st_created, 2, name);
	bind_str(b->st_created, 3, parent);
	bind_str(b->st_created, 4, origin);
	bind_str(b->st_created, 5, key);
	snap_bind_int(b->st_created, 6, b->run_id);
	snap_step(b->st_created);
}

/* Puts one person in branch `code`: recorded in stage.br_place, applied
 * to stage.people by people_apply once every person has been read. */
static void person_place(struct br *b, const char *crm_id, const char *code)
{
	bind_str(b->st_place, 1, crm_id);
	bind_str(b->st_place, 2, code);
	snap_bind_int(b->st_place, 3, 0);
	snap_step(b->st_place);
}

/* Records why a person cannot be placed and keeps it out of the run. */
static void person_reject(struct br *b, const struct br_person *p,
			  const char *kind, const char *candidates,
			  const char *reason)
{
	rule_exception(b->s, kind, b->source, p->crm_id, candidates, reason,
		       p->src_file, p->src_line);
	bind_str(b->st_place, 1, p->crm_id);
	bind_str(b->st_place, 2, NULL);
	snap_bind_int(b->st_place, 3, 1);
	snap_step(b->st_place);
}

/* Opens the read of the people of the source that are not rejected, in
 * input order, with the values of the SQL expressions `exprs` (NULL for
 * none) of their staged record. One person at a time (people_next), so
 * memory does not grow with the people; the caller finalizes. */
static struct snap_stmt *people_open(struct br *b, const char *const exprs[3],
				     int with_person_flag)
{
	const struct entity *e = entity_get(b->pe->source);
	struct buf sql = BUF_INIT;
	struct snap_stmt *st;

	buf_adds(&sql, "SELECT p.crm_id, p.src_file, p.src_line, p.account_id");
	for (int k = 0; k < 3; k++) {
		if (!exprs[k]) {
			buf_adds(&sql, ", NULL");
			continue;
		}
		buf_addf(&sql, ", (SELECT %s FROM stage.%s WHERE Id = p.crm_id ORDER BY rowid LIMIT 1)",
			 exprs[k], e->table);
	}
	buf_adds(&sql, with_person_flag ? ", p.is_person" : ", 0");
	buf_adds(&sql, " FROM stage.people p WHERE p.source = ?1 AND p.is_rejected = 0"
		 " ORDER BY p.src_file, p.src_line, p.crm_id");
	st = snap_prepare(b->s, sql.buf);
	buf_release(&sql);
	if (st)
		bind_str(st, 1, b->source);
	return st;
}

/* The next person of people_open's read into p; 0 at the end. */
static int people_next(struct snap_stmt *st, int has_exprs, struct br_person *p)
{
	if (!st || snap_step(st) != 1)
		return 0;
	p->crm_id = snap_col_text(st, 0);
	p->src_file = (int)snap_col_int(st, 1);
	p->src_line = (unsigned long)snap_col_int(st, 2);
	if (has_exprs) {
		for (int k = 0; k < 3; k++)
			p->vals[k] = col_or_null(st, 4 + k);
	} else {
		p->vals[0] = col_or_null(st, 3);
		p->vals[1] = p->vals[2] = NULL;
	}
	p->is_person = snap_col_int(st, 7) != 0;
	return 1;
}

/* Applies the places and rejections people_next's readers recorded. */
static void people_apply(struct br *b)
{
	snap_run(b->s, "UPDATE stage.people SET (branch_code, is_rejected) ="
		 " (SELECT bp.code, bp.is_rejected FROM stage.br_place bp WHERE bp.crm_id = people.crm_id)"
		 " WHERE source = ?1 AND EXISTS (SELECT 1 FROM stage.br_place bp"
		 " WHERE bp.crm_id = people.crm_id)",
		 "t", b->source);
	snap_exec(b->s, "DELETE FROM stage.br_place");
}

/* ---- accounts ---------------------------------------------------------- */

enum acc_state { ACC_NEW, ACC_ON_PATH, ACC_DONE };
enum acc_problem { ACC_OK, ACC_CYCLE, ACC_MISSING };

/* One staged Account and where its branch sits. */
struct br_account {
	char *id;                 /* 18-character Id; owned */
	char *name;               /* Name, or NULL; owned */
	char *parent;             /* ParentId, or NULL; owned */
	int is_person;            /* IsPersonAccount */
	int src_file;             /* job input of the Account row */
	unsigned long src_line;   /* its line */
	unsigned char state;      /* enum acc_state: the walk up the hierarchy */
	unsigned char problem;    /* enum acc_problem, for it or an ancestor */
	unsigned char is_skipped; /* a codeless LMS branch has its name: no branch */
	unsigned char is_needed;  /* a placed contact sits in it or below it */
	char *reason;             /* problem: what is wrong above it; owned */
	char *ids;                /* problem: the Account ids, sorted, ';'-separated; owned */
	char code[RULE_BRANCH_CODE_MAX]; /* its branch code (unless skipped) */
	const char *parent_code;  /* branch its branch sits under; borrowed */
	const char *anchor;       /* branch its contacts go to; borrowed */
	int depth;                /* depth of `anchor` (0 = destination) */
	long long skip_file;      /* is_skipped: job input of the codeless branch */
	unsigned long skip_line;  /* is_skipped: its line in the branches export */
};

/* The Accounts of the export, sorted by Id (duplicates dropped). */
struct br_accounts {
	struct br_account *a;     /* owned */
	size_t n;                 /* Accounts in a */
};

/* Index of the Account with Id `id`, or NONE (binary search). */
static size_t acc_find(const struct br_accounts *as, const char *id)
{
	size_t lo = 0, hi = as->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(as->a[mid].id, id);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

/* Reads every staged Account, sorted by Id; the first of duplicate Ids wins. */
static void acc_load(struct br *b, struct br_accounts *as)
{
	struct snap_stmt *st = snap_prepare(b->s,
		"SELECT Id, Name, ParentId, IsPersonAccount, src_file, src_line"
		" FROM stage.stg_account WHERE Id IS NOT NULL ORDER BY Id, rowid");
	size_t alloc = 0;

	as->a = NULL;
	as->n = 0;
	if (!st)
		return;
	while (snap_step(st) == 1) {
		const char *id = snap_col_text(st, 0);
		struct br_account *a;
		if (as->n && strcmp(as->a[as->n - 1].id, id) == 0)
			continue;
		if (as->n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			as->a = xreallocarray(as->a, alloc, sizeof *as->a);
		}
		a = &as->a[as->n++];
		memset(a, 0, sizeof *a);
		a->id = xstrdup(id);
		a->name = col_dup(st, 1);
		a->parent = col_dup(st, 2);
		a->is_person = snap_col_int(st, 3) != 0;
		a->src_file = (int)snap_col_int(st, 4);
		a->src_line = (unsigned long)snap_col_int(st, 5);
		rule_branch_account_code(a->id, a->code);
	}
	snap_finalize(st);
}

/* Frees the Accounts and what they own. */
static void acc_free(struct br_accounts *as)
{
	for (size_t i = 0; i < as->n; i++) {
		free(as->a[i].id);
		free(as->a[i].name);
		free(as->a[i].parent);
		free(as->a[i].reason);
		free(as->a[i].ids);
	}
	free(as->a);
}

/* qsort: C strings in byte order. */
static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Marks a cycle found on `path` (indices, child first) at position `at`:
 * path[at..n-1] is the cycle, path[0..at-1] sits under it. */
static void acc_cycle(struct br_accounts *as, const size_t *path, size_t n, size_t at)
{
	size_t ncyc = n - at, first = at;
	const char **ids = xmalloc(ncyc * sizeof *ids);
	struct buf idl = BUF_INIT, desc = BUF_INIT;

	for (size_t i = at; i < n; i++) {
		ids[i - at] = as->a[path[i]].id;
		if (strcmp(as->a[path[i]].id, as->a[path[first]].id) < 0)
			first = i;
	}
	qsort(ids, ncyc, sizeof *ids, cmp_str);
	for (size_t i = 0; i < ncyc; i++)
		buf_addf(&idl, "%s%s", i ? ";" : "", ids[i]);
	/* The cycle from its smallest id, following ParentId (up the path). */
	for (size_t k = 0; k <= ncyc; k++)
		buf_addf(&desc, "%s'%s'", k ? " -> " : "",
			 as->a[path[at + (first - at + k) % ncyc]].id);
	for (size_t i = 0; i < n; i++) {
		struct br_account *a = &as->a[path[i]];
		a->problem = ACC_CYCLE;
		a->ids = xstrdup(idl.buf);
		a->reason = xasprintf("the Account hierarchy above Account '%s' has a cycle: %s",
				      a->id, desc.buf);
		a->state = ACC_DONE;
	}
	free(ids);
	buf_release(&idl);
	buf_release(&desc);
}

/* Where Account a goes, given its parent p (NULL at the top). */
static void acc_place(struct br *b, struct br_account *a, const struct br_account *p)
{
	int found;

	a->state = ACC_DONE;
	if (p && p->problem) {
		a->problem = p->problem;
		a->ids = xstrdup(p->ids);
		if (p->problem == ACC_CYCLE)
			a->reason = xasprintf("the Account hierarchy above Account '%s' has a cycle%s",
					      a->id, strchr(p->reason, ':'));
		else
			a->reason = xstrdup(p->reason);
		return;
	}
	a->parent_code = p ? p->anchor : b->dest;
	a->depth = p ? p->depth : 0;
	/* A codeless LMS branch with the Account's name is not reused, and no
	 * second branch of that name is made, unless the LMS already has ours. */
	bind_str(b->st_known, 1, a->code);
	found = snap_step(b->st_known);
	if (found == 1)
		snap_reset(b->st_known);
	if (found == 0 && a->name) {
		bind_str(b->st_codeless, 1, a->name);
		if (snap_step(b->st_codeless) == 1) {
			a->is_skipped = 1;
			a->skip_file = snap_col_int(b->st_codeless, 0);
			a->skip_line = (unsigned long)snap_col_int(b->st_codeless, 1);
			snap_reset(b->st_codeless);
		}
	}
	if (a->is_skipped) {
		a->anchor = b->dest;
		a->depth = 0;
	} else {
		a->anchor = a->code;
		a->depth++;
	}
}

/* Resolves Account ix and every ancestor not yet resolved. */
static void acc_resolve(struct br *b, struct br_accounts *as, size_t ix)
{
	size_t *path = NULL, n = 0, alloc = 0, cur = ix, missing = NONE;

	while (as->a[cur].state != ACC_DONE) {
		struct br_account *a = &as->a[cur];
		if (a->state == ACC_ON_PATH) {
			size_t at = 0;
			while (path[at] != cur)
				at++;
			acc_cycle(as, path, n, at);
			free(path);
			return;
		}
		a->state = ACC_ON_PATH;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			path = xreallocarray(path, alloc, sizeof *path);
		}
		path[n++] = cur;
		if (!a->parent) {
			cur = NONE;
			break;
		}
		cur = acc_find(as, a->parent);
		if (cur == NONE) {
			missing = path[n - 1];
			break;
		}
	}
	for (size_t i = n; i-- > 0;) {
		struct br_account *a = &as->a[path[i]];
		if (i == n - 1 && missing != NONE) {
			const char *x = a->id, *y = a->parent;
			a->state = ACC_DONE;
			a->problem = ACC_MISSING;
			a->ids = strcmp(x, y) < 0 ? xasprintf("%s;%s", x, y) : xasprintf("%s;%s", y, x);
			a->reason = xasprintf("the parent '%s' of Account '%s' is not in the Account export",
					      y, x);
		} else {
			acc_place(b, a, i == n - 1 ? (cur == NONE ? NULL : &as->a[cur])
						   : &as->a[path[i + 1]]);
		}
	}
	free(path);
}

/* Marks Account ix and its ancestors as needed; warns once for each that
 * has a codeless namesake in the LMS. */
static void acc_need(struct br *b, struct br_accounts *as, size_t ix)
{
	while (ix != NONE && !as->a[ix].is_needed) {
		struct br_account *a = &as->a[ix];
		a->is_needed = 1;
		if (a->is_skipped) {
			struct srcpos pos = { input_name(b->j, a->skip_file), a->skip_line, 0 };
			char *msg = xasprintf("branch '%s' has no code, so it is not used for Account '%s':"
					      " the Account's contacts go to destination branch '%s'",
					      a->name, a->id, b->dest);
			diag_warn(b->d, pos.file ? &pos : NULL, "%s", msg);
			rule_exception(b->s, "branch_without_code", "branches", a->name, a->id,
				       msg, (int)a->skip_file, a->skip_line);
			free(msg);
		}
		ix = a->parent ? acc_find(as, a->parent) : NONE;
	}
}

/* qsort: Account branches by depth, then code, so parents come first. */
static int cmp_account_branch(const void *x, const void *y)
{
	const struct br_account *a = *(const struct br_account *const *)x;
	const struct br_account *c = *(const struct br_account *const *)y;
	if (a->depth != c->depth)
		return a->depth < c->depth ? -1 : 1;
	return strcmp(a->code, c->code);
}

/* Mode accounts: places each contact in its Account's branch, rejects
 * those that cannot be placed, then lists the needed branches. */
static void assign_accounts(struct br *b)
{
	static const char *const none[3] = { NULL, NULL, NULL };
	struct br_accounts as;
	struct br_person person, *p = &person;
	struct snap_stmt *people;
	struct br_account **out;
	size_t nout = 0;

	acc_load(b, &as);
	people = people_open(b, none, 1);
	while (snap_rc(b->s) == RC_OK && people_next(people, 0, p)) {
		size_t ix;
		char *reason;

		if (!p->vals[0]) {
			if (p->is_person)
				person_reject(b, p, "person_account", NULL,
					      "the contact is a Person Account: person accounts are not supported");
			continue;
		}
		ix = acc_find(&as, p->vals[0]);
		if (p->is_person || (ix != NONE && as.a[ix].is_person)) {
			reason = xasprintf("Account '%s' is a Person Account: person accounts are not supported",
					   p->vals[0]);
			person_reject(b, p, "person_account", p->vals[0], reason);
			free(reason);
			continue;
		}
		if (ix == NONE) {
			reason = xasprintf("Account '%s' of the contact is not in the Account export,"
					   " so its place in the tree is unknown", p->vals[0]);
			person_reject(b, p, "account_missing", p->vals[0], reason);
			free(reason);
			continue;
		}
		acc_resolve(b, &as, ix);
		if (as.a[ix].problem) {
			reason = xasprintf("%s, so the contact's place in the tree is unknown",
					   as.a[ix].reason);
			person_reject(b, p, as.a[ix].problem == ACC_CYCLE ? "account_cycle" : "account_missing",
				      as.a[ix].ids, reason);
			free(reason);
			continue;
		}
		acc_need(b, &as, ix);
		person_place(b, p->crm_id, as.a[ix].anchor);
	}
	snap_finalize(people);
	people_apply(b);
	out = xmalloc((as.n ? as.n : 1) * sizeof *out);
	for (size_t i = 0; i < as.n; i++)
		if (as.a[i].is_needed && !as.a[i].is_skipped)
			out[nout++] = &as.a[i];
	qsort(out, nout, sizeof *out, cmp_account_branch);
	for (size_t i = 0; i < nout; i++)
		branch_emit(b, out[i]->code, out[i]->name ? out[i]->name : out[i]->id,
			    out[i]->parent_code, out[i]->depth, "account", out[i]->id,
			    out[i]->src_file, out[i]->src_line);
	free(out);
	acc_free(&as);
}

/* ---- picklist branches ------------------------------------------------- */

/* One branch of the picklist tree: a path of values. */
struct pl_node {
	char *key;          /* origin key, e.g. "Contact.Region__c:EMEA/France"; owned */
	char code[RULE_BRANCH_CODE_MAX]; /* its branch code */
	const char *value;  /* its last value's API name; borrowed from the field */
	const char *label;  /* branch name; borrowed from the field */
	size_t parent;      /* index of the parent node, or NONE */
	int depth;          /* 1 directly under the destination */
};

struct pl_tree {
	struct pl_node *n;  /* owned; parents before children */
	size_t count, alloc;/* nodes used and allocated */
	size_t *by_key;     /* indices sorted by key; owned */
};

/* Appends `v` to `b` with '\' and '/' escaped, so '/' separates values. */
static void add_escaped(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '/')
			buf_addch(b, '\\');
		buf_addch(b, *v);
	}
}

/* Appends the node for value v under `parent`: key = prefix + escaped value. */
static void tree_add(struct pl_tree *t, const char *prefix,
		     const struct meta_picklist_value *v, size_t parent, int depth)
{
	struct buf key = BUF_INIT;
	struct pl_node *n;

	if (t->count == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 64;
		t->n = xreallocarray(t->n, t->alloc, sizeof *t->n);
	}
	buf_adds(&key, prefix);
	add_escaped(&key, v->name);
	n = &t->n[t->count++];
	n->key = buf_detach(&key, NULL);
	rule_branch_picklist_code(n->key, n->code);
	n->value = v->name;
	n->label = v->label && v->label[0] ? v->label : v->name;
	n->parent = parent;
	n->depth = depth;
}

static const struct pl_tree *sort_tree; /* the tree cmp_node_key sorts; set around qsort */

/* qsort: node indices by the key of their node in sort_tree. */
static int cmp_node_key(const void *x, const void *y)
{
	return strcmp(sort_tree->n[*(const size_t *)x].key, sort_tree->n[*(const size_t *)y].key);
}

/* The node with origin key `key`, or NONE. */
static size_t tree_find(const struct pl_tree *t, const char *key)
{
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->n[t->by_key[mid]].key, key);
		if (c == 0)
			return t->by_key[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

/* Builds the tree of value paths: every value of the first field, then each
 * dependent value under every controlling value that lists it. */
static void tree_build(struct pl_tree *t, const char *root_key,
		       const struct meta_picklist_field *f, size_t nf)
{
	size_t lo = 0, hi;

	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < f[0].nvals; i++)
		tree_add(t, root_key, &f[0].vals[i], NONE, 1);
	for (size_t k = 1; k < nf; k++) {
		hi = t->count;
		for (size_t p = lo; p < hi; p++)
			for (size_t i = 0; i < f[k].nvals; i++)
				for (size_t c = 0; c < f[k].vals[i].nctrl; c++)
					if (strcmp(f[k].vals[i].ctrl[c], t->n[p].value) == 0) {
						char *prefix = xasprintf("%s/", t->n[p].key);
						tree_add(t, prefix, &f[k].vals[i], p, (int)k + 1);
						free(prefix);
					}
		lo = hi;
	}
	t->by_key = xmalloc((t->count ? t->count : 1) * sizeof *t->by_key);
	for (size_t i = 0; i < t->count; i++)
		t->by_key[i] = i;
	sort_tree = t;
	qsort(t->by_key, t->count, sizeof *t->by_key, cmp_node_key);
	sort_tree = NULL;
}

/* Frees the tree. */
static void tree_release(struct pl_tree *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->n[i].key);
	free(t->n);
	free(t->by_key);
}

/* The values of node ix from the top, as "EMEA > France" (caller frees). */
static char *node_path_text(const struct pl_tree *t, size_t ix)
{
	if (t->n[ix].parent == NONE)
		return xstrdup(t->n[ix].value);
	char *up = node_path_text(t, t->n[ix].parent);
	char *r = xasprintf("%s > %s", up, t->n[ix].value);
	free(up);
	return r;
}

/* Places each person in the deepest node its values reach. Prints and
 * returns RC_CONFIG when a field name cannot be read from the records. */
static enum rc pl_place_people(struct br *b, const struct pl_tree *t,
			    const struct meta_picklist_field *f, size_t nf, const char *root_key)
{
	const char *exprs[3] = { NULL, NULL, NULL };
	struct buf sql[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	const struct entity *e = entity_get(b->pe->source);
	struct br_person person, *p = &person;
	struct snap_stmt *people;
	struct buf key = BUF_INIT;

	for (size_t k = 0; k < nf; k++) {
		const char *field = k == 0 && b->pe->picklist_field ? b->pe->picklist_field :
			k == 0 ? f[0].name : f[k].stem;
		if (rule_field_expr(&sql[k], e, field) != 0) {
			struct srcpos pos = { f[k].path, f[k].root_line, 0 };
			enum rc rc = diag_at(b->d, RC_CONFIG, &pos,
					     "field '%s' cannot be read from the '%s' records",
					     field, b->source);
			for (int x = 0; x < 3; x++)
				buf_release(&sql[x]);
			return rc;
		}
		exprs[k] = sql[k].buf;
	}
	people = people_open(b, exprs, 0);
	while (snap_rc(b->s) == RC_OK && people_next(people, 1, p)) {
		size_t node = NONE;
		for (size_t k = 0; k < nf && p->vals[k]; k++) {
			size_t next;
			buf_reset(&key);
			if (node == NONE)
				buf_adds(&key, root_key);
			else
				buf_addf(&key, "%s/", t->n[node].key);
			add_escaped(&key, p->vals[k]);
			next = tree_find(t, key.buf);
			if (next == NONE) {
				char *under = node == NONE ? NULL : node_path_text(t, node);
				char *reason = under ?
					xasprintf("value '%s' of '%s' is not in the picklist under '%s':"
						  " the user goes to destination branch '%s'",
						  p->vals[k], f[k].name, under, b->dest) :
					xasprintf("value '%s' of '%s' is not in the picklist:"
						  " the user goes to destination branch '%s'",
						  p->vals[k], f[k].name, b->dest);
				rule_exception(b->s, "picklist_value_unknown", b->source, p->crm_id,
					       NULL, reason, p->src_file, p->src_line);
				free(under);
				free(reason);
				node = NONE;
				break;
			}
			node = next;
		}
		if (node != NONE)
			person_place(b, p->crm_id, t->n[node].code);
	}
	snap_finalize(people);
	people_apply(b);
	buf_release(&key);
	for (int k = 0; k < 3; k++)
		buf_release(&sql[k]);
	return RC_OK;
}

/* Reports branches made for value paths of this source that the picklists
 * no longer have, while the LMS still has them. */
static void pl_orphans(struct br *b, const struct pl_tree *t)
{
	struct snap_stmt *st = snap_prepare(b->s,
		"SELECT c.code, c.name, c.origin_key FROM branches_created c"
		" WHERE c.origin = 'picklist' AND substr(c.origin_key, 1, length(?1)) = ?1"
		" AND EXISTS (SELECT 1 FROM stage.stg_branch g WHERE g.code = c.code)"
		" ORDER BY c.code");
	char *prefix = xasprintf("%s.", b->source);

	if (!st)
		goto out;
	bind_str(st, 1, prefix);
	while (snap_step(st) == 1) {
		const char *key = snap_col_text(st, 2);
		char *reason;
		if (tree_find(t, key) != NONE)
			continue;
		reason = xasprintf("branch '%s' was made for picklist value path '%s', which the"
				   " picklist no longer has: it is kept, delete it in the LMS if it is"
				   " no longer wanted", snap_col_text(st, 1), key);
		rule_exception(b->s, "orphaned_branch", "branches", snap_col_text(st, 0), NULL,
			       reason, -1, 0);
		free(reason);
	}
	snap_finalize(st);
out:
	free(prefix);
}

/* Mode picklist: reads the metadata files (meta_picklist checks the
 * dependency chain), lists every value path as a branch, places people,
 * reports orphans. */
static enum rc assign_picklist(struct br *b)
{
	const struct job_people *pe = b->pe;
	struct meta_picklist *pl = NULL;
	struct pl_tree t;
	char *root_key = NULL;
	enum rc rc;

	memset(&t, 0, sizeof t);
	if (pe->npicklist_meta < 1 || pe->npicklist_meta > 3) {
		struct srcpos pos = { b->j->path, pe->line, 0 };
		return diag_at(b->d, RC_CONFIG, &pos,
			       "org chart 'picklist' needs one to three picklist files, not %zu",
			       pe->npicklist_meta);
	}
	rc = meta_picklist_open(b->d, pe->picklist_meta, pe->npicklist_meta,
				pe->picklist_field, &pl);
	if (rc)
		goto out;
	root_key = xasprintf("%s.%s:", b->source, pl->fields[0].name);
	tree_build(&t, root_key, pl->fields, pl->nfields);
	for (size_t i = 0; i < t.count && snap_rc(b->s) == RC_OK; i++) {
		const struct pl_node *n = &t.n[i];
		/* Parents come first in t.n: level by level. */
		branch_emit(b, n->code, n->label,
			    n->parent == NONE ? b->dest : t.n[n->parent].code,
			    n->depth, "picklist", n->key, -1, 0);
	}
	rc = pl_place_people(b, &t, pl->fields, pl->nfields, root_key);
	if (rc == RC_OK)
		pl_orphans(b, &t);
out:
	meta_picklist_free(pl);
	tree_release(&t);
	free(root_key);
	return rc;
}

/* ---- the API ----------------------------------------------------------- */

/* 'SF-' and the Account id: the branch code of an Account (rule_branch.h). */
void rule_branch_account_code(const char *id, char code[RULE_BRANCH_CODE_MAX])
{
	snprintf(code, RULE_BRANCH_CODE_MAX, "SF-%.18s", id);
}

/* 'PL-' and the first 20 hex digits of the SHA-256 of a value path
 * (rule_branch.h). */
void rule_branch_picklist_code(const char *origin_key, char code[RULE_BRANCH_CODE_MAX])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char dg[32];
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, origin_key, strlen(origin_key));
	sha256_final(&c, dg);
	memcpy(code, "PL-", 3);
	for (int i = 0; i < 10; i++) {
		code[3 + 2 * i] = hex[dg[i] >> 4];
		code[4 + 2 * i] = hex[dg[i] & 15];
	}
	code[23] = '\0';
}

/* Prepares the statements of one call, places the people of the source
 * by its org chart mode, then sends everyone left to the destination
 * branch (rule_branch.h). */
enum rc rule_branch_assign(struct diag *d, const struct job *j,
			   const struct job_people *pe, struct snap *s,
			   long long run_id)
{
	struct br b;
	struct snap_stmt *st;
	enum rc rc = RC_OK;

	if (snap_rc(s))
		return snap_rc(s);
	if (!pe->destination_branch || !pe->destination_branch[0]) {
		struct srcpos pos = { j->path, pe->line, 0 };
		return diag_at(d, RC_CONFIG, &pos, "the people source has no destination branch");
	}
	memset(&b, 0, sizeof b);
	b.d = d;
	b.j = j;
	b.pe = pe;
	b.s = s;
	b.run_id = run_id;
	b.source = entity_get(pe->source)->name;
	b.dest = pe->destination_branch;
	b.st_known = snap_prepare(s, "SELECT 1 FROM stage.stg_branch WHERE code = ?1");
	b.st_out = snap_prepare(s,
		"INSERT INTO stage.branch_out (code, name, parent_code, depth, origin, origin_key, is_new)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (code) DO NOTHING");
	b.st_created = snap_prepare(s,
		"INSERT INTO branches_created (code, name, parent_code, origin, origin_key, run_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (code) DO UPDATE SET"
		" name = excluded.name, parent_code = excluded.parent_code,"
		" origin = excluded.origin, origin_key = excluded.origin_key");
	snap_exec(s, "DROP TABLE IF EXISTS stage.br_place;"
		  "CREATE TABLE stage.br_place (crm_id TEXT PRIMARY KEY, code TEXT,"
		  " is_rejected INTEGER NOT NULL) WITHOUT ROWID");
	b.st_place = snap_prepare(s,
		"INSERT OR REPLACE INTO stage.br_place (crm_id, code, is_rejected) VALUES (?1, ?2, ?3)");
	b.st_codeless = snap_prepare(s,
		"SELECT src_file, src_line FROM stage.stg_branch"
		" WHERE name = ?1 AND (code IS NULL OR code = '') ORDER BY rowid LIMIT 1");
	if (snap_rc(s))
		goto out;

	switch (pe->orgchart) {
	case ORG_SINGLE:
		break;
	case ORG_ACCOUNTS:
		if (pe->source != ENT_CONTACT) {
			struct srcpos pos = { j->path, pe->line, 0 };
			rc = diag_at(d, RC_CONFIG, &pos,
				     "org chart 'accounts' is for the 'Contact' source only, not '%s'",
				     b.source);
			goto out;
		}
		assign_accounts(&b);
		break;
	case ORG_PICKLIST:
		rc = assign_picklist(&b);
		if (rc)
			goto out;
		break;
	}

	/* Everyone not placed above goes to the destination branch. */
	st = snap_prepare(s,
		"UPDATE stage.people SET branch_code = ?1"
		" WHERE source = ?2 AND is_rejected = 0 AND branch_code IS NULL");
	if (st) {
		bind_str(st, 1, b.dest);
		bind_str(st, 2, b.source);
		snap_step(st);
		snap_finalize(st);
	}
out:
	snap_finalize(b.st_known);
	snap_finalize(b.st_out);
	snap_finalize(b.st_created);
	snap_finalize(b.st_place);
	snap_finalize(b.st_codeless);
	return rc ? rc : snap_rc(s);
}
