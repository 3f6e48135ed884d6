/* The framebuffer readers and the encoder: every XWD layout Xvfb can
 * write, PPM as QEMU writes it, change fingerprints, scaling, and hostile
 * input (every truncation, random bytes, absurd header fields). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fb.h"
#include "tap.h"

struct xwd_spec {
    int header_msb, pixel_msb;
    unsigned bits, depth, visual;
    uint32_t width, height, bytes_per_line;
    uint32_t masks[3];
    uint32_t ncolors;
};

static void put32(uint8_t *p, uint32_t v, int msb)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (msb ? 8 * (3 - i) : 8 * i));
}

static void put16(uint8_t *p, uint16_t v, int msb)
{
    p[0] = (uint8_t)(msb ? v >> 8 : v);
    p[1] = (uint8_t)(msb ? v : v >> 8);
}

/* An XWD file with a 160-byte header like Xvfb's; pixels set to zero. */
static uint8_t *make_xwd(const struct xwd_spec *s, size_t *size, size_t *pixels_at)
{
    const uint32_t header = 160;
    *pixels_at = header + s->ncolors * 12;
    *size = *pixels_at + (size_t)s->bytes_per_line * s->height;
    uint8_t *file = calloc(1, *size);
    uint32_t fields[25] = {header, 7, 2, s->depth, s->width, s->height, 0, (uint32_t)s->pixel_msb,
                           32, 0, 32, s->bits, s->bytes_per_line, s->visual,
                           s->masks[0], s->masks[1], s->masks[2], 8, s->ncolors, s->ncolors,
                           s->width, s->height, 0, 0, 0};
    for (int i = 0; i < 25; i++)
        put32(file + 4 * i, fields[i], s->header_msb);
    memcpy(file + 100, "test", 5);
    for (uint32_t i = 0; i < s->ncolors; i++) {
        uint8_t *entry = file + header + 12 * i;
        put32(entry, i, s->header_msb);
        put16(entry + 4, (uint16_t)(i * 257), s->header_msb);          /* red = index */
        put16(entry + 6, (uint16_t)((255 - i) * 257), s->header_msb);  /* green = 255 - index */
        put16(entry + 8, 0x8080, s->header_msb);                       /* blue = 128 */
    }
    return file;
}

static void put_pixel(uint8_t *file, size_t pixels_at, const struct xwd_spec *s, uint32_t x,
                      uint32_t y, uint32_t value)
{
    uint8_t *p = file + pixels_at + (size_t)y * s->bytes_per_line + x * (s->bits / 8);
    unsigned bytes = s->bits / 8;
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(value >> (s->pixel_msb ? 8 * (bytes - 1 - i) : 8 * i));
}

static int rgb_at(const struct sbx_image *image, uint32_t x, uint32_t y, int r, int g, int b)
{
    uint8_t *row = malloc((size_t)image->width * 3);
    sbx_image_row_rgb(image, y, row);
    int same = row[3 * x] == r && row[3 * x + 1] == g && row[3 * x + 2] == b;
    if (!same)
        printf("#   pixel (%u,%u) is %d,%d,%d, expected %d,%d,%d\n", x, y, row[3 * x],
               row[3 * x + 1], row[3 * x + 2], r, g, b);
    free(row);
    return same;
}

/* Decodes JPEG and tells whether pixel (x, y) is near r, g, b. */
static int jpeg_pixel_near(const struct sbx_jpeg *jpeg, uint32_t x, uint32_t y, int r, int g, int b)
{
    tjhandle tj = tjInitDecompress();
    uint8_t *rgb = malloc((size_t)jpeg->width * jpeg->height * 3);
    int ok = tjDecompress2(tj, jpeg->data, jpeg->size, rgb, (int)jpeg->width, 0,
                           (int)jpeg->height, TJPF_RGB, 0) == 0;
    uint8_t *p = rgb + ((size_t)y * jpeg->width + x) * 3;
    ok = ok && abs(p[0] - r) <= 6 && abs(p[1] - g) <= 6 && abs(p[2] - b) <= 6;
    if (!ok)
        printf("#   decoded (%u,%u) is %d,%d,%d, expected about %d,%d,%d\n", x, y, p[0], p[1],
               p[2], r, g, b);
    free(rgb);
    tjDestroy(tj);
    return ok;
}

