/* SPDX-License-Identifier: MIT */
/* meta_listview: reads a Salesforce list view (*.listView-meta.xml),
 * translates its column names to API field names and compiles its
 * booleanFilter, for rule_listview (R4) to evaluate. See docs/listviews.md. */
#include "meta_listview.h"
#include "util.h"
#include "value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* A list view is a few kilobytes; anything much larger is not one. */
#define LV_MAX_BYTES (4u << 20)

/* The operation names of the metadata, in enum meta_listview_op order. */
static const char *const op_names[LV_OP_COUNT] = {
	"equals", "notEqual", "lessThan", "greaterThan", "lessOrEqual",
	"greaterOrEqual", "contains", "notContain", "startsWith",
	"includes", "excludes",
};

/* ---- column names ------------------------------------------------------ */

/* A list-view column name and the API field it stands for. */
struct lv_colname {
	const char *column;  /* as list views write it */
	const char *api;     /* API name (relationship path for related records) */
	unsigned char kind;  /* enum meta_listview_kind */
};

/* Standard columns of Contact list views. Owner columns (CORE.USERS.*)
 * read the owner through the relationship path a Data Loader export of
 * `Owner.Alias` etc. carries. */
static const struct lv_colname contact_columns[] = {
	{ "CONTACT.ID", "Id", LV_KIND_TEXT },
	{ "FULL_NAME", "Name", LV_KIND_TEXT },
	{ "CONTACT.FIRST_NAME", "FirstName", LV_KIND_TEXT },
	{ "CONTACT.LAST_NAME", "LastName", LV_KIND_TEXT },
	{ "CONTACT.SALUTATION", "Salutation", LV_KIND_TEXT },
	{ "CONTACT.EMAIL", "Email", LV_KIND_TEXT },
	{ "CONTACT.TITLE", "Title", LV_KIND_TEXT },
	{ "CONTACT.DEPARTMENT", "Department", LV_KIND_TEXT },
	{ "CONTACT.PHONE1", "Phone", LV_KIND_TEXT },
	{ "CONTACT.PHONE2", "Fax", LV_KIND_TEXT },
	{ "CONTACT.PHONE3", "MobilePhone", LV_KIND_TEXT },
	{ "CONTACT.PHONE4", "HomePhone", LV_KIND_TEXT },
	{ "CONTACT.PHONE5", "OtherPhone", LV_KIND_TEXT },
	{ "CONTACT.PHONE6", "AssistantPhone", LV_KIND_TEXT },
	{ "CONTACT.ASSISTANT_NAME", "AssistantName", LV_KIND_TEXT },
	{ "CONTACT.MAILING_STREET", "MailingStreet", LV_KIND_TEXT },
	{ "CONTACT.MAILING_CITY", "MailingCity", LV_KIND_TEXT },
	{ "CONTACT.MAILING_STATE", "MailingState", LV_KIND_TEXT },
	{ "CONTACT.MAILING_STATE_CODE", "MailingStateCode", LV_KIND_TEXT },
	{ "CONTACT.MAILING_ZIP", "MailingPostalCode", LV_KIND_TEXT },
	{ "CONTACT.MAILING_COUNTRY", "MailingCountry", LV_KIND_TEXT },
	{ "CONTACT.MAILING_COUNTRY_CODE", "MailingCountryCode", LV_KIND_TEXT },
	{ "CONTACT.OTHER_STREET", "OtherStreet", LV_KIND_TEXT },
	{ "CONTACT.OTHER_CITY", "OtherCity", LV_KIND_TEXT },
	{ "CONTACT.OTHER_STATE", "OtherState", LV_KIND_TEXT },
	{ "CONTACT.OTHER_ZIP", "OtherPostalCode", LV_KIND_TEXT },
	{ "CONTACT.OTHER_COUNTRY", "OtherCountry", LV_KIND_TEXT },
	{ "CONTACT.LEAD_SOURCE", "LeadSource", LV_KIND_TEXT },
	{ "CONTACT.DESCRIPTION", "Description", LV_KIND_TEXT },
	{ "CONTACT.EMAIL_OPT_OUT", "HasOptedOutOfEmail", LV_KIND_CHECKBOX },
	{ "CONTACT.DO_NOT_CALL", "DoNotCall", LV_KIND_CHECKBOX },
	{ "CONTACT.BIRTHDATE", "Birthdate", LV_KIND_DATE },
	{ "CONTACT.CREATED_DATE", "CreatedDate", LV_KIND_DATE },
	{ "CONTACT.LAST_UPDATE", "LastModifiedDate", LV_KIND_DATE },
	{ "CONTACT.LAST_ACTIVITY", "LastActivityDate", LV_KIND_DATE },
	{ "CREATED_DATE", "CreatedDate", LV_KIND_DATE },
	{ "LAST_UPDATE", "LastModifiedDate", LV_KIND_DATE },
	{ "ACCOUNT.NAME", "Name", LV_KIND_TEXT }, /* the Account's, see is_account */
	{ "CORE.USERS.ALIAS", "Owner.Alias", LV_KIND_TEXT },
	{ "CORE.USERS.FIRST_NAME", "Owner.FirstName", LV_KIND_TEXT },
	{ "CORE.USERS.LAST_NAME", "Owner.LastName", LV_KIND_TEXT },
	{ "CORE.USERS.FULL_NAME", "Owner.Name", LV_KIND_TEXT },
	{ "CORE.USERS.EMAIL", "Owner.Email", LV_KIND_TEXT },
	{ NULL, NULL, LV_KIND_TEXT }
};

