/* Framebuffer capture: Xvfb's -fbdir XWD file and QEMU screendump PPM
 * files, read in place, fingerprinted, scaled and encoded as JPEG. */
#ifndef SBX_FB_H
#define SBX_FB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <turbojpeg.h>

enum sbx_image_status {
    SBX_IMAGE_OK = 0,
    SBX_IMAGE_TRUNCATED,   /* shorter than its header says */
    SBX_IMAGE_BAD_HEADER,  /* not an XWD / PPM file, or a nonsensical field */
    SBX_IMAGE_UNSUPPORTED, /* a valid file in a layout we do not read */
};

const char *sbx_image_status_text(enum sbx_image_status status);

enum sbx_pixel_layout {
    SBX_PIXELS_RGB8,    /* PPM: 3 samples of 1 byte */
    SBX_PIXELS_RGB16,   /* PPM with maxval > 255: 3 big-endian samples of 2 bytes */
    SBX_PIXELS_PACKED,  /* XWD TrueColor/DirectColor: channel masks */
    SBX_PIXELS_INDEXED, /* XWD 8-bit with a colour map */
};

/* A view of pixels owned by someone else (a mapping, a buffer). */
struct sbx_image {
    uint32_t width, height;
    size_t stride; /* bytes from one row to the next */
    const uint8_t *pixels;
    enum sbx_pixel_layout layout;
    unsigned bytes_per_pixel;
    int msb_first;           /* PACKED: byte order of a pixel */
    uint32_t masks[3];       /* PACKED: red, green, blue */
    unsigned maxval;         /* PPM */
    uint8_t palette[256][3]; /* INDEXED */
};

/* Parse a whole file held in memory. The image points into DATA. */
enum sbx_image_status sbx_xwd_parse(const uint8_t *data, size_t size, struct sbx_image *image);
enum sbx_image_status sbx_ppm_parse(const uint8_t *data, size_t size, struct sbx_image *image);

/* Writes row Y as width x RGB bytes. */
void sbx_image_row_rgb(const struct sbx_image *image, uint32_t y, uint8_t *rgb);

/* A 64-bit fingerprint of the visible pixels (row padding excluded): equal
 * fingerprints mean an unchanged frame. */
uint64_t sbx_image_fingerprint(const struct sbx_image *image);

/* A file mapped read-only, mapped again when it is replaced or resized. */
struct sbx_mapped_file {
    int fd;
    const uint8_t *data;
    size_t size;
    dev_t dev;
    ino_t ino;
};

void sbx_mapped_file_init(struct sbx_mapped_file *file);
/* Maps PATH, or keeps the current mapping when PATH is still the same
 * file of the same size. 0 or -errno. */
int sbx_mapped_file_refresh(struct sbx_mapped_file *file, const char *path);
void sbx_mapped_file_close(struct sbx_mapped_file *file);

/* Reusable encoding state: buffers grow to the largest frame seen. */
struct sbx_jpeg_encoder {
    tjhandle tj;
    uint8_t *rgb;
    size_t rgb_capacity;
    uint32_t *sums;
    size_t sums_capacity;
    uint8_t *row;
    size_t row_capacity;
    unsigned char *out;
    unsigned long out_capacity;
    char error[160];
};

void sbx_jpeg_encoder_init(struct sbx_jpeg_encoder *encoder);
void sbx_jpeg_encoder_free(struct sbx_jpeg_encoder *encoder);

struct sbx_jpeg {
    const uint8_t *data; /* owned by the encoder, valid until its next use */
    size_t size;
    uint32_t width, height;
};

/* Encodes IMAGE, box-filtered down to MAX_WIDTH when it is wider (0: full
 * size). 0, or -1 with encoder->error set. */
int sbx_jpeg_encode(struct sbx_jpeg_encoder *encoder, const struct sbx_image *image,
                    uint32_t max_width, int quality, struct sbx_jpeg *jpeg);

#endif
