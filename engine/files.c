#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int sbx_write_control_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t wrote = write(fd, text, len);
    int rc = wrote == (ssize_t)len ? 0 : wrote < 0 ? -errno : -EIO;
    close(fd);
    return rc;
}