/* Standard columns of User list views. */
static const struct lv_colname user_columns[] = {
	{ "CORE.USERS.ID", "Id", LV_KIND_TEXT },
	{ "FULL_NAME", "Name", LV_KIND_TEXT },
	{ "CORE.USERS.FULL_NAME", "Name", LV_KIND_TEXT },
	{ "CORE.USERS.FIRST_NAME", "FirstName", LV_KIND_TEXT },
	{ "CORE.USERS.LAST_NAME", "LastName", LV_KIND_TEXT },
	{ "CORE.USERS.EMAIL", "Email", LV_KIND_TEXT },
	{ "CORE.USERS.USERNAME", "Username", LV_KIND_TEXT },
	{ "CORE.USERS.ALIAS", "Alias", LV_KIND_TEXT },
	{ "CORE.USERS.NICKNAME", "CommunityNickname", LV_KIND_TEXT },
	{ "CORE.USERS.ACTIVE", "IsActive", LV_KIND_CHECKBOX },
	{ "CORE.USERS.TITLE", "Title", LV_KIND_TEXT },
	{ "CORE.USERS.DEPARTMENT", "Department", LV_KIND_TEXT },
	{ "CORE.USERS.DIVISION", "Division", LV_KIND_TEXT },
	{ "CORE.USERS.COMPANY_NAME", "CompanyName", LV_KIND_TEXT },
	{ "CORE.USERS.EMPLOYEE_NUMBER", "EmployeeNumber", LV_KIND_TEXT },
	{ "CORE.USERS.PHONE", "Phone", LV_KIND_TEXT },
	{ "CORE.USERS.MOBILE_PHONE", "MobilePhone", LV_KIND_TEXT },
	{ "CORE.USERS.CITY", "City", LV_KIND_TEXT },
	{ "CORE.USERS.STATE", "State", LV_KIND_TEXT },
	{ "CORE.USERS.COUNTRY", "Country", LV_KIND_TEXT },
	{ "CORE.USERS.FEDERATION_ID", "FederationIdentifier", LV_KIND_TEXT },
	{ "CORE.USERS.LAST_LOGIN", "LastLoginDate", LV_KIND_DATE },
	{ "CORE.USERS.CREATED_DATE", "CreatedDate", LV_KIND_DATE },
	{ "CORE.USERS.LAST_UPDATE", "LastModifiedDate", LV_KIND_DATE },
	{ "CREATED_DATE", "CreatedDate", LV_KIND_DATE },
	{ "LAST_UPDATE", "LastModifiedDate", LV_KIND_DATE },
	{ "CORE.PROFILE.NAME", "Profile.Name", LV_KIND_TEXT },
	{ "CORE.USER_ROLE.NAME", "UserRole.Name", LV_KIND_TEXT },
	{ NULL, NULL, LV_KIND_TEXT }
};

/* Standard columns every custom object has. */
static const struct lv_colname custom_columns[] = {
	{ "NAME", "Name", LV_KIND_TEXT },
	{ "CREATED_DATE", "CreatedDate", LV_KIND_DATE },
	{ "LAST_UPDATE", "LastModifiedDate", LV_KIND_DATE },
	{ "LAST_ACTIVITY", "LastActivityDate", LV_KIND_DATE },
	{ "OWNER.ALIAS", "Owner.Alias", LV_KIND_TEXT },
	{ "OWNER.FIRST_NAME", "Owner.FirstName", LV_KIND_TEXT },
	{ "OWNER.LAST_NAME", "Owner.LastName", LV_KIND_TEXT },
	{ NULL, NULL, LV_KIND_TEXT }
};

