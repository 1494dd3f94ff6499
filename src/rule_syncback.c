/* SPDX-License-Identifier: MIT */
/* rule_syncback: R7, LMS learners back to the CRM as Contacts. Scope,
 * match keys and Account names are prepared once in scratch tables
 * (stage.sb_*); each learner is then decided here in C, by username order. */
#include "rule_syncback.h"
#include "rule_util.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Values of the LMS user field 'level' that make a user an administrator
 * (Docebo's CSV words, then its API words), compared lower-cased and
 * trimmed. Administrators are out of the sync back's scope. */
#define SB_ADMIN_LEVELS "('superadmin', 'poweruser', 'godadmin', 'admin'," \
	" '/framework/level/godadmin', '/framework/level/admin')"

/* What the default Account of ACCOUNT_DEFAULT turned out to be. */
enum sb_default { SB_DEFAULT_OK, SB_DEFAULT_MISSING, SB_DEFAULT_PERSON };

/* Everything one sync back needs while learners are decided. */
struct sb_ctx {
	struct diag *d;
	const struct job *j;
	const struct job_syncback *sb;
	struct snap *s;
	long long run_id;
	const char *instance;       /* the job's lms_instance ('' when none); borrowed */
	const char *match_field;    /* Contact field matched (default Email); borrowed */
	enum sb_default default_state; /* ACCOUNT_DEFAULT only */
	struct snap_stmt *by_key;   /* Contacts whose match key is ?1 */
	struct snap_stmt *by_key_person; /* Person-Account contacts whose match key is ?1 */
	struct snap_stmt *contact;  /* the Contact with Id ?1 */
	struct snap_stmt *acc_exact, *acc_fold; /* Accounts named ?1, exactly / ignoring case */
	struct snap_stmt *branch;   /* the name of branch ?1 */
	struct snap_stmt *taken;    /* other LMS users linked to Contact ?1 */
	struct snap_stmt *memory;   /* the Contact a username was last linked to */
	struct snap_stmt *pending;  /* an earlier run's Contact insert for key ?1 */
	struct snap_stmt *ins_out, *set_out; /* stage.user_out: a new row, an empty sfdc_id set */
	struct snap_stmt *ins_crm;  /* stage.crm_out */
	struct snap_stmt *set_link, *ins_link, *drop_links; /* the durable links */
	struct buf tmp;             /* scratch for reasons */
	struct buf ids;             /* scratch for candidate lists */
};

/* One learner in scope, copied out of stage.sb_learner. */
struct sb_learner {
	char *username, *firstname, *lastname, *email, *branch_code;
	char *sfdc_id;              /* the export's sfdc_id, NULL when empty */
	char *extra;                /* the export's extra fields (JSON) or NULL */
	char *acc_value;            /* ACCOUNT_FIELD: the learner's field value */
	char *out_sfdc;             /* sfdc_id of the people rules' user_out row, NULL when none */
	int active;                 /* the export's active flag (NULL counts as 1) */
	int has_out;                /* the people rules wrote a user_out row */
	int out_active;             /* that row's active flag, -1 when none */
	int is_admin;
	int src_file;
	unsigned long src_line;
};

static char *dup_col(struct snap_stmt *st, int i)
{
	const char *v = snap_col_text(st, i);
	return v ? xstrndup(v, snap_col_len(st, i)) : NULL;
}

static void bind_str(struct snap_stmt *st, int i, const char *v)
{
	if (v)
		snap_bind_text(st, i, v, strlen(v));
	else
		snap_bind_null(st, i);
}

static int is_blank(const char *v)
{
	return !v || !v[strspn(v, " \t\r\n")];
}

/* A Contact id: the key prefix 003. */
static int is_contact_id(const char *id)
{
	return id && strncmp(id, "003", 3) == 0;
}

static void learner_release(struct sb_learner *l)
{
	free(l->username);
	free(l->firstname);
	free(l->lastname);
	free(l->email);
	free(l->branch_code);
	free(l->sfdc_id);
	free(l->extra);
	free(l->acc_value);
	free(l->out_sfdc);
	memset(l, 0, sizeof *l);
}

static void exc(struct sb_ctx *c, const struct sb_learner *l, const char *kind,
		const char *candidates, const char *reason)
{
	rule_exception(c->s, kind, "users", l->username, candidates, reason,
		       l->src_file, l->src_line);
}

/* Runs a prepared statement with no result rows to the end. */
static void run_stmt(struct snap_stmt *st)
{
	while (snap_step(st) == 1)
		;
}

/* Collects the first column of every row of `st` into c->ids (sorted by the
 * query, ';'-separated) and returns how many; *first gets the first row's
 * first two columns (caller frees) when not NULL. */
static size_t collect_ids(struct sb_ctx *c, struct snap_stmt *st, char **first, char **second)
{
	size_t n = 0;
	buf_reset(&c->ids);
	while (snap_step(st) == 1) {
		if (n == 0) {
			if (first)
				*first = dup_col(st, 0);
			if (second)
				*second = dup_col(st, 1);
		}
		if (c->ids.len)
			buf_addch(&c->ids, ';');
		buf_adds(&c->ids, snap_col_text(st, 0) ? snap_col_text(st, 0) : "");
		n++;
	}
	return n;
}

/* ---- preparation -------------------------------------------------------- */

/* The scratch tables: the branches in scope, the learners in them with
 * what the people rules already decided, Contacts by match key and Accounts
 * by name. Returns snap_rc (RC_CONFIG, printed, for an unusable field). */
static enum rc prepare_tables(struct sb_ctx *c)
{
	const struct entity *contact = entity_get(ENT_CONTACT);
	const struct entity *lms = entity_get(ENT_LMS_USER);
	struct buf sql = BUF_INIT, expr = BUF_INIT;
	struct snap_stmt *st;
	enum rc rc = RC_OK;

	snap_exec(c->s,
		"DROP TABLE IF EXISTS stage.sb_scope;"
		"DROP TABLE IF EXISTS stage.sb_learner;"
		"DROP TABLE IF EXISTS stage.sb_contact;"
		"DROP TABLE IF EXISTS stage.sb_account;"
		"CREATE TABLE stage.sb_scope (code TEXT PRIMARY KEY);"
		"CREATE TABLE stage.sb_contact (key TEXT, Id TEXT PRIMARY KEY, AccountId TEXT,"
		" is_person INTEGER NOT NULL);"
		"CREATE TABLE stage.sb_account (Id TEXT PRIMARY KEY, Name TEXT, lname TEXT,"
		" is_person INTEGER NOT NULL);");

	/* The department and, when so scoped, every branch below it. UNION (not
	 * UNION ALL) drops a code already reached, so a cycle in the LMS tree
	 * ends the walk instead of looping. */
	st = snap_prepare(c->s,
		"INSERT INTO stage.sb_scope (code) WITH RECURSIVE sub (code) AS ("
		" SELECT ?1 UNION SELECT b.code FROM stage.stg_branch AS b JOIN sub"
		" ON b.parent_code = sub.code WHERE ?2 AND b.code IS NOT NULL)"
		" SELECT code FROM sub");
	if (st) {
		bind_str(st, 1, c->sb->department);
		snap_bind_int(st, 2, c->sb->with_subdepartments);
		run_stmt(st);
	}
	snap_finalize(st);

	/* Learners: one row per username (the first of the export), in scope. */
	buf_adds(&sql, "CREATE TABLE stage.sb_learner AS SELECT u.username, u.firstname,"
		 " u.lastname, u.email, u.branch_code, coalesce(u.active, 1) AS active,"
		 " nullif(u.sfdc_id, '') AS sfdc_id, u.extra, u.is_admin, u.acc_value,"
		 " u.src_file, u.src_line, o.username IS NOT NULL AS has_out,"
		 " nullif(o.sfdc_id, '') AS out_sfdc, o.active AS out_active"
		 " FROM (SELECT *, coalesce(lower(trim(");
	if (rule_field_expr(&sql, lms, "level") != 0)
		buf_adds(&sql, "NULL");
	buf_addf(&sql, ")) IN %s, 0) AS is_admin, ", SB_ADMIN_LEVELS);
	if (c->sb->account_rule != ACCOUNT_FIELD || !c->sb->account_field ||
	    rule_field_expr(&sql, lms, c->sb->account_field) != 0)
		buf_adds(&sql, "NULL");
	/* The users of the branches in scope, through the branch index, each
	 * kept when it is the first row of its username (the look-up of a
	 * million usernames' first rows, to keep the few in scope, cost
	 * more than the rest of sync back). */
	buf_adds(&sql, " AS acc_value FROM stage.stg_lms_user AS x"
		 " WHERE x.branch_code IN (SELECT code FROM stage.sb_scope)"
		 " AND x.username IS NOT NULL AND x.rowid = (SELECT min(f.rowid)"
		 "  FROM stage.stg_lms_user AS f WHERE f.username = x.username)) AS u"
		 " LEFT JOIN stage.user_out AS o ON o.username = u.username");
	snap_exec(c->s, sql.buf);

	/* Contacts by their match key: the match field trimmed and lower-cased
	 * (the first row of an id the export repeats). */
	if (rule_field_expr(&expr, contact, c->match_field) != 0) {
		struct srcpos pos = { c->j->path, c->sb->line, 0 };
		rc = diag_at(c->d, RC_CONFIG, &pos,
			     "sync-back match field '%s' is not a Contact field name", c->match_field);
		goto out;
	}
	buf_reset(&sql);
	buf_addf(&sql, "INSERT INTO stage.sb_contact (key, Id, AccountId, is_person)"
		 " SELECT lower(trim(%s)), Id, AccountId, coalesce(IsPersonAccount, 0)"
		 " FROM stage.stg_contact WHERE rowid IN (SELECT min(rowid) FROM stage.stg_contact"
		 " WHERE Id IS NOT NULL GROUP BY Id);"
		 "CREATE INDEX stage.sb_contact_key ON sb_contact (key);"
		 "INSERT INTO stage.sb_account (Id, Name, lname, is_person)"
		 " SELECT Id, Name, lower(Name), coalesce(IsPersonAccount, 0)"
		 " FROM stage.stg_account WHERE rowid IN (SELECT min(rowid) FROM stage.stg_account"
		 " WHERE Id IS NOT NULL GROUP BY Id);"
		 "CREATE INDEX stage.sb_account_name ON sb_account (Name);"
		 "CREATE INDEX stage.sb_account_lname ON sb_account (lname);"
		 /* "Is this Contact already someone else's?" looks up the
		  * rows the people rules wrote by their link. */
		 "CREATE INDEX IF NOT EXISTS stage.user_out_sfdc_id ON user_out (sfdc_id);", expr.buf);
	snap_exec(c->s, sql.buf);

	if (c->sb->account_rule == ACCOUNT_DEFAULT) {
		c->default_state = SB_DEFAULT_MISSING;
		st = snap_prepare(c->s, "SELECT is_person FROM stage.sb_account WHERE Id = ?1");
		if (st) {
			bind_str(st, 1, c->sb->account_id);
			if (c->sb->account_id && snap_step(st) == 1)
				c->default_state = snap_col_int(st, 0) ? SB_DEFAULT_PERSON : SB_DEFAULT_OK;
		}
		snap_finalize(st);
	}
out:
	buf_release(&sql);
	buf_release(&expr);
	return rc != RC_OK ? rc : snap_rc(c->s);
}

static enum rc prepare_stmts(struct sb_ctx *c)
{
	struct snap *s = c->s;

	c->by_key = snap_prepare(s, "SELECT Id, AccountId FROM stage.sb_contact"
				 " WHERE key = lower(trim(?1)) AND is_person = 0 ORDER BY Id");
	c->by_key_person = snap_prepare(s, "SELECT Id FROM stage.sb_contact"
					" WHERE key = lower(trim(?1)) AND is_person = 1 ORDER BY Id");
	c->contact = snap_prepare(s, "SELECT AccountId, is_person FROM stage.sb_contact WHERE Id = ?1");
	c->acc_exact = snap_prepare(s, "SELECT Id FROM stage.sb_account WHERE Name = ?1"
				    " AND is_person = 0 ORDER BY Id");
	c->acc_fold = snap_prepare(s, "SELECT Id FROM stage.sb_account WHERE lname = lower(?1)"
				   " AND is_person = 0 ORDER BY Id");
	c->branch = snap_prepare(s, "SELECT name FROM stage.stg_branch WHERE code = ?1"
				 " ORDER BY rowid LIMIT 1");
	c->taken = snap_prepare(s,
		"SELECT username FROM stage.stg_lms_user WHERE sfdc_id = ?1 AND username <> ?2"
		" UNION SELECT username FROM stage.user_out WHERE sfdc_id = ?1 AND username <> ?2"
		" UNION SELECT lms_username FROM links WHERE crm_id = ?1 AND lms_instance = ?3"
		"  AND lms_username <> ?2"
		" ORDER BY 1");
	c->memory = snap_prepare(s, "SELECT crm_id FROM links WHERE lms_instance = ?1"
				 " AND lms_username = ?2 AND source = 'Contact'"
				 " ORDER BY last_run DESC, crm_id LIMIT 1");
	c->pending = snap_prepare(s, "SELECT max(run_id) FROM emitted WHERE target = 'crm'"
				  " AND object = 'Contact' AND op = 'insert' AND key = ?1 AND run_id < ?2");
	c->ins_out = snap_prepare(s,
		"INSERT INTO stage.user_out (username, action, firstname, lastname, email,"
		" branch_code, active, sfdc_id, force_password_change, fields, src_file, src_line)"
		" VALUES (?1, 'update', ?2, ?3, ?4, ?5, ?6, ?7, 0, coalesce(?8, '{}'), ?9, ?10)");
	c->set_out = snap_prepare(s, "UPDATE stage.user_out SET sfdc_id = ?2"
				  " WHERE username = ?1 AND coalesce(sfdc_id, '') = ''");
	/* The fields are written by the JSON writer: json() refuses them if
	 * malformed, as emitted takes them unchecked (docs/snapshot.md). */
	c->ins_crm = snap_prepare(s,
		"INSERT INTO stage.crm_out (object, op, key, fields, rule, src_file, src_line)"
		" VALUES ('Contact', ?1, ?2, json(?3), 'R7', ?4, ?5) ON CONFLICT DO NOTHING");
	/* A link's row is updated, or inserted when there is none
	 * (snap_set_or_add; the upsert it replaces wrote 159 MB to the
	 * statement journal in a 1x full run). */
	c->set_link = snap_prepare(s, "UPDATE links SET lms_username = ?3, last_run = ?4"
				   " WHERE crm_id = ?1 AND lms_instance = ?2 AND ?5");
	c->ins_link = snap_prepare(s,
		"INSERT OR IGNORE INTO links (crm_id, lms_instance, lms_username, source, first_run,"
		" last_run) VALUES (?1, ?2, ?3, 'Contact', ?4, ?4)");
	c->drop_links = snap_prepare(s, "DELETE FROM links WHERE lms_instance = ?1"
				     " AND lms_username = ?2 AND source = 'Contact' AND crm_id <> ?3");
	return snap_rc(s);
}

/* ---- writing ------------------------------------------------------------ */

/* Records in `links` that `username` is linked to Contact `crm_id`, and
 * forgets any other Contact it was linked to. With `is_refresh` 0 an
 * existing row is left as it is (an unlink keeps its memory unrefreshed). */
static void record_link(struct sb_ctx *c, const char *crm_id, const char *username,
			int is_refresh)
{
	struct snap_stmt *const st[] = { c->set_link, c->ins_link };

	for (size_t i = 0; i < sizeof st / sizeof *st; i++) {
		snap_bind_text(st[i], 1, crm_id, strlen(crm_id));
		bind_str(st[i], 2, c->instance);
		bind_str(st[i], 3, username);
		snap_bind_int(st[i], 4, c->run_id);
	}
	snap_bind_int(c->set_link, 5, is_refresh);
	/* Not there: inserted. There and not refreshed: left as it is (the
	 * INSERT ignores it). */
	snap_set_or_add(c->set_link, c->ins_link);
	if (!is_refresh)
		return;
	bind_str(c->drop_links, 1, c->instance);
	bind_str(c->drop_links, 2, username);
	bind_str(c->drop_links, 3, crm_id);
	run_stmt(c->drop_links);
}

/* The learner's whole current record as a user_out 'update' row, with
 * sfdc_id `sfdc_id` ('' to clear it). */
static void write_user(struct sb_ctx *c, const struct sb_learner *l, const char *sfdc_id)
{
	bind_str(c->ins_out, 1, l->username);
	bind_str(c->ins_out, 2, l->firstname);
	bind_str(c->ins_out, 3, l->lastname);
	bind_str(c->ins_out, 4, l->email);
	bind_str(c->ins_out, 5, l->branch_code);
	snap_bind_int(c->ins_out, 6, l->active);
	bind_str(c->ins_out, 7, sfdc_id);
	bind_str(c->ins_out, 8, l->extra);
	snap_bind_int(c->ins_out, 9, l->src_file);
	snap_bind_int(c->ins_out, 10, (long long)l->src_line);
	run_stmt(c->ins_out);
}

static void write_crm(struct sb_ctx *c, const struct sb_learner *l, const char *op,
		      const char *key, const char *fields)
{
	bind_str(c->ins_crm, 1, op);
	bind_str(c->ins_crm, 2, key);
	bind_str(c->ins_crm, 3, fields);
	snap_bind_int(c->ins_crm, 4, l->src_file);
	snap_bind_int(c->ins_crm, 5, (long long)l->src_line);
	run_stmt(c->ins_crm);
}

static void add_json_field(struct buf *b, const char *name, const char *value)
{
	if (!value)
		return;
	if (b->len > 1)
		buf_addch(b, ',');
	buf_add_json_string(b, name, strlen(name));
	buf_addch(b, ':');
	buf_add_json_string(b, value, strlen(value));
}

/* ---- Accounts ----------------------------------------------------------- */

/* Looks an Account up by name: exact first, then ignoring case. Returns 0
 * with *id set (caller frees), or records 'account_missing' / 'ambiguous'
 * and returns -1. `what` says where the name comes from, for the reason. */
static int account_by_name(struct sb_ctx *c, const struct sb_learner *l, const char *name,
			   const char *what, char **id)
{
	size_t n;

	bind_str(c->acc_exact, 1, name);
	n = collect_ids(c, c->acc_exact, id, NULL);
	if (n == 0) {
		bind_str(c->acc_fold, 1, name);
		n = collect_ids(c, c->acc_fold, id, NULL);
	}
	if (n == 1)
		return 0;
	free(*id);
	*id = NULL;
	buf_reset(&c->tmp);
	if (n == 0) {
		buf_addf(&c->tmp, "no Account is named '%s' (%s); Accounts are never created", name, what);
		exc(c, l, "account_missing", NULL, c->tmp.buf);
	} else {
		buf_addf(&c->tmp, "several Accounts are named '%s' (%s); the Contact cannot be placed",
			 name, what);
		exc(c, l, "ambiguous", c->ids.buf, c->tmp.buf);
	}
	return -1;
}

/* The Account the job's account rule gives the learner. Returns 0 with *id
 * set (caller frees), or -1 after recording the exception. */
static int resolve_account(struct sb_ctx *c, const struct sb_learner *l, char **id)
{
	char *what;
	int rc;

	*id = NULL;
	switch (c->sb->account_rule) {
	case ACCOUNT_DEFAULT:
		if (c->default_state == SB_DEFAULT_OK) {
			*id = xstrdup(c->sb->account_id);
			return 0;
		}
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, c->default_state == SB_DEFAULT_PERSON ?
			 "the default Account '%s' is a Person Account, which never takes Contacts" :
			 "the default Account '%s' is not in the Account export; Accounts are never created",
			 c->sb->account_id ? c->sb->account_id : "");
		exc(c, l, "account_missing", NULL, c->tmp.buf);
		return -1;
	case ACCOUNT_DEPARTMENT: {
		char *name = NULL;
		bind_str(c->branch, 1, l->branch_code);
		if (snap_step(c->branch) == 1) {
			name = dup_col(c->branch, 0);
			snap_reset(c->branch);
		}
		if (is_blank(name)) {
			buf_reset(&c->tmp);
			buf_addf(&c->tmp, "the learner's branch '%s' is not in the branches export,"
				 " so its Account is unknown", l->branch_code);
			exc(c, l, "account_missing", NULL, c->tmp.buf);
			free(name);
			return -1;
		}
		what = xasprintf("the name of the learner's branch '%s'", l->branch_code);
		rc = account_by_name(c, l, name, what, id);
		free(what);
		free(name);
		return rc;
	}
	case ACCOUNT_FIELD:
		if (is_blank(l->acc_value)) {
			buf_reset(&c->tmp);
			buf_addf(&c->tmp, "the learner's field '%s' is empty, so its Account is unknown",
				 c->sb->account_field ? c->sb->account_field : "");
			exc(c, l, "account_missing", NULL, c->tmp.buf);
			return -1;
		}
		what = xasprintf("the learner's field '%s'", c->sb->account_field);
		rc = account_by_name(c, l, l->acc_value, what, id);
		free(what);
		return rc;
	}
	return -1;
}

