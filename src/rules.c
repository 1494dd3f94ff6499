/* SPDX-License-Identifier: MIT */
/* rules: runs the rule modules in pipeline order. */
#include "rules.h"
#include "rule_audit.h"
#include "rule_branch.h"
#include "rule_crmdiff.h"
#include "rule_learning.h"
#include "rule_listview.h"
#include "rule_people.h"
#include "rule_syncback.h"
#include "rule_unenroll.h"
#include "timing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void need_add(struct rules_prep *p, enum entity_id e, const char *name)
{
	p->need.names[e] = xreallocarray(p->need.names[e], p->need.n[e] + 1, sizeof *p->need.names[e]);
	p->need.names[e][p->need.n[e]++] = name;
}

/* The field a `*.field-meta.xml` file defines: its base name's stem. */
static char *picklist_field_of(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;
	base = base ? base + 1 : path;
	dot = strstr(base, ".field-meta.xml");
	return dot ? xstrndup(base, (size_t)(dot - base)) : xstrdup(base);
}

enum rc rules_prepare(struct diag *d, const struct job *j, struct rules_prep **out)
{
	struct rules_prep *p = xcalloc(1, sizeof *p);
	enum rc rc = RC_OK;

	for (size_t i = 0; i < j->npeople; i++) {
		const struct job_people *pe = &j->people[i];
		const struct entity *e = entity_get(pe->source);
		if (pe->listview && !p->views[e->id]) {
			enum rc rc1 = rule_listview_open(d, pe->listview, pe->listview, e, &p->views[e->id]);
			if (rc1 == RC_OK) {
				const char *const *fields;
				size_t n = rule_listview_fields(p->views[e->id], &fields);
				for (size_t k = 0; k < n; k++)
					need_add(p, e->id, fields[k]);
			} else if (rc == RC_OK) {
				rc = rc1;
			}
		}
		for (size_t k = 0; pe->orgchart == ORG_PICKLIST && k < pe->npicklist_meta; k++) {
			char *f = picklist_field_of(pe->picklist_meta[k]);
			p->owned = xreallocarray(p->owned, p->nowned + 1, sizeof *p->owned);
			p->owned[p->nowned++] = f;
			need_add(p, e->id, f);
		}
	}
	*out = p;
	return rc;
}

void rules_prep_free(struct rules_prep *p)
{
	if (!p)
		return;
	for (int e = 0; e < ENT_COUNT; e++) {
		rule_listview_free(p->views[e]);
		free(p->need.names[e]);
	}
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p);
}

/* What the LMS files of this run carry, kept in the snapshot so that a
 * later run or `audit` can tell which changes never reached the LMS. */
static enum rc record_lms_emitted(struct snap *s, long long run_id)
{
	/* Every fields value is made by json_object(), with the users' own
	 * fields through json(): emitted's json_valid check would parse each
	 * again (a third of the insert). In the order of emitted's primary
	 * key, branches before users: appended, not scattered over the tree
	 * (see rules_run); the users in user_out's order (its key,
	 * username), not sorted again. */
	snap_run_unchecked(s,
		"INSERT INTO emitted (run_id, target, object, key, op, fields, digest)"
		" SELECT ?1, 'lms', 'branches', code, 'create', f, lmsrecon_digest(f)"
		" FROM (SELECT code, json_object('name', name, 'parent_code', parent_code) AS f"
		" FROM stage.branch_out WHERE is_new = 1 ORDER BY code)",
		"i", run_id);
	return snap_run_unchecked(s,
		"INSERT INTO emitted (run_id, target, object, key, op, fields, digest)"
		" SELECT ?1, 'lms', 'users', username, action, f, lmsrecon_digest(f)"
		" FROM (SELECT username, action, json_object("
		"  'firstname', firstname, 'lastname', lastname, 'email', email,"
		"  'branch_code', branch_code, 'active', active, 'sfdc_id', sfdc_id,"
		"  'fields', json(fields)) AS f"
		" FROM stage.user_out ORDER BY username)",
		"i", run_id);
}

