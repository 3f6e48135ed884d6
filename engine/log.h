/* Logging shared by the C engine and Lua (as the module "sbx.log"). */
#ifndef SBX_LOG_H
#define SBX_LOG_H

enum sbx_log_level {
    SBX_LOG_DEBUG,
    SBX_LOG_INFO,
    SBX_LOG_WARN,
    SBX_LOG_ERROR,
    SBX_LOG_OFF,
};

/* Reads SBX_LOG_LEVEL and SBX_LOG_FILE; stderr and "warn" by default. */
void sbx_log_init_from_env(void);

/* Returns the level, or -1 for an unknown name. */
int sbx_log_level_from_name(const char *name);

void sbx_log_set_level(enum sbx_log_level level);

/* Appends to PATH from now on; NULL goes back to stderr. 0 or -errno. */
int sbx_log_set_file(const char *path);

void sbx_log(enum sbx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
