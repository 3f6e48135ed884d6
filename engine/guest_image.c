/* The guest agent (guest/, built static by the Makefile) carried inside
 * the sbx binary, so the vm backend needs nothing installed beside it.
 * require "sbx.guest_image" gives its bytes, which lua/sbx/vm/image.lua
 * puts in each VM's initramfs as /init. */
#include <lauxlib.h>
#include <lua.h>

#ifndef SBX_GUEST_BINARY
#error "SBX_GUEST_BINARY names the built guest agent (see the Makefile)"
#endif

/* .incbin keeps the 1 MB binary out of the C compiler: the assembler
 * copies it in as it is. */
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global sbx_guest_image_start\n"
        "sbx_guest_image_start:\n"
        ".incbin \"" SBX_GUEST_BINARY "\"\n"
        ".global sbx_guest_image_end\n"
        "sbx_guest_image_end:\n"
        ".previous\n");

extern const char sbx_guest_image_start[];
extern const char sbx_guest_image_end[];

int luaopen_sbx_guest_image(lua_State *L);
int luaopen_sbx_guest_image(lua_State *L)
{
    lua_newtable(L);
    lua_pushlstring(L, sbx_guest_image_start, (size_t)(sbx_guest_image_end - sbx_guest_image_start));
    lua_setfield(L, -2, "agent");
    return 1;
}
