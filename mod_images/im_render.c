/*
 * Rendering: the image representation of docs/api.md, written
 * straight into a buffer (a page of images is the hot path: no JSON object
 * tree, no parsing of the store's tags and versions into one), error
 * bodies through jansson, and the ETag of what was written.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "im_core.h"

/* ---- the buffer ---------------------------------------------------- */

void im_buf_init(im_buf_t *b, apr_pool_t *p, apr_size_t cap)
{
    b->pool = p;
    b->cap = cap ? cap : 256;
    b->len = 0;
    b->bad_dates = 0;
    b->data = apr_palloc(p, b->cap);
}

/* Room for n more bytes and a terminating NUL. */
static char *room(im_buf_t *b, apr_size_t n)
{
    if (b->cap - b->len < n + 1) {
        apr_size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2
                                                     : b->len + n + 1;
        char *grown = apr_palloc(b->pool, cap);
        memcpy(grown, b->data, b->len);
        b->data = grown;
        b->cap = cap;
    }
    return b->data + b->len;
}

void im_buf_add(im_buf_t *b, const char *s, apr_size_t n)
{
    memcpy(room(b, n), s, n);
    b->len += n;
}

void im_buf_int64(im_buf_t *b, apr_int64_t v)
{
    char digits[24], *d = digits + sizeof(digits);
    apr_uint64_t u = v < 0 ? 0 - (apr_uint64_t)v : (apr_uint64_t)v;

    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--d = '-';
    }
    im_buf_add(b, d, (apr_size_t)(digits + sizeof(digits) - d));
}

/* Length of the valid UTF-8 sequence at s (of n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing past U+10FFFF. */
static apr_size_t utf8_seq(const unsigned char *s, apr_size_t n)
{
    apr_size_t len, i;
    apr_uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2, cp = s[0] & 0x1F;
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3, cp = s[0] & 0x0F;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4, cp = s[0] & 0x07;
    }
    else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return len;
}

/* Whether the n bytes at s are valid UTF-8. */
static int utf8_valid(const char *str, apr_size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    apr_size_t len;

    while (s < end) {
        if (!(len = utf8_seq(s, (apr_size_t)(end - s)))) {
            return 0;
        }
        s += len;
    }
    return 1;
}

/* Whether s (n bytes left) starts U+2028 or U+2029, which JSON allows raw
 * but JavaScript did not (before ES2019) and DRF escapes. */
#define IS_LS_PS(s, n) ((n) >= 3 && (s)[0] == 0xE2 && (s)[1] == 0x80 \
                        && ((s)[2] == 0xA8 || (s)[2] == 0xA9))

/* A JSON string with the escapes jansson writes (so that every string of a
 * response looks the same, whichever path wrote it), and U+2028, U+2029 as
 * \u2028, \u2029. */
static int add_string(im_buf_t *b, const char *str, apr_size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    const unsigned char *run = s;

    im_buf_add(b, "\"", 1);
    while (s < end) {
        const char *esc = NULL;
        char u[6];
        apr_size_t len;

        if (*s >= 0x20 && *s != '"' && *s != '\\') {
            if (*s >= 0x80) {
                if (!(len = utf8_seq(s, (apr_size_t)(end - s)))) {
                    return -1;
                }
                if (IS_LS_PS(s, len)) {
                    im_buf_add(b, (const char *)run, (apr_size_t)(s - run));
                    im_buf_add(b, s[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                    run = s + len;
                }
                s += len;
            }
            else {
                s++;
            }
            continue;
        }
        im_buf_add(b, (const char *)run, (apr_size_t)(s - run));
        switch (*s) {
        case '"':  esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc) {
            im_buf_add(b, esc, 2);
        }
        else {
            memcpy(u, "\\u00", 4);
            u[4] = hex[*s >> 4];
            u[5] = hex[*s & 15];
            im_buf_add(b, u, 6);
        }
        run = ++s;
    }
    im_buf_add(b, (const char *)run, (apr_size_t)(s - run));
    im_buf_add(b, "\"", 1);
    return 0;
}

int im_buf_string(im_buf_t *b, const char *s)
{
    if (!s) {
        im_buf_lit(b, "null");
        return 0;
    }
    return add_string(b, s, strlen(s));
}

/* ---- the store's JSON arrays ------------------------------------------ */

/* A cursor over the store's [[id, "name", third], ...] text. */
typedef struct {
    const char *s, *end;
} scan_t;

static void blank(scan_t *c)
{
    while (c->s < c->end
           && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n'
               || *c->s == '\r')) {
        c->s++;
    }
}

static int expect(scan_t *c, char ch)
{
    blank(c);
    if (c->s < c->end && *c->s == ch) {
        c->s++;
        return 1;
    }
    return 0;
}

static int scan_int(scan_t *c, apr_int64_t *v)
{
    apr_uint64_t u = 0;
    int neg = 0, digits = 0;

    blank(c);
    if (c->s < c->end && *c->s == '-') {
        neg = 1;
        c->s++;
    }
    /* JSON forbids leading zeros: "0" alone, or 1-9 first */
    if (c->s < c->end && *c->s == '0' && c->s + 1 < c->end
        && c->s[1] >= '0' && c->s[1] <= '9') {
        return 0;
    }
    while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
        unsigned d = (unsigned)(*c->s++ - '0');
        if (u > (APR_UINT64_C(9223372036854775808) - d) / 10) {
            return 0;
        }
        u = u * 10 + d;
        digits++;
    }
    if (!digits || (!neg && u > APR_INT64_MAX)) {
        return 0;
    }
    *v = neg ? (apr_int64_t)(0 - u) : (apr_int64_t)u;
    return 1;
}

