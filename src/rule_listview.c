/* SPDX-License-Identifier: MIT */
/* rule_listview: R4 — evaluates a list view that meta_listview has read
 * against the staged records of a people source and marks which staged
 * people pass it (stage.people.in_view). See docs/listviews.md. */
#include "rule_listview.h"
#include "meta_listview.h"
#include "rule_util.h"
#include "util.h"
#include "value.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A list view as meta_listview read it, with the layout of the query that
 * applies it: which columns it reads and where each filter finds its own. */
struct rule_listview {
	struct meta_listview *mv; /* the parsed list view; owned */
	const char **fields; /* distinct API names read from the export; owned array,
				borrowed names (from mv) */
	size_t nfields;      /* entries in fields */
	char **cols;         /* distinct query columns (fields, then Account ones);
				owned array, borrowed names (from mv) */
	unsigned char *col_is_account; /* per column: an Account field; owned */
	size_t ncols;        /* entries in cols and col_is_account */
	int *filter_col;     /* per filter: its column in cols and the apply query; owned */
	unsigned long account_line; /* line of the first ACCOUNT.NAME filter, 0 when none */
};

/* ---- comparing values -------------------------------------------------- */

/* ASCII case folding: Salesforce compares text ignoring case. */
static int fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Compares a[0..alen) with b[0..blen) ignoring ASCII case, as memcmp does. */
static int text_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		int d = fold((unsigned char)a[i]) - fold((unsigned char)b[i]);
		if (d)
			return d;
	}
	return alen < blen ? -1 : alen > blen;
}

/* Whether `needle` occurs in `hay`, ignoring ASCII case. */
static int text_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen > hlen)
		return 0;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (text_cmp(hay + i, nlen, needle, nlen) == 0)
			return 1;
	return 0;
}

/* Compares a record's value (non-empty) with a filter item: as checkboxes
 * when both are 1/0/true/false, as numbers when both are numbers, as dates
 * when both are dates (a date against a date-time compares the day), else
 * as text ignoring case. A field known to hold text (kind) is always
 * compared as text, so '01234' and '1234' differ in a postal code. */
static int value_cmp(const char *r, size_t rlen, const struct meta_listview_item *it,
		     enum meta_listview_kind kind)
{
	int rb = it->boolean >= 0 ? meta_listview_checkbox(r, rlen) : -1;
	char rdate[25];
	const char *why = NULL;

	if (kind == LV_KIND_TEXT)
		return text_cmp(r, rlen, it->text, it->len);
	if (rb >= 0)
		return rb - it->boolean;
	if (it->is_number && value_number(r, rlen) == 0) {
		double x = strtod(r, NULL);
		return x < it->number ? -1 : x > it->number;
	}
	if (it->is_date && value_datetime(r, rlen, NULL, rdate, &why) == 0) {
		if (it->is_date_only || strlen(rdate) == 10)
			return strncmp(rdate, it->date, 10);
		return strcmp(rdate, it->date);
	}
	return text_cmp(r, rlen, it->text, it->len);
}

/* Whether the ';'-separated multi-select value r holds every ';'-part of
 * the item. */
static int set_includes(const char *r, size_t rlen, const struct meta_listview_item *it)
{
	const char *p = it->text, *end = it->text + it->len;

	if (!it->len)
		return rlen == 0;
	while (p <= end) {
		const char *q = memchr(p, ';', (size_t)(end - p));
		const char *part_end = q ? q : end;
		const char *a = p, *b = part_end;
		int found = 0;

		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		for (const char *s = r, *rend = r + rlen; s <= rend && !found;) {
			const char *t = memchr(s, ';', (size_t)(rend - s));
			const char *se = t ? t : rend, *x = s, *y = se;
			while (x < y && *x == ' ')
				x++;
			while (y > x && y[-1] == ' ')
				y--;
			if (text_cmp(x, (size_t)(y - x), a, (size_t)(b - a)) == 0)
				found = 1;
			if (!t)
				break;
			s = t + 1;
		}
		if (!found)
			return 0;
		if (!q)
			break;
		p = q + 1;
	}
	return 1;
}

/* Whether a record whose field holds r (NULL or "" when empty) passes
 * filter f. Any one item suffices for the positive operations; the
 * negative ones (notEqual, notContain, excludes) pass when none does. */
