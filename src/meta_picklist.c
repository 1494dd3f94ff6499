/* SPDX-License-Identifier: MIT */
/* meta_picklist: reads the picklist field metadata an org chart names
 * (*.field-meta.xml and global value sets, SFDX source format) into the
 * tree of dependent values that rule_branch (R6) turns into branches. */
#include "meta_picklist.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "util.h"

#define NONE SIZE_MAX /* no index */

/* The first well-formedness problem of a parse. */
struct pl_parse {
	unsigned long doctype_line; /* line of a DOCTYPE, 0 when none */
	int has_error;              /* an error was kept */
	unsigned long line, col;    /* its position (0 = unknown) */
	char msg[200];              /* its message, tidied */
};

/* Structured error handler of a parse: keeps the first error, tidied to
 * our message style (lower case, no trailing newline); prints nothing. */
static void pl_on_error(void *ctx, xmlErrorPtr err)
{
	xmlParserCtxtPtr pc = ctx;
	struct pl_parse *pp = pc->_private;
	size_t len;

	if (!err || err->level < XML_ERR_ERROR || pp->has_error || pp->doctype_line)
		return;
	pp->has_error = 1;
	pp->line = err->line > 0 ? (unsigned long)err->line : 0;
	pp->col = err->int2 > 0 ? (unsigned long)err->int2 : 0;
	snprintf(pp->msg, sizeof pp->msg, "%s", err->message ? err->message : "cannot parse");
	len = strlen(pp->msg);
	while (len && (pp->msg[len - 1] == '\n' || pp->msg[len - 1] == ' '))
		pp->msg[--len] = '\0';
	if (len && pp->msg[0] >= 'A' && pp->msg[0] <= 'Z')
		pp->msg[0] = (char)(pp->msg[0] - 'A' + 'a');
}

/* A DOCTYPE stops the parse before any of it is read: metadata has no use
 * for a DTD, and refusing it rules out entity expansion. */
static void pl_on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
			  const xmlChar *sys_id)
{
	xmlParserCtxtPtr pc = ctx;
	struct pl_parse *pp = pc->_private;
	(void)name;
	(void)ext_id;
	(void)sys_id;
	pp->doctype_line = pc->input && pc->input->line > 0 ?
		(unsigned long)pc->input->line : 1;
	xmlStopParser(pc);
}

/* Generic error handler that prints nothing while a parse runs. */
static void pl_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Reads and parses the metadata file `path` into *out (caller frees with
 * xmlFreeDoc). Prints and returns RC_NOINPUT or RC_CONFIG on failure. */
static enum rc pl_read_xml(struct diag *d, const char *path, xmlDoc **out)
{
	xmlGenericErrorFunc old_gerror = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	struct pl_parse pp;
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t got;
	xmlParserCtxtPtr pc;
	FILE *f;
	enum rc rc = RC_OK;
	int is_well_formed;

	*out = NULL;
	memset(&pp, 0, sizeof pp);
	f = fopen(path, "rb");
	if (!f)
		return diag_err(d, RC_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len < 16u << 20)
		buf_add(&text, chunk, got);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		buf_release(&text);
		return diag_err(d, RC_NOINPUT, "%s: cannot read: %s", path, strerror(e));
	}
	fclose(f);
	if (text.len == 0 || text.len >= 16u << 20) {
		struct srcpos pos = { path, 1, 0 };
		rc = diag_at(d, RC_CONFIG, &pos, text.len ? "too large for a metadata file" :
			     "malformed XML: document is empty");
		buf_release(&text);
		return rc;
	}
	pc = xmlCreateMemoryParserCtxt(text.buf, (int)text.len);
	if (!pc) {
		buf_release(&text);
		return diag_err(d, RC_OSERR, "out of memory");
	}
	xmlSetGenericErrorFunc(NULL, pl_quiet);
	pc->_private = &pp;
	pc->sax->internalSubset = pl_on_doctype;
	pc->sax->serror = pl_on_error;
	xmlCtxtUseOptions(pc, XML_PARSE_NONET | XML_PARSE_BIG_LINES |
			  XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlParseDocument(pc);
	*out = pc->myDoc;
	pc->myDoc = NULL;
	is_well_formed = pc->wellFormed;
	xmlFreeParserCtxt(pc);
	xmlSetGenericErrorFunc(old_gctx, old_gerror);
	buf_release(&text);
	if (pp.doctype_line) {
		struct srcpos pos = { path, pp.doctype_line, 0 };
		rc = diag_at(d, RC_CONFIG, &pos, "a DOCTYPE is not allowed in a metadata file");
	} else if (pp.has_error || !*out || !is_well_formed) {
		struct srcpos pos = { path, pp.line, pp.col };
		rc = diag_at(d, RC_CONFIG, &pos, "malformed XML: %s",
			     pp.has_error ? pp.msg : "cannot parse");
	}
	if (rc) {
		xmlFreeDoc(*out);
		*out = NULL;
	}
	return rc;
}