/* The translation table of entity e. */
static const struct lv_colname *columns_of(const struct entity *e)
{
	switch (e->id) {
	case ENT_CONTACT:
		return contact_columns;
	case ENT_CRM_USER:
		return user_columns;
	default:
		return custom_columns;
	}
}

/* Whether `s` is written as a list-view column name: upper-case letters,
 * digits, '_' and '.', with a letter, and no "__" (custom fields and
 * namespaces have one). Mixed-case names are API names already. */
static int is_column_name(const char *s)
{
	int has_letter = 0;

	if (strstr(s, "__"))
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			has_letter = 1;
		else if (!((*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
			return 0;
	}
	return has_letter;
}

/* ---- values ------------------------------------------------------------ */

/* 1/0/true/false in any case as 1 or 0; -1 for anything else. Checkbox
 * values are exactly these in list views and in exports. */
int meta_listview_checkbox(const char *s, size_t len)
{
	if (len == 1 && (s[0] == '1' || s[0] == '0'))
		return s[0] == '1';
	if (len == 4 && strncasecmp(s, "true", 4) == 0)
		return 1;
	if (len == 5 && strncasecmp(s, "false", 5) == 0)
		return 0;
	return -1;
}

/* The relative date literals of SOQL and list views (TODAY, THIS_WEEK,
 * LAST_N_DAYS:30, ...): they need the viewer's clock and time zone. */
static int is_relative_date(const char *s)
{
	static const char *const fixed[] = {
		"YESTERDAY", "TODAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK",
		"NEXT_WEEK", "LAST_MONTH", "THIS_MONTH", "NEXT_MONTH",
		"LAST_90_DAYS", "NEXT_90_DAYS", "THIS_QUARTER", "LAST_QUARTER",
		"NEXT_QUARTER", "THIS_YEAR", "LAST_YEAR", "NEXT_YEAR",
		"THIS_FISCAL_QUARTER", "LAST_FISCAL_QUARTER", "NEXT_FISCAL_QUARTER",
		"THIS_FISCAL_YEAR", "LAST_FISCAL_YEAR", "NEXT_FISCAL_YEAR",
	};
	static const char *const counted[] = {
		"LAST_N_", "NEXT_N_", "N_DAYS_AGO:", "N_WEEKS_AGO:",
		"N_MONTHS_AGO:", "N_QUARTERS_AGO:", "N_YEARS_AGO:",
		"N_FISCAL_QUARTERS_AGO:", "N_FISCAL_YEARS_AGO:",
	};
	const char *colon;

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strcasecmp(s, fixed[i]) == 0)
			return 1;
	colon = strchr(s, ':');
	if (!colon || !colon[1])
		return 0;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++)
		if (strncasecmp(s, counted[i], strlen(counted[i])) == 0)
			return 1;
	return 0;
}

/* Splits a filter value at commas outside double quotes into items,
 * trimming blanks and one pair of surrounding quotes; an empty value is one
 * empty item. */
static void split_value(const char *v, struct meta_listview_item **items, size_t *n)
{
	size_t cap = 0;
	const char *p = v;

	*items = NULL;
	*n = 0;
	for (;;) {
		struct buf b = BUF_INIT;
		int in_quotes = 0;
		struct meta_listview_item *it;

		buf_init(&b);
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '"') {
			in_quotes = 1;
			p++;
		}
		for (; *p; p++) {
			if (in_quotes && *p == '"') {
				in_quotes = 0;
				continue;
			}
			if (!in_quotes && *p == ',')
				break;
			buf_addch(&b, *p);
		}
		while (b.len && (b.buf[b.len - 1] == ' ' || b.buf[b.len - 1] == '\t' ||
				 b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == '\r'))
			b.buf[--b.len] = '\0';
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*items = xreallocarray(*items, cap, sizeof **items);
		}
		it = &(*items)[(*n)++];
		memset(it, 0, sizeof *it);
		it->len = b.len;
		it->text = buf_detach(&b, NULL);
		it->boolean = meta_listview_checkbox(it->text, it->len);
		if (it->len && value_number(it->text, it->len) == 0) {
			it->is_number = 1;
			it->number = strtod(it->text, NULL);
		}
		if (it->len) {
			const char *why = NULL;
			if (value_datetime(it->text, it->len, NULL, it->date, &why) == 0) {
				it->is_date = 1;
				it->is_date_only = strlen(it->date) == 10;
			}
		}
		if (*p != ',')
			break;
		p++;
	}
}


/* ---- booleanFilter ----------------------------------------------------- */

