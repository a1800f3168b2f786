/*
 * PATCH bodies: strict JSON, the writable keys of docs/api.md,
 * and Django REST Framework's messages, every field's errors at once, in
 * the serializer's order.
 */
#include <string.h>

#include <apr_hash.h>
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

/* A string field as DRF's CharField takes it: blank refused first (unless
 * allowed), then, on the value stripped as Python strips, each validator's
 * message: at most max_chars characters (0: no limit), no NUL. */
static const char *string_field(apr_pool_t *p, json_t *errors,
                                const char *field, json_t *v, int allow_blank,
                                apr_size_t max_chars)
{
    const char *raw, *s;
    apr_size_t len;
    int nul, bad = 0;

    if (json_is_null(v)) {
        add_error(errors, field, "This field may not be null.");
        return NULL;
    }
    if (!json_is_string(v)) {
        add_error(errors, field, "Not a valid string.");
        return NULL;
    }
    raw = json_string_value(v);
    len = json_string_length(v);
    /* a NUL (JSON's \u0000) counts as the one character it is, and is
     * no whitespace: stood in for by U+0001 while stripping and counting */
    if ((nul = memchr(raw, '\0', len) != NULL)) {
        char *c = apr_pmemdup(p, raw, len);
        apr_size_t i;

        for (i = 0; i < len; i++) {
            c[i] = c[i] ? c[i] : '\x01';
        }
        raw = c;
    }
    s = im_strip_space(p, raw, len);
    if (!allow_blank && !*s) {
        add_error(errors, field, "This field may not be blank.");
        return NULL;
    }
    if (max_chars && utf8_chars(s) > max_chars) {
        add_error(errors, field, apr_psprintf(p, "Ensure this field has no "
                  "more than %" APR_SIZE_T_FMT " characters.", max_chars));
        bad = 1;
    }
    if (nul) {
        add_error(errors, field, "Null characters are not allowed.");
        bad = 1;
    }
    return bad ? NULL : s;
}

/* The tag ids in body order, up to the first item that is not one: DRF
 * stops there, and says so unless an id before it names no tag (the
 * database tells, im_patch_errors). */
static void parse_tags(apr_pool_t *p, json_t *v, im_patch_t *out)
{
    apr_array_header_t *ids;
    json_t *item;
    size_t i;

    if (json_is_null(v)) {
        out->tags_error = "This field may not be null.";
        return;
    }
    if (!json_is_array(v)) {
        out->tags_error = apr_psprintf(p, "Expected a list of items but got "
                                       "type \"%s\".", py_type(v));
        return;
    }
    ids = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item) {
        json_t *id = json_is_object(item) ? json_object_get(item, "id")
                                          : item;
        if (!id || !json_is_integer(id)) {
            out->tags_error = apr_psprintf(p, "Incorrect type. Expected pk "
                                           "value, received %s.",
                                           id ? py_type(id) : "dict");
            break;
        }
        *(const char **)apr_array_push(ids) =
            apr_psprintf(p, "%" APR_INT64_T_FMT,
                         (apr_int64_t)json_integer_value(id));
    }
    out->set_tags = 1;
    out->ntags = ids->nelts;
    out->tags = apr_array_pstrcat(p, ids, ',');
}

/* The writable fields in the serializer's order: DRF reports their errors
 * in it, whatever the body's order. */
static const char *const writable[] = {
    "name", "description", "end_date", "is_public", "tags", NULL
};

/* A new object: errors's fields in the serializer's order, tags' message
 * (if any) in its place, then the keys not allowed in body order; NULL if
 * there is none. */
static json_t *ordered_errors(json_t *errors, const char *tags_msg)
{
    json_t *out = json_object(), *v;
    const char *key;
    int i;

    for (i = 0; writable[i]; i++) {
        if (strcmp(writable[i], "tags") == 0 && tags_msg) {
            json_object_set_new(out, "tags", json_pack("[s]", tags_msg));
        }
        else if (errors && (v = json_object_get(errors, writable[i]))) {
            json_object_set(out, writable[i], v);
        }
    }
    if (errors) {
        json_object_foreach(errors, key, v) {
            if (!json_object_get(out, key)) {
                json_object_set(out, key, v);
            }
        }
    }
    if (!json_object_size(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *im_patch_errors(apr_pool_t *p, json_t *errors, const im_patch_t *patch,
                        const char *unknown_tags)
{
    apr_hash_t *unknown;
    char *ids, *id, *last;

    if (patch->tags && unknown_tags && *unknown_tags) {
        /* a set, so that a body of many ids is one pass over each list */
        unknown = apr_hash_make(p);
        ids = apr_pstrdup(p, unknown_tags);
        for (id = apr_strtok(ids, ",", &last); id;
             id = apr_strtok(NULL, ",", &last)) {
            apr_hash_set(unknown, id, APR_HASH_KEY_STRING, id);
        }
        ids = apr_pstrdup(p, patch->tags);
        for (id = apr_strtok(ids, ",", &last); id;
             id = apr_strtok(NULL, ",", &last)) {
            if (apr_hash_get(unknown, id, APR_HASH_KEY_STRING)) {
                return ordered_errors(errors, apr_psprintf(p,
                    "Invalid pk \"%s\" - object does not exist.", id));
            }
        }
    }
    return errors ? json_incref(errors) : NULL;
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

/* The type before any parameter, blanks around it removed, is
 * application/json in any case: "application/json garbage" is not (DRF
 * reads its subtype as "json garbage"). */
int im_is_json_media_type(const char *ct)
{
    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') ct++;
    if (strncasecmp(ct, "application/json", 16) != 0) {
        return 0;
    }
    for (ct += 16; *ct == ' ' || *ct == '\t'; ct++);
    return *ct == '\0' || *ct == ';';
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
    /* \u0000 in a string is valid JSON: a field's error (string_field) */
    doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES
                     | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
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
            const char *s = string_field(p, errors, key, v, 0,
                                         MAX_NAME_CHARS);
            if (s) {
                out->set_name = 1;
                out->name = s;
            }
        }
        else if (strcmp(key, "description") == 0) {
            const char *s = string_field(p, errors, key, v, 1, 0);
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
            parse_tags(p, v, out);
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
    *error = ordered_errors(errors, out->tags_error);
    json_decref(errors);
    return *error ? IM_PATCH_INVALID : IM_PATCH_OK;
}
