/* Markdown to HTML through cmark, in safe mode: raw HTML in the source is
 * dropped and javascript:/vbscript:/file:/data: links (other than images)
 * are emptied, so text written by a model can be shown in the dashboard. */
#include "markdown.h"

#include <stdlib.h>

#include <cmark.h>
#include <lauxlib.h>
#include <lua.h>

char *sbx_markdown_to_html(const char *text, size_t size)
{
    /* CMARK_OPT_SAFE is the default since 0.29; it is named anyway so an
     * older cmark is safe too. */
    return cmark_markdown_to_html(text, size, CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8);
}

/* ---- Lua binding: require "sbx.markdown" ----
 *   markdown.html(text) -> html */

/* Holds the C string while it is pushed, so a failing push frees it. */
struct html_box {
    char *html;
};

static int html_box_gc(lua_State *L)
{
    struct html_box *box = lua_touserdata(L, 1);
    free(box->html);
    box->html = NULL;
    return 0;
}

static int l_html(lua_State *L)
{
    size_t size;
    const char *text = luaL_checklstring(L, 1, &size);
    struct html_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->html = NULL;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
    box->html = sbx_markdown_to_html(text, size);
    if (!box->html)
        return luaL_error(L, "out of memory rendering markdown");
    lua_pushstring(L, box->html);
    free(box->html);
    box->html = NULL;
    return 1;
}

int luaopen_sbx_markdown(lua_State *L);
int luaopen_sbx_markdown(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1); /* the box's metatable, shared as an upvalue */
    lua_pushcfunction(L, html_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcclosure(L, l_html, 1);
    lua_setfield(L, -2, "html");
    return 1;
}
