/* Framebuffer capture: see fb.h. The common case, Xvfb at depth 24, goes
 * from the mapped file to libjpeg-turbo without a copy; every other layout
 * is converted row by row into RGB. */
#include "fb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_class.h"

/* Larger than any real screen; keeps every size computation far from
 * overflow. */
#define MAX_SIDE 32768u

const char *sbx_image_status_text(enum sbx_image_status status)
{
    switch (status) {
    case SBX_IMAGE_OK: return "ok";
    case SBX_IMAGE_TRUNCATED: return "truncated image file";
    case SBX_IMAGE_BAD_HEADER: return "not a valid image header";
    case SBX_IMAGE_UNSUPPORTED: return "unsupported image layout";
    }
    return "unknown image status";
}

/* ---- XWD ---- */

/* XWD header fields, 32 bits each, in file order. */
enum xwd_field {
    XWD_HEADER_SIZE, XWD_FILE_VERSION, XWD_PIXMAP_FORMAT, XWD_PIXMAP_DEPTH,
    XWD_PIXMAP_WIDTH, XWD_PIXMAP_HEIGHT, XWD_XOFFSET, XWD_BYTE_ORDER,
    XWD_BITMAP_UNIT, XWD_BITMAP_BIT_ORDER, XWD_BITMAP_PAD, XWD_BITS_PER_PIXEL,
    XWD_BYTES_PER_LINE, XWD_VISUAL_CLASS, XWD_RED_MASK, XWD_GREEN_MASK,
    XWD_BLUE_MASK, XWD_BITS_PER_RGB, XWD_COLORMAP_ENTRIES, XWD_NCOLORS,
    XWD_FIELD_COUNT = 25,
};
#define XWD_VERSION 7
#define XWD_ZPIXMAP 2
#define XWD_COLOR_SIZE 12 /* pixel:32 red:16 green:16 blue:16 flags:8 pad:8 */
enum { VISUAL_STATIC_GRAY, VISUAL_GRAY_SCALE, VISUAL_STATIC_COLOR, VISUAL_PSEUDO_COLOR,
       VISUAL_TRUE_COLOR, VISUAL_DIRECT_COLOR };