/* One (entity, action) pair of the change counts. */
struct change_count {
	char *entity, *action; /* owned */
	long long records;     /* distinct keys with that action */
};

/* stage.change_counts from stage.report_changes, whose rows come grouped
 * by entity and key: one pass, counting each record once per action (a
 * GROUP BY with count(DISTINCT key) sorted the whole table again). */
static enum rc count_changes(struct snap *s)
{
	struct snap_stmt *st = snap_prepare(s, "SELECT entity, key, action FROM stage.report_changes"
					    " ORDER BY rowid");
	struct change_count *c = NULL;
	size_t nc = 0;
	struct buf entity = BUF_INIT, key = BUF_INIT;
	size_t *seen = NULL, nseen = 0, aseen = 0; /* pairs counted for the current record */

	while (st && snap_step(st) == 1) {
		const char *e = snap_col_text(st, 0), *k = snap_col_text(st, 1);
		const char *a = snap_col_text(st, 2);
		size_t i, x;
		if (!entity.buf || strcmp(entity.buf, e) != 0 || strcmp(key.buf, k) != 0) {
			buf_reset(&entity);
			buf_adds(&entity, e);
			buf_reset(&key);
			buf_adds(&key, k);
			nseen = 0;
		}
		for (i = 0; i < nc; i++)
			if (strcmp(c[i].entity, e) == 0 && strcmp(c[i].action, a) == 0)
				break;
		if (i == nc) {
			c = xreallocarray(c, nc + 1, sizeof *c);
			c[nc].entity = xstrdup(e);
			c[nc].action = xstrdup(a);
			c[nc++].records = 0;
		}
		for (x = 0; x < nseen && seen[x] != i; x++)
			;
		if (x < nseen)
			continue;
		if (nseen == aseen) {
			aseen = aseen ? 2 * aseen : 8;
			seen = xreallocarray(seen, aseen, sizeof *seen);
		}
		seen[nseen++] = i;
		c[i].records++;
	}
	snap_finalize(st);
	for (size_t i = 0; i < nc; i++) {
		snap_run(s, "INSERT INTO stage.change_counts (entity, action, records) VALUES (?1, ?2, ?3)",
			 "tti", c[i].entity, c[i].action, c[i].records);
		free(c[i].entity);
		free(c[i].action);
	}
	free(c);
	free(seen);
	buf_release(&entity);
	buf_release(&key);
	return snap_rc(s);
}

/* The report reads the changes and exceptions in key order, more than
 * once, and their counts: copied once here in that order (one sort, then
 * plain scans; an index read back row by row cost more than the rules at a
 * million contacts), and counted. Each source table is dropped once copied
 * (nothing reads it after), so the next copy reuses its pages. */
static const char *const after_report_changes[] = { "changes", NULL };
static const char *const after_report_exceptions[] = { "exceptions", NULL };

enum rc rules_finish(struct snap *s)
{
	snap_exec(s,
		"CREATE TABLE stage.report_changes AS SELECT entity, key, action, field, before,"
		" after, src_file, src_line, rule FROM stage.changes ORDER BY entity, key, rowid;");
	snap_stage_drop(s, after_report_changes);
	snap_exec(s,
		"CREATE TABLE stage.report_exceptions AS SELECT kind, entity, key, candidates,"
		" reason, src_file, src_line FROM stage.exceptions ORDER BY kind, entity, key, rowid;"
		"CREATE TABLE stage.change_counts (entity TEXT NOT NULL, action TEXT NOT NULL,"
		" records INTEGER NOT NULL);"
		"CREATE TABLE stage.exception_counts AS SELECT kind, entity, count(*) AS count"
		" FROM stage.exceptions GROUP BY kind, entity;");
	snap_stage_drop(s, after_report_exceptions);
	return snap_rc(s) == RC_OK ? count_changes(s) : snap_rc(s);
}