static int filter_passes(const struct meta_listview_filter *f, const char *r, size_t rlen)
{
	int is_empty = !r || rlen == 0;
	int any = 0;
	enum meta_listview_op op = f->op;

	if (op == LV_OP_NOT_EQUAL)
		op = LV_OP_EQUALS;
	else if (op == LV_OP_NOT_CONTAIN)
		op = LV_OP_CONTAINS;
	else if (op == LV_OP_EXCLUDES)
		op = LV_OP_INCLUDES;
	if (is_empty)
		rlen = 0;
	for (size_t i = 0; i < f->nitems && !any; i++) {
		const struct meta_listview_item *it = &f->items[i];
		int c;
		switch (op) {
		case LV_OP_EQUALS:
			any = it->len == 0 ? is_empty : !is_empty && value_cmp(r, rlen, it, f->kind) == 0;
			break;
		case LV_OP_LESS_THAN:
		case LV_OP_GREATER_THAN:
		case LV_OP_LESS_OR_EQUAL:
		case LV_OP_GREATER_OR_EQUAL:
			if (is_empty || it->len == 0)
				break;
			c = value_cmp(r, rlen, it, f->kind);
			any = op == LV_OP_LESS_THAN ? c < 0 : op == LV_OP_GREATER_THAN ? c > 0 :
				op == LV_OP_LESS_OR_EQUAL ? c <= 0 : c >= 0;
			break;
		case LV_OP_CONTAINS:
			any = it->len == 0 || (!is_empty && text_contains(r, rlen, it->text, it->len));
			break;
		case LV_OP_STARTS_WITH:
			any = it->len == 0 ||
				(!is_empty && rlen >= it->len && text_cmp(r, it->len, it->text, it->len) == 0);
			break;
		case LV_OP_INCLUDES:
			any = set_includes(is_empty ? "" : r, rlen, it);
			break;
		default:
			break;
		}
	}
	if (f->op == LV_OP_NOT_EQUAL || f->op == LV_OP_NOT_CONTAIN || f->op == LV_OP_EXCLUDES)
		return !any;
	return any;
}

/* ---- applying ---------------------------------------------------------- */

/* Evaluates node n of the compiled booleanFilter given each filter's
 * result. The parser bounds the nesting (META_LISTVIEW_MAX_DEPTH). */
static int bf_eval(const struct meta_listview *lv, size_t n, const unsigned char *pass)
{
	const struct meta_listview_node *x = &lv->nodes[n];

	switch (x->kind) {
	case LV_NODE_FILTER:
		return pass[x->a];
	case LV_NODE_NOT:
		return !bf_eval(lv, x->a, pass);
	case LV_NODE_AND:
		return bf_eval(lv, x->a, pass) && bf_eval(lv, x->b, pass);
	case LV_NODE_OR:
		return bf_eval(lv, x->a, pass) || bf_eval(lv, x->b, pass);
	}
	return 0;
}

/* Lists the distinct fields and query columns of the filters. */
static void collect_fields(struct rule_listview *lv)
{
	lv->filter_col = xcalloc(lv->mv->nfilters ? lv->mv->nfilters : 1,
				 sizeof *lv->filter_col);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < lv->mv->nfilters; i++) {
			const struct meta_listview_filter *f = &lv->mv->filters[i];
			size_t c;
			if (f->is_account != pass)
				continue;
			for (c = 0; c < lv->ncols; c++)
				if (lv->col_is_account[c] == f->is_account &&
				    strcasecmp(lv->cols[c], f->field) == 0)
					break;
			if (c == lv->ncols) {
				lv->cols = xreallocarray(lv->cols, lv->ncols + 1, sizeof *lv->cols);
				lv->col_is_account = xrealloc(lv->col_is_account, lv->ncols + 1);
				lv->cols[lv->ncols] = f->field;
				lv->col_is_account[lv->ncols] = f->is_account;
				lv->ncols++;
				if (!f->is_account) {
					lv->fields = xreallocarray(lv->fields, lv->nfields + 1,
								   sizeof *lv->fields);
					lv->fields[lv->nfields++] = f->field;
				} else if (!lv->account_line) {
					lv->account_line = f->line;
				}
			}
			lv->filter_col[i] = (int)c;
		}
}

/* Reads the list view (meta_listview_open) and lays out the columns the
 * apply query reads. */
enum rc rule_listview_open(struct diag *d, const char *path, const char *name,
			   const struct entity *e, struct rule_listview **out)
{
	struct meta_listview *mv;
	struct rule_listview *lv;
	enum rc rc;

	*out = NULL;
	rc = meta_listview_open(d, path, name, e, &mv);
	if (rc)
		return rc;
	lv = xcalloc(1, sizeof *lv);
	lv->mv = mv;
	collect_fields(lv);
	*out = lv;
	return RC_OK;
}

/* The fields the filters read from the entity's export, in filter order. */
size_t rule_listview_fields(const struct rule_listview *lv, const char *const **fields)
{
	*fields = lv->fields;
	return lv->nfields;
}

