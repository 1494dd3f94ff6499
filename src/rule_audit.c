/* SPDX-License-Identifier: MIT */
/* rule_audit: the drift between the systems' exports, and stalled imports. */
#include "rule_audit.h"
#include "rule_util.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A CRM object lmsrecon writes, its export entity and its external id. */
struct audit_object {
	const char *object;
	enum entity_id entity;
	const char *ext_id;
	const char *missing_kind; /* exception kind of a record the CRM lacks */
	int has_unenrolled;       /* carries Unenrolled_At__c (R10) */
};

static const struct audit_object objects[] = {
	{ "LMS_User__c", ENT_X_LMS_USER, "LMS_User_Id__c", "learner_missing", 0 },
	{ "LMS_Course__c", ENT_X_COURSE, "LMS_Course_Key__c", "missing_in_crm", 0 },
	{ "LMS_Session__c", ENT_X_SESSION, "LMS_Session_Key__c", "missing_in_crm", 0 },
	{ "LMS_Learning_Plan__c", ENT_X_PLAN, "LMS_Learning_Plan_Key__c", "missing_in_crm", 0 },
	{ "LMS_Enrollment__c", ENT_X_ENROLLMENT, "Enrollment_Key__c", "missing_in_crm", 1 },
	{ "LMS_Learning_Plan_Enrollment__c", ENT_X_PLAN_ENROLLMENT, "Enrollment_Key__c",
	  "missing_in_crm", 1 },
};

enum rc rule_audit_keep_desired(struct snap *s)
{
	return snap_exec(s, "DROP TABLE IF EXISTS stage.audit_desired;"
			 "CREATE TABLE stage.audit_desired (object TEXT NOT NULL, key TEXT NOT NULL,"
			 " PRIMARY KEY (object, key)) WITHOUT ROWID;"
			 "INSERT OR IGNORE INTO stage.audit_desired (object, key)"
			 " SELECT object, key FROM stage.crm_out WHERE op = 'upsert';");
}

/* Runs `sql` to the end with ?1 the object, ?2 the instance prefix and ?3
 * the reason. Sticky. */
static void run(struct snap *s, const char *sql, const char *object, const char *prefix,
		const char *reason)
{
	snap_run(s, sql, "ttt", object, prefix, reason);
}

/* Missing, mismatched and extra records of one object with an export. */
static void check_object(const struct job *j, struct snap *s, const struct audit_object *o)
{
	const struct entity *e = entity_get(o->entity);
	const struct job_input *in = job_input_of(j, o->entity);
	struct buf sql = BUF_INIT;
	char *prefix = xasprintf("%s:", j->lms_instance);
	char *reason;

	/* In the LMS, not in the CRM export. Identifiers come from the static
	 * tables above and in entity.c, never from input. */
	reason = xasprintf("the LMS has it; the CRM export '%s' does not", in->name);
	buf_addf(&sql, "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason,"
		 " src_file, src_line)"
		 " SELECT '%s', ?1, o.key, NULL, ?3, o.src_file, o.src_line"
		 " FROM stage.crm_out o WHERE o.object = ?1 AND o.op = 'upsert'"
		 " AND NOT EXISTS (SELECT 1 FROM stage.%s x WHERE x.\"%s\" = o.key)"
		 " ORDER BY o.key", o->missing_kind, e->table, o->ext_id);
	run(s, sql.buf, o->object, prefix, reason);
	free(reason);

	/* In both, with fields that differ: the change rows say which. */
	buf_reset(&sql);
	buf_addf(&sql, "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason,"
		 " src_file, src_line)"
		 " SELECT 'field_mismatch', ?1, o.key, NULL,"
		 "  (SELECT group_concat(c.field || ': ' || coalesce(quote(c.before), '(empty)')"
		 "   || ' in the CRM, ' || coalesce(quote(c.after), '(empty)') || ' in the LMS', '; ')"
		 "   FROM stage.changes c WHERE c.entity = 'crm.' || ?1 AND c.key = o.key"
		 "   AND c.field IS NOT NULL),"
		 "  o.src_file, o.src_line"
		 " FROM stage.crm_out o WHERE o.object = ?1 AND o.op = 'upsert'"
		 " AND EXISTS (SELECT 1 FROM stage.%s x WHERE x.\"%s\" = o.key)"
		 " AND EXISTS (SELECT 1 FROM stage.changes c WHERE c.entity = 'crm.' || ?1"
		 "  AND c.key = o.key AND c.field IS NOT NULL)"
		 " ORDER BY o.key", e->table, o->ext_id);
	run(s, sql.buf, o->object, prefix, "");

	/* In the CRM export of this LMS portal, no longer in the LMS (an
	 * enrollment already marked unenrolled is in step). */
	buf_reset(&sql);
	buf_addf(&sql, "INSERT INTO stage.exceptions (kind, entity, key, candidates, reason,"
		 " src_file, src_line)"
		 " SELECT 'extra_in_crm', ?1, x.\"%s\", x.Id,"
		 "  'the CRM holds it; the LMS export no longer has it', x.src_file, x.src_line"
		 " FROM stage.%s x WHERE substr(x.\"%s\", 1, length(?2)) = ?2"
		 " AND NOT EXISTS (SELECT 1 FROM stage.audit_desired a"
		 "  WHERE a.object = ?1 AND a.key = x.\"%s\")%s"
		 " ORDER BY x.\"%s\"", o->ext_id, e->table, o->ext_id, o->ext_id,
		 o->has_unenrolled ? " AND x.Unenrolled_At__c IS NULL" : "", o->ext_id);
	run(s, sql.buf, o->object, prefix, "");
	buf_release(&sql);
	free(prefix);
}

