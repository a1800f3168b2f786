/*
 * libFuzzer target: the request path below the endpoint (im_path_parse,
 * im_parse_id, im_parse_uuid), docs/api.md "{id} forms".
 */
#include <ctype.h>

#include <apr_strings.h>

#include "fuzz_common.h"

static int all_digits(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static void check_uuid(const char *in, const char uuid[37])
{
    int i;

    CHECK(strlen(uuid) == 36);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            CHECK(uuid[i] == '-');
        }
        else {
            CHECK((uuid[i] >= '0' && uuid[i] <= '9')
                  || (uuid[i] >= 'a' && uuid[i] <= 'f'));
            CHECK(uuid[i] == tolower((unsigned char)in[i]));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_begin();
    char *s = fz_cstr(data, size);
    im_path_t path;
    apr_int64_t id, v;
    char uuid[37];

    im_path_parse(s, &path);
    switch (path.kind) {
    case IM_PATH_COLLECTION:
        CHECK(s[0] == '\0' || strcmp(s, "/") == 0);
        break;
    case IM_PATH_ITEM_ID:
        CHECK(s[0] == '/' && all_digits(s + 1));
        CHECK(path.id >= 0);
        /* the id is the number the digits say */
        CHECK(strcmp(apr_psprintf(p, "%" APR_INT64_T_FMT, path.id),
                     s + 1 + strspn(s + 1, "0")) == 0
              || (path.id == 0 && strspn(s + 1, "0") == strlen(s + 1)));
        /* an id the path accepts is one the store's answer can carry:
         * im_parse_int64 reads ids (and counts) back from PostgreSQL */
        CHECK(im_parse_int64(s + 1, &v) && v == path.id);
        break;
    case IM_PATH_ITEM_UUID:
        CHECK(s[0] == '/' && strlen(s) == 37);
        check_uuid(s + 1, path.uuid);
        break;
    case IM_PATH_NOT_FOUND:
        CHECK(s[0] != '\0' && strcmp(s, "/") != 0);
        break;
    default:
        CHECK(!"unknown path kind");
    }

    /* the two {id} parsers on their own */
    if (im_parse_id(s, &id)) {
        CHECK(all_digits(s) && id >= 0);
        CHECK(im_parse_int64(s, &v) && v == id);
    }
    else if (all_digits(s)) {
        /* digits only and refused: must be past the largest bigint */
        CHECK(strlen(s + strspn(s, "0")) >= 19);
    }
    memset(uuid, 'x', sizeof(uuid));
    if (im_parse_uuid(s, uuid)) {
        CHECK(strlen(s) == 36);
        check_uuid(s, uuid);
    }

    free(s);
    fz_end(p);
    return 0;
}
