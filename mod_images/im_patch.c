/*
 * PATCH bodies: strict JSON, the writable keys of docs/api.md,
 * and Django REST Framework's messages, every field's errors at once.
 */
#include <string.h>

#include <apr_strings.h>

#include "im_core.h"

#define MAX_NAME_CHARS 256

static const char *const read_only[] = {
    "id", "uuid", "created_by", "icon", "start_date", "versions", NULL
};

/* Python's name for a JSON value's type, as DRF's messages say it. */
static const char *py_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "dict";
    case JSON_ARRAY:   return "list";
    case JSON_STRING:  return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL:    return "float";
    case JSON_TRUE:
    case JSON_FALSE:   return "bool";
    default:           return "NoneType";
    }
}

static void add_error(json_t *errors, const char *field, const char *msg)
{
    json_t *list = json_object_get(errors, field);

    if (!list) {
        list = json_array();
        json_object_set_new(errors, field, list);
    }
    json_array_append_new(list, json_string(msg));
}

static apr_size_t utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

static const char *string_field(apr_pool_t *p, json_t *errors,
                                const char *field, json_t *v, int allow_blank)
{
    const char *s;

    if (json_is_null(v)) {
        add_error(errors, field, "This field may not be null.");
        return NULL;
    }
    if (!json_is_string(v)) {
        add_error(errors, field, "Not a valid string.");
        return NULL;
    }
    /* leading and trailing whitespace removed, as DRF's CharField does */
    s = im_strip_space(p, json_string_value(v), json_string_length(v));
    if (!allow_blank && !*s) {
        add_error(errors, field, "This field may not be blank.");
        return NULL;
    }
    return s;
}

static void parse_tags(apr_pool_t *p, json_t *errors, json_t *v,
                       im_patch_t *out)
{
    apr_array_header_t *ids;
    json_t *item;
    size_t i;

    if (json_is_null(v)) {
        add_error(errors, "tags", "This field may not be null.");
        return;
    }
    if (!json_is_array(v)) {
        add_error(errors, "tags",
                  apr_psprintf(p, "Expected a list of items but got type "
                               "\"%s\".", py_type(v)));
        return;
    }
    ids = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item) {
        json_t *id = json_is_object(item) ? json_object_get(item, "id")
                                          : item;
        if (!id || !json_is_integer(id)) {
            add_error(errors, "tags",
                      apr_psprintf(p, "Incorrect type. Expected pk value, "
                                   "received %s.",
                                   id ? py_type(id) : "dict"));
            continue;
        }
        *(const char **)apr_array_push(ids) =
            apr_psprintf(p, "%" APR_INT64_T_FMT,
                         (apr_int64_t)json_integer_value(id));
    }
    out->set_tags = 1;
    out->ntags = ids->nelts;
    out->tags = apr_array_pstrcat(p, ids, ',');
}

/* jansson's error text quotes the input near the error and may cut a UTF-8
 * sequence short there: for the body {"name": "\u00é"} it ends with
 * "near '"\u00" and the first byte of "é" only, and json_pack refuses it.
 * Each byte that starts no valid sequence becomes U+FFFD, as in query
 * strings. */
static const char *utf8_repaired(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i = 0, k;
    char *out, *o, seq[5];

    if (im_utf8_valid(s)) {
        return s;
    }
    o = out = apr_palloc(p, 3 * n + 1);
    while (i < n) {
        /* the longest valid run of at most 4 bytes (one sequence's most) */
        for (k = n - i < 4 ? n - i : 4; k > 0; k--) {
            memcpy(seq, s + i, k);
            seq[k] = '\0';
            if (im_utf8_valid(seq)) {
                break;
            }
        }
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
        else {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        }
    }
    *o = '\0';
    return out;
}

int im_is_json_media_type(const char *ct)
{
    apr_size_t n;

    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') ct++;
    n = strcspn(ct, "; \t");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

im_patch_status_e im_patch_parse(apr_pool_t *p, const char *body,
                                 apr_size_t len, im_patch_t *out,
                                 json_t **error)
{
    json_error_t jerr;
    json_t *doc, *errors, *v;
    const char *key;

    memset(out, 0, sizeof(*out));
    *error = NULL;
    doc = json_loadb(body ? body : "", len,
                     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!doc) {
        *error = json_pack("{s:s}", "detail",
                           apr_pstrcat(p, "JSON parse error - ",
                                       utf8_repaired(p, jerr.text), NULL));
        return IM_PATCH_PARSE_ERROR;
    }
    if (!json_is_object(doc)) {
        *error = json_pack("{s:[s]}", "non_field_errors",
                           apr_psprintf(p, "Invalid data. Expected a "
                                        "dictionary, but got %s.",
                                        py_type(doc)));
        json_decref(doc);
        return IM_PATCH_INVALID;
    }

    errors = json_object();
    json_object_foreach(doc, key, v) {
        int i, ro = 0;

        if (strcmp(key, "name") == 0) {
            const char *s = string_field(p, errors, key, v, 0);
            if (s && utf8_chars(s) > MAX_NAME_CHARS) {
                add_error(errors, key, "Ensure this field has no more than "
                          "256 characters.");
            }
            else if (s) {
                out->set_name = 1;
                out->name = s;
            }
        }
        else if (strcmp(key, "description") == 0) {
            const char *s = string_field(p, errors, key, v, 1);
            if (s) {
                out->set_description = 1;
                out->description = s;
            }
        }
        else if (strcmp(key, "is_public") == 0) {
            if (json_is_boolean(v)) {
                out->set_is_public = 1;
                out->is_public = json_is_true(v);
            }
            else {
                add_error(errors, key, json_is_null(v)
                          ? "This field may not be null."
                          : "Must be a valid boolean.");
            }
        }
        else if (strcmp(key, "end_date") == 0) {
            apr_int64_t t;
            int got = json_is_string(v)
                      && strlen(json_string_value(v)) == json_string_length(v)
                      ? im_time_read(json_string_value(v), &t) : 0;
            if (json_is_null(v)) {
                out->set_end_date = 1;
                out->end_date = NULL;
            }
            else if (got == 1) {
                out->set_end_date = 1;
                out->end_date = im_time_format(p, t);
            }
            else if (got < 0) {
                /* DRF's DateTimeField on an overflow */
                add_error(errors, key, "Datetime value out of range.");
            }
            else {
                add_error(errors, key, "Datetime has wrong format. Use one "
                          "of these formats instead: "
                          "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].");
            }
        }
        else if (strcmp(key, "tags") == 0) {
            parse_tags(p, errors, v, out);
        }
        else {
            for (i = 0; read_only[i]; i++) {
                ro |= strcmp(key, read_only[i]) == 0;
            }
            if (!ro) {
                add_error(errors, key, "This field is not allowed.");
            }
        }
    }
    json_decref(doc);
    if (json_object_size(errors)) {
        *error = errors;
        return IM_PATCH_INVALID;
    }
    json_decref(errors);
    return IM_PATCH_OK;
}
