/* SPDX-License-Identifier: MIT */
/* ingest_xml: the XML reader. Streams an export (e.g. a Salesforce Bulk API
 * XML result) through libxml2's xmlTextReader over an ingest_src byte source
 * and hands the wanted fields of each record element to the callback. No
 * DOM is built, and documents with a DTD are refused before it is parsed. */
#include "ingest.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

/* Deepest element nesting accepted (the root is at depth 0), the same limit
 * libxml2 applies without XML_PARSE_HUGE. */
#define IX_MAX_DEPTH 256

/* Path nodes remembered before lookups stop being cached, so that a file of
 * endless distinct element names cannot grow the cache without bound. */
#define IX_MAX_PNODES 65536

/* Namespace of the xsi:nil attribute. */
#define IX_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

/* The stored longest-field limit, as a string for messages. */
#define IX_MAX_FIELD_TEXT "1048576"

/* What a column holds in the record being read. */
enum ix_state {
	IX_ABSENT, /* no element seen: NULL */
	IX_NIL,    /* xsi:nil="true": NULL */
	IX_SET,    /* a value, possibly empty */
};

/* Where the prolog scan stands (see ix_gate_scan). */
enum ix_gate {
	GATE_MISC,       /* between prolog items */
	GATE_LT,         /* after '<' */
	GATE_PI,         /* inside <? ... ?> */
	GATE_PI_Q,       /* inside a PI, after '?' */
	GATE_BANG,       /* after "<!" */
	GATE_COM_OPEN,   /* after "<!-" */
	GATE_COM,        /* inside a comment */
	GATE_COM_D1,     /* inside a comment, after '-' */
	GATE_COM_D2,     /* inside a comment, after "--" */
	GATE_DOCTYPE,    /* matching "<!DOCTYPE" */
	GATE_DONE,       /* the root element (or junk) started: no DTD possible */
	GATE_REFUSED,    /* "<!DOCTYPE" seen */
};

/* One column's value in the record being read. */
struct ix_field {
	size_t off;          /* offset of the value in ingest_xml.vals */
	size_t len;          /* bytes of the value */
	unsigned char state; /* enum ix_state */
};

/* One distinct element path below the record element, e.g. `Account.Name`.
 * Nodes are found by (parent, name) in a hash, so that the column of a
 * field is worked out once per path rather than once per element. */
struct ix_pnode {
	const xmlChar *name; /* local name, interned in the reader's dictionary */
	int parent;          /* index of the parent path node, -1 at the record */
	int col;             /* wanted column of this path, -1 when unwanted */
};

/* The state of one ingest_xml_read call. */
struct ingest_xml {
	struct diag *d;                 /* message sink; borrowed */
	const char *name;               /* file as shown in messages; borrowed */
	const struct ingest_cols *cols; /* wanted columns; borrowed */
	ingest_cb cb;                   /* the caller's record callback */
	void *cb_ctx;                   /* its context; borrowed */
	struct ingest_src *src;         /* the byte source; owned */
	size_t chunk;                   /* most bytes handed to libxml2 per read */
	enum rc io_rc;                  /* first failure of the byte source */
	unsigned long long nraw;        /* bytes handed to libxml2 */

	enum ix_gate gate;              /* prolog scan state */
	size_t gate_match;              /* characters of "DOCTYPE" matched */
	unsigned long gate_line;        /* current line of the prolog scan */
	unsigned long gate_lt_line;     /* line of the last '<' in the prolog */

	int is_stopped;                 /* libxml2 stopped before the end */
	int has_err;                    /* libxml2 reported an error */
	int err_code;                   /* its xmlParserErrors code */
	unsigned long err_line;         /* its line, 0 if unknown */
	unsigned long err_col;          /* its column, 0 if unknown */
	char err_msg[256];              /* its message, as libxml2 wrote it */

