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

/* One person of the source being placed: the pointers are its read's and
 * last until the read's next step. */
struct br_person {
	long long rowid;       /* its row of stage.people */
	int is_unchanged;      /* R5: an incremental run leaves it alone */
	const char *crm_id;
	const char *vals[3];   /* picklist: the record's values; NULL when empty */
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

/* Puts person p in branch `code`. Its row of stage.people is written
 * while the read of the people goes on: that read is one pass over the
 * table in rowid order, and the row written is the one it is on, its
 * rowid unchanged, which SQLite allows (the pass goes on after it and
 * does not return it again; https://www.sqlite.org/isolation.html).
 * A person an incremental run leaves alone (R5) is not written: only the
 * people matched read their branch, and those are the changed ones
 * (rule_people_match). It was still checked, and its branch still counts
 * as needed, so that a day two reports and lists what a full run does.
 * At a million contacts with 1% changed, 990,000 row writes fewer. */
static void person_place(struct br *b, const struct br_person *p, const char *code)
{
	if (p->is_unchanged)
		return;
	snap_bind_int(b->st_place, 1, p->rowid);
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
	snap_bind_int(b->st_place, 1, p->rowid);
	bind_str(b->st_place, 2, NULL);
	snap_bind_int(b->st_place, 3, 1);
	snap_step(b->st_place);
}

/* Opens the read of the people of the source that are not rejected, in
 * input order, with the values of the SQL expressions `exprs` (NULL for
 * none) of their staged record. One person at a time (people_next), so
 * memory does not grow with the people; the caller finalizes. */
static struct snap_stmt *people_open(struct br *b, const char *const exprs[3])
{
	const struct entity *e = entity_get(b->pe->source);
	struct buf sql = BUF_INIT;
	struct snap_stmt *st;