static uint32_t read32(const uint8_t *p, int msb_first)
{
    if (msb_first)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t read16(const uint8_t *p, int msb_first)
{
    return msb_first ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static int mask_fits(uint32_t mask, unsigned bits)
{
    return mask != 0 && (bits >= 32 || (mask >> bits) == 0);
}

static enum sbx_image_status xwd_palette(const uint8_t *colors, uint32_t ncolors, int msb_first,
                                         struct sbx_image *image)
{
    if (ncolors == 0)
        return SBX_IMAGE_UNSUPPORTED;
    memset(image->palette, 0, sizeof image->palette);
    for (uint32_t i = 0; i < ncolors; i++) {
        const uint8_t *entry = colors + (size_t)i * XWD_COLOR_SIZE;
        uint32_t pixel = read32(entry, msb_first);
        if (pixel > 255)
            continue;
        for (int c = 0; c < 3; c++)
            image->palette[pixel][c] = (uint8_t)(read16(entry + 4 + 2 * c, msb_first) >> 8);
    }
    return SBX_IMAGE_OK;
}

enum sbx_image_status sbx_xwd_parse(const uint8_t *data, size_t size, struct sbx_image *image)
{
    if (size < XWD_FIELD_COUNT * 4)
        return SBX_IMAGE_TRUNCATED;
    /* The header's own byte order is not recorded: the version field,
     * which must read 7, tells it (Xvfb writes big-endian). */
    int header_msb = 1;
    if (read32(data + 4 * XWD_FILE_VERSION, 1) != XWD_VERSION) {
        if (read32(data + 4 * XWD_FILE_VERSION, 0) != XWD_VERSION)
            return SBX_IMAGE_BAD_HEADER;
        header_msb = 0;
    }
    uint32_t field[XWD_FIELD_COUNT];
    for (int i = 0; i < XWD_FIELD_COUNT; i++)
        field[i] = read32(data + 4 * i, header_msb);

    uint32_t width = field[XWD_PIXMAP_WIDTH], height = field[XWD_PIXMAP_HEIGHT];
    uint32_t bits = field[XWD_BITS_PER_PIXEL], ncolors = field[XWD_NCOLORS];
    if (field[XWD_HEADER_SIZE] < XWD_FIELD_COUNT * 4 || width == 0 || height == 0 ||
        width > MAX_SIDE || height > MAX_SIDE || field[XWD_BYTE_ORDER] > 1 ||
        field[XWD_PIXMAP_DEPTH] == 0 || field[XWD_PIXMAP_DEPTH] > 32 || ncolors > 65536 ||
        field[XWD_BYTES_PER_LINE] > 4 * MAX_SIDE + 64)
        return SBX_IMAGE_BAD_HEADER;
    if (field[XWD_PIXMAP_FORMAT] != XWD_ZPIXMAP ||
        (bits != 8 && bits != 16 && bits != 24 && bits != 32) || field[XWD_XOFFSET] != 0)
        return SBX_IMAGE_UNSUPPORTED;
    uint64_t row_bytes = (uint64_t)width * (bits / 8);
    if (field[XWD_BYTES_PER_LINE] < row_bytes)
        return SBX_IMAGE_BAD_HEADER;

    uint64_t colors_at = field[XWD_HEADER_SIZE];
    uint64_t pixels_at = colors_at + (uint64_t)ncolors * XWD_COLOR_SIZE;
    uint64_t end = pixels_at + (uint64_t)field[XWD_BYTES_PER_LINE] * (height - 1) + row_bytes;
    if (end > size)
        return SBX_IMAGE_TRUNCATED;

    memset(image, 0, offsetof(struct sbx_image, palette));
    image->width = width;
    image->height = height;
    image->stride = field[XWD_BYTES_PER_LINE];
    image->pixels = data + pixels_at;
    image->bytes_per_pixel = bits / 8;
    image->msb_first = field[XWD_BYTE_ORDER] == 1;

    uint32_t visual = field[XWD_VISUAL_CLASS];
    if (visual == VISUAL_TRUE_COLOR || visual == VISUAL_DIRECT_COLOR) {
        image->layout = SBX_PIXELS_PACKED;
        for (int c = 0; c < 3; c++) {
            image->masks[c] = field[XWD_RED_MASK + c];
            if (!mask_fits(image->masks[c], bits))
                return SBX_IMAGE_BAD_HEADER;
        }
        return SBX_IMAGE_OK;
    }
    if (visual > VISUAL_PSEUDO_COLOR || bits != 8)
        return SBX_IMAGE_UNSUPPORTED;
    image->layout = SBX_PIXELS_INDEXED;
    return xwd_palette(data + colors_at, ncolors, header_msb, image);
}

/* ---- PPM (binary, P6) ---- */

static int ppm_skip_space(const uint8_t *data, size_t size, size_t *at)
{
    size_t start = *at;
    while (*at < size) {
        uint8_t c = data[*at];
        if (c == '#') {
            while (*at < size && data[*at] != '\n')
                (*at)++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            (*at)++;
        } else {
            break;
        }
    }
    return *at > start;
}

/* -1 when truncated, -2 when not a number in range. */
static long ppm_number(const uint8_t *data, size_t size, size_t *at, long max)
{
    if (!ppm_skip_space(data, size, at))
        return *at >= size ? -1 : -2;
    long value = 0;
    size_t start = *at;
    while (*at < size && data[*at] >= '0' && data[*at] <= '9') {
        value = value * 10 + (data[*at] - '0');
        if (value > max)
            return -2;
        (*at)++;
    }
    if (*at == start)
        return *at >= size ? -1 : -2;
    return value;
}

enum sbx_image_status sbx_ppm_parse(const uint8_t *data, size_t size, struct sbx_image *image)
{
    if (size < 2)
        return SBX_IMAGE_TRUNCATED;
    if (data[0] != 'P' || data[1] != '6')
        return data[0] == 'P' && data[1] >= '1' && data[1] <= '7' ? SBX_IMAGE_UNSUPPORTED
                                                                  : SBX_IMAGE_BAD_HEADER;
    size_t at = 2;
    long values[3];
    const long limits[3] = {MAX_SIDE, MAX_SIDE, 65535};
    for (int i = 0; i < 3; i++) {
        values[i] = ppm_number(data, size, &at, limits[i]);
        if (values[i] == -1)
            return SBX_IMAGE_TRUNCATED;
        if (values[i] <= 0)
            return SBX_IMAGE_BAD_HEADER;
    }
    /* Exactly one whitespace byte separates the header from the samples. */
    if (at >= size)
        return SBX_IMAGE_TRUNCATED;
    uint8_t c = data[at];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        return SBX_IMAGE_BAD_HEADER;
    at++;
    unsigned bytes_per_pixel = values[2] > 255 ? 6 : 3;
    uint64_t needed = (uint64_t)values[0] * (uint64_t)values[1] * bytes_per_pixel;
    if (size - at < needed)
        return SBX_IMAGE_TRUNCATED;

    memset(image, 0, offsetof(struct sbx_image, palette));
    image->width = (uint32_t)values[0];
    image->height = (uint32_t)values[1];
    image->bytes_per_pixel = bytes_per_pixel;
    image->stride = (size_t)image->width * bytes_per_pixel;
    image->pixels = data + at;
    image->maxval = (unsigned)values[2];
    image->layout = bytes_per_pixel == 6 ? SBX_PIXELS_RGB16 : SBX_PIXELS_RGB8;
    return SBX_IMAGE_OK;
}

/* ---- pixels ---- */

static uint32_t read_pixel(const uint8_t *p, unsigned bytes, int msb_first)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned shift = msb_first ? 8 * (bytes - 1 - i) : 8 * i;
        value |= (uint32_t)p[i] << shift;
    }
    return value;
}

