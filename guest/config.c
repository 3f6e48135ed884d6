/* /sbx/config: one operation per line, words separated by one space, each
 * word percent-encoded by the host (lua/sbx/vm/guest_config.lua):
 *
 *   hostname NAME            user UID GID          module PATH
 *   share TAG ro|rw CACHE    network none|user
 *   bind DEST TAG ro|rw must|try       tmpfs DEST MODE SIZE|-
 *   proc DEST    dev DEST    dir DEST MODE    symlink DEST TARGET
 *   file DEST INITRAMFS-PATH MODE ro|rw        readonly DEST */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define MAX_WORDS 8

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int percent_decode(char *text)
{
    char *out = text;
    for (char *in = text; *in; in++) {
        if (*in != '%') {
            *out++ = *in;
            continue;
        }
        int high = hex_value(in[1]), low = high < 0 ? -1 : hex_value(in[2]);
        if (low < 0 || (high == 0 && low == 0))
            return -1;
        *out++ = (char)(high * 16 + low);
        in += 2;
    }
    *out = '\0';
    return 0;
}

static void *grow(void *array, size_t *count, size_t size)
{
    void *bigger = realloc(array, (*count + 1) * size);
    if (!bigger) {
        agent_log("out of memory reading the config");
        abort();
    }
    memset((char *)bigger + *count * size, 0, size);
    (*count)++;
    return bigger;
}

static int parse_mode(const char *text, unsigned *mode)
{
    char *end;
    unsigned long value = strtoul(text, &end, 8);
    if (*text == '\0' || *end != '\0' || value > 07777)
        return -1;
    *mode = (unsigned)value;
    return 0;
}

static int parse_id(const char *text, unsigned *id)
{
    char *end;
    unsigned long value = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value >= 0xffffffffUL)
        return -1;
    *id = (unsigned)value;
    return 0;
}

static int flag(const char *text, const char *yes, const char *no, bool *value)
{
    if (strcmp(text, yes) == 0)
        *value = true;
    else if (strcmp(text, no) == 0)
        *value = false;
    else
        return -1;
    return 0;
}

/* One line, split into WORDS (decoded); -1 when it is not understood. */
static int parse_line(struct config *c, char **w, int n)
{
    const char *key = w[0];
    if (strcmp(key, "hostname") == 0 && n == 2) {
        c->hostname = strdup(w[1]);
        return 0;
    }
    if (strcmp(key, "user") == 0 && n == 3) {
        unsigned uid, gid;
        if (parse_id(w[1], &uid) < 0 || parse_id(w[2], &gid) < 0)
            return -1;
        c->uid = uid;
        c->gid = gid;
        return 0;
    }
    if (strcmp(key, "module") == 0 && n == 2) {
        c->modules = grow(c->modules, &c->module_count, sizeof *c->modules);
        c->modules[c->module_count - 1] = strdup(w[1]);
        return 0;
    }
    if (strcmp(key, "network") == 0 && n == 2)
        return flag(w[1], "user", "none", &c->network);
    if (strcmp(key, "share") == 0 && n == 4) {
        c->shares = grow(c->shares, &c->share_count, sizeof *c->shares);
        struct share *s = &c->shares[c->share_count - 1];
        s->tag = strdup(w[1]);
        s->cache = strdup(w[3]);
        return flag(w[2], "ro", "rw", &s->readonly);
    }
    c->ops = grow(c->ops, &c->op_count, sizeof *c->ops);
    struct op *op = &c->ops[c->op_count - 1];
    if (n < 2 || w[1][0] != '/')
        return -1;
    op->dest = strdup(w[1]);
    if (strcmp(key, "bind") == 0 && n == 5) {
        op->kind = OP_BIND;
        op->source = strdup(w[2]);
        return flag(w[3], "ro", "rw", &op->readonly) < 0 ? -1
                                                         : flag(w[4], "try", "must", &op->optional);
    }
    if (strcmp(key, "tmpfs") == 0 && n == 4) {
        op->kind = OP_TMPFS;
        op->size = strcmp(w[3], "-") == 0 ? NULL : strdup(w[3]);
        return parse_mode(w[2], &op->mode);
    }
    if (strcmp(key, "proc") == 0 && n == 2) {
        op->kind = OP_PROC;
        return 0;
    }
    if (strcmp(key, "dev") == 0 && n == 2) {
        op->kind = OP_DEV;
        return 0;
    }
    if (strcmp(key, "readonly") == 0 && n == 2) {
        op->kind = OP_READONLY;
        return 0;
    }
    if (strcmp(key, "dir") == 0 && n == 3) {
        op->kind = OP_DIR;
        return parse_mode(w[2], &op->mode);
    }
    if (strcmp(key, "symlink") == 0 && n == 3) {
        op->kind = OP_SYMLINK;
        op->source = strdup(w[2]);
        return 0;
    }
    if (strcmp(key, "file") == 0 && n == 5) {
        op->kind = OP_FILE;
        op->source = strdup(w[2]);
        return parse_mode(w[3], &op->mode) < 0 ? -1 : flag(w[4], "ro", "rw", &op->readonly);
    }
    return -1;
}

int config_load(const char *path, struct config *config, char *err, size_t err_len)
{
    *config = (struct config){.hostname = "sbx"};
    FILE *file = fopen(path, "re");
    if (!file) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    int number = 0, rc = 0;
    while (rc == 0 && getline(&line, &capacity, file) >= 0) {
        number++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0')
            continue;
        char *words[MAX_WORDS];
        int n = 0;
        for (char *word = strtok(line, " "); word; word = strtok(NULL, " ")) {
            if (n == MAX_WORDS || percent_decode(word) < 0) {
                n = -1;
                break;
            }
            words[n++] = word;
        }
        if (n <= 0 || parse_line(config, words, n) < 0) {
            snprintf(err, err_len, "%s line %d is not understood", path, number);
            rc = -1;
        }
    }
    free(line);
    fclose(file);
    return rc;
}
