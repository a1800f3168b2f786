/*
 * libFuzzer target: the image renderer (im_render_image), differentially
 * against jansson.  The first input byte says whether the rest is a row's
 * tags or versions text, as the store hands it over ([[id, name,
 * description], ...] or [[id, name, start, end or null], ...]).  jansson
 * decides what that text is: when it reads as that shape, the renderer must
 * accept it and write the same values, sorted (tags by name, versions by
 * start, then id), leaving out the versions whose end is not after the
 * row's now; otherwise it must refuse it and write
 * nothing.  What the renderer writes must read back in jansson and
 * dump again to the same bytes (the same escapes as the rest of the API:
 * jansson's, and \u2028, \u2029).
 */
#include <jansson.h>

#include "fuzz_common.h"

/* jansson's compact dump with U+2028 and U+2029 escaped, as the API
 * writes them (and jansson does not), malloc'd. */
static char *dump_as_api(const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT), *out, *o;
    size_t i, n;

    if (!text) {
        return NULL;
    }
    n = strlen(text);
    o = out = malloc(2 * n + 1);
    if (!out) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (i + 2 < n && (unsigned char)text[i] == 0xE2
            && (unsigned char)text[i + 1] == 0x80
            && ((unsigned char)text[i + 2] == 0xA8
                || (unsigned char)text[i + 2] == 0xA9)) {
            memcpy(o, (unsigned char)text[i + 2] == 0xA8 ? "\\u2028"
                                                         : "\\u2029", 6);
            o += 6;
            i += 2;
        }
        else {
            *o++ = text[i];
        }
    }
    *o = '\0';
    free(text);
    return out;
}

/* Whether jansson's reading of text has the store's shape. */
static int has_shape(const json_t *in, int versions)
{
    size_t i;
    json_t *t;

    if (!json_is_array(in)) {
        return 0;
    }
    json_array_foreach(in, i, t) {
        if (!json_is_array(t) || json_array_size(t) != (versions ? 4 : 3)
            || !json_is_integer(json_array_get(t, 0))
            || !json_is_string(json_array_get(t, 1))
            || !(versions ? json_is_integer(json_array_get(t, 2))
                          : json_is_string(json_array_get(t, 2)))
            || (versions && !json_is_integer(json_array_get(t, 3))
                && !json_is_null(json_array_get(t, 3)))) {
            return 0;
        }
    }
    return 1;
}

static int same_string(const json_t *a, const json_t *b)
{
    return json_is_string(a) && json_is_string(b)
           && json_string_length(a) == json_string_length(b)
           && memcmp(json_string_value(a), json_string_value(b),
                     json_string_length(a)) == 0;
}

/* Whether the renderer's object o is the store's triple t. */
static int matches(apr_pool_t *p, json_t *o, json_t *t, int versions)
{
    if (json_integer_value(json_object_get(o, "id"))
        != json_integer_value(json_array_get(t, 0))
        || !same_string(json_object_get(o, "name"), json_array_get(t, 1))) {
        return 0;
    }
    if (versions) {
        apr_int64_t at = (apr_int64_t)json_integer_value(json_array_get(t, 2));
        json_t *start = json_object_get(o, "start_date");

        /* years 1 to 9999, else null (a date the schema refuses) */
        if (at < APR_INT64_C(-62135596800000000)
            || at > APR_INT64_C(253402300799999999)) {
            return json_is_null(start);
        }
        return json_is_string(start)
               && strcmp(json_string_value(start), im_time_format(p, at)) == 0;
    }
    return same_string(json_object_get(o, "description"), json_array_get(t, 2));
}

/* docs/api.md's order of the store's triples: tags by name as bytes (the C
 * collation), versions by start; then id. */
static int order(json_t *a, json_t *b, int versions)
{
    json_int_t x, y;

    if (versions) {
        x = json_integer_value(json_array_get(a, 2));
        y = json_integer_value(json_array_get(b, 2));
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    else {
        json_t *na = json_array_get(a, 1), *nb = json_array_get(b, 1);
        size_t la = json_string_length(na), lb = json_string_length(nb);
        int d = memcmp(json_string_value(na), json_string_value(nb),
                       la < lb ? la : lb);

        if (d || la != lb) {
            return d ? d : la < lb ? -1 : 1;
        }
    }
    x = json_integer_value(json_array_get(a, 0));
    y = json_integer_value(json_array_get(b, 0));
    return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *text, *again;
    int versions, rc;
    json_t *in, *out, *list, *t, *o;
    im_buf_t b;
    im_image_row_t row = {
        "1", "u", "n", "2", "alice", "d", NULL, "t", NULL, "0", NULL, NULL,
        "1000"
    };
    const json_int_t now = 1000;
    size_t kept, k;
    char *used;
    json_t *prev;
    size_t i;

    if (size < 1) {
        return 0;
    }
    p = fz_begin();
    versions = data[0] & 1;
    text = fz_cstr(data + 1, size - 1);
    if (versions) {
        row.versions = text;
    }
    else {
        row.tags = text;
    }
    im_buf_init(&b, p, 8);
    im_buf_lit(&b, "x");
    rc = im_render_image(&b, &row);
    in = json_loads(text, 0, NULL);

    if (!in || !has_shape(in, versions)) {
        CHECK(rc == -1 && b.len == 1);
        json_decref(in);
        free(text);
        fz_end(p);
        return 0;
    }
    CHECK(rc == 0);
    out = json_loadb(b.data + 1, b.len - 1, 0, NULL);
    CHECK(out != NULL);
    again = dump_as_api(out);
    CHECK(again && strlen(again) == b.len - 1
          && memcmp(again, b.data + 1, b.len - 1) == 0);
    free(again);

    /* The output: each kept input once, sorted (matches()) */
    list = json_object_get(out, versions ? "versions" : "tags");
    kept = 0;
    json_array_foreach(in, i, t) {
        json_t *ends = json_array_get(t, 3);
        if (!(versions && json_is_integer(ends)
              && json_integer_value(ends) <= now)) {
            kept++;
        }
    }
    used = calloc(json_array_size(in) + 1, 1);
    if (!used) {
        abort();
    }
    prev = NULL;
    json_array_foreach(list, k, o) {
        size_t found = json_array_size(in);

        CHECK(json_object_size(o) == 3);
        json_array_foreach(in, i, t) {
            json_t *ends = json_array_get(t, 3);
            if (!used[i] && !(versions && json_is_integer(ends)
                              && json_integer_value(ends) <= now)
                && matches(p, o, t, versions)
                /* of inputs written alike, the first in order */
                && (found == json_array_size(in)
                    || order(t, json_array_get(in, found), versions) < 0)) {
                found = i;
            }
        }
        CHECK(found < json_array_size(in));
        used[found] = 1;
        t = json_array_get(in, found);
        CHECK(!prev || order(prev, t, versions) <= 0);
        prev = t;
    }
    free(used);
    CHECK(json_array_size(list) == kept);
    json_decref(out);
    json_decref(in);
    free(text);
    fz_end(p);
    return 0;
}
