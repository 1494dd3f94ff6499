/* SPDX-License-Identifier: MIT */
/* rule_util: what every rule shares — recording exceptions and changes for
 * the report (stage.exceptions, stage.changes), and naming a field of a
 * staged record in SQL. */
#ifndef LMSRECON_RULE_UTIL_H
#define LMSRECON_RULE_UTIL_H

#include "diag.h"
#include "entity.h"
#include "snap.h"
#include "util.h"

/* Records an exception. `candidates` and `key` may be NULL; src_file -1 and
 * src_line 0 when the exception comes from no input row. Returns snap_rc. */
enum rc rule_exception(struct snap *s, const char *kind, const char *entity,
		       const char *key, const char *candidates, const char *reason,
		       int src_file, unsigned long src_line);

/* Records a change (field NULL for an action on the whole record). */
enum rc rule_change(struct snap *s, const char *entity, const char *key,
		    const char *action, const char *field, const char *before,
		    const char *after, int src_file, unsigned long src_line,
		    const char *rule);

/* One row of a rule_sweep stream: its key (the first column, a text) and
 * the integer columns after it, up to RULE_SWEEP_COLS (0 where NULL). */
#define RULE_SWEEP_COLS 3
struct rule_sweep_row {
	struct buf key;
	long long v[RULE_SWEEP_COLS];
	int is_null[RULE_SWEEP_COLS];
};

/* What a run saw against what the snapshot kept, one sweep of both: `was`
 * and `now` give their rows in the order of their key (SQLite's BINARY
 * order), and visit(arg, w, n) is called once per key, in that order, with
 * the row of each side that has it (NULL for a side that has not). A
 * table read by `was` may be written by `visit` at the key it is given:
 * `was` is read one row ahead, and SQLite keeps a read's position across
 * writes to rows it has passed. Stops when the snapshot's status is not
 * RC_OK. A merge of two ordered reads, where a statement that looked
 * each row up in the other table read a million rows at random. */
void rule_sweep(struct snap *s, struct snap_stmt *was, struct snap_stmt *now,
		void (*visit)(void *arg, const struct rule_sweep_row *w,
			      const struct rule_sweep_row *n),
		void *arg);

/* For a rule_sweep visit: binds `key` to parameter `i` of `st` (its other
 * parameters bound), runs it once and resets it. A visit writes a row it
 * was given with a plain one-row INSERT, UPDATE or DELETE, as `was` says
 * whether the row is there, not with an upsert: SQLite gives an upsert a
 * statement journal, and once a run's has outgrown memory every upsert
 * copies the page it changes to a file (docs/performance.md, sixteenth
 * round). */
void rule_sweep_write(struct snap_stmt *st, int i, const struct buf *key);

/* SQL: column `col` of the row the latest earlier run (run_id below
 * `before`) emitted to the CRM for `key` of `object` and `op` (each an SQL
 * expression), NULL when none did: one look-up in emitted's key index
 * (target, object, op, key, run_id, digest), which also holds `digest`. */
#define RULE_PREV_EMITTED(col, object, op, key, before) "(SELECT m." col \
	" FROM main.emitted m WHERE m.target = 'crm' AND m.object = " object \
	" AND m.op = " op " AND m.key = " key " AND m.run_id < " before \
	" ORDER BY m.run_id DESC LIMIT 1)"

/* Appends to `sql` an expression for field `field` of a row of e's staging
 * table: the column itself when it is one of the entity's columns (matched
 * ignoring case), else the value kept in `extra` by the loader. Field names
 * are Salesforce API names or LMS field names: letters, digits, '_' and '.';
 * returns -1 (nothing appended) for any other name, which keeps input text
 * out of SQL. */
int rule_field_expr(struct buf *sql, const struct entity *e, const char *field);

#endif
