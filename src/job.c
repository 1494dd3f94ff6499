/* SPDX-License-Identifier: MIT */
/* job: reads the job file (SPEC §3) into a DOM, validates it against the
 * built-in schema formats/job.rng (job_schema.c explains its errors), then
 * makes the checks a schema cannot express and fills struct job with every
 * path resolved against the job's directory. */
#include "job.h"
#include "job_int.h"
#include "formats.h"
#include "util.h"
#include "value.h"

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/parserInternals.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* One problem found in the job, printed once loading is over. */
struct load_msg {
	unsigned long line; /* line in the job file; 0 = whole file */
	unsigned long seq;  /* order of discovery, to keep the sort stable */
	enum rc rc;         /* RC_CONFIG, or RC_NOINPUT for a missing input file */
	char *text;         /* the message; owned */
};

/* A libxml2 RELAX NG error kept in case our own explanation finds nothing. */
struct load_rngerr {
	unsigned long line;
	char *text; /* owned */
};

/* The state of one job_load call. */
struct load {
	struct diag *d;
	const char *file;       /* the job path as given, for messages; borrowed */
	struct job *job;        /* being filled; owned until handed out */
	struct load_msg *msgs;  /* problems found so far; owned */
	size_t nmsgs, msgs_alloc;
	/* Parsing the XML. */
	unsigned long doctype_line; /* line of a DOCTYPE, 0 when none */
	unsigned char has_parse_error;
	unsigned long perr_line, perr_col;
	char *perr_text;        /* first well-formedness error; owned */
	/* Validating against the schema. */
	struct load_rngerr *rngerrs; /* owned */
	size_t nrngerrs, rngerrs_alloc;
	enum rc schema_rc;      /* RC_INTERNAL when the built-in schema is broken */
	unsigned char has_printed_config; /* a problem was printed by another module */
};

/* ---- messages ---------------------------------------------------------- */