/* Moves Contact `crm_id` (now under `account`, NULL for none) to the
 * learner's Account when the rule says another one. */
static void place_contact(struct sb_ctx *c, const struct sb_learner *l, const char *crm_id,
			  const char *account)
{
	struct buf fields = BUF_INIT;
	char *dest;

	if (resolve_account(c, l, &dest) != 0)
		return;
	if (!account || strcmp(account, dest) != 0) {
		buf_addch(&fields, '{');
		add_json_field(&fields, "Id", crm_id);
		add_json_field(&fields, "AccountId", dest);
		buf_addch(&fields, '}');
		write_crm(c, l, "update", crm_id, fields.buf);
	}
	free(dest);
	buf_release(&fields);
}

/* ---- one learner -------------------------------------------------------- */

/* The Contact with that id: 1 found (*account its AccountId, caller frees;
 * *is_person), 0 not in the export. */
static int find_contact(struct sb_ctx *c, const char *id, char **account, int *is_person)
{
	*account = NULL;
	*is_person = 0;
	bind_str(c->contact, 1, id);
	if (snap_step(c->contact) != 1)
		return 0;
	*account = dup_col(c->contact, 0);
	*is_person = (int)snap_col_int(c->contact, 1);
	snap_reset(c->contact);
	return 1;
}

