/* SPDX-License-Identifier: MIT */
/* rule_people: R1–R5, people from the CRM to the LMS. The joins are SQL on
 * the staged tables; the per-record decision (link, key, ambiguity,
 * conflict, create or update) is made here in C, one candidate at a time. */
#include "rule_people.h"
#include "rule_util.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The fields a matched user is compared on, besides the username. */
enum { F_FIRST, F_LAST, F_EMAIL, F_BRANCH, F_FIXED };

/* Everything one people source needs while it is matched. */
struct people_ctx {
	struct diag *d;
	const struct job *j;
	const struct job_people *pe;
	struct snap *s;
	long long run_id;
	const char *source;        /* entity name: 'Contact', 'User', 'custom' */
	size_t nextra;             /* extra mapped LMS fields */
	const char **extra;        /* their LMS names; borrowed from the job; owned array */
	int has_email;             /* the job maps 'email' */
	struct snap_stmt *by_link, *by_key, *ins_out, *ins_link;
	struct snap_stmt *taken;   /* who holds a username (username_taken); NULL: no one can */
	int is_key_username;       /* the username is mapped from the match field */
	struct buf tmp;
};

static const char *map_crm(const struct job_people *pe, const char *lms)
{
	for (size_t i = 0; i < pe->nmaps; i++)
		if (strcmp(pe->maps[i].lms, lms) == 0)
			return pe->maps[i].crm;
	return NULL;
}

/* The SQL normalisation of the match key (R1): exact, casefold, trim. */
static void add_norm(struct buf *sql, unsigned norm, const char *expr)
{
	if (norm & NORM_CASEFOLD)
		buf_adds(sql, "lower(");
	if (norm & NORM_TRIM)
		buf_adds(sql, "trim(");
	buf_adds(sql, expr);
	if (norm & NORM_TRIM)
		buf_addch(sql, ')');
	if (norm & NORM_CASEFOLD)
		buf_addch(sql, ')');
}

static int is_standard_lms(const char *f)
{
	static const char *const std[] = { "username", "firstname", "lastname", "email", NULL };
	for (int i = 0; std[i]; i++)
		if (strcmp(std[i], f) == 0)
			return 1;
	return 0;
}

static int source_has_accounts(const struct job_people *pe)
{
	return pe->source == ENT_CONTACT;
}

/* Appends the expression of CRM field `f` of entity e, or NULL when the
 * name cannot be used (the job loader already rejects such names). */
static void add_field(struct buf *sql, const struct entity *e, const char *f)
{
	if (!f || rule_field_expr(sql, e, f) != 0)
		buf_adds(sql, "NULL");
}

enum rc rule_people_collect(struct diag *d, const struct job *j,
			    const struct job_people *pe, struct snap *s,
			    int is_incremental)
{
	const struct entity *e = entity_get(pe->source);
	struct buf sql = BUF_INIT;
	struct snap_stmt *st;
	const char *match = pe->match_field ? pe->match_field : "Email";
	size_t nx = 0;

	(void)d;
	(void)j;
	/* Duplicate ids in the export: the first row is kept, the others are
	 * reported (a CRM export never holds one id twice). */
	buf_addf(&sql, "SELECT Id, src_file, src_line FROM stage.%s AS t WHERE rowid >"
		 " (SELECT min(rowid) FROM stage.%s WHERE Id = t.Id) ORDER BY Id, src_line",
		 e->table, e->table);
	st = snap_prepare(s, sql.buf);
	while (st && snap_step(st) == 1)
		rule_exception(s, "duplicate_id", e->name, snap_col_text(st, 0), NULL,
			       "the export holds this id more than once; the first row is used",
			       (int)snap_col_int(st, 1), (unsigned long)snap_col_int(st, 2));
	snap_finalize(st);

	buf_reset(&sql);
	buf_adds(&sql, "INSERT OR IGNORE INTO stage.people (source, crm_id, match_key, username,"
		 " firstname, lastname, email, fields, account_id, is_person, modified,"
		 " is_unchanged, src_file, src_line) SELECT ?1, Id, ");
	{
		struct buf m = BUF_INIT;
		add_field(&m, e, match);
		add_norm(&sql, pe->match_norm, m.buf);
		buf_release(&m);
	}
	buf_adds(&sql, ", ");
	add_field(&sql, e, map_crm(pe, "username"));
	buf_adds(&sql, ", ");
	add_field(&sql, e, map_crm(pe, "firstname"));
	buf_adds(&sql, ", ");
	add_field(&sql, e, map_crm(pe, "lastname"));
	buf_adds(&sql, ", ");
	add_field(&sql, e, map_crm(pe, "email"));
	buf_adds(&sql, ", json_object(");
	for (size_t i = 0; i < pe->nmaps; i++) {
		if (is_standard_lms(pe->maps[i].lms) || !name_is_plain(pe->maps[i].lms))
			continue;
		buf_addf(&sql, "%s'%s', ", nx++ ? ", " : "", pe->maps[i].lms);
		add_field(&sql, e, pe->maps[i].crm);
	}
	/* R5: an incremental run leaves alone what did not change since the
	 * last complete run's high-water mark (none: the first run is full).
	 * Marked as the rows go in: an UPDATE after wrote nearly every row
	 * again on a day two (0.6 s at 1x). */
	buf_addf(&sql, "), %s, %s, LastModifiedDate, coalesce(?2 AND LastModifiedDate <="
		 " (SELECT last_modified FROM watermarks WHERE source = ?1), 0),"
		 " src_file, src_line FROM stage.%s ORDER BY rowid",
		 source_has_accounts(pe) ? "AccountId" : "NULL",
		 pe->source == ENT_CONTACT ? "coalesce(IsPersonAccount, 0)" : "0", e->table);
	snap_run(s, sql.buf, "ti", e->name, (long long)(is_incremental != 0));
	buf_release(&sql);
	return snap_rc(s);
}