	const xmlChar *rec_name;        /* record element's local name, interned */
	int rec_depth;                  /* depth of the open record element, -1 outside */
	unsigned long rec_line;         /* line of the open record's start tag */
	int cur_col;                    /* column whose text is being collected, -1 none */
	int is_too_long;                /* the open record has an over-long field */
	int path[IX_MAX_DEPTH + 2];     /* path node per depth below the record; -2 uncached */
	size_t path_end[IX_MAX_DEPTH + 2]; /* length of pathbuf up to each depth */
	struct buf pathbuf;             /* dotted path of the open element */
	struct buf vals;                /* the record's values, each NUL-terminated */
	struct ix_field *fields;        /* cols->n values of the open record; owned */
	const char **vptr;              /* cols->n value pointers for the callback; owned */
	size_t *lens;                   /* cols->n value lengths for the callback; owned */
	unsigned long nrecords;         /* records handed to the callback */

	struct ix_pnode *pnodes;        /* the path nodes; owned */
	size_t npnodes, pnodes_alloc;
	int *hash;                      /* open-addressed pnode indexes, -1 empty; owned */
	size_t hash_size;               /* slots in hash, a power of two */
};

/* Compares two NUL-terminated strings ignoring ASCII case, as Salesforce
 * compares API names; the locale plays no part. */
static int ix_ascii_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
		if (!ca)
			return 1;
	}
}

/* The wanted column whose name is `path`, or -1. */
static int ix_col_of(const struct ingest_xml *x, const char *path)
{
	for (size_t i = 0; i < x->cols->n; i++)
		if (ix_ascii_eq(x->cols->names[i], path))
			return (int)i;
	return -1;
}

/* Hash slot to start probing at for (parent, name). */
static size_t ix_hash_of(const struct ingest_xml *x, int parent, const xmlChar *name)
{
	uint64_t h = (uint64_t)(uintptr_t)name * 0x9e3779b97f4a7c15u;

	h ^= (uint64_t)(uint32_t)(parent + 1) * 0xc2b2ae3d27d4eb4fu;
	h ^= h >> 29;
	return (size_t)h & (x->hash_size - 1);
}

/* Doubles the hash table and re-inserts every path node. */
static void ix_hash_grow(struct ingest_xml *x)
{
	size_t n = x->hash_size ? 2 * x->hash_size : 256;

	free(x->hash);
	x->hash = xreallocarray(NULL, n, sizeof *x->hash);
	x->hash_size = n;
	for (size_t i = 0; i < n; i++)
		x->hash[i] = -1;
	for (size_t i = 0; i < x->npnodes; i++) {
		size_t h = ix_hash_of(x, x->pnodes[i].parent, x->pnodes[i].name);

		while (x->hash[h] >= 0)
			h = (h + 1) & (n - 1);
		x->hash[h] = (int)i;
	}
}

/* Finds the path node for element `name` under `parent` (-1: the record,
 * -2: an uncached path), creating it when it is new. The dotted path of the
 * element must be in pathbuf. Returns the node, or -2 when the cache is
 * full; *col gets the element's column either way. */
static int ix_pnode_find(struct ingest_xml *x, int parent, const xmlChar *name, int *col)
{
	size_t h;
	struct ix_pnode *p;

	if (parent == -2 || x->npnodes >= IX_MAX_PNODES) {
		*col = ix_col_of(x, x->pathbuf.buf);
		return -2;
	}
	if (2 * (x->npnodes + 1) > x->hash_size)
		ix_hash_grow(x);
	h = ix_hash_of(x, parent, name);
	while (x->hash[h] >= 0) {
		p = &x->pnodes[x->hash[h]];
		if (p->name == name && p->parent == parent) {
			*col = p->col;
			return x->hash[h];
		}
		h = (h + 1) & (x->hash_size - 1);
	}
	if (x->npnodes == x->pnodes_alloc) {
		x->pnodes_alloc = x->pnodes_alloc ? 2 * x->pnodes_alloc : 64;
		x->pnodes = xreallocarray(x->pnodes, x->pnodes_alloc, sizeof *x->pnodes);
	}
	p = &x->pnodes[x->npnodes];
	p->name = name;
	p->parent = parent;
	p->col = ix_col_of(x, x->pathbuf.buf);
	x->hash[h] = (int)x->npnodes;
	*col = p->col;
	return (int)x->npnodes++;
}

/* Scans the bytes about to be handed to libxml2 for a document type
 * declaration in the prolog, the only place one may stand. Refusing it here,
 * before the parser sees it, means no entity declaration is ever parsed, let
 * alone expanded. NUL bytes are skipped so that UTF-16 and UTF-32 documents
 * are scanned as well; so is a byte order mark. Returns 1 once "<!DOCTYPE"
 * was seen, with gate_lt_line its line. */