/* A learner linked to Contact `crm_id`: the Contact must be in the export;
 * the link is confirmed and the Contact placed. */
static void keep_linked(struct sb_ctx *c, const struct sb_learner *l, const char *crm_id)
{
	char *account;
	int is_person;

	if (!find_contact(c, crm_id, &account, &is_person)) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "the learner is linked to Contact '%s', which is not in the"
			 " Contact export; nothing written", crm_id);
		exc(c, l, "contact_missing", crm_id, c->tmp.buf);
		return;
	}
	if (!is_person) {
		record_link(c, crm_id, l->username, 1);
		place_contact(c, l, crm_id, account);
	}
	free(account);
}

/* Links the learner to Contact `crm_id` (`action` 'link' or 'relink'):
 * sfdc_id written on the LMS side, the link recorded, the Contact placed.
 * A Contact another LMS user already holds is a conflict. */
static void link_to(struct sb_ctx *c, const struct sb_learner *l, const char *crm_id,
		    const char *account, const char *action)
{
	size_t n;

	bind_str(c->taken, 1, crm_id);
	bind_str(c->taken, 2, l->username);
	bind_str(c->taken, 3, c->instance);
	n = collect_ids(c, c->taken, NULL, NULL);
	if (n) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "Contact '%s' is already linked to LMS user '%s'; nothing written",
			 crm_id, c->ids.buf);
		exc(c, l, "conflict", crm_id, c->tmp.buf);
		return;
	}
	if (l->has_out) {
		/* The people rules wrote this user: only its empty sfdc_id is set. */
		bind_str(c->set_out, 1, l->username);
		bind_str(c->set_out, 2, crm_id);
		run_stmt(c->set_out);
	} else {
		write_user(c, l, crm_id);
	}
	rule_change(c->s, "lms.users", l->username, action, "sfdc_id", NULL, crm_id,
		    l->src_file, l->src_line, "R7");
	record_link(c, crm_id, l->username, 1);
	place_contact(c, l, crm_id, account);
}