/* Records a problem at `line` of the job file. */
static void say(struct load *ld, enum rc rc, unsigned long line,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(struct load *ld, enum rc rc, unsigned long line,
		const char *fmt, ...)
{
	va_list ap;
	if (ld->nmsgs == ld->msgs_alloc) {
		ld->msgs_alloc = ld->msgs_alloc ? 2 * ld->msgs_alloc : 16;
		ld->msgs = xreallocarray(ld->msgs, ld->msgs_alloc, sizeof *ld->msgs);
	}
	struct load_msg *m = &ld->msgs[ld->nmsgs];
	m->line = line;
	m->seq = ld->nmsgs++;
	m->rc = rc;
	va_start(ap, fmt);
	m->text = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Orders messages by line, then by the order they were found. */
static int msg_cmp(const void *a, const void *b)
{
	const struct load_msg *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints every recorded problem in line order and returns the load's
 * result: RC_CONFIG if any problem is one, else RC_NOINPUT if any, else
 * RC_OK. */
static enum rc flush_msgs(struct load *ld)
{
	enum rc rc = RC_OK;
	if (ld->nmsgs)
		qsort(ld->msgs, ld->nmsgs, sizeof *ld->msgs, msg_cmp);
	for (size_t i = 0; i < ld->nmsgs; i++) {
		struct srcpos pos = { ld->file, ld->msgs[i].line, 0 };
		diag_at(ld->d, ld->msgs[i].rc, &pos, "%s", ld->msgs[i].text);
		if (ld->msgs[i].rc == RC_CONFIG || rc == RC_OK)
			rc = ld->msgs[i].rc;
		free(ld->msgs[i].text);
	}
	ld->nmsgs = 0;
	return rc;
}

/* A copy of a libxml2 message made to read like ours: no trailing newline
 * or blanks, and a lower-case first word unless it is an acronym. */
static char *tidy(const char *msg)
{
	char *s = xstrdup(msg ? msg : "unknown error");
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	if (s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z')
		s[0] = (char)(s[0] - 'A' + 'a');
	return s;
}

/* The line where job node `n` starts: for an element, the line of its
 * start tag's '<' as on_start_element noted it (job_int.h). */
unsigned long job_node_line(const xmlNode *n)
{
	long l;
	if (n->type == XML_ELEMENT_NODE && n->_private)
		return (unsigned long)(uintptr_t)n->_private;
	l = xmlGetLineNo(n);
	return l > 0 ? (unsigned long)l : 0;
}

/* The value of attribute `name` of `n` (no namespace), borrowed, or NULL
 * when absent; "" for an empty value (job_int.h). */
const char *job_node_attr(const xmlNode *n, const char *name)
{
	xmlAttr *a = xmlHasNsProp(n, (const xmlChar *)name, NULL);
	if (!a)
		return NULL;
	if (!a->children || !a->children->content)
		return "";
	return (const char *)a->children->content;
}

/* Is `n` an element of the job namespace (job_int.h)? */
int job_node_is_job(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE && n->ns &&
	       strcmp((const char *)n->ns->href, JOB_NS) == 0;
}

/* SAX hook building each element. libxml2 gives an element the line where
 * its start tag ends, which is not where an administrator looks when the
 * tag spans lines; so we walk back from the end of the tag to its '<'
 * (attribute values cannot hold a raw '<') and keep the start line in the
 * node's _private field. */
static void on_start_element(void *ctx, const xmlChar *name, const xmlChar *prefix,
			     const xmlChar *uri, int nns, const xmlChar **ns,
			     int nattrs, int ndefaulted, const xmlChar **attrs)
{
	xmlParserCtxtPtr pc = ctx;
	xmlSAX2StartElementNs(ctx, name, prefix, uri, nns, ns, nattrs, ndefaulted, attrs);
	if (!pc->node || !pc->input || !pc->input->cur || pc->input->line <= 0)
		return;
	const xmlChar *p = pc->input->cur;
	unsigned long nl = 0, line = (unsigned long)pc->input->line;
	while (p > pc->input->base && *p != '<')
		nl += *p-- == '\n';
	if (*p == '<' && nl < line && !pc->node->_private)
		pc->node->_private = (void *)(uintptr_t)(line - nl);
}

/* ---- libxml2 error hooks ----------------------------------------------- */

/* Swallows libxml2's unstructured messages: every error reaches us through
 * the structured handlers below, and libxml2 must never print itself. */
static void quiet_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Keeps the first well-formedness error of the parse. */
static void on_parse_error(void *ctx, xmlErrorPtr err)
{
	struct load *ld = ctx;
	if (!err || err->level < XML_ERR_ERROR || ld->has_parse_error ||
	    ld->doctype_line)
		return;
	ld->has_parse_error = 1;
	ld->perr_line = err->line > 0 ? (unsigned long)err->line : 0;
	ld->perr_col = err->int2 > 0 ? (unsigned long)err->int2 : 0;
	ld->perr_text = tidy(err->message);
}

/* SAX hook for `<!DOCTYPE`: a job file has no use for a DTD, and refusing
 * it closes the door on entity expansion. Notes the line and stops. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr pc = ctx;
	struct load *ld = pc->_private;
	(void)name;
	(void)ext_id;
	(void)sys_id;
	ld->doctype_line = pc->input && pc->input->line > 0 ?
		(unsigned long)pc->input->line : 1;
	xmlStopParser(pc);
}

/* Keeps a validation error; see explain_all for why it is not printed. */
static void on_rng_error(void *ctx, xmlErrorPtr err)
{
	struct load *ld = ctx;
	if (!err || err->level < XML_ERR_ERROR)
		return;
	if (ld->nrngerrs == ld->rngerrs_alloc) {
		ld->rngerrs_alloc = ld->rngerrs_alloc ? 2 * ld->rngerrs_alloc : 8;
		ld->rngerrs = xreallocarray(ld->rngerrs, ld->rngerrs_alloc,
					    sizeof *ld->rngerrs);
	}
	struct load_rngerr *e = &ld->rngerrs[ld->nrngerrs++];
	e->line = err->node ? job_node_line(err->node) :
		(err->line > 0 ? (unsigned long)err->line : 0);
	e->text = tidy(err->message);
}

/* An error in the built-in schema itself is a bug in lmsrecon. */
static void on_schema_error(void *ctx, xmlErrorPtr err)
{
	struct load *ld = ctx;
	if (!err || err->level < XML_ERR_ERROR)
		return;
	char *t = tidy(err->message);
	diag_err(ld->d, RC_INTERNAL, "built-in schema job.rng:%d: %s", err->line, t);
	free(t);
	ld->schema_rc = RC_INTERNAL;
}

/* ---- reading ----------------------------------------------------------- */

/* Reads the whole job file into *out (caller frees). Prints and returns
 * RC_NOINPUT when it cannot. */
static enum rc read_file(struct load *ld, char **out, size_t *len)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(ld->file, "rb");
	if (!f)
		return diag_err(ld->d, RC_NOINPUT, "%s: cannot open: %s", ld->file,
				strerror(errno));
	char chunk[8192];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, got);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		buf_release(&b);
		return diag_err(ld->d, RC_NOINPUT, "%s: cannot open: %s", ld->file,
				strerror(e));
	}
	fclose(f);
	buf_grow(&b, 1);
	*out = buf_detach(&b, len);
	return RC_OK;
}

/* Parses the job text. Returns the document or NULL after printing why
 * (RC_CONFIG). */
static xmlDoc *parse(struct load *ld, const char *text, size_t len, enum rc *rc)
{
	xmlParserCtxtPtr pc;
	xmlDoc *doc = NULL;
	if (len == 0) {
		/* libxml2 will not make a context for no bytes. */
		struct srcpos pos = { ld->file, 1, 1 };
		*rc = diag_at(ld->d, RC_CONFIG, &pos, "malformed XML: document is empty");
		return NULL;
	}
	if (len > 16u * 1024 * 1024) {
		*rc = diag_err(ld->d, RC_CONFIG, "%s: too large for a job file", ld->file);
		return NULL;
	}
	pc = xmlCreateMemoryParserCtxt(text, (int)len);
	if (!pc) {
		*rc = diag_err(ld->d, RC_OSERR, "out of memory");
		return NULL;
	}
	pc->_private = ld;
	pc->sax->internalSubset = on_doctype;
	xmlCtxtUseOptions(pc, XML_PARSE_NONET | XML_PARSE_BIG_LINES |
			  XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	pc->sax->startElementNs = on_start_element;
	xmlParseDocument(pc);
	doc = pc->myDoc;
	pc->myDoc = NULL;
	int is_well_formed = pc->wellFormed;
	xmlFreeParserCtxt(pc);
	if (ld->doctype_line) {
		struct srcpos pos = { ld->file, ld->doctype_line, 0 };
		*rc = diag_at(ld->d, RC_CONFIG, &pos,
			      "a DOCTYPE is not allowed in a job file");
		goto fail;
	}
	if (ld->has_parse_error || !doc || !is_well_formed) {
		struct srcpos pos = { ld->file, ld->perr_line, ld->perr_col };
		*rc = diag_at(ld->d, RC_CONFIG, &pos, "malformed XML: %s",
			      ld->perr_text ? ld->perr_text : "cannot parse");
		goto fail;
	}
	return doc;
fail:
	xmlFreeDoc(doc);
	return NULL;
}

/* ---- explaining schema errors ------------------------------------------ */

/* job_schema_explain's sink: records one explanation as a problem. */
static void say_schema(void *ctx, unsigned long line, const char *text)
{
	say(ctx, RC_CONFIG, line, "%s", text);
}

/* Explains why the schema rejected `doc` (job_schema.c walks the job beside
 * the schema). When that walk finds nothing to say (a construct it does
 * not understand), libxml2's own messages are printed instead, so that no
 * rejected job goes unexplained. */
static void explain_all(struct load *ld, xmlDoc *doc, const struct formats_file *f)
{
	size_t before = ld->nmsgs;
	if (job_schema_explain(doc, f->data, f->len, say_schema, ld))
		return;
	for (size_t i = 0; i < ld->nrngerrs; i++)
		say(ld, RC_CONFIG, ld->rngerrs[i].line, "%s", ld->rngerrs[i].text);
	if (ld->nmsgs == before)
		say(ld, RC_CONFIG, 0, "the job does not match its schema");
}

/* Validates `doc` against formats/job.rng. Returns RC_OK, or RC_CONFIG
 * with every problem recorded, or RC_INTERNAL (printed) when the built-in
 * schema cannot be used. */
static enum rc validate(struct load *ld, xmlDoc *doc)
{
	const struct formats_file *f = formats_find("job.rng");
	xmlRelaxNGParserCtxtPtr pc = NULL;
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vc = NULL;
	enum rc rc = RC_OK;
	int res;

	if (!f)
		return diag_err(ld->d, RC_INTERNAL, "built-in schema 'job.rng' is missing");
	pc = xmlRelaxNGNewMemParserCtxt(f->data, (int)f->len);
	if (!pc) {
		rc = diag_err(ld->d, RC_INTERNAL, "cannot read built-in schema 'job.rng'");
		goto out;
	}
	xmlRelaxNGSetParserStructuredErrors(pc, on_schema_error, ld);
	schema = xmlRelaxNGParse(pc);
	if (!schema || ld->schema_rc) {
		if (!ld->schema_rc)
			diag_err(ld->d, RC_INTERNAL, "cannot compile built-in schema 'job.rng'");
		rc = RC_INTERNAL;
		goto out;
	}
	vc = xmlRelaxNGNewValidCtxt(schema);
	if (!vc) {
		rc = diag_err(ld->d, RC_OSERR, "out of memory");
		goto out;
	}
	xmlRelaxNGSetValidStructuredErrors(vc, on_rng_error, ld);
	res = xmlRelaxNGValidateDoc(vc, doc);
	if (res < 0) {
		rc = diag_err(ld->d, RC_INTERNAL, "%s: the schema check failed", ld->file);
	} else if (res > 0) {
		explain_all(ld, doc, f);
		rc = RC_CONFIG;
	}
out:
	if (vc)
		xmlRelaxNGFreeValidCtxt(vc);
	if (schema)
		xmlRelaxNGFree(schema);
	if (pc)
		xmlRelaxNGFreeParserCtxt(pc);
	return rc;
}

/* ---- building struct job ----------------------------------------------- */

/* Is `n` the job element called `name`? */
static int is_elem(const xmlNode *n, const char *name)
{
	return job_node_is_job(n) && strcmp((const char *)n->name, name) == 0;
}

/* A boolean attribute (the schema allowed only true/false/1/0). */
static unsigned char flag(const xmlNode *n, const char *name)
{
	const char *v = job_node_attr(n, name);
	return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Does the token `word` occur in the whitespace-separated list `s`? */
static int has_word(const char *s, const char *word)
{
	size_t wl = strlen(word);
	while (s && *s) {
		s += strspn(s, " \t\r\n");
		size_t len = strcspn(s, " \t\r\n");
		if (len == wl && memcmp(s, word, len) == 0)
			return 1;
		s += len;
	}
	return 0;
}

/* Resolves `rel` against the job's directory and records a problem when
 * the file is absent. `what` names the kind of file in the message.
 * Returns the resolved path (caller frees). */
static char *need_file(struct load *ld, const xmlNode *n, const char *what,
		       const char *rel)
{
	char *p = path_join(ld->job->dir, rel);
	struct stat st;
	if (stat(p, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			say(ld, RC_NOINPUT, job_node_line(n), "%s '%s' not found", what, rel);
		else
			say(ld, RC_NOINPUT, job_node_line(n), "%s '%s' cannot be opened: %s",
			    what, rel, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		say(ld, RC_NOINPUT, job_node_line(n), "%s '%s' is a directory", what, rel);
	}
	return p;
}

/* "Account, Contact, User or custom": the entity names of a side. */
static char *entity_names(enum entity_side side)
{
	struct buf b = BUF_INIT;
	size_t n = 0, k = 0;
	buf_init(&b);
	for (int i = 0; i < ENT_COUNT; i++)
		n += entity_get((enum entity_id)i)->side == side;
	for (int i = 0; i < ENT_COUNT; i++) {
		const struct entity *e = entity_get((enum entity_id)i);
		if (e->side != side)
			continue;
		buf_addf(&b, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ", e->name);
		k++;
	}
	return buf_detach(&b, NULL);
}

/* Does `name` end in `suffix`, in any case ("Users.XML")? */
static int ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n >= s && strcasecmp(name + n - s, suffix) == 0;
}

/* Adds one <input> of side `side` to the job. */
static void load_input(struct load *ld, xmlNode *n, enum entity_side side,
		       const struct profile *prof)
{
	struct job *j = ld->job;
	const char *ename = job_node_attr(n, "entity");
	const char *rel = job_node_attr(n, "path");
	const char *object = job_node_attr(n, "object");
	const char *format = job_node_attr(n, "format");
	const char *side_name = side == SIDE_CRM ? "CRM" : "LMS";
	unsigned long line = job_node_line(n);
	const struct entity *e = entity_find(side, ename);
	char *path = need_file(ld, n, "input", rel);

	if (!e) {
		char *names = entity_names(side);
		say(ld, RC_CONFIG, line, "unknown %s entity '%s'; expected %s",
		    side_name, ename, names);
		free(names);
		free(path);
		return;
	}
	for (size_t i = 0; i < j->ninputs; i++)
		if (j->inputs[i].entity == e) {
			say(ld, RC_CONFIG, line, "input '%s' is given twice (first at line %lu)",
			    ename, j->inputs[i].line);
			free(path);
			return;
		}
	if (e->id == ENT_CUSTOM && (!object || !object[0]))
		say(ld, RC_CONFIG, line,
		    "input 'custom' needs attribute 'object' (the API name of the custom object)");
	else if (e->id != ENT_CUSTOM && object)
		say(ld, RC_CONFIG, line, "attribute 'object' is only for input 'custom'");
	if (prof && prof->side == side && !prof->ents[e->id].is_supported)
		say(ld, RC_CONFIG, line, "profile '%s' does not describe entity '%s'",
		    prof->name, ename);

	j->inputs = xreallocarray(j->inputs, j->ninputs + 1, sizeof *j->inputs);
	struct job_input *in = &j->inputs[j->ninputs++];
	memset(in, 0, sizeof *in);
	in->entity = e;
	in->name = xstrdup(rel);
	in->path = path;
	in->object = e->id == ENT_CUSTOM && object ? xstrdup(object) : NULL;
	in->line = line;
	if (format)
		in->kind = strcmp(format, "xml") == 0 ? INGEST_XML : INGEST_CSV;
	else
		in->kind = ends_with(rel, ".xml") || ends_with(rel, ".xml.gz") ?
			INGEST_XML : INGEST_CSV;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!is_elem(c, "column"))
			continue;
		const char *key = job_node_attr(c, "key"), *header = job_node_attr(c, "header");
		in->columns = xreallocarray(in->columns, in->ncolumns + 1,
					    sizeof *in->columns);
		in->columns[in->ncolumns].key = xstrdup(key);
		in->columns[in->ncolumns].header = xstrdup(header ? header : key);
		in->ncolumns++;
	}
}

/* Reads <crm> or <lms>: the profile and the inputs. */
static void load_side(struct load *ld, xmlNode *n, enum entity_side side)
{
	struct job *j = ld->job;
	const char *name = job_node_attr(n, "profile");
	struct srcpos pos = { ld->file, job_node_line(n), 0 };
	struct profile *p = NULL;
	const char *side_name = side == SIDE_CRM ? "a CRM" : "an LMS";
	char *file = NULL;

	if (!name)
		name = side == SIDE_CRM ? "salesforce" : "docebo";
	/* A profile file, like every path of the job, is relative to it. */
	if (strchr(name, '/') || ends_with(name, ".xml"))
		name = file = path_join(j->dir, name);
	if (profile_load(ld->d, name, &pos, &p) != RC_OK) {
		/* Printed by profile_load; go on to report everything else. */
		ld->has_printed_config = 1;
		p = NULL;
	} else if (p->side != side) {
		say(ld, RC_CONFIG, pos.line, "profile '%s' describes %s, not %s",
		    name, p->side == SIDE_CRM ? "a CRM" : "an LMS", side_name);
	}
	if (side == SIDE_CRM)
		j->crm_profile = p;
	else
		j->lms_profile = p;
	if (side == SIDE_LMS) {
		const char *inst = job_node_attr(n, "instance");
		j->lms_instance = xstrdup(inst ? inst : "default");
	}
	for (xmlNode *c = n->children; c; c = c->next)
		if (is_elem(c, "input"))
			load_input(ld, c, side, p);
	free(file);
}

/* The source names of <people>, in the schema's words. */
static enum entity_id people_source(const char *s)
{
	if (strcmp(s, "User") == 0)
		return ENT_CRM_USER;
	if (strcmp(s, "custom") == 0)
		return ENT_CUSTOM;
	return ENT_CONTACT;
}

/* Reads the <orgchart> of a people source. */
static void load_orgchart(struct load *ld, xmlNode *n, struct job_people *pp,
			  const char *src)
{
	struct job *j = ld->job;
	const char *mode = job_node_attr(n, "mode");
	const char *dest = job_node_attr(n, "destination-branch");
	const char *field = job_node_attr(n, "field");
	unsigned long line = job_node_line(n);
	size_t npick = 0;

	pp->orgchart = !mode || strcmp(mode, "single") == 0 ? ORG_SINGLE :
		strcmp(mode, "accounts") == 0 ? ORG_ACCOUNTS : ORG_PICKLIST;
	pp->destination_branch = xstrdup(dest ? dest : "");
	pp->destination_line = line;
	if (!pp->destination_branch[strspn(pp->destination_branch, " \t\r\n")])
		say(ld, RC_CONFIG, line,
		    "the root branch cannot be a destination: 'destination-branch' must be a branch code");
	for (xmlNode *c = n->children; c; c = c->next)
		npick += is_elem(c, "picklist");

	switch (pp->orgchart) {
	case ORG_ACCOUNTS:
		if (pp->source != ENT_CONTACT)
			say(ld, RC_CONFIG, line,
			    "org chart mode 'accounts' is only for people source 'Contact', not '%s'",
			    src);
		else if (!job_input_of(j, ENT_ACCOUNT))
			say(ld, RC_CONFIG, line,
			    "org chart mode 'accounts' needs an 'Account' input in <crm>");
		break;
	case ORG_PICKLIST:
		if (!field || !field[0])
			say(ld, RC_CONFIG, line,
			    "org chart mode 'picklist' needs attribute 'field' (the picklist field)");
		if (npick == 0)
			say(ld, RC_CONFIG, line,
			    "org chart mode 'picklist' needs a <picklist> file");
		else if (npick > 3)
			say(ld, RC_CONFIG, line,
			    "org chart mode 'picklist' takes at most 3 <picklist> files (controlling, then dependent), not %zu",
			    npick);
		break;
	case ORG_SINGLE:
		break;
	}
	if (pp->orgchart != ORG_PICKLIST && field)
		say(ld, RC_CONFIG, line, "attribute 'field' is only for org chart mode 'picklist'");
	if (pp->orgchart != ORG_PICKLIST && npick)
		say(ld, RC_CONFIG, line, "<picklist> files are only for org chart mode 'picklist'");
	if (pp->orgchart == ORG_PICKLIST && field)
		pp->picklist_field = xstrdup(field);
	if (pp->orgchart != ORG_PICKLIST)
		return;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!is_elem(c, "picklist"))
			continue;
		pp->picklist_meta = xreallocarray(pp->picklist_meta, pp->npicklist_meta + 1,
						  sizeof *pp->picklist_meta);
		pp->picklist_meta[pp->npicklist_meta++] =
			need_file(ld, c, "picklist", job_node_attr(c, "path"));
	}
}

/* Reads one <people>. */
static void load_people(struct load *ld, xmlNode *n)
{
	static const char *const required[] = { "username", "firstname", "lastname" };
	struct job *j = ld->job;
	const char *src = job_node_attr(n, "source");
	unsigned long line = job_node_line(n);
	enum entity_id id = people_source(src);
	int has_match = 0;

	for (size_t i = 0; i < j->npeople; i++)
		if (j->people[i].source == id)
			say(ld, RC_CONFIG, line,
			    "people source '%s' is given twice (first at line %lu)",
			    src, j->people[i].line);
	j->people = xreallocarray(j->people, j->npeople + 1, sizeof *j->people);
	struct job_people *pp = &j->people[j->npeople++];
	memset(pp, 0, sizeof *pp);
	pp->source = id;
	pp->line = line;
	pp->provision = flag(n, "provision");
	pp->update_existing = flag(n, "update-existing");
	pp->incremental = flag(n, "incremental");
	pp->force_password_change = flag(n, "force-password-change");
	pp->deactivate_missing = flag(n, "deactivate-missing");

	if (!job_input_of(j, id))
		say(ld, RC_CONFIG, line, "people source '%s' needs a '%s' input in <crm>",
		    src, entity_get(id)->name);
	for (xmlNode *c = n->children; c; c = c->next) {
		if (is_elem(c, "listview")) {
			pp->listview = need_file(ld, c, "list view", job_node_attr(c, "path"));
		} else if (is_elem(c, "match")) {
			const char *norm = job_node_attr(c, "normalise");
			has_match = 1;
			pp->match_field = xstrdup(job_node_attr(c, "field"));
			pp->match_norm = (has_word(norm, "casefold") ? NORM_CASEFOLD : 0) |
				(has_word(norm, "trim") ? NORM_TRIM : 0);
		} else if (is_elem(c, "map")) {
			pp->maps = xreallocarray(pp->maps, pp->nmaps + 1, sizeof *pp->maps);
			pp->maps[pp->nmaps].lms = xstrdup(job_node_attr(c, "lms"));
			pp->maps[pp->nmaps].crm = xstrdup(job_node_attr(c, "crm"));
			pp->maps[pp->nmaps].line = job_node_line(c);
			pp->nmaps++;
		} else if (is_elem(c, "orgchart")) {
			load_orgchart(ld, c, pp, src);
		}
	}
	if (!has_match) {
		if (id == ENT_CUSTOM)
			say(ld, RC_CONFIG, line,
			    "people source 'custom' needs a <match field=\"...\"/>: a custom object has no default match field");
		pp->match_field = xstrdup("Email");
	}
	for (size_t r = 0; r < 3; r++) {
		size_t i;
		for (i = 0; i < pp->nmaps; i++)
			if (strcmp(pp->maps[i].lms, required[r]) == 0)
				break;
		if (i == pp->nmaps)
			say(ld, RC_CONFIG, line, "people source '%s' must map '%s'",
			    src, required[r]);
	}
	for (size_t i = 0; i < pp->nmaps; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(pp->maps[i].lms, pp->maps[k].lms) == 0) {
				say(ld, RC_CONFIG, pp->maps[i].line,
				    "LMS field '%s' is mapped twice (first at line %lu)",
				    pp->maps[i].lms, pp->maps[k].line);
				break;
			}
}

/* Reads <syncback>. */
static void load_syncback(struct load *ld, xmlNode *n)
{
	struct job_syncback *sb = &ld->job->syncback;
	const char *dept = job_node_attr(n, "department");
	const char *scope = job_node_attr(n, "scope");
	const char *match = job_node_attr(n, "match");

	sb->is_enabled = 1;
	sb->line = job_node_line(n);
	sb->department = xstrdup(dept ? dept : "");
	sb->with_subdepartments = scope && strcmp(scope, "with-subdepartments") == 0;
	sb->match_field = xstrdup(match ? match : "Email");
	if (!sb->department[strspn(sb->department, " \t\r\n")])
		say(ld, RC_CONFIG, sb->line,
		    "sync-back 'department' must be a branch code (the root branch has none)");
	if (!job_input_of(ld->job, ENT_CONTACT))
		say(ld, RC_CONFIG, sb->line, "sync back needs a 'Contact' input in <crm>");
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!is_elem(c, "account"))
			continue;
		const char *rule = job_node_attr(c, "rule");
		const char *id = job_node_attr(c, "id");
		const char *field = job_node_attr(c, "field");
		unsigned long line = job_node_line(c);
		sb->account_rule = strcmp(rule, "default") == 0 ? ACCOUNT_DEFAULT :
			strcmp(rule, "field") == 0 ? ACCOUNT_FIELD : ACCOUNT_DEPARTMENT;
		if (sb->account_rule == ACCOUNT_DEFAULT) {
			char id18[19];
			if (!id || !id[0])
				say(ld, RC_CONFIG, line,
				    "account rule 'default' needs attribute 'id' (the Account id)");
			else if (value_sfid18(id, strlen(id), id18) != 0)
				say(ld, RC_CONFIG, line,
				    "account rule 'default': '%s' is not a Salesforce id", id);
			else
				sb->account_id = xstrdup(id18);
		} else if (id) {
			say(ld, RC_CONFIG, line, "attribute 'id' is only for account rule 'default'");
		}
		if (sb->account_rule == ACCOUNT_FIELD) {
			if (!field || !field[0])
				say(ld, RC_CONFIG, line,
				    "account rule 'field' needs attribute 'field' (an LMS user field)");
			else
				sb->account_field = xstrdup(field);
		} else if (field) {
			say(ld, RC_CONFIG, line, "attribute 'field' is only for account rule 'field'");
		}
	}
}

