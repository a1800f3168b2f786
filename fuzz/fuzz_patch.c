/*
 * libFuzzer target: PATCH bodies (im_patch_parse on the raw bytes, not
 * NUL-terminated), docs/api.md; and the Content-Type check.
 */
#include <strings.h>

#include <apr_strings.h>

#include "fuzz_common.h"

static int is_trim_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static void check_ok(apr_pool_t *p, const im_patch_t *out)
{
    if (out->set_name) {
        size_t n, chars = 0;
        const char *c;
        CHECK(out->name != NULL);
        n = strlen(out->name);
        CHECK(n > 0);
        CHECK(im_utf8_valid(out->name));
        CHECK(!is_trim_space(out->name[0]) && !is_trim_space(out->name[n - 1]));
        for (c = out->name; *c; c++) {
            chars += ((unsigned char)*c & 0xC0) != 0x80;
        }
        CHECK(chars <= 256);
    }
    else {
        CHECK(out->name == NULL);
    }
    if (out->set_description) {
        size_t n;
        CHECK(out->description != NULL);
        CHECK(im_utf8_valid(out->description));
        n = strlen(out->description);
        CHECK(n == 0 || (!is_trim_space(out->description[0])
                         && !is_trim_space(out->description[n - 1])));
    }
    else {
        CHECK(out->description == NULL);
    }
    if (out->set_is_public) {
        CHECK(out->is_public == 0 || out->is_public == 1);
    }
    if (out->set_end_date && out->end_date) {
        apr_int64_t t;
        /* canonical: what im_time_format writes, and it parses back */
        CHECK(strlen(out->end_date) == 27);
        CHECK(im_time_parse(out->end_date, &t));
        CHECK(strcmp(im_time_format(p, t), out->end_date) == 0);
    }
    if (!out->set_end_date) {
        CHECK(out->end_date == NULL);
    }
    if (out->set_tags) {
        const char *c;
        int items = 0;
        CHECK(out->tags != NULL);
        CHECK(strspn(out->tags, "0123456789-,") == strlen(out->tags));
        /* "1,-2,3": ntags items, none empty, a sign only in front */
        for (c = out->tags; *c;) {
            size_t len = strcspn(c, ",");
            CHECK(len > 0);
            CHECK(strspn(c + (c[0] == '-'), "0123456789")
                  == len - (c[0] == '-'));
            CHECK(len > (size_t)(c[0] == '-'));
            items++;
            c += len;
            if (*c == ',') {
                c++;
                CHECK(*c != '\0');
            }
        }
        CHECK(items == out->ntags);
    }
    else {
        CHECK(out->tags == NULL && out->ntags == 0);
    }
}

static void check_error(apr_pool_t *p, im_patch_status_e st, json_t *error)
{
    const char *key;
    json_t *v;
    apr_size_t len = 0;
    char *text;

    CHECK(error != NULL);
    CHECK(json_is_object(error) && json_object_size(error) > 0);
    text = im_json_dump(p, error, &len);
    CHECK(text != NULL);
    CHECK(strlen(text) == len);
    CHECK(im_utf8_valid(text));
    if (st == IM_PATCH_PARSE_ERROR) {
        v = json_object_get(error, "detail");
        CHECK(json_object_size(error) == 1 && json_is_string(v));
        CHECK(strncmp(json_string_value(v), "JSON parse error - ", 19) == 0);
        return;
    }
    /* field errors: one non-empty list of messages per key */
    json_object_foreach(error, key, v) {
        size_t i;
        json_t *m;
        CHECK(json_is_array(v) && json_array_size(v) > 0);
        json_array_foreach(v, i, m) {
            CHECK(json_is_string(m) && json_string_length(m) > 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_begin();
    im_patch_t out;
    json_t *error = (json_t *)1;
    im_patch_status_e st;
    char *s;

    st = im_patch_parse(p, (const char *)data, size, &out, &error);
    switch (st) {
    case IM_PATCH_OK:
        CHECK(error == NULL);
        CHECK(out.tags_error == NULL);
        check_ok(p, &out);
        break;
    case IM_PATCH_PARSE_ERROR:
    case IM_PATCH_INVALID:
        check_error(p, st, error);
        break;
    default:
        CHECK(!"unknown status");
    }
    if (st != IM_PATCH_PARSE_ERROR && out.tags) {
        /* as if the database found no tag of the body's first id: tags
         * then says that id, beside the other fields' errors */
        const char *first = apr_pstrndup(p, out.tags, strcspn(out.tags, ","));
        json_t *all = im_patch_errors(p, error, &out,
                                      apr_pstrcat(p, "-1,", first, NULL));
        if (*first) {
            json_t *m = json_array_get(json_object_get(all, "tags"), 0);
            CHECK(json_array_size(json_object_get(all, "tags")) == 1);
            CHECK(strcmp(json_string_value(m), apr_psprintf(p,
                  "Invalid pk \"%s\" - object does not exist.", first)) == 0);
            CHECK(json_object_size(all) ==
                  json_object_size(error) + !json_object_get(error, "tags"));
            check_error(p, IM_PATCH_INVALID, all);
        }
        else {
            CHECK(all == error);
        }
        json_decref(all);
    }
    json_decref(error);

    /* the same bytes as a Content-Type value */
    s = fz_cstr(data, size);
    if (im_is_json_media_type(s)) {
        const char *c = s + strspn(s, " \t");
        CHECK(strncasecmp(c, "application/json", 16) == 0);
        c += 16 + strspn(c + 16, " \t");
        CHECK(*c == '\0' || *c == ';');
    }
    free(s);

    fz_end(p);
    return 0;
}