/* The tokens of a booleanFilter. */
enum lv_tok { TOK_END, TOK_NUMBER, TOK_LPAREN, TOK_RPAREN, TOK_AND, TOK_OR, TOK_NOT, TOK_BAD };

/* The state of parsing one booleanFilter. */
struct bf_parser {
	struct meta_listview *lv; /* the list view the nodes go to; borrowed */
	const char *s;       /* the expression; borrowed */
	size_t pos;          /* offset of the next unread byte */
	enum lv_tok tok;     /* current token */
	size_t tok_off;      /* its offset in s */
	size_t tok_len;      /* its length in bytes */
	unsigned long number;/* TOK_NUMBER: its value (saturated) */
	unsigned char *is_used; /* per filter: named in the expression; owned */
	char *err;           /* first error, NULL when none; owned */
	size_t err_off;      /* offset of the token it is about */
	int depth;           /* current nesting */
};

/* Reads the next token into p->tok. */
static void bf_next(struct bf_parser *p)
{
	const char *s = p->s;

	while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
		p->pos++;
	p->tok_off = p->pos;
	if (!s[p->pos]) {
		p->tok = TOK_END;
		p->tok_len = 0;
		return;
	}
	if (s[p->pos] >= '0' && s[p->pos] <= '9') {
		p->number = 0;
		while (s[p->pos] >= '0' && s[p->pos] <= '9') {
			if (p->number < 1000000)
				p->number = p->number * 10 + (unsigned long)(s[p->pos] - '0');
			p->pos++;
		}
		p->tok = TOK_NUMBER;
	} else if (s[p->pos] == '(' || s[p->pos] == ')') {
		p->tok = s[p->pos] == '(' ? TOK_LPAREN : TOK_RPAREN;
		p->pos++;
	} else if ((s[p->pos] >= 'A' && s[p->pos] <= 'Z') || (s[p->pos] >= 'a' && s[p->pos] <= 'z')) {
		size_t start = p->pos;
		while ((s[p->pos] >= 'A' && s[p->pos] <= 'Z') || (s[p->pos] >= 'a' && s[p->pos] <= 'z') ||
		       (s[p->pos] >= '0' && s[p->pos] <= '9') || s[p->pos] == '_')
			p->pos++;
		if (p->pos - start == 3 && strncasecmp(s + start, "AND", 3) == 0)
			p->tok = TOK_AND;
		else if (p->pos - start == 2 && strncasecmp(s + start, "OR", 2) == 0)
			p->tok = TOK_OR;
		else if (p->pos - start == 3 && strncasecmp(s + start, "NOT", 3) == 0)
			p->tok = TOK_NOT;
		else
			p->tok = TOK_BAD;
	} else {
		/* One UTF-8 character, so the message quotes it whole. */
		p->pos++;
		while ((s[p->pos] & 0xC0) == 0x80)
			p->pos++;
		p->tok = TOK_BAD;
	}
	p->tok_len = p->pos - p->tok_off;
}

/* Records the first error, about the current token. */
static void bf_error(struct bf_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bf_error(struct bf_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err)
		return;
	va_start(ap, fmt);
	p->err = xvasprintf(fmt, ap);
	va_end(ap);
	p->err_off = p->tok_off;
}

/* Describes the current token for a message: 'text' or "the end". */
static char *bf_tok_desc(const struct bf_parser *p)
{
	if (p->tok == TOK_END)
		return xstrdup("the end of booleanFilter");
	return xasprintf("'%.*s'", (int)p->tok_len, p->s + p->tok_off);
}

/* Appends a node and returns its index. */
static size_t bf_node(struct meta_listview *lv, enum meta_listview_node_kind kind,
		      size_t a, size_t b)
{
	if (lv->nnodes == lv->nodes_alloc) {
		lv->nodes_alloc = lv->nodes_alloc ? 2 * lv->nodes_alloc : 16;
		lv->nodes = xreallocarray(lv->nodes, lv->nodes_alloc, sizeof *lv->nodes);
	}
	lv->nodes[lv->nnodes].kind = kind;
	lv->nodes[lv->nnodes].a = a;
	lv->nodes[lv->nnodes].b = b;
	return lv->nnodes++;
}

static size_t bf_expr(struct bf_parser *p);

