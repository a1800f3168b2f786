/*
 * The collection's query string (docs/api.md): filters,
 * search terms, paging, and the links to other pages.
 *
 * Parsing follows what a Django REST Framework client sees: '+' is a space,
 * a repeated parameter keeps its last value, invalid UTF-8 becomes U+FFFD,
 * and links keep every other parameter, sorted by name.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "im_core.h"

#define IS_ASCII_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' \
                           || (c) == '\v' || (c) == '\f' || (c) == '\r')

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
/* The length of the well-formed UTF-8 sequence at s (n bytes available),
 * 0 if there is none; its code point in *out. */
static apr_size_t utf8_char(const unsigned char *s, apr_size_t n,
                            unsigned int *out)
{
    apr_size_t len, i;
    unsigned int cp;

    if (s[0] < 0x80) { *out = s[0]; return 1; }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) { len = 2; cp = s[0] & 0x1F; }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) { len = 3; cp = s[0] & 0x0F; }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    *out = cp;
    return len;
}

static apr_size_t utf8_seq(const unsigned char *s, apr_size_t n)
{
    unsigned int cp;

    return utf8_char(s, n, &cp);
}

/* Python's str.isspace(), what DRF's CharField and django-filter strip. */
static int is_py_space(unsigned int c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)
           || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029
           || c == 0x202F || c == 0x205F || c == 0x3000;
}

const char *im_strip_space(apr_pool_t *p, const char *s, apr_size_t len)
{
    const unsigned char *b = (const unsigned char *)s, *e = b + len, *c;
    unsigned int cp;
    apr_size_t k;

    while (b < e && (k = utf8_char(b, e - b, &cp)) && is_py_space(cp)) {
        b += k;
    }
    while (e > b) {
        /* back to the first byte of the last character */
        for (c = e - 1; c > b && e - c < 4 && (*c & 0xC0) == 0x80; c--);
        if (utf8_char(c, e - c, &cp) != (apr_size_t)(e - c)
            || !is_py_space(cp)) {
            break;
        }
        e = c;
    }
    return apr_pstrmemdup(p, (const char *)b, e - b);
}