static int ix_gate_scan(struct ingest_xml *x, const unsigned char *p, size_t len)
{
	static const char doctype[] = "DOCTYPE";

	for (size_t i = 0; i < len && x->gate != GATE_DONE; i++) {
		unsigned char c = p[i];

		if (c == 0)
			continue;
		if (c == '\n')
			x->gate_line++;
		switch (x->gate) {
		case GATE_MISC:
			if (c == '<') {
				x->gate = GATE_LT;
				x->gate_lt_line = x->gate_line;
			} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
				   !(x->nraw + i < 4 && (c == 0xef || c == 0xbb || c == 0xbf ||
							 c == 0xfe || c == 0xff))) {
				x->gate = GATE_DONE;
			}
			break;
		case GATE_LT:
			x->gate = c == '?' ? GATE_PI : c == '!' ? GATE_BANG : GATE_DONE;
			break;
		case GATE_PI:
			if (c == '?')
				x->gate = GATE_PI_Q;
			break;
		case GATE_PI_Q:
			x->gate = c == '>' ? GATE_MISC : c == '?' ? GATE_PI_Q : GATE_PI;
			break;
		case GATE_BANG:
			if (c == '-') {
				x->gate = GATE_COM_OPEN;
			} else if (c == 'D') {
				x->gate = GATE_DOCTYPE;
				x->gate_match = 1;
			} else {
				x->gate = GATE_DONE;
			}
			break;
		case GATE_COM_OPEN:
			x->gate = c == '-' ? GATE_COM : GATE_DONE;
			break;
		case GATE_COM:
			if (c == '-')
				x->gate = GATE_COM_D1;
			break;
		case GATE_COM_D1:
			x->gate = c == '-' ? GATE_COM_D2 : GATE_COM;
			break;
		case GATE_COM_D2:
			x->gate = c == '>' ? GATE_MISC : GATE_DONE;
			break;
		case GATE_DOCTYPE:
			if (c != (unsigned char)doctype[x->gate_match]) {
				x->gate = GATE_DONE;
			} else if (!doctype[++x->gate_match]) {
				x->gate = GATE_REFUSED;
				return 1;
			}
			break;
		case GATE_DONE:
		case GATE_REFUSED:
			break;
		}
	}
	return 0;
}

/* libxml2's read callback: at most `chunk` bytes from the byte source. A
 * failure of the source (already printed by it) or a refused DTD is kept
 * for ingest_xml_read to report and fails the read. */
static int ix_io_read(void *ctx, char *p, int len)
{
	struct ingest_xml *x = ctx;
	size_t want = len > 0 ? (size_t)len : 0, got = 0;
	enum rc rc;

	if (x->io_rc != RC_OK || x->gate == GATE_REFUSED)
		return -1;
	if (want > x->chunk)
		want = x->chunk;
	rc = ingest_src_read(x->src, p, want, &got);
	if (rc != RC_OK) {
		x->io_rc = rc;
		return -1;
	}
	if (x->gate != GATE_DONE && ix_gate_scan(x, (const unsigned char *)p, got))
		return -1;
	x->nraw += got;
	return (int)got;
}

/* Keeps the first error libxml2 reports (warnings are ignored). */
#if LIBXML_VERSION >= 21200
static void ix_on_error(void *ctx, const xmlError *err)
#else
static void ix_on_error(void *ctx, xmlErrorPtr err)
#endif
{
	struct ingest_xml *x = ctx;

	if (x->has_err || err->level < XML_ERR_ERROR)
		return;
	x->has_err = 1;
	x->err_code = err->code;
	x->err_line = err->line > 0 ? (unsigned long)err->line : 0;
	x->err_col = err->int2 > 0 ? (unsigned long)err->int2 : 0;
	snprintf(x->err_msg, sizeof x->err_msg, "%s", err->message ? err->message : "");
	/* libxml2's push parser, which the reader drives, says "extra
	 * content" when the input ends inside an element. */
	if (err->code == XML_ERR_DOCUMENT_END && err->domain == XML_FROM_PARSER && err->ctxt) {
		xmlParserCtxtPtr pc = err->ctxt;

		if (pc->nameNr > 0 && pc->name)
			snprintf(x->err_msg, sizeof x->err_msg,
				 "premature end of data in element '%s'", (const char *)pc->name);
	}
}

