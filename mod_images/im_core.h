/*
 * The pure parts of mod_images: parsing, validation, timestamps, rendering.
 *
 * Everything declared here needs only APR, APR-util and jansson, so the unit
 * tests and the fuzzers link it without httpd.  The httpd glue lives in the
 * files whose names do not start with "im_".
 */
#ifndef IM_CORE_H
#define IM_CORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* ---- request path (im_path.c) ----------------------------------------- */

typedef enum {
    IM_PATH_NOT_FOUND = 0,  /* below the endpoint but not a resource */
    IM_PATH_COLLECTION,     /* /images or /images/ */
    IM_PATH_ITEM_ID,        /* /images/42 */
    IM_PATH_ITEM_UUID       /* /images/f268aebc-d956-11e4-b9d6-1681e6b88ec1 */
} im_path_kind_e;

typedef struct {
    im_path_kind_e kind;
    apr_int64_t id;         /* IM_PATH_ITEM_ID */
    char uuid[37];          /* IM_PATH_ITEM_UUID, lower case, NUL-terminated */
} im_path_t;

/* Classify the part of the decoded URI path after the endpoint's base
 * ("" or "/" for the collection, "/42" for an item). */
void im_path_parse(const char *rest, im_path_t *out);

/* A decimal bigint: digits only, leading zeros allowed, no sign. */
int im_parse_id(const char *s, apr_int64_t *out);

/* The 8-4-4-4-12 uuid form in any letter case; writes it lower-cased. */
int im_parse_uuid(const char *s, char out[37]);

/* ---- query string (im_query.c) ---------------------------------------- */

/* page == IM_PAGE_LAST asks for the last page, IM_PAGE_INVALID for none. */
#define IM_SEARCH_LEADS 3
#define IM_PAGE_LAST    0
#define IM_PAGE_INVALID (-1)

typedef struct {
    const char *created_by;  /* "" when the filter is off */
    const char *tag;         /* "" when the filter is off */
    /* Search terms as ILIKE patterns ("%term%", with % _ \ escaped):
     * search_all holds every pattern joined by newlines; search_lead the
     * three terms with the longest runs of ASCII letters and digits and
     * non-ASCII characters, two or more, which the index of words can
     * look up (search_leads says how many: none for a search of short
     * terms only); search_rest the patterns the rows found must still be
     * checked against: the terms that do not lead and the leads the index
     * does not answer exactly (im_search_exact).  The store reads the
     * leads and the rest; search_all is what the unit tests and
     * fuzz/fuzz_query.c check the others against. */
    int search_terms;
    int search_leads;
    const char *search_lead[IM_SEARCH_LEADS];
    /* for each lead the index answers exactly, its term (one run), else
     * "": the store makes that lead's tsquery itself, without parsing and
     * planning images_search_query (a SQL function) at every statement */
    const char *search_lead_run[IM_SEARCH_LEADS];
    const char *search_all;
    const char *search_rest;
    apr_int64_t page;        /* >= 1, IM_PAGE_LAST or IM_PAGE_INVALID */
    int page_size;
    /* a filter whose value held a NUL byte: 400, as Django's forms say */
    const char *invalid_param;
} im_list_query_t;

/* Open the C.UTF-8 locale that search terms' letter case is folded in,
 * once, before any parse (it is closed with p); 0 if it is missing: the
 * fold then knows Latin-1, Latin Extended-A, Greek and Cyrillic only. */
int im_query_fold_init(apr_pool_t *p);

/* Parse a raw query string (r->args, may be NULL). */
void im_query_parse(apr_pool_t *p, const char *args, int default_size,
                    int max_size, im_list_query_t *out);

/* Whether a search pattern ("%term%") is answered exactly by the index of
 * images' words: its term is one run of 2 to 32 characters, each an ASCII
 * letter or digit or beyond ASCII.  Any other lead is also checked with
 * LIKE on the rows the index finds. */
int im_search_exact(const char *pattern);

/* Decode one application/x-www-form-urlencoded component ('+' is space).
 * Invalid escapes are kept literally, invalid UTF-8 becomes U+FFFD, and NUL
 * bytes are dropped (*had_nul, when given, tells whether there were any). */
char *im_form_decode(apr_pool_t *p, const char *s, apr_size_t len,
                     int *had_nul);

/* Whether s (NUL-terminated) is well-formed UTF-8. */
int im_utf8_valid(const char *s);

/* s (len bytes of UTF-8) without the whitespace around it, by Python's
 * str.strip(): what DRF and django-filter strip from a field or a filter
 * value (U+00A0, U+3000, U+2028 and the like as well as ASCII). */
const char *im_strip_space(apr_pool_t *p, const char *s, apr_size_t len);

/* The query string of a link to another page: every parameter of args kept
 * (sorted by name, blank values and NULs kept, as Django REST Framework
 * does) with page replaced by the given number, or removed when page is 0.
 * Returns "" when no parameter is left, else "?...". */
const char *im_query_link(apr_pool_t *p, const char *args, apr_int64_t page);

/* ---- timestamps (im_time.c) ------------------------------------------- */

/* Microseconds since the epoch to "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
const char *im_time_format(apr_pool_t *p, apr_int64_t micros);

/* An ISO 8601 timestamp with an offset or Z ("2030-01-02T03:04:05.123456Z",
 * "2030-01-02 03:04+02:00", ...) to epoch microseconds; 0 if malformed. */
int im_time_parse(const char *s, apr_int64_t *out);

/* The same, but -1 for a well-formed timestamp whose instant an offset
 * carries outside years 1 to 9999 (0 if malformed, 1 if good). */
int im_time_read(const char *s, apr_int64_t *out);

/* A signed decimal integer as PostgreSQL sends it (counts, ids, epoch
 * microseconds). */