enum rc rule_people_screen(struct diag *d, const struct job *j,
			   const struct job_people *pe, struct snap *s)
{
	const char *source = entity_get(pe->source)->name;
	static const char *const lms_names[] = { "username", "firstname", "lastname" };
	static const char *const cols[] = { "username", "firstname", "lastname" };
	struct snap_stmt *st;

	(void)d;
	(void)j;
	/* R3: username, first name and last name must have a value after mapping. */
	st = snap_prepare(s, "SELECT crm_id, src_file, src_line,"
			  " coalesce(trim(username), '') = '', coalesce(trim(firstname), '') = '',"
			  " coalesce(trim(lastname), '') = ''"
			  " FROM stage.people WHERE source = ?1 AND in_view = 1 AND is_rejected = 0"
			  " AND (coalesce(trim(username), '') = '' OR coalesce(trim(firstname), '') = ''"
			  " OR coalesce(trim(lastname), '') = '') ORDER BY crm_id");
	if (st)
		snap_bind_text(st, 1, source, strlen(source));
	while (st && snap_step(st) == 1) {
		struct buf why = BUF_INIT;
		for (int f = 0; f < 3; f++) {
			if (!snap_col_int(st, 3 + f))
				continue;
			buf_addf(&why, "%sempty %s (mapped from '%s')", why.len ? "; " : "",
				 cols[f], map_crm(pe, lms_names[f]));
		}
		rule_exception(s, "mandatory", source, snap_col_text(st, 0), NULL, why.buf,
			       (int)snap_col_int(st, 1), (unsigned long)snap_col_int(st, 2));
		buf_release(&why);
	}
	snap_finalize(st);
	snap_run(s, "UPDATE stage.people SET is_rejected = 1 WHERE source = ?1 AND in_view = 1"
		 " AND (coalesce(trim(username), '') = '' OR coalesce(trim(firstname), '') = ''"
		 " OR coalesce(trim(lastname), '') = '')",
		 "t", source);
	return snap_rc(s);
}

/* An LMS user as the export shows it. */
struct lms_user {
	char *username, *sfdc_id;
	char *val[F_FIXED];        /* firstname, lastname, email, branch_code */
	char **extra;              /* nextra values */
	int active;
	int src_file;
	unsigned long src_line;
};

static char *dup_col(struct snap_stmt *st, int i)
{
	const char *v = snap_col_text(st, i);
	return v ? xstrndup(v, snap_col_len(st, i)) : NULL;
}

static void lms_user_release(struct lms_user *u, size_t nextra)
{
	free(u->username);
	free(u->sfdc_id);
	for (int i = 0; i < F_FIXED; i++)
		free(u->val[i]);
	for (size_t i = 0; u->extra && i < nextra; i++)
		free(u->extra[i]);
	free(u->extra);
	memset(u, 0, sizeof *u);
}

/* Reads the rows of an LMS user look-up (by link or key) into users[];
 * returns how many (at most `max` kept, all counted). */
static size_t read_users(struct people_ctx *c, struct snap_stmt *st,
			 struct lms_user *users, size_t max, struct buf *names)
{
	size_t n = 0;
	buf_reset(names);
	while (snap_step(st) == 1) {
		if (n < max) {
			struct lms_user *u = &users[n];
			u->username = dup_col(st, 0);
			for (int f = 0; f < F_FIXED; f++)
				u->val[f] = dup_col(st, 1 + f);
			u->active = snap_col_is_null(st, 5) ? 1 : (int)snap_col_int(st, 5);
			u->sfdc_id = dup_col(st, 6);
			u->src_file = (int)snap_col_int(st, 7);
			u->src_line = (unsigned long)snap_col_int(st, 8);
			u->extra = xcalloc(c->nextra ? c->nextra : 1, sizeof *u->extra);
			for (size_t x = 0; x < c->nextra; x++)
				u->extra[x] = dup_col(st, 9 + (int)x);
		}
		if (names->len)
			buf_addch(names, ';');
		buf_adds(names, snap_col_text(st, 0) ? snap_col_text(st, 0) : "");
		n++;
	}
	return n;
}

/* The values a candidate's mapping gives. */
struct person {
	const char *crm_id, *username;
	const char *val[F_FIXED];
	const char **extra;
	int src_file;
	unsigned long src_line;
};

static int same(const char *a, const char *b)
{
	if (!a || !b)
		return !a && !b;
	return strcmp(a, b) == 0;
}

/* The columns of a user_out row (and of stage.user_new), in the order
 * write_user_row binds them. */
#define USER_COLS "username, action, firstname, lastname, email, branch_code, active," \
	" sfdc_id, force_password_change, fields, src_file, src_line"

static const char *const field_names[F_FIXED] = { "firstname", "lastname", "email", "branch_code" };

/* A user_out row: the user's whole record, as lms/users.csv carries it. */
struct user_row {
	const char *username, *action; /* 'create', 'update' or 'deactivate' */
	const char *val[F_FIXED];      /* firstname .. branch_code; NULL for none */
	int active, force_password_change;
	const char *crm_id;            /* 18 characters */
	const char *fields;            /* the extra fields, a JSON object; NULL for none */
	int src_file;
	unsigned long src_line;
};