/* The external entity loader while a file is read: refuses everything, so
 * that nothing outside the input is ever opened or fetched. */
static xmlParserInputPtr ix_no_entity(const char *url, const char *id,
				      xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* Line of the reader's current node. libxml2 keeps lines past 65534 of
 * elements in the psvi field when XML_PARSE_BIG_LINES is on. */
static unsigned long ix_node_line(xmlTextReaderPtr r)
{
	xmlNodePtr n = xmlTextReaderCurrentNode(r);

	if (!n)
		return (unsigned long)xmlTextReaderGetParserLineNumber(r);
	if (n->line == 65535 && n->type == XML_ELEMENT_NODE && n->psvi)
		return (unsigned long)(uintptr_t)n->psvi;
	return n->line;
}

/* Whether the current element carries xsi:nil="true". Leaves the reader
 * on the element. */
static int ix_is_nil(xmlTextReaderPtr r)
{
	int is_nil = 0;

	while (xmlTextReaderMoveToNextAttribute(r) == 1) {
		const xmlChar *ln = xmlTextReaderConstLocalName(r);
		const xmlChar *ns = xmlTextReaderConstNamespaceUri(r);
		const xmlChar *v;

		if (!ln || !ns || strcmp((const char *)ln, "nil") ||
		    strcmp((const char *)ns, IX_XSI_NS))
			continue;
		v = xmlTextReaderConstValue(r);
		is_nil = v && (!strcmp((const char *)v, "true") || !strcmp((const char *)v, "1"));
		break;
	}
	xmlTextReaderMoveToElement(r);
	return is_nil;
}

/* Ends the value being collected, NUL-terminating it in vals. */
static void ix_field_end(struct ingest_xml *x)
{
	if (x->cur_col < 0)
		return;
	buf_addch(&x->vals, '\0');
	x->cur_col = -1;
}

/* Starts a record at the current element. */
static void ix_record_start(struct ingest_xml *x, int depth, unsigned long line)
{
	x->rec_depth = depth;
	x->rec_line = line;
	x->cur_col = -1;
	x->is_too_long = 0;
	buf_reset(&x->vals);
	buf_reset(&x->pathbuf);
	x->path_end[0] = 0;
	for (size_t i = 0; i < x->cols->n; i++)
		x->fields[i].state = IX_ABSENT;
}

/* Ends the open record: checks it and hands it to the callback. Returns
 * RC_OK to go on reading. */
static enum rc ix_record_end(struct ingest_xml *x)
{
	struct srcpos pos = { x->name, x->rec_line, 0 };
	struct ingest_rec rec;

	ix_field_end(x);
	x->rec_depth = -1;
	if (x->is_too_long)
		return diag_bad_record(x->d, &pos, "field longer than " IX_MAX_FIELD_TEXT " bytes");
	for (size_t i = 0; i < x->cols->n; i++) {
		if (x->cols->is_required && x->cols->is_required[i] &&
		    x->fields[i].state == IX_ABSENT)
			return diag_bad_record(x->d, &pos, "record is missing required field '%s'",
					       x->cols->names[i]);
		if (x->fields[i].state == IX_SET) {
			x->vptr[i] = x->vals.buf + x->fields[i].off;
			x->lens[i] = x->fields[i].len;
		} else {
			x->vptr[i] = NULL;
			x->lens[i] = 0;
		}
	}
	rec.line = x->rec_line;
	rec.n = x->cols->n;
	rec.vals = x->vptr;
	rec.lens = x->lens;
	x->nrecords++;
	return x->cb(x->cb_ctx, &rec);
}

/* Handles an element start tag inside an open record at relative depth k. */
static void ix_field_start(struct ingest_xml *x, xmlTextReaderPtr r, int k, int is_empty)
{
	const xmlChar *name = xmlTextReaderConstLocalName(r);
	int parent = k == 1 ? -1 : x->path[k - 1], col;
	struct ix_field *f;

	/* An element with children groups relationship fields; it is not a
	 * value itself, and the blanks around its children are not text. */
	if (x->cur_col >= 0) {
		x->fields[x->cur_col].state = IX_ABSENT;
		x->vals.len = x->fields[x->cur_col].off;
		x->cur_col = -1;
	}
	x->pathbuf.len = x->path_end[k - 1];
	if (k > 1)
		buf_addch(&x->pathbuf, '.');
	buf_adds(&x->pathbuf, (const char *)name);
	x->path_end[k] = x->pathbuf.len;
	x->path[k] = ix_pnode_find(x, parent, name, &col);
	if (col < 0)
		return;
	f = &x->fields[col];
	if (xmlTextReaderHasAttributes(r) == 1 && ix_is_nil(r)) {
		f->state = IX_NIL;
		return;
	}
	/* A repeated element replaces the value seen before. */
	f->state = IX_SET;
	f->off = x->vals.len;
	f->len = 0;
	if (is_empty)
		buf_addch(&x->vals, '\0');
	else
		x->cur_col = col;
}

/* Appends the text of the current node to the value being collected. */
static void ix_field_text(struct ingest_xml *x, xmlTextReaderPtr r)
{
	const xmlChar *v = xmlTextReaderConstValue(r);
	struct ix_field *f = &x->fields[x->cur_col];
	size_t n = v ? strlen((const char *)v) : 0;

	if (n > INGEST_MAX_FIELD - f->len) {
		/* Stop collecting: the record is dropped at its end. */
		x->is_too_long = 1;
		ix_field_end(x);
		return;
	}
	buf_add(&x->vals, v, n);
	f->len += n;
}

/* Writes libxml2's message the way ours read: first line only, no trailing
 * blanks or punctuation, the first letter in lower case unless it starts
 * an acronym. */
static void ix_tidy_message(char *m)
{
	size_t n = strcspn(m, "\n");

	while (n && strchr(" \t\r.!:", m[n - 1]))
		n--;
	m[n] = '\0';
	if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
		m[0] = (char)(m[0] - 'A' + 'a');
}

/* Reports the error libxml2 kept, in our words where we have them. */
static enum rc ix_report_error(struct ingest_xml *x)
{
	struct srcpos pos = { x->name, x->err_line, x->err_col };

	if (x->err_code == XML_ERR_INTERNAL_ERROR && !strncmp(x->err_msg, "Excessive depth", 15)) {
		pos.col = 0;
		return diag_at(x->d, RC_DATA, &pos, "elements nested deeper than %d", IX_MAX_DEPTH);
	}
	ix_tidy_message(x->err_msg);
	return diag_at(x->d, RC_DATA, &pos, "malformed XML: %s", x->err_msg);
}

/* Walks the document node by node. Returns RC_OK at its end, the code of
 * a problem it printed, or RC_DATA without printing when libxml2 stopped
 * (ingest_xml_read then works out why). */
static enum rc ix_walk(struct ingest_xml *x, xmlTextReaderPtr r)
{
	struct srcpos pos = { x->name, 0, 0 };
	enum rc rc;
	int ret;

	while ((ret = xmlTextReaderRead(r)) == 1) {
		int type, depth, is_empty;

		if (x->has_err)
			break;
		type = xmlTextReaderNodeType(r);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			depth = xmlTextReaderDepth(r);
			if (depth > IX_MAX_DEPTH) {
				pos.line = ix_node_line(r);
				return diag_at(x->d, RC_DATA, &pos, "elements nested deeper than %d",
					       IX_MAX_DEPTH);
			}
			is_empty = xmlTextReaderIsEmptyElement(r) == 1;
			if (x->rec_depth >= 0) {
				ix_field_start(x, r, depth - x->rec_depth, is_empty);
				break;
			}
			if (xmlTextReaderConstLocalName(r) != x->rec_name)
				break;
			ix_record_start(x, depth, ix_node_line(r));
			if (is_empty) {
				/* <records/>: a record with no fields, and no end tag */
				rc = ix_record_end(x);
				if (rc != RC_OK)
					return rc;
			}
			break;
		case XML_READER_TYPE_END_ELEMENT:
			if (x->rec_depth < 0)
				break;
			depth = xmlTextReaderDepth(r);
			if (depth > x->rec_depth) {
				ix_field_end(x);
			} else if (depth == x->rec_depth) {
				rc = ix_record_end(x);
				if (rc != RC_OK)
					return rc;
			}
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
			if (x->cur_col >= 0)
				ix_field_text(x, r);
			break;
		case XML_READER_TYPE_DOCUMENT_TYPE:
			pos.line = (unsigned long)xmlTextReaderGetParserLineNumber(r);
			return diag_at(x->d, RC_DATA, &pos, "document type declarations are not allowed");
		case XML_READER_TYPE_ENTITY_REFERENCE:
			pos.line = (unsigned long)xmlTextReaderGetParserLineNumber(r);
			return diag_at(x->d, RC_DATA, &pos, "entity references are not allowed");
		default:
			break;
		}
	}
	if (ret < 0 || x->has_err || x->io_rc != RC_OK || x->gate == GATE_REFUSED) {
		x->is_stopped = 1;
		return RC_DATA;
	}
	return RC_OK;
}

