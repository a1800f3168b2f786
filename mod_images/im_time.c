/*
 * Timestamps as the contract writes them: UTC, six fractional digits, "Z".
 * The store reads them as epoch microseconds, so formatting is exact and
 * needs neither the C library's time zone state nor PostgreSQL's to_char.
 */
#include <apr_strings.h>

#include "im_core.h"

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * algorithm), valid far beyond PostgreSQL's timestamp range. */
static void civil_from_days(apr_int64_t z, apr_int64_t *y, int *m, int *d)
{
    apr_int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

const char *im_time_format(apr_pool_t *p, apr_int64_t micros)
{
    apr_int64_t secs = micros / 1000000, frac = micros % 1000000;
    apr_int64_t days, sod, y;
    int m, d;

    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    days = secs / 86400;
    sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    civil_from_days(days, &y, &m, &d);
    return apr_psprintf(p, "%04" APR_INT64_T_FMT "-%02d-%02dT%02d:%02d:%02d"
                        ".%06dZ", y, m, d, (int)(sod / 3600),
                        (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
}

int im_parse_int64(const char *s, apr_int64_t *out)
{
    apr_int64_t v = 0;
    int neg = 0;

    if (!s) {
        return 0;
    }
    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (APR_INT64_MAX - 9) / 10) {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return 1;
}