static int hex4(const char *s, apr_uint32_t *v)
{
    int i;

    *v = 0;
    for (i = 0; i < 4; i++) {
        char ch = s[i];
        *v <<= 4;
        if (ch >= '0' && ch <= '9') *v |= (apr_uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') *v |= (apr_uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') *v |= (apr_uint32_t)(ch - 'A' + 10);
        else return 0;
    }
    return 1;
}

/* A JSON string, decoded into the pool: NULL if malformed, or if it holds
 * what a JSON string of the API cannot (NUL, a lone surrogate). */
static const char *scan_string(scan_t *c, apr_pool_t *p, apr_size_t *n)
{
    const char *start;
    char *out, *o;

    blank(c);
    if (c->s >= c->end || *c->s != '"') {
        return NULL;
    }
    start = ++c->s;
    while (c->s < c->end && *c->s != '"') {
        if ((unsigned char)*c->s < 0x20) {
            return NULL;
        }
        c->s += *c->s == '\\' && c->s + 1 < c->end ? 2 : 1;
    }
    if (c->s >= c->end) {
        return NULL;
    }
    /* decoded is never longer than escaped */
    o = out = apr_palloc(p, (apr_size_t)(c->s - start) + 1);
    for (; start < c->s; start++) {
        apr_uint32_t cp, lo;

        if (*start != '\\') {
            *o++ = *start;
            continue;
        }
        switch (*++start) {
        case '"': case '\\': case '/': *o++ = *start; continue;
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: return NULL;
        }
        if (c->s - start < 5 || !hex4(start + 1, &cp) || cp == 0) {
            return NULL;
        }
        start += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return NULL;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (c->s - start < 7 || start[1] != '\\' || start[2] != 'u'
                || !hex4(start + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                return NULL;
            }
            start += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        }
        else if (cp < 0x800) {
            *o++ = (char)(0xC0 | (cp >> 6));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
        else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | (cp >> 12));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
        else {
            *o++ = (char)(0xF0 | (cp >> 18));
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    c->s++;
    *o = '\0';
    *n = (apr_size_t)(o - out);
    return out;
}

static int scan_null(scan_t *c)
{
    blank(c);
    if (c->end - c->s >= 4 && memcmp(c->s, "null", 4) == 0) {
        c->s += 4;
        return 1;
    }
    return 0;
}

/* Microseconds since the epoch as the contract writes a date, or NULL
 * (counted) outside years 1 to 9999, which the schema refuses but an
 * older database may hold. */
#define IM_MICROS_MIN APR_INT64_C(-62135596800000000)   /* 0001-01-01 */
#define IM_MICROS_MAX APR_INT64_C(253402300799999999)   /* 9999-12-31 */
static const char *format_time(im_buf_t *b, apr_int64_t micros)
{
    if (micros < IM_MICROS_MIN || micros > IM_MICROS_MAX) {
        b->bad_dates++;
        return NULL;
    }
    return im_time_format(b->pool, micros);
}

/* One tag or version of the store's, decoded. */
typedef struct {
    apr_int64_t id;
    apr_int64_t when;         /* a version's start (epoch microseconds) */
    const char *name, *third;
    apr_size_t name_len, third_len;
} triple_t;

/* Tags by name (bytes, as PostgreSQL's "C" collation orders them), then id;
 * versions by start, then id: docs/api.md's order.  The store sends them
 * unordered: sorting a few here costs less than a sort per image there. */
static int tag_order(const void *x, const void *y)
{
    const triple_t *a = x, *b = y;
    int d = memcmp(a->name, b->name,
                   a->name_len < b->name_len ? a->name_len : b->name_len);

    if (d) {
        return d;
    }
    if (a->name_len != b->name_len) {
        return a->name_len < b->name_len ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

static int version_order(const void *x, const void *y)
{
    const triple_t *a = x, *b = y;

    if (a->when != b->when) {
        return a->when < b->when ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The store's tags [[id, name, description], ...] or, given now, versions
 * [[id, name, start, end or null], ...] (NULL: none), in any order, as a
 * sorted list of objects with keys id, name and third_key: a tag's
 * description as it is, a version's start_date from epoch microseconds; a
 * version whose end is not after now has ended and is left out. */
static int render_triples(im_buf_t *b, const char *text,
                          const char *third_key, const apr_int64_t *now)
{
    scan_t c;
    apr_array_header_t *all;
    int i;

    if (!text) {
        im_buf_lit(b, "[]");
        return 0;
    }
    c.s = text;
    c.end = text + strlen(text);
    if (!expect(&c, '[')) {
        return -1;
    }
    all = apr_array_make(b->pool, 8, sizeof(triple_t));
    if (!expect(&c, ']')) {
        do {
            triple_t t;
            apr_int64_t ends;
            int ended = 0;

            t.when = 0;                   /* a tag's: not read */

            if (!expect(&c, '[') || !scan_int(&c, &t.id) || !expect(&c, ',')
                || !(t.name = scan_string(&c, b->pool, &t.name_len))
                || !expect(&c, ',')) {
                return -1;
            }
            if (now) {
                if (!scan_int(&c, &t.when) || !expect(&c, ',')) {
                    return -1;
                }
                if (!scan_null(&c)) {
                    if (!scan_int(&c, &ends)) {
                        return -1;
                    }
                    ended = ends <= *now;
                }
                t.third = NULL;
                t.third_len = 0;
            }
            else if (!(t.third = scan_string(&c, b->pool, &t.third_len))) {
                return -1;
            }
            if (!expect(&c, ']')) {
                return -1;
            }
            if (ended) {
                /* left out, but still only if well-formed */
                if (!utf8_valid(t.name, t.name_len)) {
                    return -1;
                }
                continue;                 /* to the while: a ',' or the end */
            }
            *(triple_t *)apr_array_push(all) = t;
        } while (expect(&c, ','));
        if (!expect(&c, ']')) {
            return -1;
        }
    }
    blank(&c);
    if (c.s != c.end) {
        return -1;
    }
    qsort(all->elts, (size_t)all->nelts, sizeof(triple_t),
          now ? version_order : tag_order);
    im_buf_lit(b, "[");
    for (i = 0; i < all->nelts; i++) {
        triple_t *t = &APR_ARRAY_IDX(all, i, triple_t);

        if (now) {
            t->third = format_time(b, t->when);
            t->third_len = t->third ? strlen(t->third) : 0;
        }
        if (i) {
            im_buf_lit(b, ",");
        }
        im_buf_lit(b, "{\"id\":");
        im_buf_int64(b, t->id);
        im_buf_lit(b, ",\"name\":");
        if (add_string(b, t->name, t->name_len)) {
            return -1;
        }
        im_buf_lit(b, ",\"");
        im_buf_add(b, third_key, strlen(third_key));
        im_buf_lit(b, "\":");
        if (!t->third) {
            im_buf_lit(b, "null");
        }
        else if (add_string(b, t->third, t->third_len)) {
            return -1;
        }
        im_buf_lit(b, "}");
    }
    im_buf_lit(b, "]");
    return 0;
}

/* ---- the image -------------------------------------------------------- */

static int add_int(im_buf_t *b, const char *s)
{
    apr_int64_t v;

    if (!im_parse_int64(s, &v)) {
        return -1;
    }
    im_buf_int64(b, v);
    return 0;
}

static int add_time(im_buf_t *b, const char *s)
{
    apr_int64_t v;

    if (!s) {
        im_buf_lit(b, "null");
        return 0;
    }
    if (!im_parse_int64(s, &v)) {
        return -1;
    }
    return im_buf_string(b, format_time(b, v));
}

int im_render_image(im_buf_t *b, const im_image_row_t *row)
{
    apr_size_t mark = b->len;
    apr_int64_t now;

    im_buf_lit(b, "{\"id\":");
    if (add_int(b, row->id)) goto malformed;
    im_buf_lit(b, ",\"uuid\":");
    if (im_buf_string(b, row->uuid)) goto malformed;
    im_buf_lit(b, ",\"name\":");
    if (im_buf_string(b, row->name)) goto malformed;
    im_buf_lit(b, ",\"created_by\":{\"id\":");
    if (add_int(b, row->creator_id)) goto malformed;
    im_buf_lit(b, ",\"username\":");
    if (im_buf_string(b, row->creator_name)) goto malformed;
    im_buf_lit(b, "},\"description\":");
    if (im_buf_string(b, row->description)) goto malformed;
    im_buf_lit(b, ",\"end_date\":");
    if (add_time(b, row->end_date)) goto malformed;
    if (row->is_public && row->is_public[0] == 't') {
        im_buf_lit(b, ",\"is_public\":true,\"icon\":");
    }
    else {
        im_buf_lit(b, ",\"is_public\":false,\"icon\":");
    }
    if (im_buf_string(b, row->icon)) goto malformed;
    im_buf_lit(b, ",\"start_date\":");
    if (add_time(b, row->start_date)) goto malformed;
    im_buf_lit(b, ",\"tags\":");
    if (render_triples(b, row->tags, "description", NULL)) goto malformed;
    im_buf_lit(b, ",\"versions\":");
    if (!im_parse_int64(row->now, &now)
        || render_triples(b, row->versions, "start_date", &now)) {
        goto malformed;
    }
    im_buf_lit(b, "}");
    b->data[b->len] = '\0';
    return 0;

malformed:
    b->len = mark;
    b->data[b->len] = '\0';
    return -1;
}

json_t *im_render_detail(const char *detail)
{
    return json_pack("{s:s}", "detail", detail);
}

static int append(const char *buf, size_t size, void *data)
{
    im_buf_add(data, buf, size);
    return 0;
}

/* jansson writes U+2028 and U+2029 raw (it has no flag for them short of
 * JSON_ENSURE_ASCII): escape them afterwards.  Their bytes can only be the
 * characters themselves in jansson's valid UTF-8 output, and only inside
 * strings, where \u2028 means the same. */
static char *escape_ls_ps(apr_pool_t *p, char *text, apr_size_t *len)
{
    const unsigned char *s = (const unsigned char *)text;
    apr_size_t n = *len, i, count = 0;
    char *out, *o;

    for (i = 0; i + 2 < n; i++) {
        count += IS_LS_PS(s + i, n - i);
    }
    if (!count) {
        return text;
    }
    /* each 3 bytes become 6 */
    o = out = apr_palloc(p, n + 3 * count + 1);
    for (i = 0; i < n;) {
        if (IS_LS_PS(s + i, n - i)) {
            memcpy(o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            o += 6;
            i += 3;
        }
        else {
            *o++ = text[i++];
        }
    }
    *o = '\0';
    *len = (apr_size_t)(o - out);
    return out;
}

char *im_json_dump(apr_pool_t *p, const json_t *json, apr_size_t *len)
{
    im_buf_t b;

    im_buf_init(&b, p, 4096);
    if (json_dump_callback(json, append, &b, JSON_COMPACT) != 0) {
        return NULL;
    }
    b.data[b.len] = '\0';
    *len = b.len;
    return escape_ls_ps(p, b.data, len);
}

/* XXH64 (the xxHash specification): an ETag needs a digest that changes
 * with the body, not one that resists an attacker, and a page of 100 images
 * is 64 KiB: MD5 of it was 6 % of the machine under load, this is about a
 * tenth of that. */
#define XXH_P1 UINT64_C(0x9E3779B185EBCA87)
#define XXH_P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define XXH_P3 UINT64_C(0x165667B19E3779F9)
#define XXH_P4 UINT64_C(0x85EBCA77C2B2AE63)
#define XXH_P5 UINT64_C(0x27D4EB2F165667C5)

static apr_uint64_t rotl64(apr_uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* little-endian whatever the machine: the same body, the same ETag */
static apr_uint64_t read64(const unsigned char *p)
{
    return (apr_uint64_t)p[0] | (apr_uint64_t)p[1] << 8
           | (apr_uint64_t)p[2] << 16 | (apr_uint64_t)p[3] << 24
           | (apr_uint64_t)p[4] << 32 | (apr_uint64_t)p[5] << 40
           | (apr_uint64_t)p[6] << 48 | (apr_uint64_t)p[7] << 56;
}

static apr_uint64_t xxh_round(apr_uint64_t acc, apr_uint64_t in)
{
    return rotl64(acc + in * XXH_P2, 31) * XXH_P1;
}

static apr_uint64_t xxh_merge(apr_uint64_t h, apr_uint64_t v)
{
    return (h ^ xxh_round(0, v)) * XXH_P1 + XXH_P4;
}

apr_uint64_t im_xxh64(const void *data, apr_size_t len, apr_uint64_t seed)
{
    const unsigned char *p = data, *end = p + len;
    apr_uint64_t h;

    if (len >= 32) {
        apr_uint64_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2,
                     v3 = seed, v4 = seed - XXH_P1;
        do {
            v1 = xxh_round(v1, read64(p));
            v2 = xxh_round(v2, read64(p + 8));
            v3 = xxh_round(v3, read64(p + 16));
            v4 = xxh_round(v4, read64(p + 24));
            p += 32;
        } while (end - p >= 32);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    }
    else {
        h = seed + XXH_P5;
    }
    h += (apr_uint64_t)len;
    for (; end - p >= 8; p += 8) {
        h = rotl64(h ^ xxh_round(0, read64(p)), 27) * XXH_P1 + XXH_P4;
    }
    if (end - p >= 4) {
        apr_uint64_t k = (apr_uint64_t)p[0] | (apr_uint64_t)p[1] << 8
                         | (apr_uint64_t)p[2] << 16 | (apr_uint64_t)p[3] << 24;
        h = rotl64(h ^ k * XXH_P1, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    for (; p < end; p++) {
        h = rotl64(h ^ *p * XXH_P5, 11) * XXH_P1;
    }
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

/* 128 bits: the body's XXH64 under two seeds, quoted hex. */
const char *im_etag(apr_pool_t *p, const char *body, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    apr_uint64_t d[2];
    char *tag = apr_palloc(p, 32 + 3);
    int i;

    d[0] = im_xxh64(body, len, 0);
    d[1] = im_xxh64(body, len, XXH_P1);
    tag[0] = '"';
    for (i = 0; i < 32; i++) {
        tag[1 + i] = hex[(d[i / 16] >> (60 - 4 * (i % 16))) & 15];
    }
    tag[33] = '"';
    tag[34] = '\0';
    return tag;
}

int im_etag_match(const char *header, const char *etag, int strong)
{
    const char *s = header;
    apr_size_t elen = strlen(etag);

    if (!s) {
        return 0;
    }
    while (*s) {
        int weak = 0;
        const char *start;

        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (*s == '*') {
            return 1;
        }
        if (s[0] == 'W' && s[1] == '/') {
            weak = 1;
            s += 2;
        }
        if (*s != '"') {
            /* not an entity tag: skip to the next list element */
            while (*s && *s != ',') s++;
            continue;
        }
        start = s++;
        while (*s && *s != '"') s++;
        if (!*s) {
            return 0;                     /* unterminated: matches nothing */
        }
        s++;
        if ((apr_size_t)(s - start) == elen && memcmp(start, etag, elen) == 0
            && !(strong && weak)) {
            return 1;
        }
    }
    return 0;
}