/* unary := NOT unary | NUMBER | '(' expr ')' */
static size_t bf_unary(struct bf_parser *p)
{
	size_t n;
	char *desc;

	if (p->err)
		return 0;
	if (++p->depth > META_LISTVIEW_MAX_DEPTH) {
		bf_error(p, "booleanFilter is nested too deeply (more than %d levels)", META_LISTVIEW_MAX_DEPTH);
		return 0;
	}
	switch (p->tok) {
	case TOK_NOT:
		bf_next(p);
		n = bf_unary(p);
		n = bf_node(p->lv, LV_NODE_NOT, n, 0);
		break;
	case TOK_NUMBER:
		if (p->number < 1 || p->number > p->lv->nfilters) {
			bf_error(p, "filter number %.*s is out of range: the list view has %zu filter%s",
				 (int)p->tok_len, p->s + p->tok_off, p->lv->nfilters,
				 p->lv->nfilters == 1 ? "" : "s");
			return 0;
		}
		p->is_used[p->number - 1] = 1;
		n = bf_node(p->lv, LV_NODE_FILTER, p->number - 1, 0);
		bf_next(p);
		break;
	case TOK_LPAREN:
		bf_next(p);
		n = bf_expr(p);
		if (p->err)
			return 0;
		if (p->tok != TOK_RPAREN) {
			desc = bf_tok_desc(p);
			bf_error(p, "expected ')' but found %s", desc);
			free(desc);
			return 0;
		}
		bf_next(p);
		break;
	default:
		desc = bf_tok_desc(p);
		bf_error(p, "expected a filter number, '(' or NOT but found %s", desc);
		free(desc);
		return 0;
	}
	p->depth--;
	return n;
}

/* expr := unary (AND unary)* | unary (OR unary)*
 * AND and OR are not mixed at one level without parentheses: Salesforce
 * refuses `1 AND 2 OR 3` rather than guess what was meant. */
static size_t bf_expr(struct bf_parser *p)
{
	size_t n = bf_unary(p);
	enum lv_tok op = TOK_END;

	while (!p->err && (p->tok == TOK_AND || p->tok == TOK_OR)) {
		size_t m;
		if (op != TOK_END && p->tok != op) {
			bf_error(p, "AND and OR must not be mixed without parentheses");
			return 0;
		}
		op = p->tok;
		bf_next(p);
		m = bf_unary(p);
		n = bf_node(p->lv, op == TOK_AND ? LV_NODE_AND : LV_NODE_OR, n, m);
	}
	return n;
}

/* ---- reading the file -------------------------------------------------- */

/* The state of one meta_listview_open. */
struct lv_reader {
	struct diag *d;      /* where problems are printed; borrowed */
	const char *name;    /* for messages; borrowed */
	const char *data;    /* the file's bytes, NUL-terminated; borrowed */
	size_t len;          /* bytes of data */
	int has_xml_error;   /* a parse error was kept */
	unsigned long xerr_line, xerr_col; /* its position (0 = unknown) */
	char *xerr_text;     /* libxml2's message, trimmed; owned */
	enum rc rc;          /* RC_CONFIG once any problem was printed */
};

/* Swallows libxml2's unstructured messages: every error we report comes
 * through the structured handler, and libxml2 must never print itself. */
static void quiet_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Keeps the first parse error with its position. */
static void on_xml_error(void *ctx, xmlErrorPtr err)
{
	struct lv_reader *r = ctx;
	size_t n;

	if (!err || err->level < XML_ERR_ERROR || r->has_xml_error)
		return;
	r->has_xml_error = 1;
	r->xerr_line = err->line > 0 ? (unsigned long)err->line : 0;
	r->xerr_col = err->int2 > 0 ? (unsigned long)err->int2 : 0;
	r->xerr_text = xstrdup(err->message ? err->message : "malformed XML");
	n = strlen(r->xerr_text);
	while (n && (r->xerr_text[n - 1] == '\n' || r->xerr_text[n - 1] == ' '))
		r->xerr_text[--n] = '\0';
}

/* Prints a problem at `line` (and `col` when not 0) and notes the failure. */
static void lv_error(struct lv_reader *r, unsigned long line, unsigned long col,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void lv_error(struct lv_reader *r, unsigned long line, unsigned long col,
		     const char *fmt, ...)
{
	struct srcpos pos = { r->name, line, col };
	va_list ap;

	va_start(ap, fmt);
	diag_vat(r->d, RC_CONFIG, &pos, fmt, ap);
	va_end(ap);
	r->rc = RC_CONFIG;
}

/* Reads the whole file (list views are small) into a NUL-terminated
 * buffer; caller frees *data. Prints its own errors. */
static enum rc read_all(struct diag *d, const char *path, const char *name,
			char **data, size_t *len)
{
	struct srcpos pos = { name, 0, 0 };
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	enum rc rc = RC_OK;

	*data = NULL;
	if (!f)
		return diag_at(d, RC_NOINPUT, &pos, "cannot open: %s", strerror(errno));
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > LV_MAX_BYTES) {
			rc = diag_at(d, RC_CONFIG, &pos, "too large for a list view (more than %u bytes)",
				     LV_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = diag_at(d, RC_NOINPUT, &pos, "cannot read: %s", strerror(errno));
		goto out;
	}
	*len = b.len;
	*data = buf_detach(&b, NULL);
out:
	fclose(f);
	buf_release(&b);
	return rc;
}

/* The element's text, trimmed of surrounding blanks; caller frees. */
static char *node_text(xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	const char *s = c ? (const char *)c : "";
	size_t len;
	char *out;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
		       s[len - 1] == '\r'))
		len--;
	out = xstrndup(s, len);
	xmlFree(c);
	return out;
}

