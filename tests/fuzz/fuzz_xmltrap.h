/* SPDX-License-Identifier: MIT */
/* fuzz_xmltrap: catches libxml2 printing on its own. Every module that
 * parses XML must route libxml2's messages into its own diagnostics; the
 * harness points libxml2's global handlers at a trap before each call, and
 * a message that reaches the trap (it would have gone to stderr) breaks
 * the contract. */
#ifndef LMSRECON_FUZZ_XMLTRAP_H
#define LMSRECON_FUZZ_XMLTRAP_H

#include <libxml/xmlerror.h>

#include "fuzz.h"

/* Set when a message reached the trap. */
static int fuzz_xml_trapped;

/* The unstructured handler: libxml2 would have printed `msg`. */
static void fuzz_xml_trap_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	fprintf(stderr, "fuzz: libxml2 printed on its own: %s", msg);
	fuzz_xml_trapped = 1;
}

/* The structured handler: an error no module handled. */
#if LIBXML_VERSION >= 21200
static void fuzz_xml_trap_structured(void *ctx, const xmlError *err)
#else
static void fuzz_xml_trap_structured(void *ctx, xmlErrorPtr err)
#endif
{
	(void)ctx;
	fprintf(stderr, "fuzz: libxml2 error nobody handled: %s",
		err && err->message ? err->message : "(none)\n");
	fuzz_xml_trapped = 1;
}

/* Points libxml2's global handlers at the trap and clears the flag. */
static void fuzz_xml_trap_set(void)
{
	xmlSetGenericErrorFunc(NULL, fuzz_xml_trap_generic);
	xmlSetStructuredErrorFunc(NULL, fuzz_xml_trap_structured);
	fuzz_xml_trapped = 0;
}

/* Checks that nothing reached the trap and that the handlers were given
 * back as they were found. */
static void fuzz_xml_trap_check(void)
{
	fuzz_check(!fuzz_xml_trapped);
	fuzz_check(xmlGenericError == fuzz_xml_trap_generic);
	fuzz_check(xmlStructuredError == fuzz_xml_trap_structured);
}

#endif