/* The channel under MASK scaled to 0..255. */
static uint8_t channel(uint32_t pixel, uint32_t mask)
{
    unsigned shift = (unsigned)__builtin_ctz(mask);
    uint32_t max = mask >> shift;
    uint32_t value = (pixel & mask) >> shift;
    return (uint8_t)(((uint64_t)value * 255 + max / 2) / max);
}

/* libjpeg-turbo reads these layouts straight from the frame; -1 otherwise. */
static int direct_pixel_format(const struct sbx_image *image)
{
    if (image->layout == SBX_PIXELS_RGB8 && image->maxval == 255)
        return TJPF_RGB;
    if (image->layout != SBX_PIXELS_PACKED || image->bytes_per_pixel != 4 ||
        image->masks[1] != 0x00ff00)
        return -1;
    if (image->masks[0] == 0xff0000 && image->masks[2] == 0x0000ff)
        return image->msb_first ? TJPF_XRGB : TJPF_BGRX;
    if (image->masks[0] == 0x0000ff && image->masks[2] == 0xff0000)
        return image->msb_first ? TJPF_XBGR : TJPF_RGBX;
    return -1;
}

void sbx_image_row_rgb(const struct sbx_image *image, uint32_t y, uint8_t *rgb)
{
    const uint8_t *row = image->pixels + (size_t)y * image->stride;
    uint32_t width = image->width;
    switch (image->layout) {
    case SBX_PIXELS_RGB8:
        if (image->maxval == 255) {
            memcpy(rgb, row, (size_t)width * 3);
        } else {
            for (size_t i = 0; i < (size_t)width * 3; i++) {
                unsigned v = row[i] > image->maxval ? image->maxval : row[i];
                rgb[i] = (uint8_t)((v * 255 + image->maxval / 2) / image->maxval);
            }
        }
        break;
    case SBX_PIXELS_RGB16:
        for (size_t i = 0; i < (size_t)width * 3; i++) {
            unsigned v = (unsigned)(row[2 * i] << 8 | row[2 * i + 1]);
            if (v > image->maxval)
                v = image->maxval;
            rgb[i] = (uint8_t)(((uint64_t)v * 255 + image->maxval / 2) / image->maxval);
        }
        break;
    case SBX_PIXELS_PACKED:
        if (direct_pixel_format(image) == TJPF_BGRX) {
            /* Xvfb at depth 24 on x86: the usual case, kept fast for
             * thumbnails. */
            for (uint32_t x = 0; x < width; x++) {
                rgb[3 * x] = row[4 * x + 2];
                rgb[3 * x + 1] = row[4 * x + 1];
                rgb[3 * x + 2] = row[4 * x];
            }
            break;
        }
        for (uint32_t x = 0; x < width; x++) {
            uint32_t pixel = read_pixel(row + (size_t)x * image->bytes_per_pixel,
                                        image->bytes_per_pixel, image->msb_first);
            for (int c = 0; c < 3; c++)
                rgb[3 * x + c] = channel(pixel, image->masks[c]);
        }
        break;
    case SBX_PIXELS_INDEXED:
        for (uint32_t x = 0; x < width; x++)
            memcpy(rgb + 3 * x, image->palette[row[x]], 3);
        break;
    }
}