/* Whether n is the element `name`. */
static int is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The line of n's start tag (0 when libxml2 does not know it). */
static unsigned long line_of(xmlNode *n)
{
	long l = xmlGetLineNo(n);
	return l > 0 ? (unsigned long)l : 0;
}

/* Translates the field of filter f (column f->column) for entity e;
 * prints and returns -1 when the column name is not known. */
static int translate_field(struct lv_reader *r, const struct entity *e,
			   struct meta_listview_filter *f, unsigned long line)
{
	const char *c = f->column;
	const struct lv_colname *t;
	const char *dot, *u;

	if (is_column_name(c)) {
		for (t = columns_of(e); t->column; t++)
			if (strcasecmp(t->column, c) == 0)
				break;
		if (!t->column) {
			lv_error(r, line, 0, "unknown list view column '%s' for %s: only the standard columns listed in docs/listviews.md, custom fields and API names can be evaluated",
				 c, e->id == ENT_CUSTOM ? "a custom object" : e->name);
			return -1;
		}
		f->field = xstrdup(t->api);
		f->is_account = e->id == ENT_CONTACT && strcmp(t->column, "ACCOUNT.NAME") == 0;
		return 0;
	}
	/* `Object__c.Field__c`: the field of the list view's own object. */
	dot = strchr(c, '.');
	u = dot ? dot - 3 : NULL;
	if (dot && u >= c && strncmp(u, "__c", 3) == 0 && dot[1]) {
		f->field = xstrdup(dot + 1);
		return 0;
	}
	f->field = xstrdup(c);
	return 0;
}

/* What the field of f is known to hold: from the translation table for a
 * column name, from the entity's column type for a standard column. */
static enum meta_listview_kind field_kind(const struct entity *e,
					  const struct meta_listview_filter *f)
{
	if (is_column_name(f->column)) {
		for (const struct lv_colname *t = columns_of(e); t->column; t++)
			if (strcasecmp(t->column, f->column) == 0)
				return (enum meta_listview_kind)t->kind;
	}
	for (size_t i = 0; i < e->ncols; i++)
		if (strcasecmp(e->cols[i].key, f->field) == 0)
			switch (e->cols[i].type) {
			case COL_DATETIME:
				return LV_KIND_DATE;
			case COL_BOOL:
				return LV_KIND_CHECKBOX;
			case COL_NUMBER:
				return LV_KIND_UNKNOWN;
			default:
				return LV_KIND_TEXT;
			}
	return LV_KIND_UNKNOWN;
}

