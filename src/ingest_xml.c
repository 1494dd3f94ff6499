/* SPDX-License-Identifier: MIT */
/* ingest_xml: the XML reader. Streams an export (e.g. a Salesforce Bulk API
 * XML result) through libxml2's SAX2 push parser fed from an ingest_src byte
 * source, and hands the wanted fields of each record element to the
 * callback. No tree is built, and a document type declaration is refused
 * before its contents are parsed. */
#include "ingest.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>

/* Deepest element nesting accepted (the root is at depth 0), the same limit
 * libxml2 applies without XML_PARSE_HUGE. */
#define IX_MAX_DEPTH 256

/* Path nodes remembered before lookups stop being cached, so that a file of
 * endless distinct element names cannot grow the cache without bound. */
#define IX_MAX_PNODES 65536

/* Largest read asked of the byte source, whatever fmt->chunk says. */
#define IX_MAX_CHUNK (16u * 1024u * 1024u)

/* Namespace of the xsi:nil attribute. */
#define IX_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

/* The longest-field limit, as a string for messages. */
#define IX_MAX_FIELD_TEXT "1048576"

/* What a column holds in the record being read. */
enum ix_state {
	IX_ABSENT, /* no element seen: NULL */
	IX_NIL,    /* xsi:nil="true": NULL */
	IX_SET,    /* a value, possibly empty */
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
	const xmlChar *name; /* local name, interned in the parser's dictionary */
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
	xmlParserCtxtPtr ctxt;          /* the push parser; owned */
	enum rc stop_rc;                /* why a callback stopped the parser (printed) */

	int has_err;                    /* libxml2 reported an error */
	int is_enc_err;                 /* bytes were not valid in the declared encoding */
	int err_code;                   /* its xmlParserErrors code */
	unsigned long err_line;         /* its line, 0 if unknown */
	unsigned long err_col;          /* its column, 0 if unknown */
	char err_msg[256];              /* its message, reworded where needed */

	const xmlChar *rec_name;        /* record element's local name, interned */
	int depth;                      /* depth of the innermost open element, -1 before the root */
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

/* Stops the parser for a problem already printed; parsing ends at once,
 * so nothing past the problem reaches the callback. */
static void ix_stop(struct ingest_xml *x, enum rc rc)
{
	if (x->stop_rc == RC_OK)
		x->stop_rc = rc;
	xmlStopParser(x->ctxt);
}

/* The parser's current line. */
static unsigned long ix_line(struct ingest_xml *x)
{
	int line = xmlSAX2GetLineNumber(x->ctxt);

	return line > 0 ? (unsigned long)line : 0;
}

/* Keeps the first error libxml2 reports (warnings are ignored) and stops
 * the parser there, even for errors it would recover from. */
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
	/* The push parser says "extra content" when the input ends inside
	 * an element. */
	if (err->code == XML_ERR_DOCUMENT_END && x->ctxt && x->ctxt->nameNr > 0 &&
	    x->ctxt->name)
		snprintf(x->err_msg, sizeof x->err_msg, "premature end of data in element '%s'",
			 (const char *)x->ctxt->name);
	if (x->ctxt)
		xmlStopParser(x->ctxt);
}

/* Errors libxml2 raises with no parser context while a file is read: a
 * failed conversion from the declared encoding (domains I18N and IO, e.g.
 * a bad byte in a UTF-7 file). They come from inside the input buffer, so
 * the parser is not stopped here: it halts itself. Anything else is kept
 * like a parser error. */
#if LIBXML_VERSION >= 21200
static void ix_on_global_error(void *ctx, const xmlError *err)
#else
static void ix_on_global_error(void *ctx, xmlErrorPtr err)
#endif
{
	struct ingest_xml *x = ctx;

	if (err->level < XML_ERR_ERROR)
		return;
	if (err->domain == XML_FROM_I18N || err->domain == XML_FROM_IO) {
		x->is_enc_err = 1;
		return;
	}
	if (x->has_err)
		return;
	x->has_err = 1;
	x->err_code = err->code;
	snprintf(x->err_msg, sizeof x->err_msg, "%s", err->message ? err->message : "");
}

/* libxml2's unstructured messages ("xmlParseChunk: encoder error"): the
 * error they go with is reported through ix_on_global_error. */
static void ix_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
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

/* SAX: <!DOCTYPE seen. Called before an internal subset is parsed, so no
 * entity is ever declared, let alone expanded. */
static void ix_on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
			  const xmlChar *sys_id)
{
	struct ingest_xml *x = ctx;
	struct srcpos pos = { x->name, ix_line(x), 0 };
	xmlParserInputPtr in = x->ctxt->input;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	/* The parser is past the external ID, which may span lines: go back
	 * to the line of "<!DOCTYPE" while it is still in the buffer. */
	if (in && in->base && in->cur) {
		unsigned long nl = 0;

		for (const xmlChar *c = in->cur; c > in->base;) {
			c--;
			if (*c == '\n') {
				nl++;
			} else if (*c == '<' && in->end - c >= 9 && !memcmp(c, "<!DOCTYPE", 9)) {
				pos.line = pos.line > nl ? pos.line - nl : pos.line;
				break;
			}
		}
	}
	ix_stop(x, diag_at(x->d, RC_DATA, &pos, "document type declarations are not allowed"));
}

