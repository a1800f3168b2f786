/*
 * libFuzzer target: libpq's verbose error messages (im_pgerr.c), the
 * SQLSTATE read out of them and the one log line made of them.
 */
#include <apr_strings.h>

#include "fuzz_common.h"

/* The SQLSTATE: none, or five of [0-9A-Z] that stand in the first line
 * before ": ". */
static void check_sqlstate(apr_pool_t *p, const char *s, char state[6])
{
    char again[6];
    const char *at;
    int found = im_pg_sqlstate(s, state), i;

    CHECK(found == 0 || found == 1);
    CHECK(im_pg_sqlstate(s, again) == found && strcmp(again, state) == 0);
    if (!found) {
        CHECK(state[0] == '\0');
        return;
    }
    CHECK(strlen(state) == 5);
    for (i = 0; i < 5; i++) {
        CHECK((state[i] >= '0' && state[i] <= '9')
              || (state[i] >= 'A' && state[i] <= 'Z'));
    }
    at = strstr(s, apr_pstrcat(p, state, ": ", NULL));
    CHECK(at != NULL && strcspn(s, "\r\n") > (size_t)(at - s));
}

/* The log line: never empty, never more than one line, made of the
 * input's characters and "; " between its lines (ended by LF or CR),
 * the same every time. */
static const char *check_message(apr_pool_t *p, const char *s,
                                 size_t size)
{
    const char *m = im_pg_message(p, s), *c;
    size_t lines = 1;

    CHECK(m != NULL && *m);
    CHECK(!strchr(m, '\n') && !strchr(m, '\r'));
    CHECK(strcmp(im_pg_message(p, s), m) == 0);
    for (c = s; *c; c++) {
        lines += *c == '\n' || *c == '\r';
    }
    CHECK(strcmp(m, "no error text") == 0 || strlen(m) <= size + 2 * lines);
    return m;
}

/* What the message leaves out of its first line ("ERROR:  42501: ") the
 * caller must have as the SQLSTATE.  With a line of text in front nothing
 * is left out: the message is that line, "; " and the rest, which is the
 * message alone or what it left out followed by it. */
static void check_dropped(apr_pool_t *p, const char *s, const char *state,
                          const char *m)
{
    const char *all = im_pg_message(p, apr_pstrcat(p, "x\n", s, NULL));
    const char *rest, *tail;
    size_t left;

    if (strcmp(all, "x") == 0) {
        CHECK(strcmp(m, "no error text") == 0);
        return;
    }
    CHECK(strncmp(all, "x; ", 3) == 0);
    rest = all + 3;
    if (strcmp(rest, m) == 0) {
        return;
    }
    CHECK(*state);
    tail = apr_pstrcat(p, state, ": ", m, NULL);
    CHECK(strlen(rest) >= strlen(tail));
    left = strlen(rest) - strlen(tail);
    CHECK(strcmp(rest + left, tail) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_begin();
    char *s = fz_cstr(data, size);
    char state[6];
    const char *m;

    check_sqlstate(p, s, state);
    m = check_message(p, s, strlen(s));
    check_dropped(p, s, state, m);

    free(s);
    fz_end(p);
    return 0;
}