/* Reads one <filters> element into a new filter. */
static void read_filter(struct lv_reader *r, struct meta_listview *lv, xmlNode *fe)
{
	struct meta_listview_filter *f;
	xmlNode *field = NULL, *op = NULL, *value = NULL;
	char *text;
	size_t idx;

	lv->filters = xreallocarray(lv->filters, lv->nfilters + 1, sizeof *lv->filters);
	idx = lv->nfilters++;
	f = &lv->filters[idx];
	memset(f, 0, sizeof *f);
	f->line = line_of(fe);
	for (xmlNode *c = fe->children; c; c = c->next) {
		if (is_elem(c, "field"))
			field = c;
		else if (is_elem(c, "operation"))
			op = c;
		else if (is_elem(c, "value"))
			value = c;
	}
	if (!field || !op) {
		f->column = xstrdup("");
		f->op = LV_OP_EQUALS;
		split_value("", &f->items, &f->nitems);
		lv_error(r, f->line, 0, "filter %zu has no <%s>", idx + 1, field ? "operation" : "field");
		return;
	}
	f->column = node_text(field);
	if (translate_field(r, lv->e, f, line_of(field)) != 0)
		f->field = xstrdup(f->column);
	text = node_text(op);
	for (f->op = 0; f->op < LV_OP_COUNT; f->op++)
		if (strcmp(text, op_names[f->op]) == 0)
			break;
	if (f->op == LV_OP_COUNT) {
		lv_error(r, line_of(op), 0, "unknown operation '%s' in filter %zu (expected one of: equals, notEqual, lessThan, greaterThan, lessOrEqual, greaterOrEqual, contains, notContain, startsWith, includes, excludes)",
			 text, idx + 1);
		f->op = LV_OP_EQUALS;
	}
	free(text);
	text = value ? node_text(value) : xstrdup("");
	split_value(text, &f->items, &f->nitems);
	free(text);
	f->kind = field_kind(lv->e, f);
	/* A word like TODAY in a field known to hold text or checkboxes is
	 * just a word. */
	if (f->kind == LV_KIND_DATE || f->kind == LV_KIND_UNKNOWN)
		for (size_t i = 0; i < f->nitems; i++)
			if (is_relative_date(f->items[i].text)) {
				lv_error(r, value ? line_of(value) : f->line, 0,
					 "relative date '%s' is not supported offline: use a date such as 2026-01-31",
					 f->items[i].text);
				break;
			}
}

/* The file position (line, column) of byte `off` of booleanFilter element
 * bf's text, when its text stands in the file as is (no entity or
 * character references, no CDATA); returns -1 when it cannot be found. */