/* Checks and normalises a since/until date-time. Returns the normalised
 * copy (caller frees) or NULL after recording the problem. */
static char *load_when(struct load *ld, const char *name, const char *v,
		       unsigned long line)
{
	char out[25];
	const char *why = NULL;
	if (value_datetime(v, strlen(v), NULL, out, &why) != 0) {
		say(ld, RC_CONFIG, line, "%s '%s' is not a date or date-time: %s",
		    name, v, why ? why : "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
		return NULL;
	}
	return xstrdup(out);
}

/* A normalised date or date-time as a full UTC date-time, for comparing:
 * a date is its midnight. */
static void full_when(const char *s, char out[25])
{
	if (strlen(s) == 10)
		snprintf(out, 25, "%sT00:00:00.000Z", s);
	else
		snprintf(out, 25, "%s", s);
}

/* Reads <enrollments>. */
static void load_enroll(struct load *ld, xmlNode *n)
{
	struct job_enroll *en = &ld->job->enroll;
	const char *items = job_node_attr(n, "items");
	const char *unenroll = job_node_attr(n, "unenrollment");
	const char *since = job_node_attr(n, "since");
	const char *until = job_node_attr(n, "until");

	en->line = job_node_line(n);
	if (items)
		en->items = (has_word(items, "course") ? ITEM_COURSE : 0) |
			(has_word(items, "learning-plan") ? ITEM_PLAN : 0) |
			(has_word(items, "classroom") ? ITEM_CLASSROOM : 0) |
			(has_word(items, "webinar") ? ITEM_WEBINAR : 0);
	en->unenroll = unenroll && strcmp(unenroll, "delete-unfinished") == 0 ?
		UNENROLL_DELETE_UNFINISHED : UNENROLL_MARK;
	if (since)
		en->since = load_when(ld, "since", since, en->line);
	if (until)
		en->until = load_when(ld, "until", until, en->line);
	if (en->since && en->until) {
		char a[25], b[25];
		full_when(en->since, a);
		full_when(en->until, b);
		if (strcmp(a, b) > 0)
			say(ld, RC_CONFIG, en->line, "since '%s' is after until '%s'",
			    since, until);
	}
}

/* Reads <options>. */
static void load_options(struct load *ld, xmlNode *n)
{
	const char *v = job_node_attr(n, "max-errors");
	char *end;
	if (!v)
		return;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (!v[0] || end == v || *end || v[0] == '-' || v[0] == '+' || v[0] == ' ' ||
	    errno == ERANGE)
		say(ld, RC_CONFIG, job_node_line(n),
		    "max-errors '%s' is not a number (a count of bad records, 0 or more)", v);
	else
		ld->job->max_errors = x;
}

/* Fills ld->job from the validated document. */
static void load_job(struct load *ld, xmlNode *root)
{
	struct job *j = ld->job;
	j->enroll.items = ITEM_COURSE | ITEM_PLAN | ITEM_CLASSROOM | ITEM_WEBINAR;
	j->enroll.unenroll = UNENROLL_MARK;
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_elem(c, "snapshot"))
			j->snapshot = path_join(j->dir, job_node_attr(c, "path"));
		else if (is_elem(c, "output"))
			j->output = path_join(j->dir, job_node_attr(c, "path"));
		else if (is_elem(c, "options"))
			load_options(ld, c);
		else if (is_elem(c, "crm"))
			load_side(ld, c, SIDE_CRM);
		else if (is_elem(c, "lms"))
			load_side(ld, c, SIDE_LMS);
		else if (is_elem(c, "people"))
			load_people(ld, c);
		else if (is_elem(c, "syncback"))
			load_syncback(ld, c);
		else if (is_elem(c, "enrollments"))
			load_enroll(ld, c);
	}
	for (size_t i = 0; i < j->ninputs; i++)
		j->inputs[i].profile = j->inputs[i].entity->side == SIDE_CRM ?
			j->crm_profile : j->lms_profile;
}

