/*
 * libFuzzer target: the collection's query string (im_query_parse with the
 * default page size 100 and maximum 1000, search splitting, im_query_link,
 * im_form_decode), docs/api.md.
 */
#include <ctype.h>

#include <apr_strings.h>

#include "fuzz_common.h"

#define DEFAULT_SIZE 100
#define MAX_SIZE 1000

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The bytes a form component decodes to, before any UTF-8 repair, in a
 * malloc'd block; *n its length.  Written independently of im_query.c. */
static unsigned char *reference_decode(const char *s, size_t len, size_t *n)
{
    unsigned char *out = malloc(len + 1);
    size_t i = 0, o = 0;

    if (!out) {
        abort();
    }
    while (i < len) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0
            && hexval(s[i + 2]) >= 0) {
            out[o++] = (unsigned char)(hexval(s[i + 1]) * 16
                                       + hexval(s[i + 2]));
            i += 3;
        }
        else {
            out[o++] = s[i] == '+' ? ' ' : (unsigned char)s[i];
            i++;
        }
    }
    *n = o;
    return out;
}

static void check_decode(apr_pool_t *p, const char *s, size_t len)
{
    int had_nul = -1;
    size_t n, i, nuls = 0;
    unsigned char *ref = reference_decode(s, len, &n);
    char *out = im_form_decode(p, s, len, &had_nul);

    CHECK(out != NULL);
    CHECK(im_utf8_valid(out));
    CHECK(strlen(out) <= 3 * len);
    for (i = 0; i < n; i++) {
        nuls += ref[i] == 0;
    }
    CHECK(had_nul == (nuls > 0));
    /* valid UTF-8 without NULs comes through unchanged */
    ref[n] = '\0';
    if (!nuls && im_utf8_valid((const char *)ref)) {
        CHECK(strcmp(out, (const char *)ref) == 0);
    }
    /* decoding without asking about NULs gives the same text */
    CHECK(strcmp(im_form_decode(p, s, len, NULL), out) == 0);
    free(ref);
}

/* No ASCII whitespace at either end. */
static int stripped(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || (!strchr(" \t\n\v\f\r", s[0])
                      && !strchr(" \t\n\v\f\r", s[n - 1]));
}

/* RFC 3629's table, written independently of im_query.c. */
static int reference_utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned char c = s[0];
        int n, i;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) { s++; continue; }
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        else return 0;
        if (s[1] < lo || s[1] > hi) return 0;
        for (i = 2; i <= n; i++) {
            if (s[i] < 0x80 || s[i] > 0xBF) return 0;
        }
        s += n + 1;
    }
    return 1;
}

/* The line after the one at s, or the end of the text. */
static const char *next_line(const char *s)
{
    s += strcspn(s, "\n");
    return *s ? s + 1 : s;
}

/* The longest run of ASCII letters and digits or non-ASCII characters in
 * s[0..n), in characters: what makes a term a lead (im_query.c). */
static size_t word_len(const char *s, size_t n)
{
    size_t i, run = 0, best = 0;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xC0) == 0x80) {
            continue;
        }
        run = (ch >= 0x80 || (ch >= '0' && ch <= '9')
               || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
              ? run + 1 : 0;
        best = run > best ? run : best;
    }
    return best;
}

/* The shortest run a lead has: the index holds suffixes of 2 characters
 * or more (im_query.c's INDEXABLE_TERM, sql/derived.sql); 3 when some
 * term has a run of 3 (LONG_LEAD). */
static size_t lead_run(const im_list_query_t *q)
{
    return q->search_leads
           && word_len(q->search_lead[0], strlen(q->search_lead[0])) >= 3
           ? 3 : 2;
}

