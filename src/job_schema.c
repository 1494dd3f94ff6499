/* SPDX-License-Identifier: MIT */
/* job_schema: explains, in an administrator's words, why the job file
 * failed its RELAX NG schema formats/job.rng, by walking the job beside the
 * schema's DOM. job.c validates and calls it; it prints nothing itself. */
#include "job_int.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlregexp.h>

#define RNG_NS "http://relaxng.org/ns/structure/1.0"

/* The state of one job_schema_explain call. */
struct explain {
	xmlDoc *rng;          /* job.rng as a DOM; owned */
	void (*say)(void *ctx, unsigned long line, const char *text); /* the sink */
	void *ctx;            /* say's first argument; borrowed */
	size_t nsaid;         /* problems handed to say so far */
};

/* Formats one problem at `line` of the job file and hands it to the sink. */
static void note(struct explain *ex, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct explain *ex, unsigned long line, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	ex->say(ex->ctx, line, text);
	ex->nsaid++;
	free(text);
}

/* libxml2's RELAX NG messages ("Element map failed to validate attributes")
 * do not say what is wrong, and it stops checking an element's content at
 * the first surprise. So when the schema rejects a job, we walk the job
 * again beside the schema's own DOM and say precisely what each element
 * lacks or has too much of. The walk understands the subset of RELAX NG
 * that job.rng uses: element, attribute, optional, zeroOrMore, oneOrMore,
 * choice, group, ref/define, empty, value, data (minLength, pattern), list. */

/* An attribute or child element an element pattern allows. */
struct shape_item {
	unsigned char is_attr;
	unsigned char is_optional;
	unsigned char is_repeated;
	const char *name;  /* borrowed from the schema DOM */
	xmlNode *pat;      /* the <attribute> or <element> pattern */
};

/* What an element pattern allows, flattened in schema order. */
struct shape {
	struct shape_item *items; /* owned */
	size_t n, alloc;
};

