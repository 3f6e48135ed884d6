/* Markdown to HTML, safe for showing text nobody vetted. */
#ifndef SBX_MARKDOWN_H
#define SBX_MARKDOWN_H

#include <stddef.h>

/* Returns a malloc'd HTML string, or NULL when out of memory. Raw HTML is
 * dropped and unsafe link schemes are emptied. */
char *sbx_markdown_to_html(const char *text, size_t size);

#endif