/* No Contact matches: a new one under the rule's Account. */
static void create_contact(struct sb_ctx *c, const struct sb_learner *l)
{
	struct buf fields = BUF_INIT;
	char *key = xasprintf("%s:%s", c->instance, l->username);
	char *account = NULL;

	if (is_blank(l->lastname)) {
		exc(c, l, "mandatory", NULL, "no Contact matches and the learner has no last name,"
		    " which a Contact requires; no Contact created");
		goto out;
	}
	snap_bind_text(c->pending, 1, key, strlen(key));
	snap_bind_int(c->pending, 2, c->run_id);
	if (snap_step(c->pending) == 1 && !snap_col_is_null(c->pending, 0)) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "run %lld already wrote a Contact for this learner and the Contact"
			 " export still has none whose '%s' matches the username; no Contact created",
			 snap_col_int(c->pending, 0), c->match_field);
		snap_reset(c->pending);
		exc(c, l, "contact_pending", NULL, c->tmp.buf);
		goto out;
	}
	snap_reset(c->pending);
	if (resolve_account(c, l, &account) != 0)
		goto out;
	buf_addch(&fields, '{');
	add_json_field(&fields, "FirstName", is_blank(l->firstname) ? NULL : l->firstname);
	add_json_field(&fields, "LastName", l->lastname);
	add_json_field(&fields, "Email", is_blank(l->email) ? l->username : l->email);
	add_json_field(&fields, "AccountId", account);
	buf_addch(&fields, '}');
	write_crm(c, l, "insert", key, fields.buf);
