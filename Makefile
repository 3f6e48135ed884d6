# sbx: one binary, C engine with embedded Lua. See README.md and DESIGN.md.
#
#   make                 build ./sbx
#   make deps            install every Debian and npm dependency (as root)
#   make check           build and run every test suite
#   make asan            build ./sbx-asan with AddressSanitizer and UBSan
#   make install         install into $(DESTDIR)$(PREFIX)
#   make lint            luacheck and the C warnings as errors

PREFIX ?= /usr/local
BUILD ?= build
OUT ?= sbx
SANITIZE ?=

CC ?= cc
PKGS := lua5.4 lua5.4-luv lua5.4-lpeg libwebsockets libcmark libturbojpeg libuv
# -isystem: the luv and lws headers do not pass our warning flags.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

WARNINGS := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(SANITIZE) \
	$(PKG_CFLAGS) -Iengine -I$(BUILD) -DSBX_VERSION='"$(VERSION)"'
# lua-cjson ships only the versioned shared library, no linker name.
LIBS := $(PKG_LIBS) -l:liblua5.4-cjson.so.0 -lm

ENGINE_SOURCES := $(filter-out engine/main.c,$(wildcard engine/*.c))
ENGINE_OBJECTS := $(ENGINE_SOURCES:engine/%.c=$(BUILD)/%.o) \
	$(BUILD)/embedded_files.o $(BUILD)/c_modules.o
# Everything under these trees is carried inside the binary.
EMBEDDED := $(sort $(shell find lua backends spec web -type f \
	\( -name '*.lua' -o -name '*.css' -o -name '*.js' -o -name '*.html' -o -name '*.svg' \) \
	2>/dev/null))

C_TESTS := $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(wildcard tests/c/test_*.c))

# The VM guest's init (guest/): static, as it runs before anything is
# mounted; carried inside sbx by engine/guest_image.c.
GUEST_SOURCES := $(wildcard guest/*.c)
GUEST := $(BUILD)/sbx-guest

.PHONY: all deps check asan install lint clean
all: $(OUT)

$(OUT): $(BUILD)/main.o $(ENGINE_OBJECTS)
	$(CC) $(SANITIZE) -o $@ $^ $(LIBS)

$(BUILD)/%.o: engine/%.c $(wildcard engine/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(GUEST): $(GUEST_SOURCES) $(wildcard guest/*.h) | $(BUILD)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARNINGS) -O2 -static -s -o $@ $(GUEST_SOURCES)

$(BUILD)/guest_image.o: $(GUEST)
$(BUILD)/guest_image.o: ALL_CFLAGS += -DSBX_GUEST_BINARY='"$(GUEST)"'

$(BUILD)/embed: tools/embed.c | $(BUILD)
	$(CC) -std=c11 $(WARNINGS) -O2 -o $@ $<

$(BUILD)/embedded_files.c: $(BUILD)/embed $(EMBEDDED)
	$(BUILD)/embed $@ $(EMBEDDED)

# One entry per luaopen_sbx_<family> defined in engine/, so adding a family
# is adding a file.
$(BUILD)/c_modules.c: $(ENGINE_SOURCES) tools/c_modules.sh | $(BUILD)
	sh tools/c_modules.sh $(ENGINE_SOURCES) > $@.tmp && mv $@.tmp $@

$(BUILD)/embedded_files.o $(BUILD)/c_modules.o: %.o: %.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/tests/%: tests/c/%.c tests/c/tap.h $(ENGINE_OBJECTS) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/c -o $@ $< $(ENGINE_OBJECTS) $(LIBS)

c-tests: $(C_TESTS)

asan:
	$(MAKE) BUILD=build/asan OUT=sbx-asan CFLAGS='-O1 -g -fno-omit-frame-pointer' \
		SANITIZE='-fsanitize=address,undefined -fno-sanitize-recover=undefined'

deps:
	sh tools/deps.sh

check: all c-tests
	sh tests/run

lint: all
	luacheck --quiet $(wildcard lua backends spec web tests/lua tests/support)

install: all
	sh tools/install.sh "$(DESTDIR)$(PREFIX)" "$(OUT)"

clean:
	rm -rf build sbx sbx-asan