/* Is `n` the RELAX NG element called `name`? */
static int is_rng(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns &&
	       strcmp((const char *)n->ns->href, RNG_NS) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The <define> of the schema called `name`, or NULL. */
static xmlNode *rng_define(struct explain *ex, const char *name)
{
	xmlNode *g = xmlDocGetRootElement(ex->rng);
	for (xmlNode *c = g ? g->children : NULL; c; c = c->next) {
		const char *n;
		if (is_rng(c, "define") && (n = job_node_attr(c, "name")) && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

/* Adds the attributes and child elements that pattern `p`'s children
 * allow to `s`; `opt` and `rep` are inherited occurrence flags. */
static void shape_walk(struct explain *ex, xmlNode *p, int opt, int rep,
		       struct shape *s, int depth)
{
	if (depth > 32)
		return;
	for (xmlNode *c = p->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		int is_attr = is_rng(c, "attribute");
		if (is_attr || is_rng(c, "element")) {
			if (s->n == s->alloc) {
				s->alloc = s->alloc ? 2 * s->alloc : 8;
				s->items = xreallocarray(s->items, s->alloc, sizeof *s->items);
			}
			struct shape_item *it = &s->items[s->n++];
			it->is_attr = (unsigned char)is_attr;
			it->is_optional = (unsigned char)opt;
			it->is_repeated = (unsigned char)rep;
			it->name = job_node_attr(c, "name") ? job_node_attr(c, "name") : "";
			it->pat = c;
		} else if (is_rng(c, "optional") || is_rng(c, "choice")) {
			shape_walk(ex, c, 1, rep, s, depth + 1);
		} else if (is_rng(c, "zeroOrMore")) {
			shape_walk(ex, c, 1, 1, s, depth + 1);
		} else if (is_rng(c, "oneOrMore")) {
			shape_walk(ex, c, opt, 1, s, depth + 1);
		} else if (is_rng(c, "group") || is_rng(c, "interleave")) {
			shape_walk(ex, c, opt, rep, s, depth + 1);
		} else if (is_rng(c, "ref")) {
			const char *ref = job_node_attr(c, "name");
			xmlNode *def = ref ? rng_define(ex, ref) : NULL;
			if (def)
				shape_walk(ex, def, opt, rep, s, depth + 1);
		}
	}
}

/* The allowed values and facets of an attribute pattern. */
struct facets {
	const char *values[16]; /* borrowed from the schema DOM */
	size_t nvalues;
	unsigned char is_list;  /* a whitespace-separated list of values */
	long min_length;        /* -1 = none */
	const char *pattern;    /* XML Schema regular expression or NULL */
};

/* Collects the facets found under pattern `p`. */
static void facets_walk(struct explain *ex, xmlNode *p, struct facets *f, int depth)
{
	if (depth > 32)
		return;
	for (xmlNode *c = p->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_rng(c, "value")) {
			if (f->nvalues < sizeof f->values / sizeof f->values[0])
				f->values[f->nvalues++] = c->children && c->children->content ?
					(const char *)c->children->content : "";
		} else if (is_rng(c, "list")) {
			f->is_list = 1;
			facets_walk(ex, c, f, depth + 1);
		} else if (is_rng(c, "param")) {
			const char *n = job_node_attr(c, "name");
			const char *v = c->children && c->children->content ?
				(const char *)c->children->content : "";
			if (n && strcmp(n, "minLength") == 0)
				f->min_length = strtol(v, NULL, 10);
			else if (n && strcmp(n, "pattern") == 0)
				f->pattern = v;
		} else if (is_rng(c, "ref")) {
			const char *ref = job_node_attr(c, "name");
			xmlNode *def = ref ? rng_define(ex, ref) : NULL;
			if (def)
				facets_walk(ex, def, f, depth + 1);
		} else {
			facets_walk(ex, c, f, depth + 1);
		}
	}
}

/* "a, b, c": the allowed values, for a message. Caller frees. */
static char *values_text(const struct facets *f)
{
	struct buf b = BUF_INIT;
	buf_init(&b);
	for (size_t i = 0; i < f->nvalues; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", f->values[i]);
	return buf_detach(&b, NULL);
}

/* Is the token s[0..len) one of the allowed values? */
static int value_allowed(const struct facets *f, const char *s, size_t len)
{
	for (size_t i = 0; i < f->nvalues; i++)
		if (strlen(f->values[i]) == len && memcmp(f->values[i], s, len) == 0)
			return 1;
	return 0;
}

/* Checks the value of attribute `name` of job element `n` against its
 * pattern `pat`, recording what is wrong. */
static void explain_value(struct explain *ex, xmlNode *n, const char *name,
			  xmlNode *pat, const char *v)
{
	unsigned long line = job_node_line(n);
	const char *el = (const char *)n->name;
	struct facets f;
	memset(&f, 0, sizeof f);
	f.min_length = -1;
	facets_walk(ex, pat, &f, 0);
	if (f.nvalues && f.is_list) {
		const char *p = v;
		size_t ntok = 0;
		while (*p) {
			size_t sp = strspn(p, " \t\r\n");
			p += sp;
			size_t len = strcspn(p, " \t\r\n");
			if (!len)
				break;
			ntok++;
			if (!value_allowed(&f, p, len)) {
				char *vals = values_text(&f);
				note(ex, line,
				    "attribute '%s' of element '%s' has '%.*s'; its words must be among: %s",
				    name, el, (int)len, p, vals);
				free(vals);
				return;
			}
			p += len;
		}
		if (!ntok)
			note(ex, line, "attribute '%s' of element '%s' must not be empty",
			    name, el);
	} else if (f.nvalues) {
		/* RELAX NG compares token values with the blanks collapsed. */
		const char *s = v + strspn(v, " \t\r\n");
		size_t len = strlen(s);
		while (len && strchr(" \t\r\n", s[len - 1]))
			len--;
		if (!value_allowed(&f, s, len)) {
			char *vals = values_text(&f);
			note(ex, line,
			    "attribute '%s' of element '%s' is '%s'; expected one of: %s",
			    name, el, v, vals);
			free(vals);
		}
	} else if (f.min_length > 0 && strlen(v) < (size_t)f.min_length) {
		note(ex, line, "attribute '%s' of element '%s' must not be empty",
		    name, el);
	} else if (f.pattern) {
		xmlRegexpPtr re = xmlRegexpCompile((const xmlChar *)f.pattern);
		if (re && xmlRegexpExec(re, (const xmlChar *)v) != 1)
			note(ex, line,
			    "attribute '%s' of element '%s' is '%s', which does not match '%s'",
			    name, el, v, f.pattern);
		if (re)
			xmlRegFreeRegexp(re);
	}
}

/* "a, b (optional), c (any number)": the children of an element pattern
 * in their order. */
static char *order_text(const struct shape *s)
{
	struct buf b = BUF_INIT;
	int first = 1;
	buf_init(&b);
	for (size_t i = 0; i < s->n; i++) {
		const struct shape_item *it = &s->items[i];
		if (it->is_attr)
			continue;
		buf_addf(&b, "%s%s%s", first ? "" : ", ", it->name,
			 it->is_optional ? (it->is_repeated ? " (any number)" : " (optional)") :
			 (it->is_repeated ? " (one or more)" : ""));
		first = 0;
	}
	return buf_detach(&b, NULL);
}

/* Says everything job element `n` gets wrong against element pattern
 * `pat`: its attributes, then its children, recursively. */
static void explain_elem(struct explain *ex, xmlNode *n, xmlNode *pat, int depth)
{
	struct shape s = { NULL, 0, 0 };
	unsigned long line = job_node_line(n);
	const char *el = (const char *)n->name;
	long last = -1;
	int order_said = 0;
	if (depth > 32)
		return;
	shape_walk(ex, pat, 0, 0, &s, 0);

	/* Attributes: missing, unknown, bad values. */
	for (size_t i = 0; i < s.n; i++) {
		const struct shape_item *it = &s.items[i];
		if (!it->is_attr)
			continue;
		const char *v = job_node_attr(n, it->name);
		if (!v && !it->is_optional)
			note(ex, line, "element '%s' is missing attribute '%s'",
			    el, it->name);
		else if (v)
			explain_value(ex, n, it->name, it->pat, v);
	}
	for (xmlAttr *a = n->properties; a; a = a->next) {
		size_t i;
		for (i = 0; i < s.n; i++)
			if (s.items[i].is_attr && !a->ns &&
			    strcmp(s.items[i].name, (const char *)a->name) == 0)
				break;
		if (i == s.n)
			note(ex, line, "element '%s' does not take attribute '%s'",
			    el, (const char *)a->name);
	}

	/* Children: text, unknown elements, repeats, order. */
	int said_text = 0;
	for (xmlNode *c = n->children; c; c = c->next) {
		unsigned long cline = job_node_line(c);
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    !xmlIsBlankNode(c) && !said_text) {
			note(ex, cline, "element '%s' must not contain text", el);
			said_text = 1;
		}
		if (c->type == XML_ENTITY_REF_NODE && !said_text) {
			note(ex, cline, "element '%s' must not contain text", el);
			said_text = 1;
		}
		if (c->type != XML_ELEMENT_NODE)
			continue;
		const char *cn = (const char *)c->name;
		size_t i;
		for (i = 0; i < s.n; i++)
			if (!s.items[i].is_attr && strcmp(s.items[i].name, cn) == 0)
				break;
		if (i == s.n || !job_node_is_job(c)) {
			if (!job_node_is_job(c))
				note(ex, cline,
				    "element '%s' is not in the namespace '" JOB_NS "'", cn);
			else
				note(ex, cline, "element '%s' is not allowed in '%s'",
				    cn, el);
			continue;
		}
		if ((long)i == last && !s.items[i].is_repeated) {
			note(ex, cline, "element '%s' may appear only once in '%s'",
			    cn, el);
		} else if ((long)i < last && !order_said) {
			char *order = order_text(&s);
			note(ex, cline,
			    "element '%s' is out of order in '%s' (the order is: %s)",
			    cn, el, order);
			free(order);
			order_said = 1;
		}
		if ((long)i > last)
			last = (long)i;
		explain_elem(ex, c, s.items[i].pat, depth + 1);
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct shape_item *it = &s.items[i];
		if (it->is_attr || it->is_optional)
			continue;
		xmlNode *c;
		for (c = n->children; c; c = c->next)
			if (job_node_is_job(c) && strcmp((const char *)c->name, it->name) == 0)
				break;
		if (!c)
			note(ex, line, "element '%s' is missing element '%s'",
			    el, it->name);
	}
	free(s.items);
}

/* Reads job.rng as a DOM, finds its start element and walks the job
 * beside it (job_int.h). */
size_t job_schema_explain(xmlDoc *doc, const char *rng, size_t rng_len,
			  void (*say)(void *ctx, unsigned long line, const char *text),
			  void *ctx)
{
	struct explain ex = { NULL, say, ctx, 0 };
	xmlNode *g, *start = NULL, *root = xmlDocGetRootElement(doc);

	ex.rng = xmlReadMemory(rng, (int)rng_len, "job.rng", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	g = ex.rng ? xmlDocGetRootElement(ex.rng) : NULL;
	for (xmlNode *c = g ? g->children : NULL; c; c = c->next)
		if (is_rng(c, "start"))
			start = c;
	for (xmlNode *c = start ? start->children : NULL; c; c = c->next)
		if (is_rng(c, "element") && root)
			explain_elem(&ex, root, c, 0);
	xmlFreeDoc(ex.rng);
	return ex.nsaid;
}