out:
	free(account);
	free(key);
	buf_release(&fields);
}

/* Deactivated and linked to a Contact: the LMS user's sfdc_id is cleared
 * and the link kept in `links` as the memory of a later relink. */
static void unlink_learner(struct sb_ctx *c, const struct sb_learner *l)
{
	write_user(c, l, "");
	rule_change(c->s, "lms.users", l->username, "unlink", "sfdc_id", l->sfdc_id, NULL,
		    l->src_file, l->src_line, "R7");
	record_link(c, l->sfdc_id, l->username, 0);
}

/* Active and not linked in the export: the remembered Contact, else the
 * Contacts matching the username. */
static void match_learner(struct sb_ctx *c, const struct sb_learner *l)
{
	char *id = NULL, *account = NULL;
	size_t n;

	bind_str(c->memory, 1, c->instance);
	bind_str(c->memory, 2, l->username);
	if (snap_step(c->memory) == 1) {
		char *mem = dup_col(c->memory, 0);
		int is_person, found;
		snap_reset(c->memory);
		found = find_contact(c, mem, &account, &is_person);
		if (found && !is_person)
			link_to(c, l, mem, account, "relink");
		free(mem);
		if (found && !is_person)
			goto out;
		free(account);
		account = NULL;
	}
	bind_str(c->by_key, 1, l->username);
	n = collect_ids(c, c->by_key, &id, &account);
	if (n > 1) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "several Contacts match the username on '%s'; nothing written",
			 c->match_field);
		exc(c, l, "ambiguous", c->ids.buf, c->tmp.buf);
	} else if (n == 1) {
		link_to(c, l, id, account, "link");
	} else {
		/* Only a Person-Account contact matches: a second, ordinary
		 * Contact for the same person would be a duplicate. */
		bind_str(c->by_key_person, 1, l->username);
		if (collect_ids(c, c->by_key_person, NULL, NULL) > 0)
			exc(c, l, "person_account", c->ids.buf,
			    "only a Person-Account contact matches; person accounts are out of scope, nothing written");
		else
			create_contact(c, l);
	}