/* Scratch tables no later step reads, dropped so that the tables written
 * after them reuse their pages instead of growing the stage: on a machine
 * that charges for each new page of the page cache, what the run costs
 * follows the pages it writes for the first time (docs/performance.md,
 * "Where the bytes go"). After sync back: the people matched, their links,
 * the users their keys found and sync back's copy of the Contacts (the
 * Contacts' staging stays, for "only changes" on Contact; the Users', for
 * the unenrollments). */
static const char *const after_people[] = { "people", "people_links", "people_keyed",
	"sb_contact", NULL };
/* After the unenrollments: the learning rule's per-learner tables. (The
 * enrollments' staging and the counts are in a database of their own,
 * `enr`, whose pages the stage cannot reuse; it is deleted with the
 * stage.) */
static const char *const after_learning[] = { "lrn_user", "lrn_dirty", "lrn_linking",
	"lrn_plan_done", NULL };

enum rc rules_run(struct diag *d, const struct job *j, const struct rules_prep *prep,
		  struct snap *s, long long run_id, const char *now, unsigned flags)
{
	int is_incremental = (flags & RULES_INCREMENTAL) != 0;

	enum rc rc = RC_OK;

	for (size_t i = 0; i < j->npeople && rc == RC_OK; i++) {
		const struct job_people *pe = &j->people[i];
		const struct entity *e = entity_get(pe->source);
		rc = rule_people_collect(d, j, pe, s, is_incremental);
		timing_mark("people_collect");
		if (rc == RC_OK && prep->views[e->id])
			rc = rule_listview_apply(d, prep->views[e->id], s, e->name);
		if (rc == RC_OK)
			rc = rule_people_screen(d, j, pe, s);
		timing_mark("people_screen");
		if (rc == RC_OK)
			rc = rule_branch_assign(d, j, pe, s, run_id);
		timing_mark("branch_assign");
		if (rc == RC_OK)
			rc = rule_people_match(d, j, pe, s, run_id);
		timing_mark("people_match");
	}
	if (rc == RC_OK)
		rc = rule_syncback(d, j, s, run_id);
	if (rc == RC_OK)
		rc = snap_stage_drop(s, after_people);
	timing_mark("syncback");
	/* R12: learning data after the people, so the links decided above
	 * tell which enrollments wait for the next run. */
	if (rc == RC_OK && !(flags & RULES_AUDIT))
		rc = rule_crmdiff_prev(j, s, run_id);
	timing_mark("crmdiff_prev");
	/* The enrollments' index, built in a thread since the load. */
	if (rc == RC_OK)
		rc = snap_enr_wait(s);
	timing_mark("enr_wait");
	if (rc == RC_OK)
		rc = rule_learning(d, j, s, run_id);
	timing_mark("learning");
	if (rc == RC_OK)
		rc = rule_unenroll(d, j, s, run_id, now);
	if (rc == RC_OK)
		rc = snap_stage_drop(s, after_learning);
	timing_mark("unenroll");
	if (rc == RC_OK && (flags & RULES_AUDIT))
		rc = rule_audit_keep_desired(s);
	/* Last: keep only what differs from the CRM (or from what was sent). */
	if (rc == RC_OK)
		rc = rule_crmdiff(d, j, s, run_id);
	timing_mark("crmdiff");
	/* The LMS side's rows after the CRM side's: no rule reads them, and
	 * in emitted's key order ('crm' before 'lms') each side is then
	 * appended. The other way round every CRM row went in before the
	 * LMS rows, splitting pages all along (full run at 1x: 17.2 against
	 * 8.5 s for both inserts in the sqlite3 shell). */
	if (rc == RC_OK)
		rc = record_lms_emitted(s, run_id);
	timing_mark("lms_emitted");
	return rc;
}
