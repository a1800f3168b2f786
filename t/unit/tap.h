/* A few lines of TAP for the C unit tests; prove reads the output. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {                                               \
    int ok_ = (cond) ? 1 : 0;                                           \
    printf("%sok %d - ", ok_ ? "" : "not ", ++tap_n);                    \
    printf(__VA_ARGS__);                                                 \
    printf("\n");                                                        \
    if (!ok_) {                                                          \
        tap_failed++;                                                    \
        printf("#   failed at %s line %d\n", __FILE__, __LINE__);        \
    }                                                                    \
} while (0)

#define is_str(got, want, name) do {                                     \
    const char *g_ = (got), *w_ = (want);                                \
    ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, "%s", name);           \
    if (!(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_))                    \
        printf("#   got: '%s'\n#   expected: '%s'\n",                    \
               g_ ? g_ : "(null)", w_ ? w_ : "(null)");                  \
} while (0)

#define done_testing() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