static void test_xvfb_depth24(void)
{
    struct xwd_spec s = {1, 0, 32, 24, 4, 64, 48, 64 * 4 + 16, {0xff0000, 0xff00, 0xff}, 256};
    size_t size, at;
    uint8_t *file = make_xwd(&s, &size, &at);
    put_pixel(file, at, &s, 3, 2, 0x00c08040);
    struct sbx_image image;
    ok(sbx_xwd_parse(file, size, &image) == SBX_IMAGE_OK, "an Xvfb depth-24 XWD parses");
    ok(image.width == 64 && image.height == 48 && image.stride == 64 * 4 + 16,
       "width, height and padded bytes-per-line come from the header");
    ok(rgb_at(&image, 3, 2, 0xc0, 0x80, 0x40), "BGRX pixels read as RGB");

    uint64_t before = sbx_image_fingerprint(&image);
    file[at + 64 * 4 + 3] = 0x55; /* row padding: invisible */
    ok(sbx_image_fingerprint(&image) == before, "row padding does not change the fingerprint");
    put_pixel(file, at, &s, 63, 47, 0x00000001);
    ok(sbx_image_fingerprint(&image) != before, "one changed pixel changes the fingerprint");

    struct sbx_jpeg_encoder encoder;
    sbx_jpeg_encoder_init(&encoder);
    for (uint32_t y = 0; y < 48; y++)
        for (uint32_t x = 0; x < 64; x++)
            put_pixel(file, at, &s, x, y, x < 32 ? 0x00ff0000 : 0x000000ff);
    struct sbx_jpeg jpeg;
    ok(sbx_jpeg_encode(&encoder, &image, 0, 90, &jpeg) == 0 && jpeg.width == 64 &&
           jpeg.height == 48,
       "a full-size JPEG is encoded straight from the frame");
    ok(jpeg_pixel_near(&jpeg, 8, 8, 255, 0, 0) && jpeg_pixel_near(&jpeg, 56, 40, 0, 0, 255),
       "the JPEG shows the frame's colours");
    ok(sbx_jpeg_encode(&encoder, &image, 16, 90, &jpeg) == 0 && jpeg.width == 16 &&
           jpeg.height == 12,
       "a thumbnail keeps the aspect ratio");
    ok(jpeg_pixel_near(&jpeg, 2, 6, 255, 0, 0) && jpeg_pixel_near(&jpeg, 13, 6, 0, 0, 255),
       "the thumbnail shows the frame's colours");
    ok(sbx_jpeg_encode(&encoder, &image, 0, 0, &jpeg) < 0 && strstr(encoder.error, "quality"),
       "a quality out of range is an error");
    sbx_jpeg_encoder_free(&encoder);
    free(file);
}