int im_utf8_valid(const char *s)
{
    apr_size_t n = strlen(s), i = 0, k;

    while (i < n) {
        if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* im_form_decode; with out_len, NULs are kept and the length given (a
 * link keeps a parameter as Django's QueryDict holds it, NULs included). */
static char *form_decode(apr_pool_t *p, const char *s, apr_size_t len,
                         int *had_nul, apr_size_t *out_len)
{
    /* Decoded bytes first, then a UTF-8 pass that may grow each bad byte
     * to the three bytes of U+FFFD. */
    unsigned char *raw = apr_palloc(p, len + 1);
    char *out, *o;
    apr_size_t n = 0, i = 0;
    int h, l;

    if (had_nul) {
        *had_nul = 0;
    }
    while (i < len) {
        char c = s[i];
        if (c == '+') {
            raw[n++] = ' ';
            i++;
        }
        else if (c == '%' && len - i >= 3 && (h = hexval(s[i + 1])) >= 0
                 && (l = hexval(s[i + 2])) >= 0) {
            raw[n++] = (unsigned char)(h * 16 + l);
            i += 3;
        }
        else {
            raw[n++] = (unsigned char)c;
            i++;
        }
    }

    o = out = apr_palloc(p, n * 3 + 1);
    for (i = 0; i < n;) {
        apr_size_t k;
        if (raw[i] == 0) {
            if (had_nul) {
                *had_nul = 1;
            }
            if (out_len) {
                *o++ = '\0';
            }
            i++;                      /* else dropped */
            continue;
        }
        k = utf8_seq(raw + i, n - i);
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(o, raw + i, k);
        o += k;
        i += k;
    }
    *o = '\0';
    if (out_len) {
        *out_len = (apr_size_t)(o - out);
    }
    return out;
}

char *im_form_decode(apr_pool_t *p, const char *s, apr_size_t len,
                     int *had_nul)
{
    return form_decode(p, s, len, had_nul, NULL);
}

/* One decoded name=value pair of the query string, in order of appearance. */
typedef struct {
    const char *name;
    const char *value;
    apr_size_t name_len;     /* with keep_nul: NULs kept, so these count */
    apr_size_t value_len;
    int name_had_nul;        /* then no parameter the API knows */
    int value_had_nul;
    int seq;                 /* order of appearance, for a stable sort */
} param_t;

static apr_array_header_t *split_params(apr_pool_t *p, const char *args,
                                        int keep_nul)
{
    apr_array_header_t *params = apr_array_make(p, 8, sizeof(param_t));

    while (args && *args) {
        const char *end = strchr(args, '&');
        const char *eq;
        apr_size_t len = end ? (apr_size_t)(end - args) : strlen(args);
        param_t *pp;

        if (len > 0) {
            eq = memchr(args, '=', len);
            pp = apr_array_push(params);
            if (eq) {
                pp->name = form_decode(p, args, eq - args, &pp->name_had_nul,
                                       keep_nul ? &pp->name_len : NULL);
                pp->value = form_decode(p, eq + 1, len - (eq - args) - 1,
                                        &pp->value_had_nul,
                                        keep_nul ? &pp->value_len : NULL);
            }
            else {
                pp->name = form_decode(p, args, len, &pp->name_had_nul,
                                       keep_nul ? &pp->name_len : NULL);
                pp->value = "";
                pp->value_len = 0;
                pp->value_had_nul = 0;
            }
        }
        args = end ? end + 1 : NULL;
    }
    return params;
}

static const param_t *last_param(const apr_array_header_t *params,
                                 const char *name)
{
    int i;
    for (i = params->nelts - 1; i >= 0; i--) {
        const param_t *pp = &APR_ARRAY_IDX(params, i, param_t);
        if (!pp->name_had_nul && strcmp(pp->name, name) == 0) {
            return pp;
        }
    }
    return NULL;
}

/* page: empty is 1, digits (leading zeros allowed) >= 1, or "last". */
static apr_int64_t parse_page(const char *s)
{
    apr_int64_t v = 0;
    const char *c;

    if (!*s) {
        return 1;
    }
    if (strcmp(s, "last") == 0) {
        return IM_PAGE_LAST;
    }
    for (c = s; *c; c++) {
        if (*c < '0' || *c > '9') {
            return IM_PAGE_INVALID;
        }
        if (v <= (APR_INT64_MAX - 9) / 10) {
            v = v * 10 + (*c - '0');
        }
        else {
            v = APR_INT64_MAX;            /* past any end: still "too far" */
        }
    }
    return v >= 1 ? v : IM_PAGE_INVALID;
}

/* page_size like DRF's _positive_int(strict=True, cutoff=max): anything not
 * a positive integer is the default, anything above the maximum the
 * maximum. */
static int parse_page_size(const char *s, int dflt, int max)
{
    apr_int64_t v = 0;
    int neg = 0, digits = 0;

    while (IS_ASCII_SPACE(*s)) s++;
    if (*s == '+' || *s == '-') {
        neg = (*s == '-');
        s++;
    }
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (v <= max) {
            v = v * 10 + (*s - '0');
        }
    }
    while (IS_ASCII_SPACE(*s)) s++;
    if (*s || !digits || neg || v == 0) {
        return dflt;
    }
    return v > max ? max : (int)v;
}

/* "%term%" with the LIKE metacharacters of the term made literal. */
static char *like_pattern(apr_pool_t *p, const char *term, apr_size_t len)
{
    char *out = apr_palloc(p, len * 2 + 3), *o = out;
    apr_size_t i;

    *o++ = '%';
    for (i = 0; i < len; i++) {
        if (term[i] == '%' || term[i] == '_' || term[i] == '\\') {
            *o++ = '\\';
        }
        *o++ = term[i];
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

/* The lower-case partner of c, for telling repeated search terms apart:
 * towlower() in C.UTF-8, what PostgreSQL's lower() does character by
 * character in a database of a glibc UTF-8 locale (the search lower-cases
 * terms and text with it), so two terms folded alike match the same images.
 * Not İ, which lower() makes i here but i̇ with ICU or I's partner in a
 * Turkish locale: a pair missed only leaves a repeat searched twice.  The
 * locale is opened once before any request (im_query_fold_init). */
static locale_t utf8_ctype = (locale_t)0;

static apr_status_t utf8_ctype_close(void *data)
{
    (void)data;
    if (utf8_ctype != (locale_t)0) {
        freelocale(utf8_ctype);
        utf8_ctype = (locale_t)0;
    }
    return APR_SUCCESS;
}

int im_query_fold_init(apr_pool_t *p)
{
    if (utf8_ctype == (locale_t)0
        && (utf8_ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8",
                                   (locale_t)0)) != (locale_t)0) {
        apr_pool_cleanup_register(p, NULL, utf8_ctype_close,
                                  apr_pool_cleanup_null);
    }
    return utf8_ctype != (locale_t)0;
}

/* Without that locale: ASCII and the simple one-to-one pairs of Latin-1
 * Supplement, Latin Extended-A, Greek and Cyrillic, each one lower() also
 * makes. */
static unsigned int fold_char_table(unsigned int c)
{
    if (c < 0x80) {
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)          /* À-Þ but × */
        || (c >= 0x391 && c <= 0x3AB && c != 0x3A2)    /* Α-Ϋ */
        || (c >= 0x410 && c <= 0x42F)) {               /* А-Я */
        return c + 32;
    }
    if (c == 0x178) {
        return 0xFF;                                   /* Ÿ */
    }
    /* pairs, upper case at the even code point */
    if ((c >= 0x100 && c <= 0x137 && c != 0x130)     /* not İ: i */
        || (c >= 0x14A && c <= 0x177)
        || (c >= 0x3D8 && c <= 0x3EF) || (c >= 0x460 && c <= 0x481)
        || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x4FF)) {
        return c | 1;
    }
    /* pairs, upper case at the odd code point */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)
        || (c >= 0x4C1 && c <= 0x4CE)) {
        return c & 1 ? c + 1 : c;
    }
    if (c == 0x386) {
        return 0x3AC;                                  /* Ά */
    }
    if (c >= 0x388 && c <= 0x38A) {
        return c + 37;                                 /* Έ Ή Ί */
    }
    if (c == 0x38C) {
        return 0x3CC;                                  /* Ό */
    }
    if (c == 0x38E || c == 0x38F) {
        return c + 63;                                 /* Ύ Ώ */
    }
    if (c >= 0x400 && c <= 0x40F) {
        return c + 80;                                 /* Ѐ-Џ */
    }
    if (c == 0x4C0) {
        return 0x4CF;                                  /* Ӏ */
    }
    return c;
}

