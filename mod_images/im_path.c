/*
 * Request paths below the endpoint: the collection, an item by integer id
 * or by uuid, or nothing (docs/api.md, "{id} forms").
 */
#include <string.h>

#include "im_core.h"

int im_parse_id(const char *s, apr_int64_t *out)
{
    apr_int64_t v = 0;

    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++) {
        int d;
        if (*s < '0' || *s > '9') {
            return 0;
        }
        d = *s - '0';
        if (v > (APR_INT64_MAX - d) / 10) {
            return 0;                     /* does not fit a bigint */
        }
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int im_parse_uuid(const char *s, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int i;

    if (!s || strlen(s) != 36) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }
            out[i] = '-';
            continue;
        }
        if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        }
        if (!memchr(hex, c, 16) || c == '\0') {
            return 0;
        }
        out[i] = c;
    }
    out[36] = '\0';
    return 1;
}

void im_path_parse(const char *rest, im_path_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = IM_PATH_NOT_FOUND;

    if (!rest || !*rest || (rest[0] == '/' && rest[1] == '\0')) {
        out->kind = IM_PATH_COLLECTION;
        return;
    }
    if (rest[0] != '/' || strchr(rest + 1, '/')) {
        return;
    }
    rest++;
    if (im_parse_id(rest, &out->id)) {
        out->kind = IM_PATH_ITEM_ID;
    }
    else if (im_parse_uuid(rest, out->uuid)) {
        out->kind = IM_PATH_ITEM_UUID;
    }
}