/* Writes `r` through `st`, an INSERT of USER_COLS. */
static void write_user_row(struct snap_stmt *st, const struct user_row *r)
{
	snap_bind_text(st, 1, r->username, strlen(r->username));
	snap_bind_text(st, 2, r->action, strlen(r->action));
	for (int f = 0; f < F_FIXED; f++)
		snap_bind_text(st, 3 + f, r->val[f], r->val[f] ? strlen(r->val[f]) : 0);
	snap_bind_int(st, 7, r->active);
	snap_bind_text(st, 8, r->crm_id, 18);
	snap_bind_int(st, 9, r->force_password_change);
	snap_bind_text(st, 10, r->fields, r->fields ? strlen(r->fields) : 0);
	snap_bind_int(st, 11, r->src_file);
	snap_bind_int(st, 12, (long long)r->src_line);
	snap_step(st);
}

/* Writes the user_out row of an existing user: its current values with the
 * fields that change overlaid, recording each change. Returns snap_rc. */
static enum rc write_update(struct people_ctx *c, const struct person *p,
			    const struct lms_user *u, int is_link, int is_reactivate)
{
	const char *out[F_FIXED];
	const char **xout = xcalloc(c->nextra ? c->nextra : 1, sizeof *xout);
	int nchanged = 0;
	struct buf fields = BUF_INIT;

	for (int f = 0; f < F_FIXED; f++) {
		out[f] = u->val[f];
		/* An empty CRM value gives nothing to write: the LMS keeps its own. */
		if (!c->pe->update_existing || !p->val[f] || (f == F_EMAIL && !c->has_email))
			continue;
		if (!same(u->val[f], p->val[f])) {
			out[f] = p->val[f];
			rule_change(c->s, "lms.users", u->username, "update", field_names[f],
				    u->val[f], p->val[f], p->src_file, p->src_line, f == F_BRANCH ? "R6" : "R2");
			nchanged++;
		}
	}
	for (size_t x = 0; x < c->nextra; x++) {
		xout[x] = u->extra[x];
		if (!c->pe->update_existing || !p->extra[x] || same(u->extra[x], p->extra[x]))
			continue;
		xout[x] = p->extra[x];
		rule_change(c->s, "lms.users", u->username, "update", c->extra[x],
			    u->extra[x], p->extra[x], p->src_file, p->src_line, "R2");
		nchanged++;
	}
	if (is_link) {
		rule_change(c->s, "lms.users", u->username, "link", "sfdc_id", u->sfdc_id,
			    p->crm_id, p->src_file, p->src_line, "R2");
		nchanged++;
	}
	if (is_reactivate) {
		rule_change(c->s, "lms.users", u->username, "reactivate", "active", "0", "1",
			    p->src_file, p->src_line, "R4");
		nchanged++;
	}
	if (nchanged) {
		buf_addch(&fields, '{');
		for (size_t x = 0; x < c->nextra; x++) {
			if (!xout[x])
				continue;
			if (fields.len > 1)
				buf_addch(&fields, ',');
			buf_add_json_string(&fields, c->extra[x], strlen(c->extra[x]));
			buf_addch(&fields, ':');
			buf_add_json_string(&fields, xout[x], strlen(xout[x]));
		}
		buf_addch(&fields, '}');
		write_user_row(c->ins_out, &(struct user_row){
			.username = u->username, .action = "update",
			.val = { out[F_FIRST], out[F_LAST], out[F_EMAIL], out[F_BRANCH] },
			.active = is_reactivate ? 1 : u->active, .crm_id = p->crm_id,
			.fields = fields.buf, .src_file = p->src_file, .src_line = p->src_line });
	}
	free(xout);
	buf_release(&fields);
	return snap_rc(c->s);
}

static enum rc write_create(struct people_ctx *c, const struct person *p)
{
	struct buf fields = BUF_INIT;

	rule_change(c->s, "lms.users", p->username, "create", NULL, NULL, NULL,
		    p->src_file, p->src_line, "R2");
	rule_change(c->s, "lms.users", p->username, "create", "sfdc_id", NULL, p->crm_id,
		    p->src_file, p->src_line, "R2");
	for (int f = 0; f < F_FIXED; f++)
		if (p->val[f])
			rule_change(c->s, "lms.users", p->username, "create", field_names[f], NULL,
				    p->val[f], p->src_file, p->src_line, f == F_BRANCH ? "R6" : "R2");
	buf_addch(&fields, '{');
	for (size_t x = 0; x < c->nextra; x++) {
		if (!p->extra[x])
			continue;
		rule_change(c->s, "lms.users", p->username, "create", c->extra[x], NULL,
			    p->extra[x], p->src_file, p->src_line, "R2");
		if (fields.len > 1)
			buf_addch(&fields, ',');
		buf_add_json_string(&fields, c->extra[x], strlen(c->extra[x]));
		buf_addch(&fields, ':');
		buf_add_json_string(&fields, p->extra[x], strlen(p->extra[x]));
	}
	buf_addch(&fields, '}');
	write_user_row(c->ins_out, &(struct user_row){
		.username = p->username, .action = "create",
		.val = { p->val[F_FIRST], p->val[F_LAST], p->val[F_EMAIL], p->val[F_BRANCH] },
		.active = 1, .force_password_change = c->pe->force_password_change,
		.crm_id = p->crm_id, .fields = fields.buf, .src_file = p->src_file,
		.src_line = p->src_line });
	buf_release(&fields);
	return snap_rc(c->s);
}

/* The loop only notes a link (stage.people_links, appended in candidate
 * order); write_links puts them all into the snapshot afterwards. */