out:
	free(id);
	free(account);
}

/* Active, not linked in the export, but the people rules link it to
 * `out_sfdc` this run: sync back follows that link unless its own match
 * finds another Contact. */
static void follow_people(struct sb_ctx *c, const struct sb_learner *l)
{
	char *id = NULL;
	size_t n;

	bind_str(c->by_key, 1, l->username);
	n = collect_ids(c, c->by_key, &id, NULL);
	if (n > 1) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "several Contacts match the username on '%s'; nothing written",
			 c->match_field);
		exc(c, l, "ambiguous", c->ids.buf, c->tmp.buf);
	} else if (n == 1 && strcmp(id, l->out_sfdc) != 0) {
		buf_reset(&c->tmp);
		buf_addf(&c->tmp, "the people rules link this learner to '%s' but Contact '%s'"
			 " matches its username; nothing written", l->out_sfdc, id);
		buf_reset(&c->ids);
		buf_addf(&c->ids, "%s;%s", strcmp(id, l->out_sfdc) < 0 ? id : l->out_sfdc,
			 strcmp(id, l->out_sfdc) < 0 ? l->out_sfdc : id);
		exc(c, l, "conflict", c->ids.buf, c->tmp.buf);
	} else if (is_contact_id(l->out_sfdc)) {
		keep_linked(c, l, l->out_sfdc);
	}
	free(id);
}

