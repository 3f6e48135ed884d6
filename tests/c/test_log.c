/* The logging module: levels filter, files get timestamps, one line each. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char *read_file(const char *path)
{
    static char buffer[4096];
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    size_t got = fread(buffer, 1, sizeof buffer - 1, file);
    buffer[got] = '\0';
    fclose(file);
    return buffer;
}

int main(void)
{
    char path[] = "/tmp/sbx-test-log-XXXXXX";
    int fd = mkstemp(path);
    close(fd);

    ok(sbx_log_level_from_name("info") == SBX_LOG_INFO, "level names parse");
    ok(sbx_log_level_from_name("loud") == -1, "an unknown level name is refused");
    ok(sbx_log_set_file("/nonexistent-dir/x.log") < 0, "an unopenable log file is an error");

    ok(sbx_log_set_file(path) == 0, "a log file opens");
    sbx_log_set_level(SBX_LOG_WARN);
    sbx_log(SBX_LOG_INFO, "hidden %d", 1);
    sbx_log(SBX_LOG_ERROR, "shown %d", 2);
    char *text = read_file(path);
    ok(text && !strstr(text, "hidden"), "messages below the level are dropped");
    ok(text && strstr(text, "error: shown 2\n"), "messages at the level are written, formatted");
    ok(text && text[4] == '-' && strstr(text, "Z sbx["), "file lines carry a UTC timestamp");

    char long_message[20000];
    memset(long_message, 'x', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    sbx_log(SBX_LOG_ERROR, "%s", long_message);
    text = read_file(path);
    ok(text != NULL, "an over-long message does not crash");
    sbx_log_set_file(NULL);
    unlink(path);
    return done_testing();
}