uint64_t sbx_image_fingerprint(const struct sbx_image *image)
{
    /* Four independent multiply-xor lanes keep the multiplier busy; a
     * frame of 8 MB takes about a millisecond. */
    const uint64_t prime = 0x9e3779b97f4a7c15ull;
    uint64_t lane[4] = {1, 2, 3, 4};
    size_t row_bytes = (size_t)image->width * image->bytes_per_pixel;
    for (uint32_t y = 0; y < image->height; y++) {
        const uint8_t *p = image->pixels + (size_t)y * image->stride;
        size_t i = 0;
        for (; i + 32 <= row_bytes; i += 32) {
            for (int l = 0; l < 4; l++) {
                uint64_t word;
                memcpy(&word, p + i + 8 * l, 8);
                lane[l] = (lane[l] ^ word) * prime;
                lane[l] ^= lane[l] >> 31;
            }
        }
        for (; i < row_bytes; i++)
            lane[0] = (lane[0] ^ p[i]) * prime;
    }
    uint64_t hash = (uint64_t)image->width << 32 | image->height;
    for (int l = 0; l < 4; l++) {
        hash = (hash ^ lane[l]) * prime;
        hash ^= hash >> 29;
    }
    return hash;
}

/* ---- the mapped file ---- */

void sbx_mapped_file_init(struct sbx_mapped_file *file)
{
    memset(file, 0, sizeof *file);
    file->fd = -1;
}

void sbx_mapped_file_close(struct sbx_mapped_file *file)
{
    if (file->data)
        munmap((void *)file->data, file->size);
    if (file->fd >= 0)
        close(file->fd);
    sbx_mapped_file_init(file);
}

