/*
 * libFuzzer target: timestamps (im_time_parse / im_time_format round trip,
 * im_parse_int64) and the other header values read as text: If-Match /
 * If-None-Match (im_etag_match) and Authorization (im_token_parse).
 */
#include <errno.h>

#include <apr_strings.h>

#include "fuzz_common.h"

/* first and last instant the parser accepts: years 1 to 9999 */
#define FIRST_MICROS APR_INT64_C(-62135596800000000)
#define END_MICROS   APR_INT64_C(253402300800000000)

static void check_time(apr_pool_t *p, const char *s)
{
    apr_int64_t t = 0, t2 = 0;
    const char *text;

    if (!im_time_parse(s, &t)) {
        return;
    }
    CHECK(t >= FIRST_MICROS && t < END_MICROS);
    text = im_time_format(p, t);
    CHECK(strlen(text) == 27 && text[10] == 'T' && text[26] == 'Z');
    CHECK(im_time_parse(text, &t2));
    CHECK(t2 == t);
    CHECK(strcmp(im_time_format(p, t2), text) == 0);
}

static int signed_digits(const char *s)
{
    s += *s == '-';
    return *s && strspn(s, "0123456789") == strlen(s);
}

static void check_int64(apr_pool_t *p, const char *s)
{
    apr_int64_t v = 0, w = 0;
    int ok = im_parse_int64(s, &v);

    if (ok) {
        const char *text = apr_psprintf(p, "%" APR_INT64_T_FMT, v);
        CHECK(signed_digits(s));
        CHECK(im_parse_int64(text, &w) && w == v);
    }
    /* PostgreSQL sends any bigint, INT64_MIN to INT64_MAX, as plain
     * decimal: every such text must parse, to the same value as strtoll */
    if (signed_digits(s)) {
        long long ref;
        errno = 0;
        ref = strtoll(s, NULL, 10);
        if (errno != ERANGE) {
            CHECK(ok);
            CHECK(v == ref);
        }
        else {
            CHECK(!ok);
        }
    }
    if (ok && v >= FIRST_MICROS && v < END_MICROS) {
        /* epoch microseconds in range format to a timestamp that parses
         * back to them */
        const char *text = im_time_format(p, v);
        CHECK(im_time_parse(text, &w) && w == v);
    }
}

static void check_etag(apr_pool_t *p, const char *s, apr_size_t len)
{
    const char *etag = im_etag(p, s, len);
    const char *weak = apr_pstrcat(p, "W/", etag, NULL);
    const char *tags[2];
    int i;

    tags[0] = etag;
    tags[1] = "\"f268aebc\"";
    CHECK(im_etag_match(etag, etag, 1));
    CHECK(im_etag_match(weak, etag, 0) && !im_etag_match(weak, etag, 1));
    for (i = 0; i < 2; i++) {
        int strong = im_etag_match(s, tags[i], 1);
        int any = im_etag_match(s, tags[i], 0);
        /* strong comparison is the stricter one */
        CHECK(!strong || any);
        /* a list that names the tag still names it with more after it */
        if (any) {
            CHECK(im_etag_match(apr_pstrcat(p, s, ", \"x\"", NULL),
                                tags[i], 0));
        }
        /* and one element more in front changes nothing */
        CHECK(im_etag_match(apr_pstrcat(p, "\"x\", ", s, NULL), tags[i], 0)
              == any);
    }
}

static void check_token(apr_pool_t *p, const char *s)
{
    const char *key = (const char *)1, *why = (const char *)1, *c;

    switch (im_token_parse(p, s, &key, &why)) {
    case IM_TOKEN_NONE:
        CHECK(key == NULL && why == NULL);
        break;
    case IM_TOKEN_OK:
        CHECK(key != NULL && why == NULL && *key);
        for (c = key; *c; c++) {
            CHECK((unsigned char)*c >= 0x21 && (unsigned char)*c <= 0x7e);
        }
        CHECK(strstr(s, key) != NULL);
        break;
    case IM_TOKEN_MALFORMED:
        CHECK(key == NULL && why != NULL && im_utf8_valid(why));
        break;
    default:
        CHECK(!"unknown token status");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_begin();
    char *s = fz_cstr(data, size);

    check_time(p, s);
    check_int64(p, s);
    check_etag(p, s, size);
    check_token(p, s);

    free(s);
    fz_end(p);
    return 0;
}