static unsigned int fold_char(unsigned int c)
{
    if (c >= 0x80 && c != 0x130 && utf8_ctype) {
        return (unsigned int)towlower_l((wint_t)c, utf8_ctype);
    }
    return fold_char_table(c);
}

/* A term's key for finding repeats: its characters folded (fold_char). */
static const char *fold_term(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len * 2 + 1), *o = out;
    apr_size_t i = 0, k;
    unsigned int c;

    while (i < len) {
        if (!(k = utf8_char((const unsigned char *)s + i, len - i, &c))) {
            *o++ = s[i++];            /* not expected: terms are UTF-8 */
            continue;
        }
        i += k;
        c = fold_char(c);
        if (c < 0x80) {
            *o++ = (char)c;
        }
        else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
        else if (c < 0x10000) {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
        else {
            *o++ = (char)(0xF0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = '\0';
    return out;
}

/* The index of images' words (sql/derived.sql) has the suffixes of two
 * characters or more of each run of letters and digits: a term whose
 * longest run is shorter has nothing to look up, and every row would be
 * read. */
#define INDEXABLE_TERM 2
/* A run of two ("of", "vm") leads only when no term has a run of three:
 * beside a longer term it is cheaper checked on the rows that one finds
 * than looked up (a prefix of two asks for most of the index's words). */
#define LONG_LEAD 3
/* The index keeps the first 32 characters of each suffix. */
#define EXACT_TERM_MAX 32

/* A byte of a run, as sql/derived.sql splits text: ASCII letters and
 * digits, and every byte of a character beyond ASCII (whatever the
 * locale of httpd or of the database calls it). */
static int word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* The length in characters of the longest run in s (len bytes of UTF-8). */
static apr_size_t longest_word(const char *s, apr_size_t len)
{
    apr_size_t i, run = 0, best = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) == 0x80) {
            continue;                     /* the rest of a character */
        }
        run = word_byte(c) ? run + 1 : 0;
        if (run > best) {
            best = run;
        }
    }
    return best;
}