static void record_link(struct people_ctx *c, const char *crm_id, const char *username)
{
	snap_bind_text(c->ins_link, 1, crm_id, 18);
	snap_bind_text(c->ins_link, 2, username, strlen(username));
	snap_step(c->ins_link);
}

/* Writes the links the loop noted into `links`, in their order. One
 * statement instead of one per candidate; and when the snapshot has no
 * link yet (a first run), the username index is dropped and built again
 * after the rows, from one sort: a million links inserted into it one by
 * one cost 11 s of page misses, the build about one. */
static enum rc write_links(struct people_ctx *c)
{
	int is_first = snap_query_int(c->s, "SELECT NOT EXISTS (SELECT 1 FROM links)") == 1;

	if (is_first)
		snap_exec(c->s, "DROP INDEX main.links_user");
	snap_run(c->s, "INSERT INTO links (crm_id, lms_instance, lms_username, source, first_run,"
		 " last_run) SELECT crm_id, ?1, username, ?2, ?3, ?3 FROM stage.people_links"
		 " ORDER BY rowid"
		 " ON CONFLICT (crm_id, lms_instance) DO UPDATE SET"
		 " lms_username = excluded.lms_username, last_run = excluded.last_run",
		 "tti", c->j->lms_instance, c->source, (long long)c->run_id);
	if (is_first)
		snap_exec(c->s, "CREATE INDEX main.links_user ON links (lms_instance, lms_username)");
	return snap_rc(c->s);
}

static void exc(struct people_ctx *c, const char *kind, const struct person *p,
		const char *candidates, const char *reason)
{
	rule_exception(c->s, kind, c->source, p->crm_id, candidates, reason,
		       p->src_file, p->src_line);
}

/* R1 for a record that matches no one: the username it would be created
 * with is someone's already, either an LMS user's (whom the match key did
 * not find: the username is mapped from another field than the match
 * field) or a user an earlier people source of this run writes. The LMS
 * import would update that user with this record's fields, merging two
 * people: a conflict, and nothing written. Returns 1 when taken. */
static int username_taken(struct people_ctx *c, const struct person *p)
{
	int is_taken;

	if (!c->taken)
		return 0;
	snap_bind_text(c->taken, 1, p->username, strlen(p->username));
	is_taken = snap_step(c->taken) == 1;
	if (is_taken) {
		buf_reset(&c->tmp);
		if (snap_col_int(c->taken, 0) == 0) {
			buf_addf(&c->tmp, "no LMS user matches, and the username '%s' it would be"
				 " created with is an LMS user's already; nothing written", p->username);
			exc(c, "conflict", p, p->username, c->tmp.buf);
		} else {
			struct buf cands = BUF_INIT;
			buf_addf(&c->tmp, "the username '%s' it would be created with is written by"
				 " this run for CRM record '%s'; nothing written", p->username,
				 snap_col_text(c->taken, 1));
			buf_addf(&cands, "%s;%s", p->username, snap_col_text(c->taken, 1));
			exc(c, "conflict", p, cands.buf, c->tmp.buf);
			buf_release(&cands);
		}
	}
	snap_reset(c->taken);
	return is_taken;
}

/* R1 for one candidate, then R2. */
static enum rc match_one(struct people_ctx *c, const struct person *p, const char *key)
{
	struct lms_user link[2], keyed[2];
	struct buf link_names = BUF_INIT, key_names = BUF_INIT;
	size_t nlink, nkey;
	const struct lms_user *u = NULL;
	int is_link = 0;

	memset(link, 0, sizeof link);
	memset(keyed, 0, sizeof keyed);
	snap_bind_text(c->by_link, 1, p->crm_id, 18);
	nlink = read_users(c, c->by_link, link, 2, &link_names);
	nkey = 0;
	if (key) { /* find_keyed looked the key up; no key, no row there */
		snap_bind_text(c->by_key, 1, p->crm_id, 18);
		nkey = read_users(c, c->by_key, keyed, 2, &key_names);
	}
	if (nlink > 1) {
		exc(c, "ambiguous", p, link_names.buf,
		    "several LMS users carry this record's id in sfdc_id; nothing written");
	} else if (nlink == 1) {
		/* The link wins, unless the key points at another user. */
		int key_agrees = nkey == 0;
		for (size_t i = 0; i < nkey && i < 2; i++)
			if (strcmp(keyed[i].username, link[0].username) == 0)
				key_agrees = 1;
		if (!key_agrees) {
			buf_reset(&c->tmp);
			buf_addf(&c->tmp, "linked by sfdc_id to '%s' but the match key finds '%s'",
				 link[0].username, key_names.buf);
			buf_reset(&link_names);
			buf_addf(&link_names, "%s;%s", link[0].username, key_names.buf);
			exc(c, "conflict", p, link_names.buf, c->tmp.buf);
		} else {
			u = &link[0];
		}
	} else if (nkey > 1) {
		exc(c, "ambiguous", p, key_names.buf,
		    "several LMS usernames match this record's key; nothing written");
	} else if (nkey == 1) {
		if (keyed[0].sfdc_id && strcmp(keyed[0].sfdc_id, p->crm_id) != 0) {
			buf_reset(&c->tmp);
			buf_addf(&c->tmp, "the match key finds '%s', which is linked to another record '%s'",
				 keyed[0].username, keyed[0].sfdc_id);
			buf_reset(&key_names);
			buf_addf(&key_names, "%s;%s", keyed[0].username, keyed[0].sfdc_id);
			exc(c, "conflict", p, key_names.buf, c->tmp.buf);
		} else {
			u = &keyed[0];
			is_link = !keyed[0].sfdc_id;
		}
	} else if (c->pe->provision) {
		if (!username_taken(c, p)) {
			write_create(c, p);
			record_link(c, p->crm_id, p->username);
		}
	} else {
		exc(c, "no_match", p, NULL, "no LMS user matches and provisioning is off");
	}
	if (u) {
		int is_reactivate = !u->active && c->pe->deactivate_missing;
		write_update(c, p, u, is_link, is_reactivate);
		record_link(c, p->crm_id, u->username);
	}
	for (int i = 0; i < 2; i++) {
		lms_user_release(&link[i], c->nextra);
		lms_user_release(&keyed[i], c->nextra);
	}
	buf_release(&link_names);
	buf_release(&key_names);
	return snap_rc(c->s);
}