int im_parse_int64(const char *s, apr_int64_t *out);

/* ---- representation (im_render.c) ------------------------------------- */

/* One image row as the store reads it; strings are NUL-terminated, NULL
 * stands for SQL NULL where the column may be null. */
typedef struct {
    const char *id;
    const char *uuid;
    const char *name;
    const char *creator_id;
    const char *creator_name;
    const char *description;
    const char *end_date;    /* epoch microseconds, or NULL */
    const char *is_public;   /* "t" or "f" */
    const char *icon;        /* or NULL */
    const char *start_date;  /* epoch microseconds */
    const char *tags;        /* JSON [[id, name, description], ...] or NULL */
    const char *versions;    /* JSON [[id, name, start_micros, end_micros or
                              * null], ...] or NULL: ended ones too */
    const char *now;         /* the database's now(), epoch microseconds:
                              * versions that ended by then are left out */
} im_image_row_t;

/* A growing buffer in a pool: a response body as it is written.  len is
 * its length; there is always room for a NUL after it, but only
 * im_render_image writes one (callers pass len on). */
typedef struct {
    apr_pool_t *pool;
    char *data;
    apr_size_t len, cap;
    /* dates outside years 1 to 9999 that im_render_image wrote as null
     * (a row stored before the schema refused them): for the log */
    int bad_dates;
} im_buf_t;

void im_buf_init(im_buf_t *b, apr_pool_t *p, apr_size_t cap);
void im_buf_add(im_buf_t *b, const char *s, apr_size_t n);
/* s must be a string literal (sizeof of anything else is not its length) */
#define im_buf_lit(b, s) im_buf_add((b), "" s "", sizeof(s) - 1)
void im_buf_int64(im_buf_t *b, apr_int64_t v);
/* A JSON string (null for NULL); -1 if s is not valid UTF-8. */
int im_buf_string(im_buf_t *b, const char *s);

/* Append the contract representation of one image (docs/api.md);
 * -1, and nothing appended, when the row is malformed.  A date outside
 * years 1 to 9999 is written as null and counted in b->bad_dates. */
int im_render_image(im_buf_t *b, const im_image_row_t *row);

/* {"detail": "..."} */
json_t *im_render_detail(const char *detail);

/* Serialise compactly into the pool; NULL on failure. */
char *im_json_dump(apr_pool_t *p, const json_t *json, apr_size_t *len);

/* XXH64 of data under seed (the xxHash specification). */
apr_uint64_t im_xxh64(const void *data, apr_size_t len, apr_uint64_t seed);

/* A strong ETag for a response body: a quoted hex digest. */
const char *im_etag(apr_pool_t *p, const char *body, apr_size_t len);

/* Whether an If-Match / If-None-Match value ("*" or a list of entity tags)
 * names etag; strong comparison refuses weak tags (W/"..."). */
int im_etag_match(const char *header, const char *etag, int strong);

/* ---- PATCH bodies (im_patch.c) ---------------------------------------- */

/* What a valid PATCH body asks to change (docs/api.md). */
typedef struct {
    int set_name, set_description, set_is_public, set_end_date, set_tags;
    const char *name;
    const char *description;
    int is_public;
    const char *end_date;    /* canonical UTC text, or NULL for null */
    const char *tags;        /* tag ids joined by commas, "" for none */
    int ntags;
    const char *tags_error;  /* the first item of tags that is no id */
} im_patch_t;

typedef enum {
    IM_PATCH_OK = 0,
    IM_PATCH_PARSE_ERROR,    /* *error: {"detail": "JSON parse error - ..."} */
    IM_PATCH_INVALID         /* *error: field errors, DRF style */
} im_patch_status_e;

/* Parse and validate a PATCH body.  On failure *error is a new JSON body
 * for a 400. */
im_patch_status_e im_patch_parse(apr_pool_t *p, const char *body,
                                 apr_size_t len, im_patch_t *out,
                                 json_t **error);

/* The 400's field errors once the database has said which of the body's
 * tag ids name no tag (unknown_tags: "3,7", or NULL): DRF's message for the
 * first of them in the body's order takes the place of tags' (an id comes
 * before any item that is no id: parse_tags stops there).  A new reference
 * (errors itself when nothing changes), or NULL when nothing failed. */
json_t *im_patch_errors(apr_pool_t *p, json_t *errors, const im_patch_t *patch,
                        const char *unknown_tags);

/* The media type of a Content-Type value is application/json. */
int im_is_json_media_type(const char *content_type);

/* ---- Authorization: Token (im_token.c) -------------------------------- */

typedef enum {
    IM_TOKEN_NONE = 0,      /* no header, or another scheme */
    IM_TOKEN_OK,            /* key set */
    IM_TOKEN_MALFORMED      /* "Token" with no key, or with spaces */
} im_token_e;

im_token_e im_token_parse(apr_pool_t *p, const char *header,
                          const char **key, const char **why);

/* The SHA-256 of a token, in lower-case hex, as api_tokens keeps it
 * (sql/derived.sql): the module looks a token up by its digest, so no token
 * in plain reaches the database or its logs.  NULL on failure. */
const char *im_token_digest(apr_pool_t *p, const char *key);

/* ---- PostgreSQL's error messages (im_pgerr.c) ------------------------- */

/* The SQLSTATE of a libpq message written with PQERRORS_VERBOSE ("ERROR:
 * 42501: ..."): 1 and the five characters in state, else 0 and "". */
int im_pg_sqlstate(const char *msg, char state[6]);

/* The message for a log line: its text, DETAIL and HINT joined on one line
 * (no severity, SQLSTATE, LOCATION, statement text or trailing newline). */
const char *im_pg_message(apr_pool_t *p, const char *msg);

#endif /* IM_CORE_H */