static void check_query(const im_list_query_t *q)
{
    const char *c;
    int lines, k, exact;

    CHECK(q->page_size >= 1 && q->page_size <= MAX_SIZE);
    CHECK(q->page >= 1 || q->page == IM_PAGE_LAST
          || q->page == IM_PAGE_INVALID);
    CHECK(q->created_by && q->tag && q->search_all && q->search_rest);
    CHECK(im_utf8_valid(q->created_by));
    CHECK(im_utf8_valid(q->tag));
    CHECK(im_utf8_valid(q->search_all));
    CHECK(stripped(q->created_by) && stripped(q->tag));
    if (q->invalid_param) {
        CHECK(im_utf8_valid(q->invalid_param));
        CHECK(strcmp(q->invalid_param, "created_by__username") == 0
              || strcmp(q->invalid_param, "tags__name") == 0);
    }
    CHECK(q->search_terms >= 0);
    if (q->search_terms == 0) {
        CHECK(q->search_leads == 0 && *q->search_all == '\0'
              && *q->search_rest == '\0');
        return;
    }
    /* one "%...%" pattern a line */
    lines = 1;
    for (c = q->search_all; *c; c++) {
        lines += *c == '\n';
    }
    CHECK(lines == q->search_terms);
    /* the terms that do not lead, and the leads the index does not answer
     * exactly, are the rest, one a line */
    CHECK(im_utf8_valid(q->search_rest));
    lines = *q->search_rest ? 1 : 0;
    for (c = q->search_rest; *c; c++) {
        lines += *c == '\n';
    }
    exact = 0;
    for (k = 0; k < q->search_leads; k++) {
        size_t n = strlen(q->search_lead[k]), chars = 0, j;
        for (j = 1; j + 1 < n; j++) {
            chars += ((unsigned char)q->search_lead[k][j] & 0xC0) != 0x80;
        }
        exact += im_search_exact(q->search_lead[k]);
        /* exact: one run of 2 to 32 characters */
        CHECK(im_search_exact(q->search_lead[k])
              == (chars >= 2 && chars <= 32
                  && word_len(q->search_lead[k], n) == chars));
        CHECK(im_search_exact(q->search_lead[k])
              || strstr(q->search_rest, q->search_lead[k]) != NULL);
        /* an exact lead's run is its pattern between the %: no escapes */
        CHECK(im_search_exact(q->search_lead[k])
              ? strlen(q->search_lead_run[k]) == n - 2
                && memcmp(q->search_lead_run[k], q->search_lead[k] + 1,
                          n - 2) == 0
                && !strpbrk(q->search_lead_run[k], "%_\\'")
              : *q->search_lead_run[k] == '\0');
    }
    for (k = q->search_leads; k < 3; k++) {
        CHECK(*q->search_lead_run[k] == '\0');
    }
    CHECK(lines == q->search_terms - exact);
    /* the leads are terms of the search with a word of 2 characters or
     * more, the longest word first */
    CHECK(q->search_leads >= 0 && q->search_leads <= 3);
    for (k = 0; k < q->search_leads; k++) {
        CHECK(im_utf8_valid(q->search_lead[k]));
        CHECK(word_len(q->search_lead[k], strlen(q->search_lead[k]))
              >= lead_run(q));
        CHECK(strstr(q->search_all, q->search_lead[k]) != NULL);
        CHECK(k == 0 || word_len(q->search_lead[k], strlen(q->search_lead[k]))
                        <= word_len(q->search_lead[k - 1],
                                    strlen(q->search_lead[k - 1])));
    }
    /* no pattern twice: a repeated term is dropped (checked pair by pair
     * on small searches only) */
    if (q->search_terms <= 64) {
        const char *a, *b;
        size_t alen;

        for (a = q->search_all; *a; a = next_line(a)) {
            alen = strcspn(a, "\n");
            for (b = next_line(a); *b; b = next_line(b)) {
                CHECK(strcspn(b, "\n") != alen || memcmp(a, b, alen) != 0);
            }
        }
    }
    for (c = q->search_all; *c;) {
        size_t len = strcspn(c, "\n");
        CHECK(len >= 3 && c[0] == '%' && c[len - 1] == '%');
        /* a term that does not lead has no longer word than the last
         * lead; with fewer than three leads, its words are under 2
         * characters, or under 3 when a lead has 3 */
        for (k = 0; k < q->search_leads
                    && (strlen(q->search_lead[k]) != len
                        || memcmp(q->search_lead[k], c, len) != 0); k++);
        if (k == q->search_leads) {
            CHECK(q->search_leads == 3
                  ? word_len(c, len) <= word_len(q->search_lead[2],
                                                 strlen(q->search_lead[2]))
                  : word_len(c, len) < lead_run(q));
        }
        /* a term holds no separator */
        CHECK(strcspn(c, " \t\n\v\f\r,") >= len);
        c += len + (c[len] == '\n');
    }
}

static void check_link(const char *link)
{
    const char *c;

    CHECK(link != NULL);
    if (!*link) {
        return;
    }
    CHECK(link[0] == '?');
    for (c = link + 1; *c; c++) {
        CHECK((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || strchr("_.-~+%&=", *c));
        if (*c == '%') {
            CHECK(hexval(c[1]) >= 0 && hexval(c[2]) >= 0);
        }
    }
}

/* Following a link must give the same listing, on the page asked for. */
static void check_link_roundtrip(apr_pool_t *p, const im_list_query_t *q,
                                 const char *link, apr_int64_t page)
{
    im_list_query_t again;

    im_query_parse(p, *link ? link + 1 : NULL, DEFAULT_SIZE, MAX_SIZE,
                   &again);
    CHECK(again.page == (page > 0 ? page : 1));
    CHECK(again.page_size == q->page_size);
    CHECK(strcmp(again.created_by, q->created_by) == 0);
    CHECK(strcmp(again.tag, q->tag) == 0);
    CHECK(again.search_terms == q->search_terms);
    CHECK(strcmp(again.search_all, q->search_all) == 0);
    CHECK(again.search_leads == q->search_leads);
    CHECK(!q->search_leads
          || strcmp(again.search_lead[0], q->search_lead[0]) == 0);
    CHECK(again.invalid_param == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* previous of page 2 (no page), first, next, the largest */
    static const apr_int64_t pages[] = { 0, 1, 3, APR_INT64_MAX };
    apr_pool_t *p = fz_begin();
    char *args = fz_cstr(data, size);
    im_list_query_t q;
    size_t i;

    CHECK(im_utf8_valid(args) == reference_utf8_valid((unsigned char *)args));
    im_query_parse(p, args, DEFAULT_SIZE, MAX_SIZE, &q);
    check_query(&q);
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        const char *link = im_query_link(p, args, pages[i]);
        check_link(link);
        /* a query with a NUL in a filter is a 400: it has no links */
        if (!q.invalid_param) {
            check_link_roundtrip(p, &q, link, pages[i]);
        }
    }
    if (q.page > 0) {
        check_link(im_query_link(p, args, q.page + (q.page < APR_INT64_MAX)));
    }

    /* one component: the raw bytes, NULs included */
    check_decode(p, (const char *)data, size);

    free(args);
    fz_end(p);
    return 0;
}