int sbx_mapped_file_refresh(struct sbx_mapped_file *file, const char *path)
{
    struct stat now;
    if (stat(path, &now) < 0) {
        int err = errno;
        sbx_mapped_file_close(file);
        return -err;
    }
    if (file->fd >= 0 && now.st_dev == file->dev && now.st_ino == file->ino &&
        (size_t)now.st_size == file->size)
        return 0;
    sbx_mapped_file_close(file);
    if (!S_ISREG(now.st_mode))
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat opened;
    if (fstat(fd, &opened) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    file->fd = fd;
    file->dev = opened.st_dev;
    file->ino = opened.st_ino;
    file->size = (size_t)opened.st_size;
    if (file->size == 0)
        return 0;
    void *data = mmap(NULL, file->size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) {
        int err = errno;
        sbx_mapped_file_close(file);
        return -err;
    }
    file->data = data;
    return 0;
}

/* ---- JPEG ---- */

void sbx_jpeg_encoder_init(struct sbx_jpeg_encoder *encoder)
{
    memset(encoder, 0, sizeof *encoder);
}

void sbx_jpeg_encoder_free(struct sbx_jpeg_encoder *encoder)
{
    if (encoder->tj)
        tjDestroy(encoder->tj);
    free(encoder->rgb);
    free(encoder->sums);
    free(encoder->row);
    tjFree(encoder->out);
    sbx_jpeg_encoder_init(encoder);
}

static int grow(void **buffer, size_t *capacity, size_t needed)
{
    if (*capacity >= needed)
        return 0;
    void *bigger = realloc(*buffer, needed);
    if (!bigger)
        return -1;
    *buffer = bigger;
    *capacity = needed;
    return 0;
}

/* Box filter into encoder->rgb, OUT_WIDTH x OUT_HEIGHT. */
static int scale_into_rgb(struct sbx_jpeg_encoder *encoder, const struct sbx_image *image,
                          uint32_t out_width, uint32_t out_height)
{
    size_t sums_needed = (size_t)out_width * 3 * sizeof(uint32_t);
    if (grow((void **)&encoder->rgb, &encoder->rgb_capacity, (size_t)out_width * out_height * 3) ||
        grow((void **)&encoder->sums, &encoder->sums_capacity, sums_needed) ||
        grow((void **)&encoder->row, &encoder->row_capacity, (size_t)image->width * 3))
        return -1;
    for (uint32_t oy = 0; oy < out_height; oy++) {
        uint32_t y0 = (uint32_t)((uint64_t)oy * image->height / out_height);
        uint32_t y1 = (uint32_t)((uint64_t)(oy + 1) * image->height / out_height);
        memset(encoder->sums, 0, sums_needed);
        for (uint32_t y = y0; y < y1; y++) {
            sbx_image_row_rgb(image, y, encoder->row);
            for (uint32_t ox = 0; ox < out_width; ox++) {
                uint32_t x0 = (uint32_t)((uint64_t)ox * image->width / out_width);
                uint32_t x1 = (uint32_t)((uint64_t)(ox + 1) * image->width / out_width);
                for (uint32_t x = x0; x < x1; x++)
                    for (int c = 0; c < 3; c++)
                        encoder->sums[3 * ox + c] += encoder->row[3 * x + c];
            }
        }
        uint8_t *out = encoder->rgb + (size_t)oy * out_width * 3;
        for (uint32_t ox = 0; ox < out_width; ox++) {
            uint32_t x0 = (uint32_t)((uint64_t)ox * image->width / out_width);
            uint32_t x1 = (uint32_t)((uint64_t)(ox + 1) * image->width / out_width);
            uint32_t count = (x1 - x0) * (y1 - y0);
            for (int c = 0; c < 3; c++)
                out[3 * ox + c] = (uint8_t)((encoder->sums[3 * ox + c] + count / 2) / count);
        }
    }
    return 0;
}

static int convert_into_rgb(struct sbx_jpeg_encoder *encoder, const struct sbx_image *image)
{
    size_t row = (size_t)image->width * 3;
    if (grow((void **)&encoder->rgb, &encoder->rgb_capacity, row * image->height))
        return -1;
    for (uint32_t y = 0; y < image->height; y++)
        sbx_image_row_rgb(image, y, encoder->rgb + row * y);
    return 0;
}

int sbx_jpeg_encode(struct sbx_jpeg_encoder *encoder, const struct sbx_image *image,
                    uint32_t max_width, int quality, struct sbx_jpeg *jpeg)
{
    encoder->error[0] = '\0';
    if (quality < 1 || quality > 100) {
        snprintf(encoder->error, sizeof encoder->error, "JPEG quality must be 1-100");
        return -1;
    }
    if (!encoder->tj && !(encoder->tj = tjInitCompress())) {
        snprintf(encoder->error, sizeof encoder->error, "%s", tjGetErrorStr2(NULL));
        return -1;
    }
    uint32_t width = image->width, height = image->height;
    if (max_width && width > max_width) {
        height = (uint32_t)((uint64_t)height * max_width / width);
        width = max_width;
        if (height == 0)
            height = 1;
    }
    const uint8_t *source = image->pixels;
    size_t pitch = image->stride;
    int format = direct_pixel_format(image);
    int failed = 0;
    if (width != image->width) {
        failed = scale_into_rgb(encoder, image, width, height);
        source = encoder->rgb, pitch = (size_t)width * 3, format = TJPF_RGB;
    } else if (format < 0) {
        failed = convert_into_rgb(encoder, image);
        source = encoder->rgb, pitch = (size_t)width * 3, format = TJPF_RGB;
    }
    unsigned long bound = tjBufSize((int)width, (int)height, TJSAMP_420);
    if (!failed && encoder->out_capacity < bound) {
        tjFree(encoder->out);
        encoder->out = tjAlloc((int)bound);
        encoder->out_capacity = encoder->out ? bound : 0;
        failed = !encoder->out;
    }
    if (failed) {
        snprintf(encoder->error, sizeof encoder->error, "out of memory for a %ux%u frame",
                 (unsigned)width, (unsigned)height);
        return -1;
    }
    unsigned long size = encoder->out_capacity;
    if (tjCompress2(encoder->tj, source, (int)width, (int)pitch, (int)height, format,
                    &encoder->out, &size, TJSAMP_420, quality,
                    TJFLAG_NOREALLOC | TJFLAG_FASTDCT) < 0) {
        snprintf(encoder->error, sizeof encoder->error, "%s", tjGetErrorStr2(encoder->tj));
        return -1;
    }
    jpeg->data = encoder->out;
    jpeg->size = size;
    jpeg->width = width;
    jpeg->height = height;
    return 0;
}

/* ---- Lua binding: require "sbx.fb" ----
 *
 *   local screen = fb.open(path, "xwd" | "ppm")
 *   screen:fingerprint()            -> integer, or nil, message
 *   screen:jpeg{max_width=, quality=} -> data, width, height; or nil, message
 *   screen:size()                   -> width, height; or nil, message
 *   screen:close()
 *
 * Each call looks at the file again: a replaced or resized file is mapped
 * anew, so one object follows an Xvfb that restarts. */

#define SCREEN_METATABLE "sbx.fb"

struct screen {
    char *path;
    int is_ppm;
    int closed;
    struct sbx_mapped_file file;
    struct sbx_jpeg_encoder encoder;
};

static struct screen *check_screen(lua_State *L)
{
    struct screen *screen = luaL_checkudata(L, 1, SCREEN_METATABLE);
    if (screen->closed)
        luaL_error(L, "attempt to use a closed screen");
    return screen;
}

/* Maps and parses; on failure pushes nil and a message and returns 0. */
static int load_image(lua_State *L, struct screen *screen, struct sbx_image *image)
{
    int rc = sbx_mapped_file_refresh(&screen->file, screen->path);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", screen->path, strerror(-rc));
        return 0;
    }
    enum sbx_image_status status =
        screen->is_ppm ? sbx_ppm_parse(screen->file.data, screen->file.size, image)
                       : sbx_xwd_parse(screen->file.data, screen->file.size, image);
    if (status != SBX_IMAGE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", screen->path, sbx_image_status_text(status));
        return 0;
    }
    return 1;
}