/* SAX: a reference to a declared entity. Only a DTD can declare one, and
 * DTDs are refused, but an entity is never expanded either way. */
static void ix_on_reference(void *ctx, const xmlChar *name)
{
	struct ingest_xml *x = ctx;
	struct srcpos pos = { x->name, ix_line(x), 0 };

	(void)name;
	ix_stop(x, diag_at(x->d, RC_DATA, &pos, "entity references are not allowed"));
}

/* Whether the attributes (SAX2's five pointers each) hold xsi:nil="true". */
static int ix_is_nil(int nattrs, const xmlChar **attrs)
{
	for (int i = 0; i < nattrs; i++, attrs += 5) {
		size_t len = (size_t)(attrs[4] - attrs[3]);

		if (!attrs[2] || strcmp((const char *)attrs[0], "nil") ||
		    strcmp((const char *)attrs[2], IX_XSI_NS))
			continue;
		return (len == 4 && !memcmp(attrs[3], "true", 4)) ||
		       (len == 1 && attrs[3][0] == '1');
	}
	return 0;
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
static void ix_record_start(struct ingest_xml *x)
{
	x->rec_depth = x->depth;
	x->rec_line = ix_line(x);
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

/* Handles the start tag of an element inside the open record, at depth k
 * below it. */
static void ix_field_start(struct ingest_xml *x, const xmlChar *name, int k, int nattrs,
			   const xmlChar **attrs)
{
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
	if (nattrs && ix_is_nil(nattrs, attrs)) {
		f->state = IX_NIL;
		return;
	}
	/* A repeated element replaces the value seen before. */
	f->state = IX_SET;
	f->off = x->vals.len;
	f->len = 0;
	x->cur_col = col;
}

/* SAX: an element's start tag. */
static void ix_on_start(void *ctx, const xmlChar *name, const xmlChar *prefix,
			const xmlChar *uri, int nns, const xmlChar **nss, int nattrs,
			int ndefaulted, const xmlChar **attrs)
{
	struct ingest_xml *x = ctx;

	(void)prefix;
	(void)uri;
	(void)nns;
	(void)nss;
	(void)ndefaulted;
	if (++x->depth > IX_MAX_DEPTH) {
		struct srcpos pos = { x->name, ix_line(x), 0 };

		ix_stop(x, diag_at(x->d, RC_DATA, &pos, "elements nested deeper than %d",
				   IX_MAX_DEPTH));
		return;
	}
	if (x->rec_depth >= 0)
		ix_field_start(x, name, x->depth - x->rec_depth, nattrs, attrs);
	else if (name == x->rec_name)
		ix_record_start(x);
}

/* SAX: an element's end tag (also sent for <empty/>). */
static void ix_on_end(void *ctx, const xmlChar *name, const xmlChar *prefix,
		      const xmlChar *uri)
{
	struct ingest_xml *x = ctx;
	enum rc rc;

	(void)name;
	(void)prefix;
	(void)uri;
	if (x->depth-- > x->rec_depth) {
		ix_field_end(x);
		return;
	}
	if (x->depth + 1 != x->rec_depth)
		return;
	rc = ix_record_end(x);
	if (rc != RC_OK)
		ix_stop(x, rc);
}

/* SAX: text, CDATA or blanks. Only a field's own text is kept. */
static void ix_on_text(void *ctx, const xmlChar *p, int len)
{
	struct ingest_xml *x = ctx;
	struct ix_field *f;
	size_t n = len > 0 ? (size_t)len : 0;

	if (x->cur_col < 0)
		return;
	f = &x->fields[x->cur_col];
	if (n > INGEST_MAX_FIELD - f->len) {
		/* Stop collecting: the record is dropped at its end. */
		x->is_too_long = 1;
		ix_field_end(x);
		return;
	}
	buf_add(&x->vals, p, n);
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

/* Reports bytes that libxml2 could not convert from the document's
 * encoding. Where the parser was when the converter failed depends on how
 * the input was split into reads, so the message gives no position. */
static enum rc ix_report_encoding(struct ingest_xml *x)
{
	struct srcpos pos = { x->name, 0, 0 };
	const char *enc = x->ctxt->encoding ? (const char *)x->ctxt->encoding : NULL;

	if (enc)
		return diag_at(x->d, RC_DATA, &pos,
			       "malformed XML: bytes not valid in the declared encoding '%s'", enc);
	return diag_at(x->d, RC_DATA, &pos, "malformed XML: bytes not valid in the document's encoding");
}

/* Feeds the source to the parser `chunk` bytes at a time through the
 * buffer `p` until the input ends or a problem or the callback stops it.
 * Returns RC_OK at the end of a well-formed document; every other code
 * has been printed (by the source, a SAX handler or here). */
static enum rc ix_parse(struct ingest_xml *x, struct ingest_src *src, unsigned char *p,
			size_t chunk)
{
	enum rc rc;
	size_t got;
	int perr;

	for (;;) {
		rc = ingest_src_read(src, p, chunk, &got);
		if (rc != RC_OK)
			return rc; /* printed by the source */
		perr = xmlParseChunk(x->ctxt, (const char *)p, (int)got, got == 0);
		if (x->stop_rc != RC_OK)
			return x->stop_rc;
		/* A failed conversion halts the parser without an error of its
		 * own: without this check the rest of the file would be lost
		 * silently and the read would succeed. */
		if (x->is_enc_err || perr == XML_ERR_INVALID_ENCODING)
			return ix_report_encoding(x);
		if (x->has_err)
			return ix_report_error(x);
		if (got == 0)
			break;
	}
	if (!x->ctxt->wellFormed) {
		struct srcpos pos = { x->name, ix_line(x), 0 };

		return diag_at(x->d, RC_DATA, &pos, "malformed XML");
	}
	return RC_OK;
}

enum rc ingest_xml_read(struct diag *d, const char *path, const char *name,
			const struct ingest_fmt *fmt, const struct ingest_cols *cols,
			ingest_cb cb, void *ctx, struct ingest_stats *st)
{
	xmlExternalEntityLoader prev_loader = xmlGetExternalEntityLoader();
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_gerror = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	struct ingest_src *src = NULL;
	struct ingest_xml x;
	xmlSAXHandler sax;
	unsigned char *p = NULL, first[4];
	size_t chunk = fmt->chunk ? fmt->chunk : 64u * 1024u, nfirst = 0, got;
	enum rc rc;

	if (chunk > IX_MAX_CHUNK)
		chunk = IX_MAX_CHUNK;
	memset(&x, 0, sizeof x);
	x.d = d;
	x.name = name;
	x.cols = cols;
	x.cb = cb;
	x.cb_ctx = ctx;
	x.depth = -1;
	x.rec_depth = -1;
	x.cur_col = -1;
	buf_init(&x.vals);
	buf_init(&x.pathbuf);
	x.fields = xcalloc(cols->n ? cols->n : 1, sizeof *x.fields);
	x.vptr = xcalloc(cols->n ? cols->n : 1, sizeof *x.vptr);
	x.lens = xcalloc(cols->n ? cols->n : 1, sizeof *x.lens);

	rc = ingest_src_open(d, path, name, &src);
	if (rc != RC_OK)
		goto out;
	/* The parser works out the encoding from the first four bytes. */
	while (nfirst < sizeof first) {
		size_t want = sizeof first - nfirst;

		rc = ingest_src_read(src, first + nfirst, want < chunk ? want : chunk, &got);
		if (rc != RC_OK)
			goto out;
		if (got == 0)
			break;
		nfirst += got;
	}
	if (nfirst == 0) {
		rc = diag_err(d, RC_DATA, "%s: empty file, expected an XML document", name);
		goto out;
	}

	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = ix_on_start;
	sax.endElementNs = ix_on_end;
	sax.characters = ix_on_text;
	sax.ignorableWhitespace = ix_on_text;
	sax.cdataBlock = ix_on_text;
	sax.internalSubset = ix_on_doctype;
	sax.externalSubset = ix_on_doctype;
	sax.reference = ix_on_reference;
	sax.serror = ix_on_error;
	xmlSetExternalEntityLoader(ix_no_entity);
	xmlSetStructuredErrorFunc(&x, ix_on_global_error);
	xmlSetGenericErrorFunc(NULL, ix_quiet);
	x.ctxt = xmlCreatePushParserCtxt(&sax, &x, (const char *)first, (int)nfirst, NULL);
	if (!x.ctxt) {
		rc = diag_err(d, RC_OSERR, "%s: cannot start the XML parser", name);
		goto out;
	}
	/* No XML_PARSE_NOENT, DTDLOAD or DTDATTR: entities are never
	 * substituted and no DTD is fetched (a DTD is refused anyway). */
	xmlCtxtUseOptions(x.ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA);
	x.rec_name = xmlDictLookup(x.ctxt->dict, (const xmlChar *)fmt->record_elem, -1);
	p = xmalloc(chunk);
	rc = ix_parse(&x, src, p, chunk);
out:
	if (x.ctxt)
		xmlFreeParserCtxt(x.ctxt);
	xmlSetExternalEntityLoader(prev_loader);
	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_gerror);
	if (st && src) {
		ingest_src_stats(src, st);
		st->nrecords = x.nrecords;
	}
	ingest_src_close(src);
	free(p);
	buf_release(&x.vals);
	buf_release(&x.pathbuf);
	free(x.fields);
	free(x.vptr);
	free(x.lens);
	free(x.pnodes);
	free(x.hash);
	return rc;
}