int im_search_exact(const char *pattern)
{
    /* "%term%": the term is between the two % (an escape is not a letter);
     * exact when each of its characters is a run's, 2 to 32 of them */
    apr_size_t len = strlen(pattern), chars = 0, i;

    for (i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)pattern[i];
        if ((c & 0xC0) == 0x80) {
            continue;                     /* the rest of a character */
        }
        if (!word_byte(c)) {
            return 0;
        }
        chars++;
    }
    return chars >= INDEXABLE_TERM && chars <= EXACT_TERM_MAX;
}

static void parse_search(apr_pool_t *p, const char *s, im_list_query_t *q)
{
    apr_array_header_t *pats = apr_array_make(p, 4, sizeof(char *));
    /* the patterns of the three terms with the longest words, and the
     * lengths of those words, longest first */
    const char *lead[3] = {"", "", ""};
    apr_size_t lead_len[3] = {0, 0, 0};
    apr_size_t lead_min;
    apr_array_header_t *rest;
    /* the terms seen so far, folded: a repeat counts, and runs, once */
    apr_hash_t *seen = apr_hash_make(p);
    int i, k;

    q->search_terms = 0;
    q->search_leads = 0;
    q->search_all = q->search_rest = "";
    while (*s) {
        const char *start, *key;
        apr_size_t len;
        char *pat;
        while (*s && (IS_ASCII_SPACE(*s) || *s == ',')) s++;
        if (!*s) {
            break;
        }
        start = s;
        while (*s && !IS_ASCII_SPACE(*s) && *s != ',') s++;
        len = s - start;
        key = fold_term(p, start, len);
        if (apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, key);
        pat = like_pattern(p, start, len);
        *(char **)apr_array_push(pats) = pat;
        len = longest_word(start, len);
        for (k = 0; k < 3; k++) {
            if (len > lead_len[k]) {
                memmove(lead + k + 1, lead + k, (2 - k) * sizeof(*lead));
                memmove(lead_len + k + 1, lead_len + k,
                        (2 - k) * sizeof(*lead_len));
                lead[k] = pat;
                lead_len[k] = len;
                break;
            }
        }
    }
    q->search_terms = pats->nelts;
    if (!pats->nelts) {
        return;
    }
    q->search_all = apr_array_pstrcat(p, pats, '\n');
    /* the three with the longest words lead when the index can use them
     * (runs of two only when no term has a longer one): the others are
     * checked on the rows the leads found (or, with no lead, on every
     * row) */
    lead_min = lead_len[0] >= LONG_LEAD ? LONG_LEAD : INDEXABLE_TERM;
    for (k = 0; k < 3 && lead_len[k] >= lead_min; k++) {
        q->search_lead_run[q->search_leads] = im_search_exact(lead[k])
            ? apr_pstrndup(p, lead[k] + 1, strlen(lead[k]) - 2) : "";
        q->search_lead[q->search_leads++] = lead[k];
    }
    /* the others, and the leads the index answers only in part, are
     * checked row by row (a lead is one of the patterns themselves, so it
     * is told apart by its address) */
    rest = apr_array_make(p, pats->nelts, sizeof(char *));
    for (i = 0; i < pats->nelts; i++) {
        const char *pat = APR_ARRAY_IDX(pats, i, const char *);
        for (k = 0; k < q->search_leads && q->search_lead[k] != pat; k++);
        if (k == q->search_leads || !im_search_exact(pat)) {
            *(const char **)apr_array_push(rest) = pat;
        }
    }
    q->search_rest = apr_array_pstrcat(p, rest, '\n');
}

