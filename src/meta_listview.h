/* SPDX-License-Identifier: MIT */
/* meta_listview: reads a Salesforce list view (`*.listView-meta.xml`, SFDX
 * source format) into its filters, each translated to an API field name
 * with its values split and read, and its compiled booleanFilter. It reads
 * files and knows nothing of the snapshot; rule_listview (R4) evaluates the
 * result against the staged records. What is supported: docs/listviews.md. */
#ifndef LMSRECON_META_LISTVIEW_H
#define LMSRECON_META_LISTVIEW_H

#include <stddef.h>
#include "diag.h"
#include "entity.h"

/* Parentheses and NOTs nested deeper than this in a booleanFilter are
 * refused, which keeps the recursive parser and evaluator off the end of
 * the stack. */
#define META_LISTVIEW_MAX_DEPTH 64
/* Most filters a list view may have (Salesforce allows ten). */
#define META_LISTVIEW_MAX_FILTERS 64

/* The operation of a filter, as the metadata names it. */
enum meta_listview_op {
	LV_OP_EQUALS, LV_OP_NOT_EQUAL, LV_OP_LESS_THAN, LV_OP_GREATER_THAN,
	LV_OP_LESS_OR_EQUAL, LV_OP_GREATER_OR_EQUAL, LV_OP_CONTAINS,
	LV_OP_NOT_CONTAIN, LV_OP_STARTS_WITH, LV_OP_INCLUDES, LV_OP_EXCLUDES,
	LV_OP_COUNT
};

/* What a field is known to hold, which decides how values are compared. */
enum meta_listview_kind {
	LV_KIND_TEXT,     /* text: compared as text even when it looks like a number */
	LV_KIND_DATE,     /* a date or date-time */
	LV_KIND_CHECKBOX, /* a checkbox */
	LV_KIND_UNKNOWN,  /* an extra field: compared by what both values look like */
};

/* One value of a filter (a comma-separated value gives several), with the
 * readings a comparison may need worked out once at open. */
struct meta_listview_item {
	char *text;          /* the value, trimmed and unquoted; owned */
	size_t len;          /* bytes of text */
	int boolean;         /* 1/0 for 1, 0, true, false (any case); else -1 */
	unsigned char is_number; /* text is a decimal number */
	double number;       /* its value when is_number */
	unsigned char is_date;   /* text is an ISO date or date-time */
	unsigned char is_date_only; /* a date with no time */
	char date[25];       /* normalised form (value_datetime) when is_date */
};

/* One <filters> line item. */
struct meta_listview_filter {
	char *column;        /* field as written in the list view; owned */
	char *field;         /* API name read from the entity's export; owned.
				For ACCOUNT.NAME: "Name" of the Account */
	unsigned char is_account; /* read from the Contact's Account (stg_account) */
	enum meta_listview_kind kind; /* what the field holds, when known */
	enum meta_listview_op op;     /* the operation */
	struct meta_listview_item *items; /* one or more values; owned */
	size_t nitems;       /* entries in items */
	unsigned long line;  /* line of the <filters> element */
};

/* The kind of a node of the compiled booleanFilter. */
enum meta_listview_node_kind { LV_NODE_FILTER, LV_NODE_NOT, LV_NODE_AND, LV_NODE_OR };

/* A node of the compiled booleanFilter. */
struct meta_listview_node {
	enum meta_listview_node_kind kind;
	size_t a;            /* LV_NODE_FILTER: filter index; else first operand node */
	size_t b;            /* second operand node of AND/OR */
};

/* A parsed list view. */
struct meta_listview {
	const struct entity *e; /* the entity its records are; borrowed */
	char *name;          /* file name for messages; owned */
	struct meta_listview_filter *filters; /* in document order; owned */
	size_t nfilters;     /* entries in filters */
	struct meta_listview_node *nodes; /* the booleanFilter, or the AND of
					     all filters when it has none; owned */
	size_t nnodes, nodes_alloc; /* nodes used and allocated */
	size_t root;         /* root node; meaningful when nfilters > 0 */
};

/* Reads and checks the list view at `path` (named `name` in messages) for
 * records of entity `e` (ENT_CONTACT, ENT_CRM_USER or ENT_CUSTOM; borrowed,
 * must outlive the list view), as rule_listview_open documents: the network
 * off, no entity substitution, a DOCTYPE refused; list-view column names
 * translated to API names; relative dates, unknown operations and columns,
 * a filterScope other than Everything and a booleanFilter that does not
 * parse or leaves a filter out are refused. Every problem is printed as
 * `lmsrecon: NAME:LINE: message` (`NAME:LINE:COL:` for a booleanFilter
 * error, COL being the offending token's column in the file) and the
 * result is RC_CONFIG (RC_NOINPUT when the file cannot be read). On success
 * *out is the list view (caller frees with meta_listview_free); else NULL. */
enum rc meta_listview_open(struct diag *d, const char *path, const char *name,
			   const struct entity *e, struct meta_listview **out);

/* Frees mv and everything it owns. NULL is fine. */
void meta_listview_free(struct meta_listview *mv);

/* A checkbox value: 1/0/true/false in any case as 1 or 0; -1 for anything
 * else. Checkbox values are exactly these in list views and in exports. */
int meta_listview_checkbox(const char *s, size_t len);

#endif