/* Changes this audit would send that an earlier run already sent: the
 * target's export does not show them yet. */
static void check_stalled(struct snap *s, const char *now,
			  double stale_days)
{
	struct snap_stmt *st = snap_prepare(s,
		"WITH pending (target, object, key, op, src_file, src_line) AS ("
		"  SELECT 'crm', object, key, op, src_file, src_line FROM stage.crm_out"
		"  WHERE object IN (SELECT object FROM stage.audit_checked)"
		"  UNION ALL SELECT 'lms', 'users', username, action, src_file, src_line"
		"  FROM stage.user_out"
		"  UNION ALL SELECT 'lms', 'branches', code, 'create', NULL, NULL"
		"  FROM stage.branch_out WHERE is_new = 1)"
		" SELECT p.target, p.object, p.key, p.op, p.src_file, p.src_line, r.id,"
		"  r.started_at, julianday(?1) - julianday(r.started_at)"
		" FROM pending p JOIN main.runs r ON r.id = (SELECT min(e.run_id) FROM main.emitted e"
		"  WHERE e.target = p.target AND e.object = p.object AND e.op = p.op"
		"  AND e.key = p.key)"
		" ORDER BY p.target, p.object, p.key, p.op");
	struct buf why = BUF_INIT, entity = BUF_INIT;

	if (!st)
		return;
	snap_bind_text(st, 1, now, strlen(now));
	while (snap_step(st) == 1) {
		double age = (double)snap_col_int(st, 8);
		const char *target = snap_col_text(st, 0);
		int is_stalled = age > stale_days;
		buf_reset(&why);
		buf_addf(&why, "%s first sent by run %lld on %.10s, %lld days ago; the %s export"
			 " still does not show it", snap_col_text(st, 3), snap_col_int(st, 6),
			 snap_col_text(st, 7), snap_col_int(st, 8),
			 strcmp(target, "crm") == 0 ? "CRM" : "LMS");
		buf_reset(&entity);
		buf_addf(&entity, "%s.%s", target, snap_col_text(st, 1));
		rule_exception(s, is_stalled ? "stalled_change" : "pending_change", entity.buf,
			       snap_col_text(st, 2), NULL, why.buf,
			       snap_col_is_null(st, 4) ? -1 : (int)snap_col_int(st, 4),
			       (unsigned long)snap_col_int(st, 5));
	}
	snap_finalize(st);
	buf_release(&why);
	buf_release(&entity);
}

enum rc rule_audit(struct diag *d, const struct job *j, struct snap *s,
		   const char *now, double stale_days, long long *ndrift)
{
	struct snap_stmt *mark;

	*ndrift = 0;
	snap_exec(s, "DROP TABLE IF EXISTS stage.audit_checked;"
		  "CREATE TABLE stage.audit_checked (object TEXT PRIMARY KEY);");
	mark = snap_prepare(s, "INSERT INTO stage.audit_checked (object) VALUES (?1)");
	for (size_t i = 0; mark && i < sizeof objects / sizeof objects[0]; i++) {
		const struct audit_object *o = &objects[i];
		if (!job_input_of(j, o->entity)) {
			/* The two checks seed 002 is about need these two exports. */
			if (o->entity == ENT_X_ENROLLMENT || o->entity == ENT_X_LMS_USER)
				diag_warn(d, NULL, "the job has no CRM export of %s: its records"
					  " cannot be compared with the LMS", o->object);
			continue;
		}
		snap_bind_text(mark, 1, o->object, strlen(o->object));
		snap_step(mark);
		check_object(j, s, o);
	}
	snap_finalize(mark);
	check_stalled(s, now, stale_days);
	*ndrift = snap_query_int(s, "SELECT count(*) FROM stage.exceptions WHERE kind IN"
				 " ('missing_in_crm', 'learner_missing', 'field_mismatch',"
				 "  'extra_in_crm', 'stalled_change')");
	return snap_rc(s);
}