/* CRM-side ambiguity (R1) among new users: several records of the pass
 * that each create the same username (mapped from another field than the
 * match field, so their keys differ) fail together, as records sharing a
 * key do. The loop wrote them as it met them: their user rows, changes
 * and links go again. Run before write_links. */
static enum rc reject_shared_creates(struct people_ctx *c)
{
	if (c->is_key_username) /* they would share a key too: rejected already */
		return snap_rc(c->s);
	snap_exec(c->s, "DELETE FROM stage.user_shared;"
		  " INSERT INTO stage.user_shared (username, candidates)"
		  " SELECT username, group_concat(sfdc_id, ';') FROM (SELECT username, sfdc_id"
		  "  FROM stage.user_new WHERE action = 'create' ORDER BY username, sfdc_id)"
		  " GROUP BY username HAVING count(*) > 1");
	if (snap_rc(c->s) != RC_OK
	    || snap_query_int(c->s, "SELECT EXISTS (SELECT 1 FROM stage.user_shared)") != 1)
		return snap_rc(c->s);
	snap_run(c->s, "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason,"
		 " src_file, src_line)"
		 " SELECT 'ambiguous', ?1, n.sfdc_id, x.candidates, 'several CRM records would"
		 " create the LMS username ''' || n.username || '''; nothing written',"
		 " n.src_file, n.src_line"
		 " FROM stage.user_shared x JOIN stage.user_new n ON n.username = x.username"
		 " AND n.action = 'create' ORDER BY n.username, n.sfdc_id", "t", c->source);
	snap_exec(c->s, "DELETE FROM stage.people_links WHERE (crm_id, username) IN"
		  " (SELECT n.sfdc_id, n.username FROM stage.user_new n"
		  "  JOIN stage.user_shared x ON x.username = n.username WHERE n.action = 'create');"
		  " DELETE FROM stage.changes WHERE entity = 'lms.users' AND action = 'create'"
		  "  AND key IN (SELECT username FROM stage.user_shared);"
		  " DELETE FROM stage.user_new WHERE action = 'create'"
		  "  AND username IN (SELECT username FROM stage.user_shared)");
	return snap_rc(c->s);
}

/* CRM-side ambiguity (R1): several candidates with one key fail together. */
static enum rc reject_ambiguous_keys(struct people_ctx *c)
{
	struct snap_stmt *groups, *members;

	groups = snap_prepare(c->s, "SELECT match_key, group_concat(crm_id, ';') FROM"
			      " (SELECT match_key, crm_id FROM stage.people WHERE source = ?1"
			      "  AND in_view = 1 AND is_rejected = 0 AND match_key IS NOT NULL"
			      "  ORDER BY match_key, crm_id)"
			      " GROUP BY match_key HAVING count(*) > 1 ORDER BY match_key");
	members = snap_prepare(c->s, "SELECT crm_id, src_file, src_line FROM stage.people"
			       " WHERE source = ?1 AND match_key = ?2 AND in_view = 1 AND is_rejected = 0"
			       " ORDER BY crm_id");
	if (!groups || !members)
		goto out;
	snap_bind_text(groups, 1, c->source, strlen(c->source));
	while (snap_step(groups) == 1) {
		const char *key = snap_col_text(groups, 0);
		char *cands = dup_col(groups, 1);
		snap_bind_text(members, 1, c->source, strlen(c->source));
		snap_bind_text(members, 2, key, snap_col_len(groups, 0));
		while (snap_step(members) == 1)
			rule_exception(c->s, "ambiguous", c->source, snap_col_text(members, 0), cands,
				       "several CRM records share this match key; nothing written",
				       (int)snap_col_int(members, 1), (unsigned long)snap_col_int(members, 2));
		free(cands);
	}
out:
	snap_finalize(groups);
	snap_finalize(members);
	if (snap_rc(c->s) == RC_OK) {
		struct snap_stmt *up = snap_prepare(c->s,
			"UPDATE stage.people SET is_rejected = 1 WHERE source = ?1 AND in_view = 1"
			" AND is_rejected = 0 AND match_key IN (SELECT match_key FROM stage.people"
			" WHERE source = ?1 AND in_view = 1 AND is_rejected = 0 AND match_key IS NOT NULL"
			" GROUP BY match_key HAVING count(*) > 1)");
		if (up) {
			snap_bind_text(up, 1, c->source, strlen(c->source));
			snap_step(up);
		}
		snap_finalize(up);
	}
	return snap_rc(c->s);
}

/* The statements of sweep_seen, for its visit. */
struct seen_ctx {
	struct people_ctx *c;
	struct snap_stmt *user, *del, *add, *set;
	struct snap_stmt *row, *ins; /* user_out: the row of a username; a new row */
};