/* Line of a node, 0 when unknown. */
static unsigned long line_of(const xmlNode *n)
{
	long l = xmlGetLineNo(n);
	return l > 0 ? (unsigned long)l : 0;
}

/* The next element sibling from `n` on (n included) named `name`, or NULL. */
static xmlNode *next_named(xmlNode *n, const char *name)
{
	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

/* The first child element of `n` named `name`, or NULL. */
static xmlNode *child(xmlNode *n, const char *name)
{
	return n ? next_named(n->children, name) : NULL;
}

/* The text of the first child `name` of `n` (caller frees), or NULL. */
static char *child_text(xmlNode *n, const char *name)
{
	xmlNode *c = child(n, name);
	xmlChar *t;
	char *r;

	if (!c)
		return NULL;
	t = xmlNodeGetContent(c);
	r = xstrdup(t ? (const char *)t : "");
	xmlFree(t);
	return r;
}

/* Index of the value with API name `name` in f, or NONE. */
static size_t pl_value_find(const struct meta_picklist_field *f, const char *name)
{
	for (size_t i = 0; i < f->nvals; i++)
		if (strcmp(f->vals[i].name, name) == 0)
			return i;
	return NONE;
}

/* Adds the active values of elements `elem` under `parent` (<value> of a
 * valueSetDefinition, <customValue> of a GlobalValueSet). */
static void pl_add_values(struct meta_picklist_field *f, xmlNode *parent, const char *elem)
{
	for (xmlNode *v = child(parent, elem); v; v = next_named(v->next, elem)) {
		char *name = child_text(v, "fullName");
		char *active = child_text(v, "isActive");
		if (name && name[0] && !(active && strcmp(active, "false") == 0) &&
		    pl_value_find(f, name) == NONE) {
			struct meta_picklist_value *pv;
			f->vals = xreallocarray(f->vals, f->nvals + 1, sizeof *f->vals);
			pv = &f->vals[f->nvals++];
			pv->name = name;
			pv->label = child_text(v, "label");
			pv->ctrl = NULL;
			pv->nctrl = 0;
			name = NULL;
		}
		free(name);
		free(active);
	}
}

/* Finds the global value set `name` beside the field file, or in the
 * globalValueSets folder of its SFDX project (objects/X/fields/ sits three
 * folders below it). Returns the path (caller frees) or NULL. */
static char *pl_find_global(const char *field_path, const char *name)
{
	const char *const rel[] = { "", "../../../globalValueSets/" };
	char *dir = path_dirname(field_path), *found = NULL;

	for (size_t i = 0; i < 2 && !found; i++) {
		char *rp = xasprintf("%s%s.globalValueSet-meta.xml", rel[i], name);
		char *p = path_join(dir, rp);
		FILE *f = fopen(p, "rb");
		free(rp);
		if (f) {
			fclose(f);
			found = p;
		} else {
			free(p);
		}
	}
	free(dir);
	return found;
}

/* Frees what pl_parse_field filled in. */
static void pl_field_release(struct meta_picklist_field *f)
{
	for (size_t i = 0; i < f->nvals; i++) {
		free(f->vals[i].name);
		free(f->vals[i].label);
		for (size_t c = 0; c < f->vals[i].nctrl; c++)
			free(f->vals[i].ctrl[c]);
		free(f->vals[i].ctrl);
	}
	free(f->vals);
	free(f->name);
	free(f->stem);
	free(f->controlling);
	free(f->path);
}

/* Reads one *.field-meta.xml into f. Prints and returns RC_CONFIG (or
 * RC_NOINPUT) when it is not a usable picklist. */
static enum rc pl_parse_field(struct diag *d, const char *path, struct meta_picklist_field *f)
{
	xmlDoc *doc = NULL, *gdoc = NULL;
	xmlNode *root, *vs, *n;
	struct srcpos pos = { path, 0, 0 };
	const char *base = strrchr(path, '/');
	char *type = NULL, *full = NULL, *gname = NULL, *gpath = NULL;
	size_t blen;
	enum rc rc;

	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	base = base ? base + 1 : path;
	blen = strlen(base);
	if (blen > 15 && strcmp(base + blen - 15, ".field-meta.xml") == 0)
		f->stem = xstrndup(base, blen - 15);
	else
		f->stem = xstrndup(base, strcspn(base, "."));
	rc = pl_read_xml(d, path, &doc);
	if (rc)
		goto out;
	root = xmlDocGetRootElement(doc);
	pos.line = root ? line_of(root) : 0;
	f->root_line = pos.line;
	if (!root || strcmp((const char *)root->name, "CustomField") != 0) {
		rc = diag_at(d, RC_CONFIG, &pos,
			     "not a field metadata file: the root element is '%s', not 'CustomField'",
			     root ? (const char *)root->name : "");
		goto out;
	}
	full = child_text(root, "fullName");
	if (full && full[0]) {
		const char *dot = strrchr(full, '.');
		f->name = xstrdup(dot ? dot + 1 : full);
		if (strcasecmp(f->name, f->stem) != 0) {
			pos.line = line_of(child(root, "fullName"));
			rc = diag_at(d, RC_CONFIG, &pos,
				     "field name '%s' does not match the file name '%s'",
				     f->name, base);
			goto out;
		}
	} else {
		f->name = xstrdup(f->stem);
	}
	type = child_text(root, "type");
	if (type && strcmp(type, "Picklist") != 0) {
		pos.line = line_of(child(root, "type"));
		rc = diag_at(d, RC_CONFIG, &pos, strcmp(type, "MultiselectPicklist") == 0 ?
			     "field '%s' is a multi-select picklist: a user can be in one branch only" :
			     "field '%s' is not a picklist", f->name);
		goto out;
	}
	vs = child(root, "valueSet");
	if (!vs) {
		rc = diag_at(d, RC_CONFIG, &pos,
			     "field '%s' has no <valueSet>: standard value sets are not supported",
			     f->name);
		goto out;
	}
	if ((n = child(vs, "controllingField"))) {
		f->controlling = child_text(vs, "controllingField");
		f->controlling_line = line_of(n);
	}
	pl_add_values(f, child(vs, "valueSetDefinition"), "value");
	if ((n = child(vs, "valueSetName"))) {
		gname = child_text(vs, "valueSetName");
		gpath = pl_find_global(path, gname);
		if (!gpath) {
			pos.line = line_of(n);
			rc = diag_at(d, RC_CONFIG, &pos,
				     "field '%s' uses global value set '%s', which is not supported unless"
				     " '%s.globalValueSet-meta.xml' is beside the field or in the project's"
				     " globalValueSets folder", f->name, gname, gname);
			goto out;
		}
		rc = pl_read_xml(d, gpath, &gdoc);
		if (rc)
			goto out;
		root = xmlDocGetRootElement(gdoc);
		if (!root || strcmp((const char *)root->name, "GlobalValueSet") != 0) {
			struct srcpos gpos = { gpath, root ? line_of(root) : 0, 0 };
			rc = diag_at(d, RC_CONFIG, &gpos,
				     "not a global value set: the root element is '%s', not 'GlobalValueSet'",
				     root ? (const char *)root->name : "");
			goto out;
		}
		pl_add_values(f, root, "customValue");
	}
	for (n = child(vs, "valueSettings"); n; n = next_named(n->next, "valueSettings")) {
		char *vname = child_text(n, "valueName");
		size_t ix = vname ? pl_value_find(f, vname) : NONE;
		free(vname);
		if (ix == NONE)
			continue;
		for (xmlNode *c = child(n, "controllingFieldValue"); c;
		     c = next_named(c->next, "controllingFieldValue")) {
			struct meta_picklist_value *v = &f->vals[ix];
			xmlChar *t = xmlNodeGetContent(c);
			const char *cv = t ? (const char *)t : "";
			int is_dup = 0;
			for (size_t k = 0; k < v->nctrl; k++)
				is_dup |= strcmp(v->ctrl[k], cv) == 0;
			if (!is_dup) {
				v->ctrl = xreallocarray(v->ctrl, v->nctrl + 1, sizeof *v->ctrl);
				v->ctrl[v->nctrl++] = xstrdup(cv);
			}
			xmlFree(t);
		}
	}
out:
	free(type);
	free(full);
	free(gname);
	free(gpath);
	xmlFreeDoc(doc);
	xmlFreeDoc(gdoc);
	return rc;
}

/* Checks field `nf` of the chain against the ones before it: the first
 * must be `field` (when given), each later one controlled by the field
 * before it. Prints and returns RC_CONFIG when it is not. */
static enum rc pl_check_chain(struct diag *d, const struct meta_picklist_field *f,
			      size_t nf, const char *field)
{
	const struct meta_picklist_field *cur = &f[nf];
	struct srcpos pos = { cur->path, cur->controlling_line, 0 };

	if (nf == 0 && field && strcasecmp(cur->name, field) != 0) {
		pos.line = cur->root_line;
		return diag_at(d, RC_CONFIG, &pos,
			       "field '%s' is not the org chart field '%s'",
			       cur->name, field);
	}
	if (nf > 0 && !cur->controlling) {
		pos.line = cur->root_line;
		return diag_at(d, RC_CONFIG, &pos,
			       "field '%s' has no controlling field, so it cannot depend on '%s'",
			       cur->name, f[nf - 1].name);
	}
	if (nf > 0 && strcasecmp(cur->controlling, f[nf - 1].name) != 0)
		return diag_at(d, RC_CONFIG, &pos,
			       "field '%s' is controlled by '%s', not by '%s', the field before it",
			       cur->name, cur->controlling, f[nf - 1].name);
	return RC_OK;
}

/* Reads and checks the chain of picklist files (meta_picklist.h). */
enum rc meta_picklist_open(struct diag *d, char *const *paths, size_t npaths,
			   const char *field, struct meta_picklist **out)
{
	struct meta_picklist *pl = xcalloc(1, sizeof *pl);
	enum rc rc = RC_OK;

	*out = NULL;
	pl->fields = xcalloc(npaths ? npaths : 1, sizeof *pl->fields);
	/* Each file is checked as soon as it is read, so the first problem
	 * in chain order is the one reported. */
	for (; pl->nfields < npaths; pl->nfields++) {
		rc = pl_parse_field(d, paths[pl->nfields], &pl->fields[pl->nfields]);
		if (rc == RC_OK)
			rc = pl_check_chain(d, pl->fields, pl->nfields, field);
		if (rc) {
			pl->nfields++;
			meta_picklist_free(pl);
			return rc;
		}
	}
	*out = pl;
	return RC_OK;
}

/* Frees the chain and every field and value in it. */
void meta_picklist_free(struct meta_picklist *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->nfields; i++)
		pl_field_release(&pl->fields[i]);
	free(pl->fields);
	free(pl);
}