static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    static const char *const kinds[] = {"xwd", "ppm", NULL};
    int kind = luaL_checkoption(L, 2, "xwd", kinds);
    struct screen *screen = lua_newuserdatauv(L, sizeof *screen, 0);
    memset(screen, 0, sizeof *screen);
    sbx_mapped_file_init(&screen->file);
    sbx_jpeg_encoder_init(&screen->encoder);
    screen->is_ppm = kind == 1;
    screen->closed = 1; /* until the path is ours, __gc has nothing to free */
    luaL_setmetatable(L, SCREEN_METATABLE);
    screen->path = strdup(path);
    if (!screen->path)
        return luaL_error(L, "out of memory");
    screen->closed = 0;
    return 1;
}

static int l_fingerprint(lua_State *L)
{
    struct screen *screen = check_screen(L);
    struct sbx_image image;
    if (!load_image(L, screen, &image))
        return 2;
    lua_pushinteger(L, (lua_Integer)sbx_image_fingerprint(&image));
    return 1;
}

static int l_size(lua_State *L)
{
    struct screen *screen = check_screen(L);
    struct sbx_image image;
    if (!load_image(L, screen, &image))
        return 2;
    lua_pushinteger(L, image.width);
    lua_pushinteger(L, image.height);
    return 2;
}

static int l_jpeg(lua_State *L)
{
    struct screen *screen = check_screen(L);
    lua_Integer max_width = 0, quality = 80;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "max_width");
        max_width = luaL_optinteger(L, -1, 0);
        lua_getfield(L, 2, "quality");
        quality = luaL_optinteger(L, -1, 80);
        lua_pop(L, 2);
    }
    luaL_argcheck(L, max_width >= 0 && max_width <= MAX_SIDE, 2, "max_width out of range");
    luaL_argcheck(L, quality >= 1 && quality <= 100, 2, "quality must be 1-100");
    struct sbx_image image;
    if (!load_image(L, screen, &image))
        return 2;
    struct sbx_jpeg jpeg;
    if (sbx_jpeg_encode(&screen->encoder, &image, (uint32_t)max_width, (int)quality, &jpeg) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", screen->path, screen->encoder.error);
        return 2;
    }
    /* The encoder owns the bytes, so a failing push leaks nothing. */
    lua_pushlstring(L, (const char *)jpeg.data, jpeg.size);
    lua_pushinteger(L, jpeg.width);
    lua_pushinteger(L, jpeg.height);
    return 3;
}

static int l_close(lua_State *L)
{
    struct screen *screen = luaL_checkudata(L, 1, SCREEN_METATABLE);
    if (screen->closed)
        return 0;
    screen->closed = 1;
    sbx_mapped_file_close(&screen->file);
    sbx_jpeg_encoder_free(&screen->encoder);
    free(screen->path);
    screen->path = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct screen *screen = luaL_checkudata(L, 1, SCREEN_METATABLE);
    lua_pushfstring(L, "sbx.fb(%s)", screen->closed ? "closed" : screen->path);
    return 1;
}

int luaopen_sbx_fb(lua_State *L);
int luaopen_sbx_fb(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"fingerprint", l_fingerprint},
        {"size", l_size},
        {"jpeg", l_jpeg},
        {"close", l_close},
        {NULL, NULL},
    };
    static const luaL_Reg functions[] = {
        {"open", l_open},
        {NULL, NULL},
    };
    sbx_lua_class(L, SCREEN_METATABLE, methods, l_close, l_tostring);
    luaL_newlib(L, functions);
    return 1;
}