static void test_other_layouts(void)
{
    struct sbx_image image;
    size_t size, at;
    struct sbx_jpeg_encoder encoder;
    struct sbx_jpeg jpeg;
    sbx_jpeg_encoder_init(&encoder);

    struct xwd_spec little = {0, 1, 32, 24, 4, 8, 4, 32, {0xff0000, 0xff00, 0xff}, 0};
    uint8_t *file = make_xwd(&little, &size, &at);
    put_pixel(file, at, &little, 1, 1, 0x00102030);
    ok(sbx_xwd_parse(file, size, &image) == SBX_IMAGE_OK && rgb_at(&image, 1, 1, 0x10, 0x20, 0x30),
       "a little-endian header with big-endian pixels parses");
    free(file);

    struct xwd_spec rgb565 = {1, 0, 16, 16, 4, 8, 4, 16, {0xf800, 0x07e0, 0x001f}, 0};
    file = make_xwd(&rgb565, &size, &at);
    put_pixel(file, at, &rgb565, 2, 3, 0xf800 | (0x3f << 5));
    ok(sbx_xwd_parse(file, size, &image) == SBX_IMAGE_OK && rgb_at(&image, 2, 3, 255, 255, 0),
       "depth 16 (5-6-5) scales each channel to 8 bits");
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++)
            put_pixel(file, at, &rgb565, x, y, 0x001f);
    ok(sbx_jpeg_encode(&encoder, &image, 0, 90, &jpeg) == 0 &&
           jpeg_pixel_near(&jpeg, 7, 0, 0, 0, 255),
       "depth 16 encodes through the RGB conversion");
    free(file);

    struct xwd_spec packed24 = {1, 0, 24, 24, 4, 5, 2, 16, {0xff0000, 0xff00, 0xff}, 0};
    file = make_xwd(&packed24, &size, &at);
    put_pixel(file, at, &packed24, 4, 1, 0xabcdef);
    ok(sbx_xwd_parse(file, size, &image) == SBX_IMAGE_OK && rgb_at(&image, 4, 1, 0xab, 0xcd, 0xef),
       "24 bits per pixel parses");
    free(file);

    struct xwd_spec indexed = {1, 0, 8, 8, 3, 16, 2, 16, {0, 0, 0}, 256};
    file = make_xwd(&indexed, &size, &at);
    put_pixel(file, at, &indexed, 5, 1, 200);
    ok(sbx_xwd_parse(file, size, &image) == SBX_IMAGE_OK && rgb_at(&image, 5, 1, 200, 55, 128),
       "8-bit PseudoColor goes through the colour map");
    free(file);

    const char header[] = "P6\n# QEMU screendump\n4 2\n255\n";
    uint8_t ppm[sizeof header - 1 + 24];
    memcpy(ppm, header, sizeof header - 1);
    for (int i = 0; i < 24; i++)
        ppm[sizeof header - 1 + i] = (uint8_t)(i * 10);
    ok(sbx_ppm_parse(ppm, sizeof ppm, &image) == SBX_IMAGE_OK && image.width == 4 &&
           image.height == 2 && rgb_at(&image, 1, 1, 150, 160, 170),
       "a P6 PPM with a comment parses");
    ok(sbx_jpeg_encode(&encoder, &image, 0, 90, &jpeg) == 0 && jpeg.width == 4,
       "a PPM encodes straight from its samples");

    const uint8_t wide[] = "P6 1 1 65535\n\xff\xff\x80\x00\x00\x00";
    ok(sbx_ppm_parse(wide, sizeof wide - 1, &image) == SBX_IMAGE_OK &&
           rgb_at(&image, 0, 0, 255, 128, 0),
       "a 16-bit PPM scales its samples");
    const uint8_t low[] = "P6 1 1 15\n\x0f\x00\x10";
    ok(sbx_ppm_parse(low, sizeof low - 1, &image) == SBX_IMAGE_OK &&
           rgb_at(&image, 0, 0, 255, 0, 255),
       "samples above a small maxval are clamped");
    sbx_jpeg_encoder_free(&encoder);
}

