/* SPDX-License-Identifier: MIT */
/* rule_listview: R4 — a Salesforce list view (`*.listView-meta.xml`, SFDX
 * source format) evaluated offline against the staged CRM records of a
 * people source. Parsing is separate from applying so that the job check
 * and the loader know the fields a list view needs before any row is read.
 * What is supported and why the rest is refused: docs/listviews.md. */
#ifndef LMSRECON_RULE_LISTVIEW_H
#define LMSRECON_RULE_LISTVIEW_H

#include <stddef.h>
#include "diag.h"
#include "entity.h"
#include "snap.h"

/* A parsed list view: its filters, each translated to an API field name
 * with its values split, and the compiled booleanFilter. */
struct rule_listview;

/* Reads and checks the list view at `path` (named `name` in messages) for
 * records of entity `e` (ENT_CONTACT, ENT_CRM_USER or ENT_CUSTOM; borrowed,
 * must outlive the list view). The file is read with the network off, no
 * entity substitution and no DTD: a DOCTYPE is refused. Every problem is
 * printed as `lmsrecon: NAME:LINE: message` (`NAME:LINE:COL:` for a
 * booleanFilter error, COL being the offending token's column in the file)
 * and the result is RC_CONFIG (RC_NOINPUT when the file cannot be read).
 * Refused: a filterScope other than Everything, an unknown operation, a
 * list-view column name that is not in the translation table, a relative
 * date literal (TODAY, LAST_N_DAYS:30, ...), a booleanFilter that does not
 * parse, names a filter that does not exist or leaves a filter out. On
 * success *out is the list view (caller frees with rule_listview_free). */
enum rc rule_listview_open(struct diag *d, const char *path, const char *name,
			   const struct entity *e, struct rule_listview **out);

/* The CRM API field names the filters read from the entity's export
 * (column names already translated; Account fields reached through the
 * Contact's AccountId are not among them), each once, in filter order.
 * *fields is borrowed from lv (valid until rule_listview_free). */
size_t rule_listview_fields(const struct rule_listview *lv, const char *const **fields);

/* For every row of stage.people with that `source`, sets in_view to 1 when
 * the staged record of the list view's entity with the same Id
 * (stage.stg_contact, stg_crm_user or stg_custom; the one at the person's
 * src_file/src_line when the Id is staged twice) passes the list view, else
 * 0; a person with no staged record is 0. Streams the rows through prepared
 * statements inside the run's transaction. A filter on ACCOUNT.NAME needs
 * the Account export: without staged Accounts it is an error (RC_CONFIG)
 * at the filter's line. Prints its errors; returns snap_rc otherwise. */
enum rc rule_listview_apply(struct diag *d, const struct rule_listview *lv,
			    struct snap *s, const char *source);

/* Frees lv. NULL is fine. */
void rule_listview_free(struct rule_listview *lv);

#endif