static void decide(struct sb_ctx *c, const struct sb_learner *l)
{
	int active = l->out_active >= 0 ? l->out_active : l->active;

	if (l->is_admin)
		return;
	if (!active) {
		/* A user the people rules write this run is theirs to link. */
		if (is_contact_id(l->sfdc_id) && !l->has_out)
			unlink_learner(c, l);
		return;
	}
	if (l->sfdc_id) {
		/* Linked to a CRM User or custom record: not a Contact, not ours. */
		if (is_contact_id(l->sfdc_id))
			keep_linked(c, l, l->sfdc_id);
		return;
	}
	if (l->out_sfdc) {
		follow_people(c, l);
		return;
	}
	match_learner(c, l);
}

/* ---- the rule ----------------------------------------------------------- */

enum rc rule_syncback(struct diag *d, const struct job *j, struct snap *s, long long run_id)
{
	struct sb_ctx c;
	struct snap_stmt *learners = NULL;
	struct sb_learner l;
	enum rc rc;

	if (!j->syncback.is_enabled)
		return RC_OK;
	memset(&c, 0, sizeof c);
	memset(&l, 0, sizeof l);
	c.d = d;
	c.j = j;
	c.sb = &j->syncback;
	c.s = s;
	c.run_id = run_id;
	c.instance = j->lms_instance ? j->lms_instance : "";
	c.match_field = c.sb->match_field ? c.sb->match_field : "Email";
	buf_init(&c.tmp);
	buf_init(&c.ids);