static void test_bad_headers(void)
{
    struct sbx_image image;
    size_t size, at;
    struct xwd_spec s = {1, 0, 32, 24, 4, 8, 4, 32, {0xff0000, 0xff00, 0xff}, 2};
    uint8_t *file = make_xwd(&s, &size, &at);
    uint8_t *copy = malloc(size);

    struct { int field; uint32_t value; enum sbx_image_status expected; const char *what; } cases[] = {
        {1, 6, SBX_IMAGE_BAD_HEADER, "a wrong version"},
        {0, 20, SBX_IMAGE_BAD_HEADER, "a header size below the fixed fields"},
        {0, 0xfffffff0u, SBX_IMAGE_TRUNCATED, "a header size past the end"},
        {2, 1, SBX_IMAGE_UNSUPPORTED, "XY pixmaps"},
        {4, 0, SBX_IMAGE_BAD_HEADER, "a zero width"},
        {5, 0x7fffffff, SBX_IMAGE_BAD_HEADER, "an absurd height"},
        {11, 12, SBX_IMAGE_UNSUPPORTED, "12 bits per pixel"},
        {12, 4, SBX_IMAGE_BAD_HEADER, "bytes per line shorter than a row"},
        {12, 0xffffffffu, SBX_IMAGE_BAD_HEADER, "bytes per line near 2^32"},
        {14, 0, SBX_IMAGE_BAD_HEADER, "an empty red mask"},
        {19, 0x7fffffff, SBX_IMAGE_BAD_HEADER, "a huge colour count"},
        {19, 60000, SBX_IMAGE_TRUNCATED, "a colour map past the end"},
        {13, 9, SBX_IMAGE_UNSUPPORTED, "an unknown visual class"},
        {7, 2, SBX_IMAGE_BAD_HEADER, "an unknown byte order"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(copy, file, size);
        put32(copy + 4 * cases[i].field, cases[i].value, 1);
        enum sbx_image_status got = sbx_xwd_parse(copy, size, &image);
        ok(got == cases[i].expected, "XWD with %s: %s (got %s)", cases[i].what,
           sbx_image_status_text(cases[i].expected), sbx_image_status_text(got));
    }

    int all_truncated = 1;
    for (size_t len = 0; len < size; len++)
        all_truncated &= sbx_xwd_parse(file, len, &image) != SBX_IMAGE_OK;
    ok(all_truncated, "every truncation of an XWD file is refused");

    const char *ppms[] = {"", "P", "P6", "P6 ", "P6 4", "P6 4 2", "P6 4 2 255", "P6 4 2 255\n",
                          "P3 4 2 255\n", "PX", "P6 -1 2 255\n", "P6 4 2 0\n", "P6 4 2 70000\n",
                          "P6 99999999999 1 255\n", "P6 4 2 255x", "P6 4 # no end"};
    int all_refused = 1;
    for (size_t i = 0; i < sizeof ppms / sizeof ppms[0]; i++)
        all_refused &= sbx_ppm_parse((const uint8_t *)ppms[i], strlen(ppms[i]), &image) !=
                       SBX_IMAGE_OK;
    ok(all_refused, "truncated and malformed PPM headers are refused");

    /* Random files and random mutations of a valid one: every answer is an
     * answer, and an accepted image lies inside the buffer (ASan checks). */
    srand(12345);
    int survived = 1;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, file, size);
        int flips = 1 + rand() % 8;
        for (int f = 0; f < flips; f++)
            copy[rand() % 128] = (uint8_t)rand();
        size_t len = (size_t)rand() % (size + 1);
        if (sbx_xwd_parse(copy, len, &image) == SBX_IMAGE_OK) {
            uint8_t *row = malloc((size_t)image.width * 3);
            for (uint32_t y = 0; y < image.height; y++)
                sbx_image_row_rgb(&image, y, row);
            sbx_image_fingerprint(&image);
            free(row);
            survived &= image.pixels + (size_t)(image.height - 1) * image.stride +
                             (size_t)image.width * image.bytes_per_pixel <= copy + len;
        }
        char text[64];
        int n = snprintf(text, sizeof text, "P6 %d %d %d%c", rand() % 9, rand() % 9,
                         rand() % 300, " \n#x"[rand() % 4]);
        size_t ppm_len = (size_t)n + (size_t)(rand() % 200);
        uint8_t *ppm = malloc(ppm_len);
        memcpy(ppm, text, (size_t)n);
        memset(ppm + n, 0x7f, ppm_len - (size_t)n);
        if (sbx_ppm_parse(ppm, ppm_len, &image) == SBX_IMAGE_OK) {
            uint8_t *row = malloc((size_t)image.width * 3);
            for (uint32_t y = 0; y < image.height; y++)
                sbx_image_row_rgb(&image, y, row);
            free(row);
        }
        free(ppm);
    }
    ok(survived, "20000 mutated and truncated files give errors, never a crash");
    free(copy);
    free(file);
}

static void test_mapped_file(void)
{
    char dir[] = "/tmp/sbx-test-fb-XXXXXX";
    ok(mkdtemp(dir) != NULL, "a scratch directory");
    char path[64], other[64];
    snprintf(path, sizeof path, "%s/screen", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    struct sbx_mapped_file file;
    sbx_mapped_file_init(&file);
    ok(sbx_mapped_file_refresh(&file, path) == -ENOENT, "a missing file is -ENOENT");

    FILE *f = fopen(path, "w");
    fputs("first", f);
    fclose(f);
    ok(sbx_mapped_file_refresh(&file, path) == 0 && file.size == 5 &&
           memcmp(file.data, "first", 5) == 0,
       "a file maps");
    const uint8_t *before = file.data;
    ok(sbx_mapped_file_refresh(&file, path) == 0 && file.data == before,
       "an unchanged file keeps its mapping");

    f = fopen(other, "w");
    fputs("second!", f);
    fclose(f);
    rename(other, path);
    ok(sbx_mapped_file_refresh(&file, path) == 0 && file.size == 7 &&
           memcmp(file.data, "second!", 7) == 0,
       "a replaced file is mapped anew");
    ok(sbx_mapped_file_refresh(&file, dir) == -EINVAL, "a directory is refused");
    sbx_mapped_file_close(&file);
    sbx_mapped_file_close(&file);
    ok(file.fd == -1, "closing twice is harmless");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_xvfb_depth24();
    test_other_layouts();
    test_bad_headers();
    test_mapped_file();
    return done_testing();
}
