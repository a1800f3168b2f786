/*
 * Rendering: the image representation of CONTRACT.md section 3, error
 * bodies, compact serialisation and the ETag of what was serialised.
 */
#include <string.h>

#include <apr_md5.h>
#include <apr_strings.h>

#include "im_core.h"

static json_t *int_or_null(const char *s)
{
    apr_int64_t v;
    return im_parse_int64(s, &v) ? json_integer((json_int_t)v) : NULL;
}

static json_t *time_or_null(apr_pool_t *p, const char *s)
{
    apr_int64_t v;
    if (!s) {
        return json_null();
    }
    return im_parse_int64(s, &v) ? json_string(im_time_format(p, v))
                                    : NULL;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Set key to value, taking the reference; a NULL value fails the object. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value ? json_object_set_new(obj, key, value) : -1;
}

/* The store's [[id, name, third], ...] to objects with keys id, name and
 * third_key: a tag's description as it is, a version's start_date from
 * epoch microseconds. */
static json_t *render_triples(apr_pool_t *p, const char *text,
                              const char *third_key, int third_is_time)
{
    json_t *in, *out, *t;
    size_t i;

    if (!text) {
        return json_array();
    }
    if (!(in = json_loads(text, 0, NULL)) || !json_is_array(in)) {
        json_decref(in);
        return NULL;
    }
    out = json_array();
    json_array_foreach(in, i, t) {
        json_t *o = json_object(), *third = json_array_get(t, 2);
        if (third_is_time) {
            third = json_is_integer(third)
                    ? json_string(im_time_format(p,
                          (apr_int64_t)json_integer_value(third)))
                    : NULL;
        }
        else {
            third = json_copy(third);
        }
        if (put(o, "id", json_copy(json_array_get(t, 0)))
            || put(o, "name", json_copy(json_array_get(t, 1)))
            || put(o, third_key, third)
            || json_array_append_new(out, o)) {
            json_decref(o);
            json_decref(out);
            out = NULL;
            break;
        }
    }
    json_decref(in);
    return out;
}

json_t *im_render_image(apr_pool_t *p, const im_image_row_t *row)
{
    json_t *img = json_object(), *creator = json_object();

    if (put(creator, "id", int_or_null(row->creator_id))
        || put(creator, "username", str_or_null(row->creator_name))) {
        json_decref(creator);
        creator = NULL;
    }
    if (put(img, "id", int_or_null(row->id))
        || put(img, "uuid", str_or_null(row->uuid))
        || put(img, "name", str_or_null(row->name))
        || put(img, "created_by", creator)
        || put(img, "description", str_or_null(row->description))
        || put(img, "end_date", time_or_null(p, row->end_date))
        || put(img, "is_public", json_boolean(row->is_public
                                              && row->is_public[0] == 't'))
        || put(img, "icon", str_or_null(row->icon))
        || put(img, "start_date", time_or_null(p, row->start_date))
        || put(img, "tags", render_triples(p, row->tags, "description", 0))
        || put(img, "versions", render_triples(p, row->versions,
                                               "start_date", 1))) {
        json_decref(img);
        return NULL;
    }
    return img;
}

json_t *im_render_detail(const char *detail)
{
    return json_pack("{s:s}", "detail", detail);
}

/* A growing buffer in a pool, for json_dump_callback. */
typedef struct {
    apr_pool_t *pool;
    char *data;
    apr_size_t len, cap;
} buffer_t;

static int append(const char *buf, size_t size, void *data)
{
    buffer_t *b = data;

    if (b->cap - b->len < size + 1) {
        apr_size_t cap = b->cap * 2 > b->len + size + 1 ? b->cap * 2
                                                        : b->len + size + 1;
        char *grown = apr_palloc(b->pool, cap);
        memcpy(grown, b->data, b->len);
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, size);
    b->len += size;
    return 0;
}

char *im_json_dump(apr_pool_t *p, const json_t *json, apr_size_t *len)
{
    buffer_t b;

    b.pool = p;
    b.cap = 4096;
    b.len = 0;
    b.data = apr_palloc(p, b.cap);
    if (json_dump_callback(json, append, &b, JSON_COMPACT) != 0) {
        return NULL;
    }
    b.data[b.len] = '\0';
    *len = b.len;
    return b.data;
}

const char *im_etag(apr_pool_t *p, const char *body, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[APR_MD5_DIGESTSIZE];
    char *tag = apr_palloc(p, 2 * APR_MD5_DIGESTSIZE + 3);
    int i;

    apr_md5(digest, body, len);
    tag[0] = '"';
    for (i = 0; i < APR_MD5_DIGESTSIZE; i++) {
        tag[1 + 2 * i] = hex[digest[i] >> 4];
        tag[2 + 2 * i] = hex[digest[i] & 15];
    }
    tag[2 * APR_MD5_DIGESTSIZE + 1] = '"';
    tag[2 * APR_MD5_DIGESTSIZE + 2] = '\0';
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