	buf_adds(&sql, "SELECT p.crm_id, p.src_file, p.src_line, p.rowid, p.is_unchanged");
	for (int k = 0; k < 3; k++) {
		if (!exprs[k]) {
			buf_adds(&sql, ", NULL");
			continue;
		}
		buf_addf(&sql, ", (SELECT %s FROM stage.%s WHERE Id = p.crm_id ORDER BY rowid LIMIT 1)",
			 exprs[k], e->table);
	}
	/* In input order: rowid order, read without an index (see
	 * assign_accounts). */
	buf_adds(&sql, " FROM stage.people p NOT INDEXED WHERE p.source = ?1 AND p.is_rejected = 0"
		 " ORDER BY p.rowid");
	st = snap_prepare(b->s, sql.buf);
	buf_release(&sql);
	if (st)
		bind_str(st, 1, b->source);
	return st;
}

/* The next person of people_open's read into p; 0 at the end. */
static int people_next(struct snap_stmt *st, struct br_person *p)
{
	if (!st || snap_step(st) != 1)
		return 0;
	p->crm_id = snap_col_text(st, 0);
	p->src_file = (int)snap_col_int(st, 1);
	p->src_line = (unsigned long)snap_col_int(st, 2);
	p->rowid = snap_col_int(st, 3);
	p->is_unchanged = snap_col_int(st, 4) != 0;
	for (int k = 0; k < 3; k++)
		p->vals[k] = col_or_null(st, 5 + k);
	return 1;
}

/* ---- accounts ---------------------------------------------------------- */

/* The Accounts sit in stage.br_acc, one row per Id, so memory does not grow
 * with them: resolving holds one walk up the hierarchy, and each Account is
 * resolved once, its place written back to its row. */

enum acc_state { ACC_NEW, ACC_ON_PATH, ACC_DONE };
enum acc_problem { ACC_OK, ACC_CYCLE, ACC_MISSING };

/* One Account on a walk up the hierarchy: its row and where it goes. */
struct br_account {
	char *id;                 /* 18-character Id; owned */
	char *name;               /* Name, or NULL; owned */
	char *parent;             /* ParentId, or NULL; owned */
	int state;                /* enum acc_state */
	int problem;              /* enum acc_problem, for it or an ancestor */
	char *reason;             /* problem: what is wrong above it; owned */
	char *ids;                /* problem: the Account ids, sorted, ';'-separated; owned */
	char *anchor;             /* branch its contacts go to; owned */
	char *parent_code;        /* branch its own branch sits under; owned */
	int depth;                /* depth of `anchor` (0 = destination) */
	int is_skipped;           /* a codeless LMS branch has its name: no branch */
	long long skip_file;      /* is_skipped: job input of the codeless branch */
	unsigned long skip_line;  /* is_skipped: its line in the branches export */
	int is_needed;            /* a placed contact sits in it or below it */
};

/* The statements on stage.br_acc that the walks reuse. */
struct br_acc_stmts {
	struct snap_stmt *get;    /* an Account's row by Id */
	struct snap_stmt *mark;   /* an Account is on the walk's path */
	struct snap_stmt *set;    /* an Account's place, once resolved */
	struct snap_stmt *needed; /* an Account is needed */
};

/* Copies stage.stg_account into stage.br_acc (the first row of an Id
 * wins) and prepares the statements on it. */
static void acc_stage(struct br *b, struct br_acc_stmts *w)
{
	snap_exec(b->s, "DROP TABLE IF EXISTS stage.br_acc;"
		  "CREATE TABLE stage.br_acc (id TEXT PRIMARY KEY, name TEXT, parent TEXT,"
		  " is_person INTEGER NOT NULL, src_file INTEGER, src_line INTEGER,"
		  " state INTEGER NOT NULL DEFAULT 0, problem INTEGER NOT NULL DEFAULT 0,"
		  " reason TEXT, ids TEXT, anchor TEXT, parent_code TEXT, depth INTEGER,"
		  " is_skipped INTEGER NOT NULL DEFAULT 0, skip_file INTEGER, skip_line INTEGER,"
		  " is_needed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
		  "INSERT OR IGNORE INTO stage.br_acc (id, name, parent, is_person, src_file, src_line)"
		  " SELECT Id, nullif(Name, ''), nullif(ParentId, ''),"
		  " coalesce(CAST(IsPersonAccount AS INTEGER), 0) <> 0, src_file, src_line"
		  " FROM stage.stg_account WHERE Id IS NOT NULL ORDER BY Id, rowid");
	w->get = snap_prepare(b->s,
		"SELECT name, parent, state, problem, reason, ids, anchor, depth,"
		" is_skipped, skip_file, skip_line, is_needed FROM stage.br_acc WHERE id = ?1");
	w->mark = snap_prepare(b->s, "UPDATE stage.br_acc SET state = 1 WHERE id = ?1");
	w->set = snap_prepare(b->s,
		"UPDATE stage.br_acc SET state = 2, problem = ?2, reason = ?3, ids = ?4, anchor = ?5,"
		" parent_code = ?6, depth = ?7, is_skipped = ?8, skip_file = ?9, skip_line = ?10"
		" WHERE id = ?1");
	w->needed = snap_prepare(b->s, "UPDATE stage.br_acc SET is_needed = 1 WHERE id = ?1");
}

/* Finalizes the statements acc_stage prepared. */
static void acc_stmts_finalize(struct br_acc_stmts *w)
{
	snap_finalize(w->get);
	snap_finalize(w->mark);
	snap_finalize(w->set);
	snap_finalize(w->needed);
}

/* Frees what Account a owns. */
static void acc_release(struct br_account *a)
{
	free(a->id);
	free(a->name);
	free(a->parent);
	free(a->reason);
	free(a->ids);
	free(a->anchor);
	free(a->parent_code);
}

/* Reads the Account with Id `id` into a; 0 when there is none. */
static int acc_read(struct br_acc_stmts *w, const char *id, struct br_account *a)
{
	bind_str(w->get, 1, id);
	if (snap_step(w->get) != 1)
		return 0;
	memset(a, 0, sizeof *a);
	a->id = xstrdup(id);
	a->name = col_dup(w->get, 0);
	a->parent = col_dup(w->get, 1);
	a->state = (int)snap_col_int(w->get, 2);
	a->problem = (int)snap_col_int(w->get, 3);
	a->reason = col_dup(w->get, 4);
	a->ids = col_dup(w->get, 5);
	a->anchor = col_dup(w->get, 6);
	a->depth = (int)snap_col_int(w->get, 7);
	a->is_skipped = snap_col_int(w->get, 8) != 0;
	a->skip_file = snap_col_int(w->get, 9);
	a->skip_line = (unsigned long)snap_col_int(w->get, 10);
	a->is_needed = snap_col_int(w->get, 11) != 0;
	snap_reset(w->get);
	return 1;
}

/* Writes where resolved Account a goes to its row. */
static void acc_write(struct br_acc_stmts *w, const struct br_account *a)
{
	bind_str(w->set, 1, a->id);
	snap_bind_int(w->set, 2, a->problem);
	bind_str(w->set, 3, a->reason);
	bind_str(w->set, 4, a->ids);
	bind_str(w->set, 5, a->anchor);
	bind_str(w->set, 6, a->parent_code);
	snap_bind_int(w->set, 7, a->depth);
	snap_bind_int(w->set, 8, a->is_skipped);
	snap_bind_int(w->set, 9, a->skip_file);
	snap_bind_int(w->set, 10, (long long)a->skip_line);
	snap_step(w->set);
}

/* qsort: C strings in byte order. */
static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Marks a cycle found on `path` (child first) at position `at`:
 * path[at..n-1] is the cycle, path[0..at-1] sits under it. */
static void acc_cycle(struct br_account *path, size_t n, size_t at)
{
	size_t ncyc = n - at, first = at;
	const char **ids = xmalloc(ncyc * sizeof *ids);
	struct buf idl = BUF_INIT, desc = BUF_INIT;

	for (size_t i = at; i < n; i++) {
		ids[i - at] = path[i].id;
		if (strcmp(path[i].id, path[first].id) < 0)
			first = i;
	}
	qsort(ids, ncyc, sizeof *ids, cmp_str);
	for (size_t i = 0; i < ncyc; i++)
		buf_addf(&idl, "%s%s", i ? ";" : "", ids[i]);
	/* The cycle from its smallest id, following ParentId (up the path). */
	for (size_t k = 0; k <= ncyc; k++)
		buf_addf(&desc, "%s'%s'", k ? " -> " : "",
			 path[at + (first - at + k) % ncyc].id);
	for (size_t i = 0; i < n; i++) {
		struct br_account *a = &path[i];
		a->problem = ACC_CYCLE;
		a->ids = xstrdup(idl.buf);
		a->reason = xasprintf("the Account hierarchy above Account '%s' has a cycle: %s",
				      a->id, desc.buf);
	}
	free(ids);
	buf_release(&idl);
	buf_release(&desc);
}

/* Where Account a goes, given its parent p (NULL at the top). */
static void acc_place(struct br *b, struct br_account *a, const struct br_account *p)
{
	char code[RULE_BRANCH_CODE_MAX];
	int found;

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
	rule_branch_account_code(a->id, code);
	a->parent_code = xstrdup(p ? p->anchor : b->dest);
	a->depth = p ? p->depth : 0;
	/* A codeless LMS branch with the Account's name is not reused, and no
	 * second branch of that name is made, unless the LMS already has ours. */
	bind_str(b->st_known, 1, code);
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
		a->anchor = xstrdup(b->dest);
		a->depth = 0;
	} else {
		a->anchor = xstrdup(code);
		a->depth++;
	}
}