/* ---- the API ----------------------------------------------------------- */

/* Loads the job at `path`: read, parse, check the root, validate against
 * the schema, then build struct job; prints every problem (job.h). */
enum rc job_load(struct diag *d, const char *path, struct job **out)
{
	struct load ld;
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_gerror = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	xmlDoc *doc = NULL;
	char *text = NULL;
	size_t len = 0;
	enum rc rc;

	*out = NULL;
	memset(&ld, 0, sizeof ld);
	ld.d = d;
	ld.file = path;
	xmlSetStructuredErrorFunc(&ld, on_parse_error);
	xmlSetGenericErrorFunc(NULL, quiet_generic);

	rc = read_file(&ld, &text, &len);
	if (rc)
		goto out;
	doc = parse(&ld, text, len, &rc);
	if (!doc)
		goto out;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "job") != 0 || !root->ns ||
	    strcmp((const char *)root->ns->href, JOB_NS) != 0) {
		struct srcpos pos = { path, root ? job_node_line(root) : 0, 0 };
		rc = diag_at(d, RC_CONFIG, &pos,
			     "not a job file: the root element must be <job xmlns=\"" JOB_NS "\">");
		goto out;
	}
	rc = validate(&ld, doc);
	/* From here on libxml2 is done with the job: give the handlers back
	 * before other modules (profiles) use it. */
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_gerror);
	if (rc == RC_CONFIG) {
		flush_msgs(&ld);
		goto out;
	}
	if (rc)
		goto out;

	ld.job = xcalloc(1, sizeof *ld.job);
	ld.job->path = xstrdup(path);
	ld.job->dir = path_dirname(path);
	load_job(&ld, root);
	rc = flush_msgs(&ld);
	if (ld.has_printed_config)
		rc = RC_CONFIG;
	if (rc == RC_OK) {
		*out = ld.job;
		ld.job = NULL;
	}