/* R4: a record in the view at the last run that is not now (`is_gone`:
 * no longer in the export; else it left the list view), with its source
 * row if it has one (src_file -1 when not). Its LMS user (found by link,
 * x->user) is deactivated with deactivate-missing, else the leaver is
 * reported. A user this run already writes for another record (the LMS
 * links it to that record now) is not deactivated: the leaver is
 * reported, and the user keeps the row written for it. The pass's rows
 * are in user_out by now, so the leavers' rows go there directly. */
static void leaver(struct seen_ctx *x, const char *crm_id, int is_gone, int src_file,
		   unsigned long src_line)
{
	struct people_ctx *c = x->c;
	struct snap_stmt *user = x->user;
	const char *why = is_gone ? "no longer in the CRM export" : "left the list view";
	const char *username;
	int has_row;

	snap_bind_text(user, 1, crm_id, 18);
	snap_bind_text(user, 2, c->j->lms_instance, strlen(c->j->lms_instance));
	if (snap_step(user) != 1 || !c->pe->deactivate_missing || !snap_col_int(user, 6)) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "%s since the last run%s", why,
			 c->pe->deactivate_missing ? "" : "; deactivate-missing is off");
		rule_exception(c->s, "left_view", c->source, crm_id, NULL, c->tmp.buf,
			       src_file, src_line);
		snap_reset(user);
		return;
	}
	username = snap_col_text(user, 0);
	snap_bind_text(x->row, 1, username, strlen(username));
	has_row = snap_step(x->row) == 1;
	if (has_row && strcmp(snap_col_text(x->row, 0), "deactivate") != 0) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "%s since the last run; its LMS user '%s' is written by this run"
			 " for CRM record '%s', so it is not deactivated", why, username,
			 snap_col_text(x->row, 1));
		rule_exception(c->s, "left_view", c->source, crm_id, username, c->tmp.buf,
			       src_file, src_line);
		snap_reset(x->row);
		snap_reset(user);
		return;
	}
	snap_reset(x->row);
	/* Another leaver of the same user deactivated it already: the change
	 * is this record's too, the row is written once. */
	rule_change(c->s, "lms.users", username, "deactivate", "active", "1", "0",
		    src_file, src_line, "R4");
	if (!has_row)
		write_user_row(x->ins, &(struct user_row){
			.username = username, .action = "deactivate",
			.val = { snap_col_text(user, 1), snap_col_text(user, 2), snap_col_text(user, 3),
				 snap_col_text(user, 4) },
			.crm_id = crm_id, .fields = snap_col_text(user, 5),
			.src_file = (int)snap_col_int(user, 7),
			.src_line = (unsigned long)snap_col_int(user, 8) });
	snap_reset(user);
}


/* One record of sweep_seen: `was` its people_seen row (in_view), `now`
 * its staged row (in_view, src_file, src_line); either may be NULL. */
static void seen_visit(void *arg, const struct rule_sweep_row *was,
		       const struct rule_sweep_row *now)
{
	struct seen_ctx *x = arg;

	if (!now) {
		if (was->v[0])
			leaver(x, was->key.buf, 1, -1, 0);
		rule_sweep_write(x->del, 2, &was->key);
		return;
	}
	if (was && was->v[0] && !now->v[0])
		leaver(x, now->key.buf, 0, (int)now->v[1], (unsigned long)now->v[2]);
	if (!was || was->v[0] != now->v[0]) {
		struct snap_stmt *st = was ? x->set : x->add;

		snap_bind_int(st, 3, now->v[0]);
		rule_sweep_write(st, 2, &now->key);
	}
}

/* What this run saw against what the last run saw, one sweep of both in
 * id order: the leavers (R4, in id order), and people_seen brought up to
 * date for the next run's leavers and increments: a record no longer in
 * the export leaves it, a new one goes in, and one whose view changed is
 * written again; the rest, most of a day two, is not written. Three
 * statements did this, each reading a million people at 1x (2.5 s). */
static enum rc sweep_seen(struct people_ctx *c)
{
	struct seen_ctx x = { c, NULL, NULL, NULL, NULL, NULL, NULL };
	struct snap_stmt *was, *now;

	was = snap_prepare(c->s, "SELECT crm_id, in_view FROM people_seen WHERE source = ?1"
			   " ORDER BY crm_id");
	now = snap_prepare(c->s, "SELECT crm_id, in_view, src_file, src_line FROM stage.people"
			   " WHERE source = ?1 ORDER BY crm_id");
	x.user = snap_prepare(c->s,
		"SELECT u.username, u.firstname, u.lastname, u.email, u.branch_code, u.extra,"
		" u.active, u.src_file, u.src_line FROM stage.stg_lms_user AS u"
		" WHERE u.sfdc_id = ?1 OR u.username = (SELECT lms_username FROM links"
		"  WHERE crm_id = ?1 AND lms_instance = ?2) ORDER BY u.username");
	x.del = snap_prepare(c->s, "DELETE FROM people_seen WHERE source = ?1 AND crm_id = ?2");
	/* A new record and a record seen before are written by statements
	 * of their own, not one upsert (rule_sweep_write): as an upsert, a
	 * first run at 1x wrote 7.9 GB of page copies to the statement
	 * journal for its million new records (7.4 s). */
	x.add = snap_prepare(c->s, "INSERT INTO people_seen (source, crm_id, in_view, last_run)"
			     " VALUES (?1, ?2, ?3, ?4)");
	x.set = snap_prepare(c->s, "UPDATE people_seen SET in_view = ?3, last_run = ?4"
			     " WHERE source = ?1 AND crm_id = ?2");
	x.row = snap_prepare(c->s, "SELECT action, sfdc_id FROM stage.user_out WHERE username = ?1");
	x.ins = snap_prepare(c->s, "INSERT INTO stage.user_out (" USER_COLS ")"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	if (was && now && x.user && x.del && x.add && x.set && x.row && x.ins) {
		snap_bind_text(was, 1, c->source, strlen(c->source));
		snap_bind_text(now, 1, c->source, strlen(c->source));
		snap_bind_text(x.del, 1, c->source, strlen(c->source));
		snap_bind_text(x.add, 1, c->source, strlen(c->source));
		snap_bind_int(x.add, 4, c->run_id);
		snap_bind_text(x.set, 1, c->source, strlen(c->source));
		snap_bind_int(x.set, 4, c->run_id);
		rule_sweep(c->s, was, now, seen_visit, &x);
	}
	snap_finalize(was);
	snap_finalize(now);
	snap_finalize(x.user);
	snap_finalize(x.del);
	snap_finalize(x.add);
	snap_finalize(x.set);
	snap_finalize(x.row);
	snap_finalize(x.ins);
	return snap_rc(c->s);
}

/* The look-up of LMS users `u` by link or key, with the extra fields:
 * `from` is the rest of the statement. */
static struct snap_stmt *prepare_lookup(struct people_ctx *c, const char *from)
{
	struct buf sql = BUF_INIT;
	struct snap_stmt *st;