/* Says why libxml2 stopped, preferring the first cause: the byte source's
 * own failure (already printed), a refused DTD, an empty file, then the
 * parser's error. */
static enum rc ix_report_stop(struct ingest_xml *x, xmlTextReaderPtr r)
{
	struct srcpos pos = { x->name, 0, 0 };

	if (x->io_rc != RC_OK)
		return x->io_rc;
	if (x->gate == GATE_REFUSED) {
		pos.line = x->gate_lt_line;
		return diag_at(x->d, RC_DATA, &pos, "document type declarations are not allowed");
	}
	if (x->nraw == 0)
		return diag_err(x->d, RC_DATA, "%s: empty file, expected an XML document", x->name);
	if (x->has_err)
		return ix_report_error(x);
	pos.line = r ? (unsigned long)xmlTextReaderGetParserLineNumber(r) : 0;
	return diag_at(x->d, RC_DATA, &pos, "malformed XML");
}

enum rc ingest_xml_read(struct diag *d, const char *path, const char *name,
			const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	xmlExternalEntityLoader prev_loader = xmlGetExternalEntityLoader();
	struct ingest_xml x;
	xmlTextReaderPtr r = NULL;
	enum rc rc;

	memset(&x, 0, sizeof x);
	x.d = d;
	x.name = name;
	x.cols = cols;
	x.cb = cb;
	x.cb_ctx = ctx;
	x.chunk = fmt->chunk ? fmt->chunk : 64u * 1024u;
	if (x.chunk > INT32_MAX)
		x.chunk = INT32_MAX;
	x.gate = GATE_MISC;
	x.gate_line = 1;
	x.rec_depth = -1;
	x.cur_col = -1;
	buf_init(&x.vals);
	buf_init(&x.pathbuf);
	x.fields = xcalloc(cols->n ? cols->n : 1, sizeof *x.fields);
	x.vptr = xcalloc(cols->n ? cols->n : 1, sizeof *x.vptr);
	x.lens = xcalloc(cols->n ? cols->n : 1, sizeof *x.lens);

	rc = ingest_src_open(d, path, name, &x.src);
	if (rc != RC_OK)
		goto out;

	xmlSetExternalEntityLoader(ix_no_entity);
	/* No XML_PARSE_NOENT, DTDLOAD or DTDATTR: entities stay unexpanded
	 * and no DTD is fetched; a DTD is refused anyway. */
	r = xmlReaderForIO(ix_io_read, NULL, &x, NULL, NULL,
			   XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
	if (!r) {
		rc = ix_report_stop(&x, NULL);
		goto out;
	}
	xmlTextReaderSetStructuredErrorHandler(r, ix_on_error, &x);
	x.rec_name = xmlTextReaderConstString(r, (const xmlChar *)fmt->record_elem);
	rc = ix_walk(&x, r);
	if (rc != RC_OK && x.is_stopped)
		rc = ix_report_stop(&x, r);
out:
	if (r)
		xmlFreeTextReader(r);
	xmlSetExternalEntityLoader(prev_loader);
	if (st && x.src) {
		ingest_src_stats(x.src, st);
		st->nrecords = x.nrecords;
	}
	ingest_src_close(x.src);
	buf_release(&x.vals);
	buf_release(&x.pathbuf);
	free(x.fields);
	free(x.vptr);
	free(x.lens);
	free(x.pnodes);
	free(x.hash);
	return rc;
}