out:
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_gerror);
	job_free(ld.job);
	for (size_t i = 0; i < ld.nmsgs; i++)
		free(ld.msgs[i].text);
	free(ld.msgs);
	for (size_t i = 0; i < ld.nrngerrs; i++)
		free(ld.rngerrs[i].text);
	free(ld.rngerrs);
	free(ld.perr_text);
	xmlFreeDoc(doc);
	free(text);
	return rc;
}

/* Frees the job and everything it owns (job.h). */
void job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->ninputs; i++) {
		struct job_input *in = &j->inputs[i];
		for (size_t k = 0; k < in->ncolumns; k++) {
			free(in->columns[k].key);
			free(in->columns[k].header);
		}
		free(in->columns);
		free(in->name);
		free(in->path);
		free(in->object);
	}
	free(j->inputs);
	for (size_t i = 0; i < j->npeople; i++) {
		struct job_people *pp = &j->people[i];
		for (size_t k = 0; k < pp->nmaps; k++) {
			free(pp->maps[k].lms);
			free(pp->maps[k].crm);
		}
		free(pp->maps);
		for (size_t k = 0; k < pp->npicklist_meta; k++)
			free(pp->picklist_meta[k]);
		free(pp->picklist_meta);
		free(pp->match_field);
		free(pp->destination_branch);
		free(pp->picklist_field);
		free(pp->listview);
	}
	free(j->people);
	free(j->syncback.department);
	free(j->syncback.account_id);
	free(j->syncback.account_field);
	free(j->syncback.match_field);
	free(j->enroll.since);
	free(j->enroll.until);
	if (j->crm_profile)
		profile_free(j->crm_profile);
	if (j->lms_profile)
		profile_free(j->lms_profile);
	free(j->path);
	free(j->dir);
	free(j->snapshot);
	free(j->output);
	free(j->lms_instance);
	free(j);
}