/* Resolves Account `id` and every ancestor not yet resolved: walks up to
 * the first resolved one, the top, a missing parent or a cycle (marking
 * the path in the table), then places the path from the top down. */
static void acc_resolve(struct br *b, struct br_acc_stmts *w, const char *id)
{
	struct br_account *path = NULL, top;
	size_t n = 0, alloc = 0;
	int has_top = 0, is_missing = 0;
	const char *cur = id;

	for (;;) {
		struct br_account a;
		if (!acc_read(w, cur, &a)) {
			is_missing = n > 0;
			break;
		}
		if (a.state == ACC_DONE) {
			top = a;
			has_top = 1;
			break;
		}
		if (a.state == ACC_ON_PATH) {
			size_t at = 0;
			while (strcmp(path[at].id, a.id) != 0)
				at++;
			acc_release(&a);
			acc_cycle(path, n, at);
			break;
		}
		bind_str(w->mark, 1, a.id);
		snap_step(w->mark);
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			path = xreallocarray(path, alloc, sizeof *path);
		}
		path[n++] = a;
		if (!a.parent)
			break;
		cur = a.parent;
	}
	for (size_t i = n; i-- > 0;) {
		struct br_account *a = &path[i];
		if (a->problem) {
			/* on a cycle, or under one */
		} else if (i == n - 1 && is_missing) {
			const char *x = a->id, *y = a->parent;
			a->problem = ACC_MISSING;
			a->ids = strcmp(x, y) < 0 ? xasprintf("%s;%s", x, y) : xasprintf("%s;%s", y, x);
			a->reason = xasprintf("the parent '%s' of Account '%s' is not in the Account export",
					      y, x);
		} else {
			acc_place(b, a, i < n - 1 ? &path[i + 1] : has_top ? &top : NULL);
		}
		acc_write(w, a);
	}
	for (size_t i = 0; i < n; i++)
		acc_release(&path[i]);
	free(path);
	if (has_top)
		acc_release(&top);
}

