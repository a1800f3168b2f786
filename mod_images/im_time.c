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
    apr_uint64_t v = 0, limit;
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
    /* every bigint: the magnitude of APR_INT64_MIN is APR_INT64_MAX + 1 */
    limit = (apr_uint64_t)APR_INT64_MAX + (apr_uint64_t)neg;
    for (; *s; s++) {
        unsigned int d;
        if (*s < '0' || *s > '9') {
            return 0;
        }
        d = (unsigned int)(*s - '0');
        if (v > (limit - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = neg && v ? -(apr_int64_t)(v - 1) - 1 : (apr_int64_t)v;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static apr_int64_t days_from_civil(apr_int64_t y, int m, int d)
{
    apr_int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *s (advanced), or -1. */
static int digits(const char **s, int n)
{
    int v = 0;

    while (n-- > 0) {
        if (**s < '0' || **s > '9') {
            return -1;
        }
        v = v * 10 + (*(*s)++ - '0');
    }
    return v;
}

int im_time_parse(const char *s, apr_int64_t *out)
{
    return im_time_read(s, out) == 1;
}

int im_time_read(const char *s, apr_int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31};
    int y, mo, d, h, mi, sec = 0, us = 0, off = 0, n;
    int leap;

    if (!s) {
        return 0;
    }
    if ((y = digits(&s, 4)) < 1 || *s++ != '-' || (mo = digits(&s, 2)) < 1
        || mo > 12 || *s++ != '-' || (d = digits(&s, 2)) < 1
        || (*s != 'T' && *s != 't' && *s != ' ')) {
        return 0;
    }
    s++;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
        return 0;
    }
    if ((h = digits(&s, 2)) < 0 || h > 23 || *s++ != ':'
        || (mi = digits(&s, 2)) < 0 || mi > 59) {
        return 0;
    }
    if (*s == ':') {
        s++;
        if ((sec = digits(&s, 2)) < 0 || sec > 59) {
            return 0;
        }
        if (*s == '.' || *s == ',') {
            /* up to six digits count; more (to twelve) are cut, not
             * rounded, as Django's parse_datetime does */
            s++;
            for (n = 0; *s >= '0' && *s <= '9'; s++, n++) {
                if (n < 6) {
                    us = us * 10 + (*s - '0');
                }
            }
            if (n == 0 || n > 12) {
                return 0;
            }
            for (; n < 6; n++) {
                us *= 10;
            }
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    }
    else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
        if ((oh = digits(&s, 2)) < 0 || oh > 23) {
            return 0;
        }
        if (*s == ':') {
            s++;
            if (!*s) {
                return 0;             /* "+05:" with no minutes */
            }
        }
        if (*s) {
            if ((om = digits(&s, 2)) < 0 || om > 59) {
                return 0;
            }
        }
        off = sign * (oh * 60 + om);
    }
    else {
        return 0;                    /* the contract wants an offset or Z */
    }
    if (*s) {
        return 0;
    }
    *out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec)
            - (apr_int64_t)off * 60) * 1000000 + us;
    /* an offset must not carry the instant out of years 1 to 9999 */
    return *out >= days_from_civil(1, 1, 1) * 86400 * APR_INT64_C(1000000)
           && *out < days_from_civil(10000, 1, 1) * 86400
                     * APR_INT64_C(1000000) ? 1 : -1;
}