/* The first input of entity `id`, or NULL (job.h). */
const struct job_input *job_input_of(const struct job *j, enum entity_id id)
{
	for (size_t i = 0; i < j->ninputs; i++)
		if (j->inputs[i].entity->id == id)
			return &j->inputs[i];
	return NULL;
}

/* The starter job: every element and option, explained where it stands.
 * tests/unit/test_job.c loads it to make sure it stays valid. It is kept
 * in parts, each shorter than the 4095 bytes a C11 string literal may
 * portably hold, and joined on first use. */
static const char *const starter_parts[] = {
"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
"<!-- lmsrecon job file. Reference: docs/job-file.md.\n"
"     Check it with `lmsrecon check job.xml`, preview with `lmsrecon plan job.xml`,\n"
"     reconcile with `lmsrecon run job.xml`. Every path below is relative to\n"
"     the directory of this file (or absolute). Booleans are true/false/1/0. -->\n"
"<job xmlns=\"urn:lmsrecon:job:1\">\n"
"\n",
"  <!-- The SQLite snapshot that remembers links, baselines and earlier runs\n"
"       between runs. Created on the first run; one run at a time. -->\n"
"  <snapshot path=\"state/lmsrecon.sqlite\"/>\n"
"\n",
"  <!-- Where import files (lms/, crm/) and the report (report/) are written. -->\n"
"  <output path=\"out\"/>\n"
"\n",
"  <!-- Optional. max-errors: bad records tolerated in the inputs before the\n"
"       run fails with exit code 65 and writes nothing (default 0). -->\n"
"  <options max-errors=\"0\"/>\n"
"\n",
"  <!-- The CRM exports. profile: a built-in format profile (salesforce, the\n"
"       default) or the path of your own profile file.\n"
"       <input> attributes:\n"
"         entity  Account | Contact | User | custom (one custom object of people)\n"
"         path    the export file: CSV, or XML when the name ends in .xml or\n"
"                 .xml.gz; gzip is detected by its content\n"
"         format  csv | xml, to override what the name says\n"
"         object  for entity=\"custom\" only: the object's API name\n"
"       <column key=\"..\" header=\"..\"/> renames a column of the profile for\n"
"       this file; with a key the profile does not know it adds an extra\n"
"       field (header defaults to the key) that <map> can use. -->\n"
"  <crm profile=\"salesforce\">\n"
"    <input entity=\"Account\" path=\"crm/Account.csv\"/>\n"
"    <input entity=\"Contact\" path=\"crm/Contact.csv\">\n"
"      <column key=\"Region__c\"/>\n"
"    </input>\n"
"    <!-- <input entity=\"User\" path=\"crm/User.csv\"/> -->\n"
"    <!-- <input entity=\"custom\" object=\"Volunteer__c\" path=\"crm/Volunteer__c.csv\"/> -->\n"
"  </crm>\n"
"\n",
"  <!-- The LMS exports. profile: docebo (the default) or your own file.\n"
"       instance: a name for this LMS portal (letters, digits, _ and -, at\n"
"       most 40), part of the keys written to the CRM so that two portals\n"
"       never collide; default \"default\".\n"
"       entity: users | branches | courses | sessions | plans | plan_courses |\n"
"       enrollments | plan_enrollments. -->\n"
"  <lms profile=\"docebo\" instance=\"default\">\n"
"    <input entity=\"users\" path=\"lms/users.csv\"/>\n"
"    <input entity=\"branches\" path=\"lms/branches.csv\"/>\n"
"    <input entity=\"courses\" path=\"lms/courses.csv\"/>\n"
"    <input entity=\"sessions\" path=\"lms/sessions.csv\"/>\n"
"    <input entity=\"plans\" path=\"lms/plans.csv\"/>\n"
"    <input entity=\"plan_courses\" path=\"lms/plan_courses.csv\"/>\n"
"    <input entity=\"enrollments\" path=\"lms/enrollments.csv\"/>\n"
"    <input entity=\"plan_enrollments\" path=\"lms/plan_enrollments.csv\"/>\n"
"  </lms>\n"
"\n",
"  <!-- People, CRM to LMS: one <people> per source (Contact, User or custom;\n"
"       its input must be in <crm>). Options, all false by default:\n"
"         provision              create LMS users for unmatched records (R1, R2)\n"
"         update-existing        write changed mapped fields to matched users (R2)\n"
"         incremental            only records modified since the last complete\n"
"                                run (R5); the first run is always full\n"
"         force-password-change  new users must change their password (R2)\n"
"         deactivate-missing     deactivate (never delete) the LMS users of\n"
"                                records that left the list view (R4) -->\n"
"  <people source=\"Contact\" provision=\"true\" update-existing=\"true\"\n"
"          incremental=\"false\" force-password-change=\"true\"\n"
"          deactivate-missing=\"false\">\n"
"    <!-- Optional: only records passing this Salesforce list view's filters\n"
"         are candidates (R4).\n"
"    <listview path=\"crm/All_Contacts.listView-meta.xml\"/> -->\n"
"\n"
"    <!-- The CRM field compared with the LMS username (R1). Default field\n"
"         Email for Contact and User; required for custom. normalise: exact\n"
"         (default), or casefold and/or trim. -->\n"
"    <match field=\"Email\" normalise=\"casefold trim\"/>\n"
"\n"
"    <!-- LMS field <- CRM field. username, firstname and lastname are\n"
"         required (R3); any other LMS field may be added. -->\n"
"    <map lms=\"username\" crm=\"Email\"/>\n"
"    <map lms=\"firstname\" crm=\"FirstName\"/>\n"
"    <map lms=\"lastname\" crm=\"LastName\"/>\n"
"    <map lms=\"email\" crm=\"Email\"/>\n"
"    <map lms=\"job_title\" crm=\"Title\"/>\n"
"\n"
"    <!-- Which branch each user goes to (R6). destination-branch: an LMS\n"
"         branch code (not the root), which must exist in the branches export.\n"
"         mode: single    everyone to the destination branch\n"
"               accounts  a branch per Account, nested as the Account\n"
"                         hierarchy under the destination (Contact only;\n"
"                         needs the Account input)\n"
"               picklist  a branch per value of the picklist `field` under the\n"
"                         destination; one to three <picklist path=\"..\"/>\n"
"                         *.field-meta.xml files, controlling field first,\n"
"                         then its dependent fields, e.g.\n"
"         <orgchart mode=\"picklist\" field=\"Region__c\" destination-branch=\"EMEA\">\n"
"           <picklist path=\"meta/Region__c.field-meta.xml\"/>\n"
"           <picklist path=\"meta/Country__c.field-meta.xml\"/>\n"
"         </orgchart> -->\n"
"    <orgchart mode=\"accounts\" destination-branch=\"CUSTOMERS\"/>\n"
"  </people>\n"
"\n",
"  <!-- Optional. Sync back, LMS to CRM (R7): learners of the LMS branch\n"
"       `department` (scope this, or with-subdepartments) are matched with\n"
"       Contacts on the Contact field `match` (default Email): one match links,\n"
"       none creates a Contact under the Account given by <account>:\n"
"         rule=\"default\" id=\"001...\"   always this Account (15 or 18 characters)\n"
"         rule=\"department\"            the Account matching the learner's branch\n"
"         rule=\"field\" field=\"company\" the Account given by that LMS user field\n"
"       Accounts are never created. -->\n"
"  <syncback department=\"PARTNERS\" scope=\"with-subdepartments\" match=\"Email\">\n"
"    <account rule=\"department\"/>\n"
"  </syncback>\n"
"\n",
"  <!-- Optional. Learning data, LMS to CRM (R8-R12).\n"
"       items: which enrollments are sent, any of course learning-plan\n"
"              classroom webinar (default all four)\n"
"       unenrollment: mark (default: the CRM record gets Unenrolled_At__c) or\n"
"              delete-unfinished (unfinished ones are deleted; needs the CRM\n"
"              export of LMS_Enrollment__c) (R10)\n"
"       since, until: re-send every enrollment enrolled, completed or updated\n"
"              in this window, e.g. since=\"2026-01-01\" until=\"2026-03-31T23:59:59Z\"\n"
"              (R11); the command line can set them too. -->\n"
"  <enrollments items=\"course learning-plan classroom webinar\" unenrollment=\"mark\"/>\n"
"</job>\n",
};

/* The joined starter; its size is checked when joining. */
static char starter[8192];

/* The starter job, joined from its parts on first use (job.h). */
const char *job_starter(void)
{
	if (!starter[0]) {
		size_t len = 0;
		for (size_t i = 0; i < sizeof starter_parts / sizeof starter_parts[0]; i++) {
			size_t n = strlen(starter_parts[i]);
			if (len + n >= sizeof starter)
				abort(); /* the text outgrew the buffer: a build-time bug */
			memcpy(starter + len, starter_parts[i], n);
			len += n;
		}
		starter[len] = '\0';
	}
	return starter;
}
