/*
 * libpq's error messages, as PQERRORS_VERBOSE writes them:
 *
 *   ERROR:  42501: permission denied for table images
 *   DETAIL:  ...
 *   LOCATION:  aclcheck_error, aclchk.c:3650
 *
 * The severity word may be translated (lc_messages); the SQLSTATE after it
 * is not, and is what the store decides by.  apr_dbd_pgsql clears the
 * result that would carry it as a field, so the message is what is left.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "im_core.h"

/* The "ERROR:  " of a line (any language): the length up to the text. */
static apr_size_t severity_len(const char *line, apr_size_t n)
{
    const char *c = memchr(line, ':', n);

    return c && (apr_size_t)(c - line) + 3 <= n && c[1] == ' '
           && c[2] == ' ' ? (apr_size_t)(c - line) + 3 : 0;
}

static int is_sqlstate(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n < 7 || s[5] != ':' || s[6] != ' ') {
        return 0;
    }
    for (i = 0; i < 5; i++) {
        if (!apr_isdigit(s[i]) && !apr_isupper(s[i])) {
            return 0;
        }
    }
    return 1;
}

int im_pg_sqlstate(const char *msg, char state[6])
{
    apr_size_t n = msg ? strcspn(msg, "\r\n") : 0;
    apr_size_t sev = msg ? severity_len(msg, n) : 0;

    state[0] = '\0';
    if (!sev || !is_sqlstate(msg + sev, n - sev)) {
        return 0;
    }
    memcpy(state, msg + sev, 5);
    state[5] = '\0';
    return 1;
}

/* Lines worth an operator's time: the message, DETAIL and HINT (not the
 * LOCATION in PostgreSQL's source, nor the statement's text). */
static int kept_line(const char *line, apr_size_t n)
{
    return !(n >= 9 && strncmp(line, "LOCATION:", 9) == 0)
        && !(n >= 6 && strncmp(line, "QUERY:", 6) == 0)
        && !(n >= 8 && strncmp(line, "CONTEXT:", 8) == 0)
        && !(n >= 10 && strncmp(line, "STATEMENT:", 10) == 0);
}

const char *im_pg_message(apr_pool_t *p, const char *msg)
{
    const char *out = NULL, *start = msg;

    while (msg && *msg) {
        /* a CR ends a line too: a value quoted in the text (DETAIL:  Key
         * (name)=(...)) may hold one, and the log line must stay one */
        apr_size_t n = strcspn(msg, "\r\n"), skip = 0, sev;
        const char *line = msg;
        int first = line == start;

        msg += n + (msg[n] != '\0');
        while (n > 0 && apr_isspace(line[n - 1])) {
            n--;
        }
        while (n > 0 && apr_isspace(*line)) {
            line++;
            n--;
        }
        if (!n || !kept_line(line, n)) {
            continue;
        }
        /* the first line's "ERROR:  42501: " (said apart by the caller,
         * from that line only: not from a later line when the first is
         * blank or left out) */
        if (first && (sev = severity_len(line, n))
            && is_sqlstate(line + sev, n - sev)) {
            skip = sev + 7;
        }
        out = out ? apr_pstrcat(p, out, "; ",
                                apr_pstrmemdup(p, line, n), NULL)
                  : apr_pstrmemdup(p, line + skip, n - skip);
    }
    return out && *out ? out : "no error text";
}
