/* An escape attempt for the integration tests: push a keystroke into the
 * controlling terminal (TIOCSTI) and use the console ioctl TIOCLINUX, each
 * also with high bits set in the request (the kernel ignores them, a naive
 * seccomp filter comparing the full 64-bit value would not). Prints one
 * line per attempt, "NAME ok" or "NAME <errno name>", and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errno_name(int err)
{
    switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOTTY: return "ENOTTY";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENOSYS: return "ENOSYS";
    default: return strerror(err);
    }
}

static void attempt(const char *name, int fd, unsigned long request, void *arg)
{
    long rc = syscall(SYS_ioctl, fd, request, arg);
    printf("%s %s\n", name, rc == 0 ? "ok" : errno_name(errno));
}

int main(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0) {
        printf("no-tty %s\n", errno_name(errno));
        return 0;
    }
    const unsigned long high = 1UL << 32;
    char key = '#';
    /* TIOCLINUX's first argument byte is a subcode; 7 reads the mouse
     * reporting mode and changes nothing. */
    char subcode = 7;
    attempt("TIOCSTI", fd, TIOCSTI, &key);
    attempt("TIOCSTI-high", fd, TIOCSTI | high, &key);
    attempt("TIOCLINUX", fd, TIOCLINUX, &subcode);
    attempt("TIOCLINUX-high", fd, TIOCLINUX | high, &subcode);
    return 0;
}
