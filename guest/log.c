/* The agent's messages go to the kernel log, which the VM's serial port
 * carries to a file the host keeps (and shows when a VM fails to start). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "agent.h"

void agent_log(const char *fmt, ...)
{
    char line[1024];
    int prefix = snprintf(line, sizeof line, "<3>sbx-guest: ");
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, fmt, args);
    va_end(args);
    if (len < 0)
        return;
    len += prefix;
    if (len > (int)sizeof line - 2)
        len = (int)sizeof line - 2;
    line[len++] = '\n';
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fd = open("/sbx/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t ignored = write(fd, line, (size_t)len);
        (void)ignored;
        close(fd);
    }
}