/* Marks Account `id` and its ancestors as needed, up to the first that
 * already is; warns once for each that has a codeless namesake in the LMS. */
static void acc_need(struct br *b, struct br_acc_stmts *w, const char *id)
{
	struct br_account a;
	char *cur = xstrdup(id);

	while (cur && acc_read(w, cur, &a)) {
		free(cur);
		cur = NULL;
		if (!a.is_needed) {
			bind_str(w->needed, 1, a.id);
			snap_step(w->needed);
			if (a.is_skipped) {
				struct srcpos pos = { input_name(b->j, a.skip_file), a.skip_line, 0 };
				char *msg = xasprintf("branch '%s' has no code, so it is not used for Account"
						      " '%s': the Account's contacts go to destination branch '%s'",
						      a.name, a.id, b->dest);
				diag_warn(b->d, pos.file ? &pos : NULL, "%s", msg);
				rule_exception(b->s, "branch_without_code", "branches", a.name, a.id,
					       msg, (int)a.skip_file, a.skip_line);
				free(msg);
			}
			cur = a.parent;
			a.parent = NULL;
		}
		acc_release(&a);
	}
	free(cur);
}

/* Resolves every Account, in Id order. */
static void acc_resolve_all(struct br *b, struct br_acc_stmts *w)
{
	struct snap_stmt *st = snap_prepare(b->s,
		"SELECT Id FROM stage.stg_account WHERE Id IS NOT NULL ORDER BY Id");

	while (snap_rc(b->s) == RC_OK && st && snap_step(st) == 1)
		acc_resolve(b, w, snap_col_text(st, 0));
	snap_finalize(st);
}

/* Lists the branches of the needed Accounts, parents first. */
static void acc_emit(struct br *b)
{
	struct snap_stmt *st = snap_prepare(b->s,
		"SELECT anchor, coalesce(name, id), parent_code, depth, id, src_file, src_line"
		" FROM stage.br_acc WHERE is_needed = 1 AND is_skipped = 0 ORDER BY depth, anchor");

	while (snap_rc(b->s) == RC_OK && st && snap_step(st) == 1)
		branch_emit(b, snap_col_text(st, 0), snap_col_text(st, 1), snap_col_text(st, 2),
			    (int)snap_col_int(st, 3), "account", snap_col_text(st, 4),
			    (int)snap_col_int(st, 5), (unsigned long)snap_col_int(st, 6));
	snap_finalize(st);
}

/* Mode accounts: resolves every Account's place, places each contact in
 * its Account's branch or rejects it, then lists the needed branches. */
