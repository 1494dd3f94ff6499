/* SPDX-License-Identifier: MIT */
/* profile: loads a format profile (a built-in formats/<name>.xml or a file),
 * validates it against formats/profile.rng, checks its names against the
 * entity table, and maps status words. Read once per input before ingest. */
#include "profile.h"
#include "formats.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* The namespace of profile files (formats/profile.rng). */
#define PROFILE_NS "urn:lmsrecon:profile:1"

/* lmsrecon's status names, indexed by enum status (SPEC §2). */
static const char *const status_names[ST_COUNT] = {
	"enrolled", "in_progress", "completed", "passed", "failed",
	"pending_review", "waiting", "suspended", "unenrolled",
};

/* One message libxml2 reported, kept until it is printed in our form. */
struct xml_msg {
	unsigned long line; /* 1-based; 0 = unknown */
	int is_warning;     /* a warning, not an error */
	char *text;         /* libxml2's wording, trimmed; owned */
	xmlNodePtr node;    /* the element it is about, or NULL; borrowed from
			       the document, which outlives the printing */
};

/* The messages of one libxml2 operation (parse, schema, validation). */
struct xml_msgs {
	struct xml_msg *v; /* owned */
	size_t n, alloc;
	struct buf generic; /* text sent to the generic (unstructured) channel */
	xmlStructuredErrorFunc saved_serror; /* handlers to restore */
	void *saved_sctx;
	xmlGenericErrorFunc saved_generic;
	void *saved_gctx;
};

/* Structured error handler: copies line, level and message. */
static void msgs_structured(void *ctx, xmlErrorPtr e)
{
	struct xml_msgs *m = ctx;
	struct xml_msg *x;
	size_t len;

	if (!e || e->level == XML_ERR_NONE)
		return;
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 8;
		m->v = xreallocarray(m->v, m->alloc, sizeof *m->v);
	}
	x = &m->v[m->n++];
	x->line = e->line > 0 ? (unsigned long)e->line : 0;
	x->node = NULL;
	if (e->node && ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE) {
		x->node = e->node;
		if (!x->line && xmlGetLineNo(x->node) > 0)
			x->line = (unsigned long)xmlGetLineNo(x->node);
	}
	x->is_warning = e->level == XML_ERR_WARNING;
	x->text = xstrdup(e->message ? e->message : "malformed XML");
	len = strlen(x->text);
	while (len && (x->text[len - 1] == '\n' || x->text[len - 1] == ' '))
		x->text[--len] = '\0';
}

/* Generic error handler: libxml2 sends a few messages this way even when
 * a structured handler is set; keep them rather than let them reach
 * stderr. */
static void msgs_generic(void *ctx, const char *fmt, ...)
{
	struct xml_msgs *m = ctx;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_adds(&m->generic, s);
	free(s);
}

/* Starts collecting libxml2's messages into m (instead of stderr). */
static void msgs_begin(struct xml_msgs *m)
{
	memset(m, 0, sizeof *m);
	buf_init(&m->generic);
	m->saved_serror = xmlStructuredError;
	m->saved_sctx = xmlStructuredErrorContext;
	m->saved_generic = xmlGenericError;
	m->saved_gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(m, msgs_structured);
	xmlSetGenericErrorFunc(m, msgs_generic);
}

/* Restores the handlers msgs_begin replaced. */
static void msgs_end(struct xml_msgs *m)
{
	xmlSetStructuredErrorFunc(m->saved_sctx, m->saved_serror);
	xmlSetGenericErrorFunc(m->saved_gctx, m->saved_generic);
}

/* Frees the kept messages. */
static void msgs_release(struct xml_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	buf_release(&m->generic);
	m->v = NULL;
	m->n = m->alloc = 0;
}

/* The value of attribute `name` of `n` (no namespace), copied; NULL when
 * absent. Caller frees. */
static char *get_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

/* Matches `msg` against `pat`, in which each "%s" stands for one word (a
 * run of characters up to the next space or the end). The words go to
 * w[0..1]. Returns 1 on a full match. */