	buf_adds(&sql, "SELECT u.username, u.firstname, u.lastname, u.email, u.branch_code,"
		 " u.active, u.sfdc_id, u.src_file, u.src_line");
	for (size_t x = 0; x < c->nextra; x++)
		buf_addf(&sql, ", json_extract(u.extra, '$.\"%s\"')", c->extra[x]);
	buf_addf(&sql, " FROM %s", from);
	st = snap_prepare(c->s, sql.buf);
	buf_release(&sql);
	return st;
}

/* The LMS users each candidate's key finds (R1), for every candidate at
 * once: the people in key order next to the users in key order, one sweep
 * of both indexes, into stage.people_keyed by candidate. Looked up one
 * candidate at a time, in the candidates' order (crm_id), every look-up
 * went to a random place of the users' key index (a million contacts:
 * 6.4 s of the match). The users are staged data no candidate changes,
 * so what each candidate finds is the same either way. `norm` is the
 * normalised username of `u`, as the key index holds it. The key is
 * compared without the column's text affinity (`+`), as the bound key
 * was: with it, the comparison could not use the index on the expression,
 * and every candidate scanned the users. */
static enum rc find_keyed(struct people_ctx *c, const char *norm)
{
	struct buf sql = BUF_INIT;

	snap_exec(c->s, "DROP TABLE IF EXISTS stage.people_keyed;"
		  " CREATE TABLE stage.people_keyed (crm_id TEXT NOT NULL, username TEXT NOT NULL,"
		  " user_row INTEGER NOT NULL, PRIMARY KEY (crm_id, username, user_row))"
		  " WITHOUT ROWID");
	buf_addf(&sql, "INSERT INTO stage.people_keyed (crm_id, username, user_row)"
		 " SELECT p.crm_id, u.username, u.rowid FROM stage.people AS p INDEXED BY people_key"
		 " CROSS JOIN stage.stg_lms_user AS u ON %s = +p.match_key"
		 " WHERE p.source = ?1 AND p.in_view = 1 AND p.is_rejected = 0"
		 " AND p.is_unchanged = 0 AND p.match_key IS NOT NULL"
		 " ORDER BY p.crm_id, u.username, u.rowid", norm);
	snap_run(c->s, sql.buf, "t", c->source);
	buf_release(&sql);
	return snap_rc(c->s);
}

enum rc rule_people_match(struct diag *d, const struct job *j,
			  const struct job_people *pe, struct snap *s,
			  long long run_id)
{
	struct people_ctx c;
	struct buf sql = BUF_INIT, where = BUF_INIT;
	struct snap_stmt *cand = NULL;
	struct person p;

	memset(&c, 0, sizeof c);
	c.d = d;
	c.j = j;
	c.pe = pe;
	c.s = s;
	c.run_id = run_id;
	c.source = entity_get(pe->source)->name;
	c.has_email = map_crm(pe, "email") != NULL;
	buf_init(&c.tmp);
	c.extra = xcalloc(pe->nmaps ? pe->nmaps : 1, sizeof *c.extra);
	for (size_t i = 0; i < pe->nmaps; i++)
		if (!is_standard_lms(pe->maps[i].lms) && name_is_plain(pe->maps[i].lms))
			c.extra[c.nextra++] = pe->maps[i].lms;
	memset(&p, 0, sizeof p);
	p.extra = xcalloc(c.nextra ? c.nextra : 1, sizeof *p.extra);

	/* The look-ups below go by index: the people by key, the LMS users by
	 * the same normalised username the key is compared with. The people's
	 * index holds what the search for shared keys and find_keyed filter
	 * on, so that both read the index alone, in key order (at a million
	 * contacts the search fetched every row at random: 6.4 s). */
	snap_exec(s, "CREATE INDEX IF NOT EXISTS stage.people_key"
		  " ON people (source, in_view, is_rejected, match_key, crm_id, is_unchanged)");
	add_norm(&where, pe->match_norm, "username");
	{
		static const char *const names[] = { "exact", "fold", "trim", "fold_trim" };
		struct buf idx = BUF_INIT;
		buf_addf(&idx, "CREATE INDEX IF NOT EXISTS stage.stg_lms_user_key_%s"
			 " ON stg_lms_user (%s, username)", names[pe->match_norm & 3], where.buf);
		snap_exec(s, idx.buf);
		buf_release(&idx);
	}
	if (reject_ambiguous_keys(&c) != RC_OK)
		goto out;
	buf_reset(&where);
	add_norm(&where, pe->match_norm, "u.username");
	if (find_keyed(&c, where.buf) != RC_OK)
		goto out;

	c.by_link = prepare_lookup(&c, "stage.stg_lms_user AS u WHERE u.sfdc_id = ?1"
				   " ORDER BY u.username");
	c.by_key = prepare_lookup(&c, "stage.people_keyed AS k JOIN stage.stg_lms_user AS u"
				  " ON u.rowid = k.user_row WHERE k.crm_id = ?1"
				  " ORDER BY k.username, k.user_row");
	c.ins_out = snap_prepare(s, "INSERT INTO stage.user_new (" USER_COLS ")"
				 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	snap_exec(s, "CREATE TABLE IF NOT EXISTS stage.people_links (crm_id TEXT, username TEXT);"
		  " DELETE FROM stage.people_links");
	c.ins_link = snap_prepare(s, "INSERT INTO stage.people_links (crm_id, username) VALUES (?1, ?2)");
	/* A username mapped from the match field that an LMS user has is
	 * found by the key (the user is matched, not created); user_out has
	 * rows only after an earlier people source. A look-up that cannot
	 * find anyone is not made (a million contacts: 97,505 look-ups,
	 * 0.65 s). */
	{
		const char *from = map_crm(pe, "username");
		int is_after = snap_query_int(s, "SELECT EXISTS (SELECT 1 FROM stage.user_out)") == 1;

		c.is_key_username = from && strcmp(from, pe->match_field ? pe->match_field : "Email") == 0;
		buf_reset(&sql);
		if (!c.is_key_username)
			buf_adds(&sql, "SELECT 0, NULL FROM stage.stg_lms_user WHERE username = ?1");
		if (!c.is_key_username && is_after)
			buf_adds(&sql, " UNION ALL ");
		if (is_after)
			buf_adds(&sql, "SELECT 1, sfdc_id FROM stage.user_out WHERE username = ?1");
		if (sql.len) {
			buf_adds(&sql, " LIMIT 1");
			c.taken = snap_prepare(s, sql.buf);
		}
		buf_reset(&sql);
	}
	buf_adds(&sql, "SELECT crm_id, match_key, username, firstname, lastname, email, branch_code,"
		 " src_file, src_line");
	for (size_t x = 0; x < c.nextra; x++)
		buf_addf(&sql, ", json_extract(fields, '$.\"%s\"')", c.extra[x]);
	buf_adds(&sql, " FROM stage.people WHERE source = ?1 AND in_view = 1 AND is_rejected = 0"
		 " AND is_unchanged = 0 ORDER BY crm_id");
	cand = snap_prepare(s, sql.buf);
	if (!c.by_link || !c.by_key || !c.ins_out || !c.ins_link || snap_rc(s) != RC_OK || !cand)
		goto out;
	snap_bind_text(cand, 1, c.source, strlen(c.source));
	while (snap_step(cand) == 1) {
		p.crm_id = snap_col_text(cand, 0);
		p.username = snap_col_text(cand, 2);
		for (int f = 0; f < F_FIXED; f++)
			p.val[f] = snap_col_text(cand, 3 + f);
		p.src_file = (int)snap_col_int(cand, 7);
		p.src_line = (unsigned long)snap_col_int(cand, 8);
		for (size_t x = 0; x < c.nextra; x++)
			p.extra[x] = snap_col_text(cand, 9 + (int)x);
		if (match_one(&c, &p, snap_col_text(cand, 1)) != RC_OK)
			break;
	}
	if (snap_rc(s) == RC_OK)
		reject_shared_creates(&c);
	if (snap_rc(s) == RC_OK)
		write_links(&c);
	/* The pass's rows into user_out in its key's order, appended; the
	 * first row of a username wins, as one written row by row would.
	 * Then the leavers, who look there for who keeps their user. */
	if (snap_rc(s) == RC_OK)
		snap_exec(s, "INSERT OR IGNORE INTO stage.user_out (" USER_COLS ")"
			  " SELECT " USER_COLS " FROM stage.user_new ORDER BY username, rowid;"
			  " DELETE FROM stage.user_new");
	if (snap_rc(s) == RC_OK)
		sweep_seen(&c);
	if (snap_rc(s) == RC_OK) {
		/* One read of the table in its order: through an index on
		 * source (most runs have one source) each row would be looked
		 * up at random (2.4 s against 0.2 s at a million people). */
		snap_run(s, "INSERT INTO watermarks (source, last_modified, run_id)"
			 " SELECT ?1, max(modified), ?2 FROM stage.people NOT INDEXED WHERE source = ?1"
			 " ON CONFLICT (source) DO UPDATE SET"
			 " last_modified = max(coalesce(watermarks.last_modified, ''),"
			 "  coalesce(excluded.last_modified, '')), run_id = excluded.run_id",
			 "ti", c.source, (long long)run_id);
	}
out:
	snap_finalize(cand);
	snap_finalize(c.by_link);
	snap_finalize(c.taken);
	snap_finalize(c.by_key);
	snap_finalize(c.ins_out);
	snap_finalize(c.ins_link);
	free(c.extra);
	free(p.extra);
	buf_release(&c.tmp);
	buf_release(&sql);
	buf_release(&where);
	return snap_rc(s);
}