void im_query_parse(apr_pool_t *p, const char *args, int default_size,
                    int max_size, im_list_query_t *out)
{
    apr_array_header_t *params = split_params(p, args, 0);
    const param_t *pp;

    memset(out, 0, sizeof(*out));
    out->created_by = "";
    out->tag = "";

    out->search_all = out->search_rest = "";
    out->search_lead[0] = out->search_lead[1] = out->search_lead[2] = "";
    out->search_lead_run[0] = out->search_lead_run[1] = "";
    out->search_lead_run[2] = "";
    out->page = 1;
    out->page_size = default_size;

    if ((pp = last_param(params, "created_by__username"))) {
        out->created_by = im_strip_space(p, pp->value, strlen(pp->value));
        if (pp->value_had_nul) {
            out->invalid_param = "created_by__username";
        }
    }
    if ((pp = last_param(params, "tags__name"))) {
        out->tag = im_strip_space(p, pp->value, strlen(pp->value));
        if (pp->value_had_nul) {
            out->invalid_param = "tags__name";
        }
    }
    if ((pp = last_param(params, "search"))) {
        parse_search(p, pp->value, out);   /* NULs dropped, as DRF does */
    }
    if ((pp = last_param(params, "page"))) {
        out->page = pp->value_had_nul ? IM_PAGE_INVALID
                                      : parse_page(pp->value);
    }
    if ((pp = last_param(params, "page_size"))) {
        /* "1\0" + "2" is not a number (Python's int), not 12 */
        out->page_size = pp->value_had_nul
            ? default_size : parse_page_size(pp->value, default_size,
                                             max_size);
    }
}

/* Python's urllib.parse.quote_plus, on len bytes of UTF-8 text. */
static void quote_plus(apr_array_header_t *buf, const char *s, apr_size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'
            || c == '~') {
            *(char *)apr_array_push(buf) = (char)c;
        }
        else if (c == ' ') {
            *(char *)apr_array_push(buf) = '+';
        }
        else {
            *(char *)apr_array_push(buf) = '%';
            *(char *)apr_array_push(buf) = hex[c >> 4];
            *(char *)apr_array_push(buf) = hex[c & 15];
        }
    }
}

static int cmp_param(const void *a, const void *b)
{
    const param_t *x = a, *y = b;
    int c = memcmp(x->name, y->name, x->name_len < y->name_len
                                     ? x->name_len : y->name_len);
    if (!c) {
        c = (x->name_len > y->name_len) - (x->name_len < y->name_len);
    }
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

const char *im_query_link(apr_pool_t *p, const char *args, apr_int64_t page)
{
    apr_array_header_t *params = split_params(p, args, 1);
    apr_array_header_t *kept = apr_array_make(p, params->nelts + 1,
                                              sizeof(param_t));
    apr_array_header_t *buf = apr_array_make(p, 64, 1);
    int i;

    for (i = 0; i < params->nelts; i++) {
        param_t *pp = &APR_ARRAY_IDX(params, i, param_t);
        if (pp->name_len != 4 || memcmp(pp->name, "page", 4) != 0) {
            pp->seq = i;
            *(param_t *)apr_array_push(kept) = *pp;
        }
    }
    if (page > 0) {
        param_t *pp = apr_array_push(kept);
        pp->name = "page";
        pp->value = apr_psprintf(p, "%" APR_INT64_T_FMT, page);
        pp->name_len = 4;
        pp->value_len = strlen(pp->value);
        pp->seq = i;
    }
    /* sorted by name like DRF's replace_query_param; equal names keep
     * their order of appearance */
    qsort(kept->elts, kept->nelts, sizeof(param_t), cmp_param);
    for (i = 0; i < kept->nelts; i++) {
        const param_t *pp = &APR_ARRAY_IDX(kept, i, param_t);
        *(char *)apr_array_push(buf) = i ? '&' : '?';
        quote_plus(buf, pp->name, pp->name_len);
        *(char *)apr_array_push(buf) = '=';
        quote_plus(buf, pp->value, pp->value_len);
    }
    *(char *)apr_array_push(buf) = '\0';
    return buf->elts;
}