static int match_words(const char *pat, const char *msg, struct buf w[2])
{
	int k = 0;

	buf_reset(&w[0]);
	buf_reset(&w[1]);
	while (*pat) {
		if (pat[0] == '%' && pat[1] == 's') {
			size_t n = strcspn(msg, " :,");
			if (n == 0 || k > 1)
				return 0;
			buf_add(&w[k++], msg, n);
			msg += n;
			pat += 2;
		} else if (*pat++ != *msg++) {
			return 0;
		}
	}
	return *msg == '\0';
}

/* libxml2's wordings of RELAX NG and parser errors, and ours. In ours,
 * %1 and %2 stand for the words matched by the first and second %s. */
static const struct {
	const char *theirs, *ours;
} rewordings[] = {
	{ "Did not expect element %s there", "unexpected element '%1'" },
	{ "Expecting element %s, got %s", "expected element '%1', found '%2'" },
	{ "Expecting an element %s, got nothing", "missing element '%1'" },
	{ "Element %s has extra content: %s", "unexpected element '%2' in '%1'" },
	{ "Invalid attribute %s for element %s", "unexpected attribute '%1' on element '%2'" },
	{ "Element %s failed to validate attributes", "bad or missing attribute on element '%1'" },
	{ "Element %s failed to validate content", "bad content in element '%1'" },
	{ "Element %s has wrong namespace: expecting %s",
	  "element '%1' is not in namespace '%2'" },
	{ "Expecting a namespace for element %s", "element '%1' is not in namespace '" PROFILE_NS "'" },
	{ "Did not expect text in element %s content", "unexpected text in element '%1'" },
	{ "Error validating datatype %s", "bad value for a %1" },
	{ "Element %s is not empty", "element '%1' must be empty" },
};

/* Our wording of one libxml2 message: a known one reworded, any other
 * with its first letter in lower case. Caller frees. */
static char *reword(const char *text)
{
	struct buf w[2] = { BUF_INIT, BUF_INIT };
	struct buf out = BUF_INIT;

	buf_init(&w[0]);
	buf_init(&w[1]);
	buf_init(&out);
	for (size_t i = 0; i < sizeof rewordings / sizeof rewordings[0]; i++) {
		const char *p;
		if (!match_words(rewordings[i].theirs, text, w))
			continue;
		for (p = rewordings[i].ours; *p; p++) {
			if (p[0] == '%' && (p[1] == '1' || p[1] == '2')) {
				buf_adds(&out, w[p[1] - '1'].buf);
				p++;
			} else {
				buf_addch(&out, *p);
			}
		}
		goto out;
	}
	buf_adds(&out, text);
	if (out.len && out.buf[0] >= 'A' && out.buf[0] <= 'Z' &&
	    !(out.len > 1 && out.buf[1] >= 'A' && out.buf[1] <= 'Z'))
		out.buf[0] = (char)(out.buf[0] - 'A' + 'a');
	if (out.len && out.buf[out.len - 1] == '.')
		out.buf[--out.len] = '\0';
out:
	buf_release(&w[0]);
	buf_release(&w[1]);
	return buf_detach(&out, NULL);
}

/* What an attribute's value must look like (checked here as well as by
 * the schema, so that a message can say which attribute is wrong). */
enum attr_kind {
	AK_TEXT,   /* any non-empty text */
	AK_CHAR,   /* one character */
	AK_NAME,   /* letters, digits, '_' and '-' */
	AK_SIDE,   /* crm or lms */
	AK_NCNAME, /* an XML element name without a prefix */
};

/* The attributes of every profile element (formats/profile.rng). */
static const struct {
	const char *elem, *attr;
	int is_required;
	enum attr_kind kind;
} attr_rules[] = {
	{ "profile", "name", 1, AK_NAME },
	{ "profile", "side", 1, AK_SIDE },
	{ "csv", "delimiter", 0, AK_CHAR },
	{ "csv", "quote", 0, AK_CHAR },
	{ "null", "token", 1, AK_TEXT },
	{ "dates", "pattern", 1, AK_TEXT },
	{ "entity", "name", 1, AK_TEXT },
	{ "entity", "record", 0, AK_NCNAME },
	{ "column", "key", 1, AK_TEXT },
	{ "column", "header", 1, AK_TEXT },
	{ "status", "word", 1, AK_TEXT },
	{ "status", "value", 1, AK_TEXT },
};