static int text_position(const struct lv_reader *r, xmlNode *bf, const char *content,
			 size_t off, unsigned long *line, unsigned long *col)
{
	unsigned long l = line_of(bf), cur = 1;
	const char *p = r->data, *end = r->data + r->len, *start, *lt, *raw;
	size_t clen = strlen(content);

	if (!l)
		return -1;
	while (cur < l && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -1;
		p = nl + 1;
		cur++;
	}
	/* The start tag begins on its line: `<booleanFilter` or `<x:booleanFilter`. */
	for (start = p; start < end; start++) {
		if (*start != '<')
			continue;
		const char *nm = start + 1, *colon;
		size_t k = 0;
		while (nm + k < end && !strchr(" \t\r\n/>", nm[k]))
			k++;
		colon = memchr(nm, ':', k);
		if (colon) {
			k -= (size_t)(colon + 1 - nm);
			nm = colon + 1;
		}
		if (k == 13 && memcmp(nm, "booleanFilter", 13) == 0)
			break;
	}
	if (start >= end)
		return -1;
	raw = memchr(start, '>', (size_t)(end - start));
	if (!raw)
		return -1;
	raw++;
	lt = memchr(raw, '<', (size_t)(end - raw));
	if (!lt)
		return -1;
	/* The content was trimmed: find it in the raw text, which must hold it
	 * byte for byte. */
	{
		const char *s = raw;
		while (s < lt && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
			s++;
		if ((size_t)(lt - s) < clen || memcmp(s, content, clen) != 0)
			return -1;
		for (const char *t = s + clen; t < lt; t++)
			if (!(*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r'))
				return -1;
		const char *at = s + off, *line_start = p;
		*line = l;
		for (const char *t = p; t < at; t++)
			if (*t == '\n') {
				(*line)++;
				line_start = t + 1;
			}
		*col = (unsigned long)(at - line_start) + 1;
	}
	return 0;
}

/* Compiles the booleanFilter element bf; prints what is wrong with it. */
static void read_boolean_filter(struct lv_reader *r, struct meta_listview *lv, xmlNode *bf)
{
	struct bf_parser p;
	char *text = node_text(bf);

	memset(&p, 0, sizeof p);
	p.lv = lv;
	p.s = text;
	p.is_used = xcalloc(lv->nfilters ? lv->nfilters : 1, 1);
	bf_next(&p);
	if (p.tok == TOK_END) {
		lv_error(r, line_of(bf), 0, "booleanFilter is empty");
		goto out;
	}
	lv->root = bf_expr(&p);
	if (!p.err && p.tok != TOK_END) {
		char *desc = bf_tok_desc(&p);
		bf_error(&p, "expected AND, OR or the end of booleanFilter but found %s", desc);
		free(desc);
	}
	if (p.err) {
		unsigned long line, col;
		if (text_position(r, bf, text, p.err_off, &line, &col) == 0)
			lv_error(r, line, col, "%s", p.err);
		else
			lv_error(r, line_of(bf), 0, "booleanFilter column %zu: %s",
				 p.err_off + 1, p.err);
		goto out;
	}
	for (size_t i = 0; i < lv->nfilters; i++)
		if (!p.is_used[i]) {
			lv_error(r, line_of(bf), 0, "filter %zu ('%s') is not used in booleanFilter '%s': Salesforce requires every filter to be referenced",
				 i + 1, lv->filters[i].column, text);
			break;
		}
out:
	free(p.is_used);
	free(p.err);
	free(text);
}

/* Reads, translates and compiles the list view (meta_listview.h). */
enum rc meta_listview_open(struct diag *d, const char *path, const char *name,
			   const struct entity *e, struct meta_listview **out)
{
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_gerror = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	struct lv_reader r;
	struct meta_listview *lv = NULL;
	xmlDoc *doc = NULL;
	xmlNode *root, *bf = NULL, *scope = NULL;
	char *data = NULL;
	const char *dt;
	enum rc rc;

	*out = NULL;
	memset(&r, 0, sizeof r);
	r.d = d;
	r.name = name;
	rc = read_all(d, path, name, &data, &r.len);
	if (rc)
		return rc;
	r.data = data;
	/* A list view has no use for a DTD; refusing one before parsing rules
	 * out entity expansion altogether. */
	dt = memmem(data, r.len, "<!DOCTYPE", 9);
	if (dt) {
		unsigned long line = 1;
		for (const char *c = data; c < dt; c++)
			line += *c == '\n';
		lv_error(&r, line, 0, "a DOCTYPE is not allowed in a list view");
		goto out;
	}
	if (r.len > 0x7fffffff) {
		lv_error(&r, 0, 0, "too large for a list view");
		goto out;
	}
	xmlSetStructuredErrorFunc(&r, on_xml_error);
	xmlSetGenericErrorFunc(NULL, quiet_generic);
	doc = xmlReadMemory(data, (int)r.len, name, NULL,
			    XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOWARNING);
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_gerror);
	if (!doc || r.has_xml_error) {
		lv_error(&r, r.xerr_line, r.xerr_col, "malformed XML: %s",
			 r.xerr_text ? r.xerr_text : "not a well-formed XML file");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is_elem(root, "ListView")) {
		lv_error(&r, root ? line_of(root) : 0, 0,
			 "not a list view: the root element must be <ListView>");
		goto out;
	}

	lv = xcalloc(1, sizeof *lv);
	lv->e = e;
	lv->name = xstrdup(name);
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_elem(c, "filters"))
			read_filter(&r, lv, c);
		else if (is_elem(c, "booleanFilter"))
			bf = c;
		else if (is_elem(c, "filterScope"))
			scope = c;
	}
	/* Salesforce allows ten filters a view; the cap keeps the evaluation's
	 * recursion (an AND chain when there is no booleanFilter) shallow. */
	if (lv->nfilters > META_LISTVIEW_MAX_FILTERS) {
		lv_error(&r, line_of(root), 0, "the list view has %zu filters; at most %d are read",
			 lv->nfilters, META_LISTVIEW_MAX_FILTERS);
		goto out;
	}
	if (!scope) {
		lv_error(&r, line_of(root), 0, "the list view has no filterScope; only Everything can be evaluated offline");
	} else {
		char *s = node_text(scope);
		if (strcmp(s, "Everything") != 0)
			lv_error(&r, line_of(scope), 0,
				 "filterScope '%s' needs a user context; only Everything can be evaluated offline", s);
		free(s);
	}
	if (bf) {
		read_boolean_filter(&r, lv, bf);
	} else if (lv->nfilters) {
		/* Without booleanFilter every filter must hold. */
		lv->root = bf_node(lv, LV_NODE_FILTER, 0, 0);
		for (size_t i = 1; i < lv->nfilters; i++)
			lv->root = bf_node(lv, LV_NODE_AND, lv->root, bf_node(lv, LV_NODE_FILTER, i, 0));
	}
out:
	if (doc)
		xmlFreeDoc(doc);
	free(r.xerr_text);
	free(data);
	if (r.rc != RC_OK) {
		meta_listview_free(lv);
		return r.rc;
	}
	*out = lv;
	return RC_OK;
}

/* Frees the filters with their values, the nodes and the list view. */
void meta_listview_free(struct meta_listview *lv)
{
	if (!lv)
		return;
	for (size_t i = 0; i < lv->nfilters; i++) {
		struct meta_listview_filter *f = &lv->filters[i];
		for (size_t k = 0; k < f->nitems; k++)
			free(f->items[k].text);
		free(f->items);
		free(f->column);
		free(f->field);
	}
	free(lv->filters);
	free(lv->nodes);
	free(lv->name);
	free(lv);
}