/* Builds the query of the people of one source with, for each, the rowid
 * of its staged record (NULL when none) and the filter columns. People's
 * own columns are renamed in a subquery so the unqualified field
 * expressions can only name the staged table's. */
static int build_query(const struct rule_listview *lv, struct buf *sql)
{
	const char *t = lv->mv->e->table;

	buf_adds(sql, "SELECT p.p_rid, p.p_in_view, ");
	buf_addf(sql, "%s.rowid", t);
	for (size_t c = 0; c < lv->ncols; c++) {
		buf_adds(sql, ", ");
		if (lv->col_is_account[c]) {
			buf_adds(sql, "(SELECT ");
			if (rule_field_expr(sql, entity_get(ENT_ACCOUNT), lv->cols[c]) != 0)
				return -1;
			buf_addf(sql, " FROM stage.stg_account WHERE stg_account.Id = %s.AccountId"
				 " ORDER BY stg_account.rowid LIMIT 1)", t);
		} else if (rule_field_expr(sql, lv->mv->e, lv->cols[c]) != 0) {
			return -1;
		}
	}
	buf_adds(sql, " FROM (SELECT rowid AS p_rid, crm_id AS p_id, src_file AS p_sf,"
		 " src_line AS p_sl, in_view AS p_in_view FROM stage.people WHERE source = ?1) AS p");
	buf_addf(sql, " LEFT JOIN stage.%s ON %s.rowid = coalesce("
		 "(SELECT y.rowid FROM stage.%s AS y WHERE y.Id = p.p_id"
		 " AND y.src_file = p.p_sf AND y.src_line = p.p_sl LIMIT 1),"
		 " (SELECT min(y.rowid) FROM stage.%s AS y WHERE y.Id = p.p_id))", t, t, t, t);
	return 0;
}

/* Sets stage.people.in_view for every person of `source`, streaming the
 * rows through one query and one update. */
enum rc rule_listview_apply(struct diag *d, const struct rule_listview *lv,
			    struct snap *s, const char *source)
{
	const struct meta_listview *mv = lv->mv;
	struct buf sql = BUF_INIT;
	struct snap_stmt *sel = NULL, *upd = NULL;
	unsigned char *pass = NULL;
	enum rc rc = snap_rc(s);
	int row;

	if (rc)
		return rc;
	if (lv->account_line &&
	    snap_query_int(s, "SELECT EXISTS (SELECT 1 FROM stage.stg_account)") == 0 &&
	    snap_rc(s) == RC_OK) {
		struct srcpos pos = { lv->mv->name, lv->account_line, 0 };
		return diag_at(d, RC_CONFIG, &pos,
			       "the filter on 'ACCOUNT.NAME' needs the Account export: add an Account input to the job");
	}
	buf_init(&sql);
	if (build_query(lv, &sql) != 0) {
		/* Names were checked at open; only a bug gets here. */
		struct srcpos pos = { lv->mv->name, 0, 0 };
		rc = diag_at(d, RC_INTERNAL, &pos, "a filter field cannot be read from the staged records");
		goto out;
	}
	sel = snap_prepare(s, sql.buf);
	upd = snap_prepare(s, "UPDATE stage.people SET in_view = ?1 WHERE rowid = ?2");
	if (!sel || !upd)
		goto out;
	pass = xcalloc(mv->nfilters ? mv->nfilters : 1, 1);
	snap_bind_text(sel, 1, source, strlen(source));
	/* Only in_view of the row just read changes, and no index holds it,
	 * so updating while the select is open is safe. */
	while ((row = snap_step(sel)) == 1) {
		int in_view;
		if (snap_col_is_null(sel, 2)) {
			in_view = 0;
		} else {
			for (size_t i = 0; i < mv->nfilters; i++) {
				int col = 3 + lv->filter_col[i];
				pass[i] = (unsigned char)filter_passes(&mv->filters[i],
								       snap_col_text(sel, col),
								       snap_col_len(sel, col));
			}
			in_view = mv->nfilters ? bf_eval(mv, mv->root, pass) : 1;
		}
		if (snap_col_int(sel, 1) == in_view)
			continue;
		snap_bind_int(upd, 1, in_view);
		snap_bind_int(upd, 2, snap_col_int(sel, 0));
		if (snap_step(upd) < 0)
			break;
	}
out:
	snap_finalize(sel);
	snap_finalize(upd);
	free(pass);
	buf_release(&sql);
	return rc ? rc : snap_rc(s);
}

/* Frees the list view, the parsed file it holds and its query layout. */
void rule_listview_free(struct rule_listview *lv)
{
	if (!lv)
		return;
	meta_listview_free(lv->mv);
	free(lv->filter_col);
	free(lv->fields);
	free(lv->cols);
	free(lv->col_is_account);
	free(lv);
}