	rc = prepare_tables(&c);
	if (rc != RC_OK)
		goto out;
	if (prepare_stmts(&c) != RC_OK)
		goto out;
	learners = snap_prepare(s, "SELECT username, firstname, lastname, email, branch_code,"
				" active, sfdc_id, extra, is_admin, acc_value, src_file, src_line,"
				" has_out, out_sfdc, out_active FROM stage.sb_learner ORDER BY username");
	while (learners && snap_step(learners) == 1) {
		l.username = dup_col(learners, 0);
		l.firstname = dup_col(learners, 1);
		l.lastname = dup_col(learners, 2);
		l.email = dup_col(learners, 3);
		l.branch_code = dup_col(learners, 4);
		l.active = snap_col_int(learners, 5) != 0;
		l.sfdc_id = dup_col(learners, 6);
		l.extra = dup_col(learners, 7);
		l.is_admin = snap_col_int(learners, 8) != 0;
		l.acc_value = dup_col(learners, 9);
		l.src_file = (int)snap_col_int(learners, 10);
		l.src_line = (unsigned long)snap_col_int(learners, 11);
		l.has_out = snap_col_int(learners, 12) != 0;
		l.out_sfdc = dup_col(learners, 13);
		l.out_active = snap_col_is_null(learners, 14) ? -1 : (int)(snap_col_int(learners, 14) != 0);
		decide(&c, &l);
		learner_release(&l);
		if (snap_rc(s) != RC_OK)
			break;
	}
out:
	learner_release(&l);
	snap_finalize(learners);
	snap_finalize(c.by_key);
	snap_finalize(c.by_key_person);
	snap_finalize(c.contact);
	snap_finalize(c.acc_exact);
	snap_finalize(c.acc_fold);
	snap_finalize(c.branch);
	snap_finalize(c.taken);
	snap_finalize(c.memory);
	snap_finalize(c.pending);
	snap_finalize(c.ins_out);
	snap_finalize(c.set_out);
	snap_finalize(c.ins_crm);
	snap_finalize(c.set_link);
	snap_finalize(c.ins_link);
	snap_finalize(c.drop_links);
	buf_release(&c.tmp);
	buf_release(&c.ids);
	return rc != RC_OK ? rc : snap_rc(s);
}
