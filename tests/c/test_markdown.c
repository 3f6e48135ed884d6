/* Markdown rendering for transcripts: formatting survives, anything that
 * could run in the dashboard's origin does not. */
#include <stdlib.h>
#include <string.h>

#include "markdown.h"
#include "tap.h"

static int renders(const char *markdown, const char *expected, int present)
{
    char *html = sbx_markdown_to_html(markdown, strlen(markdown));
    int found = html && (strstr(html, expected) != NULL) == present;
    if (!found)
        printf("#   %s -> %s\n", markdown, html ? html : "(null)");
    free(html);
    return found;
}

int main(void)
{
    ok(renders("# Title\n\nSome *emphasis* and `code`.", "<h1>Title</h1>", 1), "headings render");
    ok(renders("Some *emphasis* and `code`.", "<em>emphasis</em> and <code>code</code>", 1),
       "inline formatting renders");
    ok(renders("```lua\nlocal x = 1 < 2\n```", "<code class=\"language-lua\">local x = 1 &lt; 2",
               1),
       "fenced code keeps its language and is escaped");
    ok(renders("hi <script>alert(1)</script>", "<script>", 0), "inline raw HTML is dropped");
    ok(renders("<div onclick=\"x()\">block</div>", "onclick", 0), "block raw HTML is dropped");
    ok(renders("[click](javascript:alert(1))", "javascript:", 0), "javascript: links are emptied");
    ok(renders("![x](data:text/html;base64,AAAA)", "data:text/html", 0),
       "data: URLs other than images are emptied");
    ok(renders("a \"quote\" & <b>", "&quot;quote&quot; &amp;", 1), "text is escaped");
    ok(renders("bad \xff\xfe utf-8", "\xef\xbf\xbd", 1),
       "invalid UTF-8 becomes the replacement character");
    return done_testing();
}
