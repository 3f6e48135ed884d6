/* A minimal TAP producer for the C unit tests. */
#ifndef SBX_TAP_H
#define SBX_TAP_H

#include <stdio.h>

static int tap_count, tap_failed;

#define ok(condition, ...)                                                   \
    do {                                                                     \
        int tap_pass_ = (condition);                                         \
        printf("%sok %d - ", tap_pass_ ? "" : "not ", ++tap_count);          \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!tap_pass_) {                                                    \
            tap_failed++;                                                    \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
        }                                                                    \
    } while (0)

static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