static void assign_accounts(struct br *b)
{
	struct br_acc_stmts w;
	struct br_person person, *p = &person;
	struct snap_stmt *people;

	acc_stage(b, &w);
	acc_resolve_all(b, &w);
	/* The people in input order (LIMIT keeps the subquery's order, as a
	 * co-routine the join reads in turn), so each row's Account is read
	 * when the row is: is_needed is then current, and acc_need walks up
	 * only from the first contact of an Account. The people of a source
	 * went in in the order of their staged rows (rule_people_collect),
	 * which is the order of the inputs and their lines (records that
	 * start on one line of an XML file: the document's order; the sort
	 * this replaced took them by id), so rowid order is that order. NOT
	 * INDEXED: one pass over the table, without a sort;
	 * the planner, without statistics for the table, took the key
	 * (source, crm_id), looked every row up from it and sorted them
	 * (1.1-1.7 s at 1x against 0.3 s for the pass alone). */
	people = snap_prepare(b->s,
		"SELECT p.crm_id, p.src_file, p.src_line, p.account_id, p.is_person,"
		" a.id IS NOT NULL, a.is_person, a.problem, a.reason, a.ids, a.anchor, a.is_needed, p.r,"
		" p.is_unchanged FROM (SELECT crm_id, src_file, src_line, account_id, is_person,"
		" rowid AS r, is_unchanged FROM stage.people NOT INDEXED"
		" WHERE source = ?1 AND is_rejected = 0 ORDER BY rowid LIMIT -1) p"
		" LEFT JOIN stage.br_acc a ON a.id = p.account_id");
	if (people)
		bind_str(people, 1, b->source);
	while (snap_rc(b->s) == RC_OK && people && snap_step(people) == 1) {
		const char *account = col_or_null(people, 3);
		char *reason;
		int is_person;

		p->crm_id = snap_col_text(people, 0);
		p->src_file = (int)snap_col_int(people, 1);
		p->src_line = (unsigned long)snap_col_int(people, 2);
		p->rowid = snap_col_int(people, 12);
		p->is_unchanged = snap_col_int(people, 13) != 0;
		is_person = snap_col_int(people, 4) != 0;
		if (!account) {
			if (is_person)
				person_reject(b, p, "person_account", NULL,
					      "the contact is a Person Account: person accounts are not supported");
			continue;
		}
		if (is_person || snap_col_int(people, 6)) {
			reason = xasprintf("Account '%s' is a Person Account: person accounts are not supported",
					   account);
			person_reject(b, p, "person_account", account, reason);
			free(reason);
			continue;
		}
		if (!snap_col_int(people, 5)) {
			reason = xasprintf("Account '%s' of the contact is not in the Account export,"
					   " so its place in the tree is unknown", account);
			person_reject(b, p, "account_missing", account, reason);
			free(reason);
			continue;
		}
		if (snap_col_int(people, 7)) {
			reason = xasprintf("%s, so the contact's place in the tree is unknown",
					   snap_col_text(people, 8));
			person_reject(b, p, snap_col_int(people, 7) == ACC_CYCLE ? "account_cycle" :
				      "account_missing", snap_col_text(people, 9), reason);
			free(reason);
			continue;
		}
		if (!snap_col_int(people, 11))
			acc_need(b, &w, account);
		person_place(b, p, snap_col_text(people, 10));
	}
	snap_finalize(people);
	acc_stmts_finalize(&w);
	acc_emit(b);
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
	people = people_open(b, exprs);
	while (snap_rc(b->s) == RC_OK && people_next(people, p)) {
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
			person_place(b, p, t->n[node].code);
	}
	snap_finalize(people);
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
	b.st_place = snap_prepare(s,
		"UPDATE stage.people SET branch_code = ?2, is_rejected = ?3 WHERE rowid = ?1");
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

	/* Everyone not placed above goes to the destination branch (but for
	 * those an incremental run leaves alone, as above). */
	st = snap_prepare(s,
		"UPDATE stage.people SET branch_code = ?1"
		" WHERE source = ?2 AND is_rejected = 0 AND branch_code IS NULL AND is_unchanged = 0");
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