/* How each attr_kind is described in messages. */
static const char *const attr_kind_expect[] = {
	"a non-empty text", "one character", "letters, digits, '_' and '-'",
	"'crm' or 'lms'", "an XML element name",
};

/* Does `v` fit `kind`? */
static int attr_value_ok(enum attr_kind kind, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t nchars = 0;

	switch (kind) {
	case AK_TEXT:
		return *p != '\0';
	case AK_CHAR:
		for (; *p; p++)
			nchars += (*p & 0xC0) != 0x80;
		return nchars == 1;
	case AK_NAME:
		for (; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
				return 0;
		return *v != '\0';
	case AK_SIDE:
		return strcmp(v, "crm") == 0 || strcmp(v, "lms") == 0;
	case AK_NCNAME:
		if (!*p || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')
			return 0;
		for (; *p; p++)
			if (!(*p >= 0x80 || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			      *p == '_' || *p == '-' || *p == '.'))
				return 0;
		return 1;
	}
	return 0;
}

/* Finds what is wrong with the attributes of element `el` (only with
 * `only` when it is not NULL) and writes it to `out`. Returns 1 when
 * something was found. */
static int attr_problem(xmlNodePtr el, const char *only, struct buf *out)
{
	const char *en = (const char *)el->name;
	int is_known = 0;

	for (size_t i = 0; i < sizeof attr_rules / sizeof attr_rules[0]; i++) {
		char *v;
		int bad;
		if (strcmp(attr_rules[i].elem, en) != 0 ||
		    (only && strcmp(attr_rules[i].attr, only) != 0))
			continue;
		is_known = 1;
		v = get_attr(el, attr_rules[i].attr);
		bad = v ? !attr_value_ok(attr_rules[i].kind, v) : attr_rules[i].is_required;
		if (bad && v)
			buf_addf(out, "bad value '%s' for attribute '%s' of element '%s' (expected %s)",
				 v, attr_rules[i].attr, en, attr_kind_expect[attr_rules[i].kind]);
		else if (bad)
			buf_addf(out, "element '%s' lacks attribute '%s'", en,
				 attr_rules[i].attr);
		free(v);
		if (bad)
			return 1;
	}
	if (only && !is_known) {
		buf_addf(out, "unknown attribute '%s' on element '%s'", only, en);
		return 1;
	}
	for (xmlAttrPtr a = el->properties; !only && a; a = a->next) {
		size_t i;
		for (i = 0; i < sizeof attr_rules / sizeof attr_rules[0]; i++)
			if (strcmp(attr_rules[i].elem, en) == 0 &&
			    strcmp(attr_rules[i].attr, (const char *)a->name) == 0)
				break;
		if (i == sizeof attr_rules / sizeof attr_rules[0]) {
			buf_addf(out, "unknown attribute '%s' on element '%s'",
				 (const char *)a->name, en);
			return 1;
		}
	}
	return 0;
}

/* Is `name` an element of the profile format? */
static int is_profile_elem(const char *name)
{
	static const char *const names[] = { "profile", "csv", "null", "dates",
					     "entity", "column", "status" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* Our wording of one kept message, using the element it is about where
 * libxml2's own wording is vague. Caller frees. */
static char *describe(const struct xml_msg *x)
{
	struct buf w[2] = { BUF_INIT, BUF_INIT };
	struct buf out = BUF_INIT;
	xmlNodePtr n = x->node;

	buf_init(&w[0]);
	buf_init(&w[1]);
	buf_init(&out);
	if (n && match_words("Invalid attribute %s for element %s", x->text, w))
		attr_problem(n, w[0].buf, &out);
	else if (n && match_words("Element %s failed to validate attributes", x->text, w))
		attr_problem(n, NULL, &out);
	else if (n && strncmp(x->text, "Expecting an element", 20) == 0 &&
		 strstr(x->text, "got nothing"))
		buf_addf(&out, strcmp((const char *)n->name, "entity") == 0 ?
				       "element '%s' needs at least one 'column'" :
				       "element '%s' is incomplete",
			 (const char *)n->name);
	else if (n && (match_words("Did not expect element %s there", x->text, w) ||
		       match_words("Expecting element %s, got %s", x->text, w))) {
		/* The first message is about the element itself, the second
		 * about its parent. */
		int is_parent = w[1].len > 0;
		const char *en = is_parent ? w[1].buf : (const char *)n->name;
		xmlNodePtr parent = is_parent ? n : n->parent;
		const char *pn = parent && parent->type == XML_ELEMENT_NODE ?
					 (const char *)parent->name : NULL;
		if (!is_profile_elem(en))
			buf_addf(&out, "unknown element '%s'", en);
		else if (pn && strcmp(pn, "profile") == 0)
			buf_addf(&out, "element '%s' is out of place (the order is csv, "
				 "null, dates, entity, status; csv, null and dates at "
				 "most once)", en);
		else if (pn)
			buf_addf(&out, "element '%s' is not allowed in '%s'", en, pn);
	}
	buf_release(&w[0]);
	buf_release(&w[1]);
	if (out.len)
		return buf_detach(&out, NULL);
	buf_release(&out);
	return reword(x->text);
}

/* Prints every kept message as `lmsrecon: FILE:LINE: message`, one error
 * per line: libxml2 follows the cause of a failure with the enclosing
 * elements that failed because of it. Returns the number of errors
 * (warnings are printed but not counted). */
static size_t msgs_print(struct diag *d, const struct xml_msgs *m, const char *file)
{
	size_t nerr = 0;
	unsigned long last_line = 0;
	static const char tail[] = " failed to validate content";

	for (size_t i = 0; i < m->n; i++) {
		const struct xml_msg *x = &m->v[i];
		struct srcpos pos = { file, x->line, 0 };
		size_t tlen = strlen(x->text);
		char *text;
		if (x->is_warning) {
			text = reword(x->text);
			diag_warn(d, &pos, "%s", text);
			free(text);
			continue;
		}
		if (nerr && ((x->line && x->line == last_line) ||
			     (tlen > sizeof tail - 1 &&
			      strcmp(x->text + tlen - (sizeof tail - 1), tail) == 0))) {
			nerr++;
			continue;
		}
		text = describe(x);
		diag_at(d, RC_CONFIG, &pos, "%s", text);
		free(text);
		last_line = x->line;
		nerr++;
	}
	return nerr;
}

/* Prints the failure of an operation that kept no structured message. */
static void msgs_print_generic(struct diag *d, const struct xml_msgs *m,
			       const char *file, const char *what)
{
	struct srcpos pos = { file, 0, 0 };
	char *text = NULL;
	size_t len = m->generic.len;

	if (len) {
		while (len && (m->generic.buf[len - 1] == '\n' || m->generic.buf[len - 1] == ' '))
			len--;
		text = xstrndup(m->generic.buf, len);
	}
	if (text && *text)
		diag_at(d, RC_CONFIG, &pos, "%s: %s", what, text);
	else
		diag_at(d, RC_CONFIG, &pos, "%s", what);
	free(text);
}

/* Reads the whole file `path` into *data (NUL-terminated; caller frees).
 * Returns 0, or errno. */
static int read_whole_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	int err = 0;

	if (!f)
		return errno ? errno : EIO;
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f))
		err = errno ? errno : EIO;
	fclose(f);
	if (err) {
		buf_release(&b);
		return err;
	}
	*data = buf_detach(&b, len);
	return 0;
}

/* The names of the built-in profiles, comma-separated. Caller frees. */
static char *builtin_list(void)
{
	struct buf b = BUF_INIT;

	buf_init(&b);
	for (const struct formats_file *f = formats_builtin; f->name; f++) {
		size_t n = strlen(f->name);
		if (n < 5 || strcmp(f->name + n - 4, ".xml") != 0 ||
		    !strstr(f->data, PROFILE_NS))
			continue;
		if (b.len)
			buf_adds(&b, ", ");
		buf_add(&b, f->name, n - 4);
	}
	return buf_detach(&b, NULL);
}

/* Is `n` the element `name` of the profile namespace? */
static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, PROFILE_NS) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* ASCII lower-case copy of s. Caller frees. */
static char *lower_dup(const char *s)
{
	char *r = xstrdup(s);

	for (char *p = r; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* The state of checking one profile document. */
struct loader {
	struct diag *d;
	const char *file;   /* the profile file as printed; borrowed */
	struct profile *p;  /* being filled */
	size_t nerr;        /* errors printed */
	size_t status_alloc;/* slots of p->status_words/values */
};

/* Prints an error at the line of node n and counts it. */
static void load_err(struct loader *l, xmlNodePtr n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void load_err(struct loader *l, xmlNodePtr n, const char *fmt, ...)
{
	struct srcpos pos = { l->file, (unsigned long)xmlGetLineNo(n), 0 };
	va_list ap;

	va_start(ap, fmt);
	diag_vat(l->d, RC_CONFIG, &pos, fmt, ap);
	va_end(ap);
	l->nerr++;
}

/* Reads one <entity> element into the profile. */
static void load_entity(struct loader *l, xmlNodePtr n)
{
	char *name = get_attr(n, "name");
	char *record = get_attr(n, "record");
	const struct entity *e = entity_find(l->p->side, name);
	struct profile_entity *pe;

	if (!e) {
		struct buf known = BUF_INIT;
		buf_init(&known);
		for (size_t i = 0; i < ENT_COUNT; i++) {
			const struct entity *k = entity_get((enum entity_id)i);
			if (k->side != l->p->side)
				continue;
			buf_addf(&known, "%s%s", known.len ? ", " : "", k->name);
		}
		load_err(l, n, "unknown entity '%s' on the %s side (known: %s)", name,
			 l->p->side == SIDE_CRM ? "crm" : "lms", known.buf);
		buf_release(&known);
		goto out;
	}
	pe = &l->p->ents[e->id];
	if (pe->is_supported) {
		load_err(l, n, "entity '%s' is described twice", name);
		goto out;
	}
	pe->is_supported = 1;
	pe->record_elem = record ? record : xstrdup("record");
	record = NULL;
	for (xmlNodePtr c = n->children; c; c = c->next) {
		char *key, *header;
		int col;
		if (!is_elem(c, "column"))
			continue;
		key = get_attr(c, "key");
		header = get_attr(c, "header");
		col = entity_col_index(e, key);
		if (col < 0) {
			struct buf known = BUF_INIT;
			buf_init(&known);
			for (size_t i = 0; i < e->ncols; i++)
				buf_addf(&known, "%s%s", i ? ", " : "", e->cols[i].key);
			load_err(l, c, "unknown column '%s' of entity '%s' (columns: %s)",
				 key, name, known.buf);
			buf_release(&known);
		} else if (pe->headers[col]) {
			load_err(l, c, "column '%s' of entity '%s' is listed twice", key, name);
		} else {
			for (size_t i = 0; i < e->ncols; i++)
				if (pe->headers[i] && strcmp(pe->headers[i], header) == 0)
					load_err(l, c, "header '%s' is given to both '%s' and '%s'",
						 header, e->cols[i].key, key);
			pe->headers[col] = header;
			header = NULL;
		}
		free(key);
		free(header);
	}
out:
	free(name);
	free(record);
}

/* Reads one <status> element into the profile. */
static void load_status(struct loader *l, xmlNodePtr n)
{
	char *word = get_attr(n, "word");
	char *value = get_attr(n, "value");
	char *lw = lower_dup(word);
	struct profile *p = l->p;
	size_t st;

	for (st = 0; st < ST_COUNT; st++)
		if (strcmp(status_names[st], value) == 0)
			break;
	if (st == ST_COUNT) {
		struct buf known = BUF_INIT;
		buf_init(&known);
		for (size_t i = 0; i < ST_COUNT; i++)
			buf_addf(&known, "%s%s", i ? ", " : "", status_names[i]);
		load_err(l, n, "unknown status '%s' for word '%s' (statuses: %s)", value,
			 word, known.buf);
		buf_release(&known);
		goto out;
	}
	for (size_t i = 0; i < p->nstatus; i++)
		if (strcmp(p->status_words[i], lw) == 0) {
			load_err(l, n, "status word '%s' is listed twice", word);
			goto out;
		}
	if (p->nstatus == l->status_alloc) {
		l->status_alloc = l->status_alloc ? 2 * l->status_alloc : 16;
		p->status_words = xreallocarray(p->status_words, l->status_alloc,
						sizeof *p->status_words);
		p->status_values = xreallocarray(p->status_values, l->status_alloc,
						 sizeof *p->status_values);
	}
	p->status_words[p->nstatus] = lw;
	p->status_values[p->nstatus] = (enum status)st;
	p->nstatus++;
	lw = NULL;
out:
	free(word);
	free(value);
	free(lw);
}

/* Fills l->p from a document that passed the schema. */
static void load_doc(struct loader *l, xmlNodePtr root)
{
	struct profile *p = l->p;
	char *side = get_attr(root, "side");

	p->name = get_attr(root, "name");
	p->side = side && strcmp(side, "crm") == 0 ? SIDE_CRM : SIDE_LMS;
	free(side);
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (is_elem(n, "csv")) {
			char *delim = get_attr(n, "delimiter");
			char *quote = get_attr(n, "quote");
			/* The schema allows one character; a byte is what the
			 * CSV reader can use. */
			if (delim && strlen(delim) != 1)
				load_err(l, n, "delimiter '%s' is not a single byte", delim);
			else if (delim)
				p->delim = (unsigned char)delim[0];
			if (quote && strlen(quote) != 1)
				load_err(l, n, "quote '%s' is not a single byte", quote);
			else if (quote)
				p->quote = (unsigned char)quote[0];
			if (p->delim == p->quote)
				load_err(l, n, "delimiter and quote are the same character");
			free(delim);
			free(quote);
		} else if (is_elem(n, "null")) {
			p->null_token = get_attr(n, "token");
		} else if (is_elem(n, "dates")) {
			p->date_pattern = get_attr(n, "pattern");
		} else if (is_elem(n, "entity")) {
			load_entity(l, n);
		} else if (is_elem(n, "status")) {
			load_status(l, n);
		}
	}
}

/* Validates doc against formats/profile.rng, printing every error.
 * Returns RC_OK, RC_CONFIG, or RC_INTERNAL when the schema itself fails. */
static enum rc validate(struct diag *d, xmlDocPtr doc, const char *file)
{
	const struct formats_file *rng = formats_find("profile.rng");
	xmlRelaxNGParserCtxtPtr pctx = NULL;
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vctx = NULL;
	struct xml_msgs m;
	enum rc rc = RC_OK;
	int r;

	if (!rng)
		return diag_err(d, RC_INTERNAL, "built-in schema 'profile.rng' is missing");
	msgs_begin(&m);
	pctx = xmlRelaxNGNewMemParserCtxt(rng->data, (int)rng->len);
	if (pctx) {
		xmlRelaxNGSetParserStructuredErrors(pctx, msgs_structured, &m);
		schema = xmlRelaxNGParse(pctx);
	}
	if (!schema) {
		msgs_end(&m);
		if (!msgs_print(d, &m, "formats/profile.rng"))
			msgs_print_generic(d, &m, "formats/profile.rng", "cannot compile the schema");
		rc = RC_INTERNAL;
		goto out;
	}
	vctx = xmlRelaxNGNewValidCtxt(schema);
	xmlRelaxNGSetValidStructuredErrors(vctx, msgs_structured, &m);
	r = xmlRelaxNGValidateDoc(vctx, doc);
	msgs_end(&m);
	if (r != 0) {
		if (!msgs_print(d, &m, file))
			msgs_print_generic(d, &m, file, "the profile does not match its schema");
		rc = r > 0 ? RC_CONFIG : RC_INTERNAL;
	}
out:
	xmlRelaxNGFreeValidCtxt(vctx);
	xmlRelaxNGFree(schema);
	xmlRelaxNGFreeParserCtxt(pctx);
	msgs_release(&m);
	return rc;
}

/* Parses, validates and reads a profile document. `file` is the name its
 * messages carry. */
static enum rc load_text(struct diag *d, const char *data, size_t len,
			 const char *file, struct profile **out)
{
	struct xml_msgs m;
	xmlDocPtr doc;
	struct loader l;
	enum rc rc = RC_OK;

	if (len > (size_t)0x7fffffff) {
		struct srcpos pos = { file, 0, 0 };
		return diag_at(d, RC_CONFIG, &pos, "profile file too large");
	}
	msgs_begin(&m);
	doc = xmlReadMemory(data, (int)len, file, NULL,
			    XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOWARNING);
	msgs_end(&m);
	if (!doc) {
		if (!msgs_print(d, &m, file))
			msgs_print_generic(d, &m, file, "not a well-formed XML file");
		msgs_release(&m);
		return RC_CONFIG;
	}
	msgs_print(d, &m, file); /* warnings only: the parse succeeded */
	msgs_release(&m);
	if (doc->intSubset || doc->extSubset) {
		/* libxml2 keeps no line for the declaration: find it. */
		struct srcpos pos = { file, 1, 0 };
		const char *dt = memmem(data, len, "<!DOCTYPE", 9);
		for (const char *c = data; dt && c < dt; c++)
			pos.line += *c == '\n';
		rc = diag_at(d, RC_CONFIG, &pos, "a profile may not have a document type declaration");
		goto out;
	}
	rc = validate(d, doc, file);
	if (rc)
		goto out;
	memset(&l, 0, sizeof l);
	l.d = d;
	l.file = file;
	l.p = xcalloc(1, sizeof *l.p);
	l.p->delim = ',';
	l.p->quote = '"';
	for (size_t i = 0; i < ENT_COUNT; i++)
		l.p->ents[i].headers = xcalloc(entity_get((enum entity_id)i)->ncols,
					       sizeof(char *));
	load_doc(&l, xmlDocGetRootElement(doc));
	if (l.nerr) {
		profile_free(l.p);
		rc = RC_CONFIG;
		goto out;
	}
	*out = l.p;
out:
	xmlFreeDoc(doc);
	return rc;
}

enum rc profile_load(struct diag *d, const char *name, const struct srcpos *pos,
		     struct profile **out)
{
	size_t n = strlen(name);
	enum rc rc;

	*out = NULL;
	if (strchr(name, '/') || (n >= 4 && strcmp(name + n - 4, ".xml") == 0)) {
		char *data = NULL;
		size_t len = 0;
		int err = read_whole_file(name, &data, &len);
		if (err) {
			char *why = xstrdup(strerror(err));
			if (why[0] >= 'A' && why[0] <= 'Z')
				why[0] = (char)(why[0] - 'A' + 'a');
			rc = diag_at(d, RC_CONFIG, pos, "cannot read profile '%s': %s", name, why);
			free(why);
			return rc;
		}
		rc = load_text(d, data, len, name, out);
		free(data);
		return rc;
	} else {
		char *base = xasprintf("%s.xml", name);
		const struct formats_file *f = formats_find(base);
		if (!f || !strstr(f->data, PROFILE_NS)) {
			char *list = builtin_list();
			rc = diag_at(d, RC_CONFIG, pos, "unknown profile '%s' (built-in: %s)",
				     name, list);
			free(list);
		} else {
			char *file = xasprintf("formats/%s", base);
			rc = load_text(d, f->data, f->len, file, out);
			free(file);
		}
		free(base);
		return rc;
	}
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < ENT_COUNT; i++) {
		const struct entity *e = entity_get((enum entity_id)i);
		if (p->ents[i].headers)
			for (size_t c = 0; c < e->ncols; c++)
				free(p->ents[i].headers[c]);
		free(p->ents[i].headers);
		free(p->ents[i].record_elem);
	}
	for (size_t i = 0; i < p->nstatus; i++)
		free(p->status_words[i]);
	free(p->status_words);
	free(p->status_values);
	free(p->name);
	free(p->null_token);
	free(p->date_pattern);
	free(p);
}

int profile_status(const struct profile *p, const char *word, size_t len,
		   enum status *st)
{
	for (size_t i = 0; i < p->nstatus; i++) {
		const char *w = p->status_words[i];
		size_t k;
		for (k = 0; k < len && w[k]; k++) {
			unsigned char c = (unsigned char)word[k];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			if (c != (unsigned char)w[k])
				break;
		}
		if (k == len && w[k] == '\0') {
			*st = p->status_values[i];
			return 0;
		}
	}
	return -1;
}

const char *profile_status_name(enum status st)
{
	return (unsigned)st < ST_COUNT ? status_names[st] : "unknown";
}

int profile_status_is_finished(enum status st)
{
	return st == ST_COMPLETED || st == ST_PASSED || st == ST_FAILED;
}
