/* Unit tests of the pure parts (im_core.h), without httpd. */
#include <stdlib.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "im_core.h"
#include "tap.h"

static apr_pool_t *p;

static void test_path(void)
{
    im_path_t path;
    apr_int64_t id;
    char uuid[37];

    im_path_parse("", &path);
    ok(path.kind == IM_PATH_COLLECTION, "empty rest is the collection");
    im_path_parse("/", &path);
    ok(path.kind == IM_PATH_COLLECTION, "trailing slash is the collection");
    im_path_parse("/42", &path);
    ok(path.kind == IM_PATH_ITEM_ID && path.id == 42, "integer id");
    im_path_parse("/0042", &path);
    ok(path.kind == IM_PATH_ITEM_ID && path.id == 42, "leading zeros");
    im_path_parse("/9223372036854775807", &path);
    ok(path.kind == IM_PATH_ITEM_ID && path.id == APR_INT64_MAX,
       "largest bigint");
    im_path_parse("/9223372036854775808", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "bigint overflow is not found");
    im_path_parse("/-1", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "sign is not found");
    im_path_parse("/+1", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "plus sign is not found");
    im_path_parse("/1/x", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "deeper path is not found");
    im_path_parse("/1/", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "item with trailing slash");
    im_path_parse("/abc", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "word is not found");
    im_path_parse("x", &path);
    ok(path.kind == IM_PATH_NOT_FOUND, "no slash after base");
    im_path_parse("/F268AEBC-D956-11E4-B9D6-1681E6B88EC1", &path);
    ok(path.kind == IM_PATH_ITEM_UUID, "upper-case uuid");
    is_str(path.uuid, "f268aebc-d956-11e4-b9d6-1681e6b88ec1",
           "uuid lower-cased");
    ok(!im_parse_uuid("f268aebcd95611e4b9d61681e6b88ec1", uuid),
       "uuid without dashes");
    ok(!im_parse_uuid("f268aebc-d956-11e4-b9d6-1681e6b88ec", uuid),
       "short uuid");
    ok(!im_parse_uuid("g268aebc-d956-11e4-b9d6-1681e6b88ec1", uuid),
       "non-hex uuid");
    ok(!im_parse_id("", &id), "empty id");
}

static void test_query(void)
{
    im_list_query_t q;

    im_query_parse(p, NULL, 100, 1000, &q);
    ok(q.page == 1 && q.page_size == 100 && !*q.created_by && !*q.tag
       && q.search_terms == 0, "no query string: defaults");
    im_query_parse(p, "created_by__username=+alice%20&tags__name=ubuntu",
                   100, 1000, &q);
    is_str(q.created_by, "alice", "filter value stripped, + is space");
    is_str(q.tag, "ubuntu", "tag filter");
    im_query_parse(p, "tags__name=%C2%A0%E3%80%80ubuntu%E2%80%A8%1F",
                   100, 1000, &q);
    is_str(q.tag, "ubuntu", "Unicode whitespace stripped, as str.strip()");
    im_query_parse(p, "tags__name=%C2%A0x%C2%A0y%C2%A0", 100, 1000, &q);
    is_str(q.tag, "x\xC2\xA0y", "inner whitespace kept");
    im_query_parse(p, "tags__name=%E2%80%8Bx", 100, 1000, &q);
    is_str(q.tag, "\xE2\x80\x8Bx", "zero-width space is not whitespace");
    im_query_parse(p, "tags__name=a&tags__name=b", 100, 1000, &q);
    is_str(q.tag, "b", "repeated parameter keeps the last value");
    im_query_parse(p, "Tags__Name=a", 100, 1000, &q);
    is_str(q.tag, "", "parameter names are case-sensitive");
    im_query_parse(p, "created_by__username=a%00b", 100, 1000, &q);
    is_str(q.invalid_param, "created_by__username", "NUL in a filter");

    im_query_parse(p, "search=foo+bar,,baz%09qux", 100, 1000, &q);
    ok(q.search_terms == 4, "search split on space, comma, tab");
    is_str(q.search_all, "%foo%\n%bar%\n%baz%\n%qux%", "search patterns");
    im_query_parse(p, "search=a%25b_c%5Cd+longestterm", 100, 1000, &q);
    is_str(q.search_all, "%a\\%b\\_c\\\\d%\n%longestterm%",
           "LIKE metacharacters escaped");
    ok(q.search_leads == 1, "a term with no word of 2 does not lead");
    is_str(q.search_lead[0], "%longestterm%", "longest term leads");
    is_str(q.search_rest, "%a\\%b\\_c\\\\d%", "the other is checked");
    im_query_parse(p, "search=abc+xyzw", 100, 1000, &q);
    is_str(q.search_rest, "", "no term left when every term leads");
    /* words are runs of ASCII letters and digits and of characters beyond
     * ASCII, counted in characters */
    im_query_parse(p, "search=%C3%A9+c%2B%2B+1.0.2+a-b-c", 100, 1000, &q);
    ok(q.search_leads == 0, "no word of two characters: none leads");
    im_query_parse(p, "search=%C3%A9%C3%A9+c%2B%2B+1.0.2", 100, 1000, &q);
    ok(q.search_leads == 1 && strcmp(q.search_lead[0], "%\xC3\xA9\xC3\xA9%")
       == 0, "two characters of a term lead (beyond ASCII too)");
    is_str(q.search_lead_run[0], "\xC3\xA9\xC3\xA9",
           "and the index answers them exactly");
    im_query_parse(p, "search=%C3%A9t%C3%A9+gcc-12+caf%C3%A9", 100, 1000, &q);
    ok(q.search_leads == 3, "three characters of a term lead");
    is_str(q.search_lead[0], "%caf\xC3\xA9%", "the longest run first");
    is_str(q.search_rest, "%gcc-12%",
           "a lead that is not one word is checked too");
    is_str(q.search_lead_run[0], "caf\xC3\xA9",
           "an exact lead's run: its term, as the client wrote it");
    is_str(q.search_lead[2], "%gcc-12%", "gcc-12 leads third");
    is_str(q.search_lead_run[2], "", "a lead that is not one word: no run");
    im_query_parse(p, "search=Ubuntu", 100, 1000, &q);
    is_str(q.search_lead_run[0], "Ubuntu", "the run keeps its case (SQL lowers)");
    is_str(q.search_lead_run[1], "", "no second lead: no run");
    /* a lead the index answers exactly: one run of 2 to 32 characters */
    ok(im_search_exact("%abc%") && im_search_exact("%Abc123%")
       && im_search_exact("%caf\xC3\xA9%")
       && im_search_exact("%\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC%"),
       "one word: exact (any character beyond ASCII is a letter)");
    ok(im_search_exact("%ab%") && im_search_exact("%Q7%")
       && im_search_exact("%\xC3\xA9\xC3\xA9%"),
       "two characters: exact");
    ok(!im_search_exact("%a%") && !im_search_exact("%x.org%")
       && !im_search_exact("%a\\_b%") && !im_search_exact("%\xC3\xA9%")
       && !im_search_exact("%%"),
       "one character, or not one word: not exact");
    ok(im_search_exact("%abcdefghijklmnopqrstuvwxyz012345%")
       && !im_search_exact("%abcdefghijklmnopqrstuvwxyz0123456%")
       && im_search_exact("%" "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                          "\xC3\xA9\xC3\xA9" "%"),
       "32 characters at most (not bytes)");
    im_query_parse(p, "search=bb+a+dddd+ccc+eeeee", 100, 1000, &q);
    ok(q.search_leads == 3 && strcmp(q.search_lead[0], "%eeeee%") == 0
       && strcmp(q.search_lead[1], "%dddd%") == 0
       && strcmp(q.search_lead[2], "%ccc%") == 0, "three longest, in order");
    im_query_parse(p, "search=g+x", 100, 1000, &q);
    ok(q.search_leads == 0, "short terms only: none leads");
    is_str(q.search_rest, "%g%\n%x%", "short terms only: all checked");
    im_query_parse(p, "search=ge+x", 100, 1000, &q);
    ok(q.search_leads == 1 && strcmp(q.search_lead[0], "%ge%") == 0,
       "a term of two characters leads");
    is_str(q.search_rest, "%x%", "one of one character is checked");
    im_query_parse(p, "search=ubuntu+of+vm", 100, 1000, &q);
    ok(q.search_leads == 1 && strcmp(q.search_lead[0], "%ubuntu%") == 0,
       "beside a run of three, runs of two do not lead");
    is_str(q.search_rest, "%of%\n%vm%", "they are checked on its rows");
    im_query_parse(p, "search=vm+of+x", 100, 1000, &q);
    ok(q.search_leads == 2 && strcmp(q.search_lead[0], "%vm%") == 0
       && strcmp(q.search_lead[1], "%of%") == 0,
       "with no run of three, runs of two lead");
    is_str(q.search_rest, "%x%", "and one character is checked");
    im_query_parse(p, "search=jupyter+g", 100, 1000, &q);
    ok(q.search_leads == 1, "a short second term does not lead");
    is_str(q.search_rest, "%g%", "the short term is checked row by row");
    im_query_parse(p, "search=bb+a+dddd+ccc+eeeee+c", 100, 1000, &q);
    is_str(q.search_rest, "%bb%\n%a%\n%c%",
           "the terms that do not lead, in their order");

    /* a repeated term, in any letter case, counts and runs once */
    im_query_parse(p, "search=bb+a+dddd+ccc+eeeee+bb+BB+Bb", 100, 1000, &q);
    ok(q.search_terms == 5, "repeats count once");
    is_str(q.search_rest, "%bb%\n%a%", "a repeat is not searched again");
    im_query_parse(p, "search=Ubuntu,ubuntu+UBUNTU+ubuntu%2C", 100, 1000, &q);
    ok(q.search_terms == 1 && q.search_leads == 1, "one distinct term");
    is_str(q.search_all, "%Ubuntu%", "the first spelling is kept");
    im_query_parse(p, "search=%C3%84%C3%96+%C3%A4%C3%B6+"          /* ÄÖ äö */
                      "%C5%BD%C5%BE+%C5%BD%C5%BD+"                  /* Žž ŽŽ */
                      "%C5%B8+%C3%BF+"                              /* Ÿ ÿ */
                      "%CE%A3%CE%86+%CF%83%CE%AC+"                  /* ΣΆ σά */
                      "%D0%96%D0%81+%D0%B6%D1%91+"                  /* ЖЁ жё */
                      "%D3%90+%D3%91",                              /* Ӑ ӑ */
                   100, 1000, &q);
    ok(q.search_terms == 6, "Latin-1, Latin Extended-A, Greek, Cyrillic "
       "pairs fold (%d)", q.search_terms);
    {
        /* with C.UTF-8 (as the module opens it before serving), every
         * pair lower() makes; without it, the table of four blocks */
        static const char *const more =
            "search=vi%E1%BB%87t+VI%E1%BB%86T+"                     /* việt */
            "%EF%BC%A1+%EF%BD%81+"                                  /* Ａ ａ */
            "%C7%8D+%C7%8E+"                                        /* Ǎ ǎ */
            "%D4%B1+%D5%A1+"                                        /* Ա ա */
            "%E1%BA%9E+%C3%9F+"                                     /* ẞ ß */
            "%E2%84%AA+k+"                                          /* K k */
            "%F0%90%90%80+%F0%90%90%A8";                            /* 𐐀 𐐨 */
        apr_pool_t *sub;

        apr_pool_create(&sub, p);
        ok(im_query_fold_init(sub), "the C.UTF-8 locale opens");
        im_query_parse(p, more, 100, 1000, &q);
        ok(q.search_terms == 7, "Vietnamese, fullwidth, Latin Extended-B, "
           "Armenian, capital sharp s, Kelvin, Deseret fold as lower() "
           "does (%d)", q.search_terms);
        apr_pool_destroy(sub);
        im_query_parse(p, more, 100, 1000, &q);
        ok(q.search_terms == 14, "without the locale they do not (%d)",
           q.search_terms);
        im_query_parse(p, "search=%C3%84+%C3%A4+%D0%96+%D0%B6", 100, 1000,
                       &q);
        ok(q.search_terms == 2, "without the locale the four blocks fold "
           "(%d)", q.search_terms);
        ok(im_query_fold_init(p), "the locale opens again");
    }
    im_query_parse(p, "search=%C3%9F+ss+SS+%C3%97+%C3%B7+"          /* ß × ÷ */
                      "%C4%B0+i+%C4%B1+I+%C2%B5+%CE%BC+"            /* İ ı µ μ */
                      "%CF%82+%CF%83",                              /* ς σ */
                   100, 1000, &q);
    ok(q.search_terms == 11, "no fold where lower() makes no pair "
       "(ß/ss, ×/÷, ı, µ/μ, ς/σ), nor for İ (i̇ with ICU): %d",
       q.search_terms);
    im_query_parse(p, "search=a%25+A%25+a_+a%5C", 100, 1000, &q);
    is_str(q.search_all, "%a\\%%\n%a\\_%\n%a\\\\%",
           "metacharacters compared as themselves");
    im_query_parse(p, "search=+,+", 100, 1000, &q);
    ok(q.search_terms == 0, "only separators: no search");
    im_query_parse(p, "search=%FF", 100, 1000, &q);
    is_str(q.search_all, "%\xEF\xBF\xBD%", "invalid UTF-8 becomes U+FFFD");

    im_query_parse(p, "page=", 100, 1000, &q);
    ok(q.page == 1, "empty page is 1");
    im_query_parse(p, "page=007", 100, 1000, &q);
    ok(q.page == 7, "page with leading zeros");
    im_query_parse(p, "page=last", 100, 1000, &q);
    ok(q.page == IM_PAGE_LAST, "page=last");
    im_query_parse(p, "page=0", 100, 1000, &q);
    ok(q.page == IM_PAGE_INVALID, "page=0 invalid");
    im_query_parse(p, "page=-1", 100, 1000, &q);
    ok(q.page == IM_PAGE_INVALID, "page=-1 invalid");
    im_query_parse(p, "page=1.5", 100, 1000, &q);
    ok(q.page == IM_PAGE_INVALID, "page=1.5 invalid");
    im_query_parse(p, "page=abc", 100, 1000, &q);
    ok(q.page == IM_PAGE_INVALID, "page=abc invalid");
    im_query_parse(p, "page=99999999999999999999999", 100, 1000, &q);
    ok(q.page > 1000000000, "huge page is past any end");

    im_query_parse(p, "page_size=5", 100, 1000, &q);
    ok(q.page_size == 5, "page_size=5");
    im_query_parse(p, "page_size=0", 100, 1000, &q);
    ok(q.page_size == 100, "page_size=0 is the default");
    im_query_parse(p, "page_size=-1", 100, 1000, &q);
    ok(q.page_size == 100, "page_size=-1 is the default");
    im_query_parse(p, "page_size=abc", 100, 1000, &q);
    ok(q.page_size == 100, "page_size=abc is the default");
    im_query_parse(p, "page_size=", 100, 1000, &q);
    ok(q.page_size == 100, "empty page_size is the default");
    im_query_parse(p, "page_size=5000", 100, 1000, &q);
    ok(q.page_size == 1000, "page_size=5000 is the maximum");
    im_query_parse(p, "page_size=99999999999999999999999999", 100, 1000, &q);
    ok(q.page_size == 1000, "unparseably large page_size is the maximum");
    im_query_parse(p, "page_size=1%002", 100, 1000, &q);
    ok(q.page_size == 100, "page_size with a NUL is not a number: default");
    im_query_parse(p, "page_size=5%00", 100, 1000, &q);
    ok(q.page_size == 100, "page_size=5 and a NUL: default");
    im_query_parse(p, "page_size%00=5&search%00=x&tags__name%00=a%00",
                   100, 1000, &q);
    ok(q.page_size == 100 && q.search_terms == 0 && !*q.tag
       && !q.invalid_param, "a name with a NUL is no parameter the API knows");
}

static void test_links(void)
{
    is_str(im_query_link(p, "search=x&page=2", 3), "?page=3&search=x",
           "next keeps other parameters, sorted");
    is_str(im_query_link(p, "search=x&page=2", 0), "?search=x",
           "previous of page 2 drops page");
    is_str(im_query_link(p, NULL, 0), "", "no parameters");
    is_str(im_query_link(p, "z=1&a=b+c&a=%2F", 2), "?a=b+c&a=%2F&page=2&z=1",
           "repeated parameters kept in order, quoted like quote_plus");
    is_str(im_query_link(p, "search=", 2), "?page=2&search=",
           "blank values kept");
    is_str(im_query_link(p, "x=a%00b&page=2&search=c%00", 3),
           "?page=3&search=c%00&x=a%00b", "NULs kept in links, as %00");
    is_str(im_query_link(p, "page=2&pa%00ge=5&%00=1", 3),
           "?%00=1&pa%00ge=5&page=3",
           "a name with a NUL is not page; sorted by its bytes");
}

static void test_time(void)
{
    is_str(im_time_format(p, APR_INT64_C(1427740245501948)),
           "2015-03-30T18:30:45.501948Z", "contract example timestamp");
    is_str(im_time_format(p, 0), "1970-01-01T00:00:00.000000Z", "epoch");
    is_str(im_time_format(p, -1), "1969-12-31T23:59:59.999999Z",
           "before the epoch");
    is_str(im_time_format(p, APR_INT64_C(951782400000000)),
           "2000-02-29T00:00:00.000000Z", "leap day");
}

static void test_render(void)
{
    im_image_row_t row = {
        "1", "f268aebc-d956-11e4-b9d6-1681e6b88ec1", "name", "1", "alice",
        "description", NULL, "t", NULL, "1427740245501948",
        "[[2, \"b\", \"\"], [1, \"a\", \"x\"]]",
        "[[1, \"1.0\", 1427740245501948, null],"
        " [3, \"0.9\", 1427740245501947, 1427740245501948],"
        " [4, \"2.0\", 1427740245501949, 1427740245501949]]",
        "1427740245501948"
    };
    im_buf_t b;

    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0, "sample row renders");
    is_str(b.data, "{\"id\":1,\"uuid\":\"f268aebc-d956-11e4-b9d6-1681e6b88ec1\","
           "\"name\":\"name\",\"created_by\":{\"id\":1,\"username\":\"alice\"},"
           "\"description\":\"description\",\"end_date\":null,"
           "\"is_public\":true,\"icon\":null,"
           "\"start_date\":\"2015-03-30T18:30:45.501948Z\","
           "\"tags\":[{\"id\":1,\"name\":\"a\",\"description\":\"x\"},"
           "{\"id\":2,\"name\":\"b\",\"description\":\"\"}],"
           "\"versions\":[{\"id\":1,\"name\":\"1.0\","
           "\"start_date\":\"2015-03-30T18:30:45.501948Z\"},"
           "{\"id\":4,\"name\":\"2.0\","
           "\"start_date\":\"2015-03-30T18:30:45.501949Z\"}]}",
           "representation in contract key order, compact; tags sorted by"
           " name; a version whose end is not after now left out, one ending"
           " later kept");
    row.tags = NULL;
    row.versions = "[]";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0
       && strstr(b.data, "\"tags\":[],\"versions\":[]}"),
       "no tags (NULL) and no versions ([]) are empty lists");

    /* The store sends them in any order: tags by name as bytes (the "C"
     * collation: upper case first, a prefix first, UTF-8 last), then id;
     * versions by start, then id. */
    row.tags = "[[5, \"\u00e9\", \"\"], [4, \"ab\", \"\"], [3, \"a\", \"\"],"
               " [9, \"B\", \"\"], [2, \"a\", \"\"]]";
    row.versions = "[[8, \"x\", 20, null], [6, \"y\", 10, null],"
                   " [7, \"z\", 10, null]]";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0, "unordered tags and versions render");
    ok(strstr(b.data, "\"tags\":[{\"id\":9,\"name\":\"B\",\"description\":\"\"},"
              "{\"id\":2,\"name\":\"a\",\"description\":\"\"},"
              "{\"id\":3,\"name\":\"a\",\"description\":\"\"},"
              "{\"id\":4,\"name\":\"ab\",\"description\":\"\"},"
              "{\"id\":5,\"name\":\"\u00e9\",\"description\":\"\"}],") != NULL,
       "tags in the order of PostgreSQL's C collation, then id");
    ok(strstr(b.data, "\"versions\":[{\"id\":6,\"name\":\"y\","
              "\"start_date\":\"1970-01-01T00:00:00.000010Z\"},"
              "{\"id\":7,\"name\":\"z\","
              "\"start_date\":\"1970-01-01T00:00:00.000010Z\"},"
              "{\"id\":8,\"name\":\"x\","
              "\"start_date\":\"1970-01-01T00:00:00.000020Z\"}]}") != NULL,
       "versions by start, then id");
}

/* Strings come out as jansson writes them, whether from a column or from
 * the store's JSON arrays (decoded, then written again). */
static void test_render_strings(void)
{
    static const char *const values[] = {
        "plain", "quote \" backslash \\ slash /", "tab\there\nnew\r\b\f",
        "\x01\x1f\x7f", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "",
    };
    im_image_row_t row = {
        "1", "u", "n", "1", "alice", "d", NULL, "t", NULL, "0", NULL, NULL,
        "0"
    };
    apr_size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *js = json_string(values[i]);
        char *dumped = json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *want = apr_pstrdup(p, dumped);
        im_buf_t b;
        const char *tags;

        /* the tag name as PostgreSQL's json_agg writes it: lower-case hex */
        tags = apr_pstrcat(p, "[[7, ", want, ", ", want, "]]", NULL);
        row.description = values[i];
        row.tags = tags;
        im_buf_init(&b, p, 16);
        ok(im_render_image(&b, &row) == 0, "string %lu renders",
           (unsigned long)i);
        ok(strstr(b.data, apr_pstrcat(p, "\"description\":", want, ",",
                                      NULL)) != NULL,
           "column string %lu as jansson writes it", (unsigned long)i);
        ok(strstr(b.data, apr_pstrcat(p, "{\"id\":7,\"name\":", want,
                                      ",\"description\":", want, "}",
                                      NULL)) != NULL,
           "array string %lu as jansson writes it", (unsigned long)i);
        free(dumped);
        json_decref(js);
    }
    row.tags = "[[7, \"\\u00e9\\u001f\\ud83d\\ude00\\/\", \"\"]]";
    {
        im_buf_t b;
        im_buf_init(&b, p, 16);
        ok(im_render_image(&b, &row) == 0
           && strstr(b.data, "\"name\":\"\xc3\xa9\\u001F\xf0\x9f\x98\x80/\""),
           "\\u escapes and surrogate pairs decoded, written as jansson does");
    }
}

/* U+2028 and U+2029 come out as \u2028 and \u2029 (as DRF writes them),
 * from a column, from the store's arrays and through jansson alike; the
 * characters around them as before. */
static void test_render_ls_ps(void)
{
    im_image_row_t row = {
        "1", "u", "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "1", "alice",
        "\xe2\x80\xa7\xe2\x80\xa8\xe2\x80\xaa", NULL, "t", NULL, "0",
        "[[7, \"t\xe2\x80\xa9\", \"x\\u2028y\"]]", NULL, "0"
    };
    im_buf_t b;
    json_t *js;
    char *text;
    apr_size_t len = 0;

    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0, "a row with U+2028, U+2029 renders");
    ok(strstr(b.data, "\"name\":\"a\\u2028b\\u2029c\"") != NULL,
       "column: \\u2028 and \\u2029");
    ok(strstr(b.data, "\"description\":\"\xe2\x80\xa7\\u2028"
                      "\xe2\x80\xaa\"") != NULL,
       "U+2027 and U+202A stay raw");
    ok(strstr(b.data, "{\"id\":7,\"name\":\"t\\u2029\","
                      "\"description\":\"x\\u2028y\"}") != NULL,
       "store's arrays: raw and escaped forms both written escaped");
    ok(!strstr(b.data, "\xe2\x80\xa8") && !strstr(b.data, "\xe2\x80\xa9"),
       "no raw U+2028 or U+2029 left");
    im_buf_init(&b, p, 16);
    ok(im_buf_string(&b, "\xe2\x80\xa8") == 0 && b.len == 8
       && memcmp(b.data, "\"\\u2028\"", 8) == 0, "im_buf_string alone");

    js = json_pack("{s:s,s:[s]}", "detail", "x\xe2\x80\xa8\xe2\x80\xa9y",
                   "k", "\xe2\x80\xa8\"\n");
    text = im_json_dump(p, js, &len);
    is_str(text, "{\"detail\":\"x\\u2028\\u2029y\","
                 "\"k\":[\"\\u2028\\\"\\n\"]}",
           "im_json_dump escapes them too");
    ok(text && len == strlen(text), "and its length is right");
    json_decref(js);
    js = json_pack("{s:s}", "detail", "caf\xc3\xa9 \xe2\x82\xac");
    text = im_json_dump(p, js, &len);
    is_str(text, "{\"detail\":\"caf\xc3\xa9 \xe2\x82\xac\"}",
           "other characters as jansson writes them");
    json_decref(js);
}

static void test_render_malformed(void)
{
    static const char *const bad[] = {
        "not json", "[", "[[1, \"a\", \"b\"]", "[[1, \"a\"]]",
        "[[1, \"a\", \"b\"],]", "[[01, \"a\", \"b\"]]", "[[1.5, \"a\", \"b\"]]",
        "[[9223372036854775808, \"a\", \"b\"]]", "[[1, a, \"b\"]]",
        "[[1, \"a\", 2]]", "[[1, \"a\", \"b\"]] x", "[[1, \"\\u0000\", \"\"]]",
        "[[1, \"\\ud800\", \"\"]]", "[[1, \"\\udc00\", \"\"]]",
        "[[1, \"\\q\", \"\"]]", "[[1, \"\\u12\", \"\"]]",
        "[[1, \"\x01\", \"\"]]", "[[1, \"\xc3\", \"\"]]",
        "[[1, \"\xed\xa0\x80\", \"\"]]", "[[1, \"\xc0\xaf\", \"\"]]",
        "[[1, \"\xf4\x90\x80\x80\", \"\"]]", "[[1, \"a\", \"b\"",
    };
    static const struct {
        const char *json, *why;
    } bad_versions[] = {
        {"[[1, \"1.0\", \"not a time\", null]]",
         "version time must be an integer"},
        {"[[1, \"1.0\", 0]]", "a version without its end refused"},
        {"[[1, \"1.0\", 0, \"x\"]]", "a version end must be a number"},
        {"[[1, \"1.0\", 0, nul]]", "nor a cut null"},
    };
    im_image_row_t row = {
        "1", "u", "n", "1", "alice", "d", NULL, "t", NULL, "0", NULL, NULL,
        "0"
    };
    apr_size_t i;
    im_buf_t b;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        row.tags = bad[i];
        im_buf_init(&b, p, 16);
        im_buf_lit(&b, "x");
        ok(im_render_image(&b, &row) == -1 && b.len == 1,
           "malformed tags %lu refused, nothing appended", (unsigned long)i);
    }
    row.tags = NULL;
    for (i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++) {
        row.versions = bad_versions[i].json;
        im_buf_init(&b, p, 16);
        ok(im_render_image(&b, &row) == -1, "%s", bad_versions[i].why);
    }
    row.versions = "[[1, \"1.0\", 0, -5], [2, \"2.0\", 0, 0]]";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0
       && strstr(b.data, "\"versions\":[]}"),
       "every version ended: an empty list");
    row.now = NULL;
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == -1, "no clock: refused");
    row.now = "0";
    row.versions = "[[-9223372036854775808, \"1.0\", 0, null]]";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == 0
       && strstr(b.data, "{\"id\":-9223372036854775808,"),
       "the smallest id");
    row.versions = NULL;
    row.name = "bad \xff utf-8";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == -1, "a column that is not UTF-8 refused");
    row.name = "n";
    row.id = "12x";
    im_buf_init(&b, p, 16);
    ok(im_render_image(&b, &row) == -1, "an id that is not a number refused");
}

static void test_etag_and_token(void)
{
    const char *tag = im_etag(p, "abc", 3), *key, *why;

    char xs[101];

    memset(xs, 'x', 100);
    xs[100] = '\0';
    /* vectors from xxhsum -H64 (Debian's xxhash) */
    ok(im_xxh64("", 0, 0) == UINT64_C(0xef46db3751d8e999), "XXH64 empty");
    ok(im_xxh64("abc", 3, 0) == UINT64_C(0x44bc2cf5ad770999), "XXH64 abc");
    ok(im_xxh64(xs, 100, 0) == UINT64_C(0x92f0de5a88a3c094),
       "XXH64 100 bytes (32-byte stripes, a 4-byte tail)");
    ok(im_xxh64(xs, 45, 0) == UINT64_C(0x41c325c19bf23e4f),
       "XXH64 45 bytes (stripe, 8-, 4- and 1-byte tails)");
    ok(im_xxh64("hello, world: 0123456789", 24, 0)
       == UINT64_C(0x2f5dffdd7516b760), "XXH64 24 bytes (8-byte tails)");
    ok(im_xxh64("abc", 3, 1) != im_xxh64("abc", 3, 0), "the seed counts");
    ok(strcmp(im_etag(p, xs, 100), im_etag(p, xs, 99)) != 0,
       "a different body, a different etag");
    ok(strlen(tag) == 34 && tag[0] == '"', "etag is a quoted digest");
    ok(im_etag_match(tag, tag, 1), "etag matches itself");
    ok(im_etag_match(apr_pstrcat(p, "\"x\", ", tag, NULL), tag, 1),
       "etag in a list");
    ok(im_etag_match("*", tag, 1), "star matches");
    ok(im_etag_match(apr_pstrcat(p, "W/", tag, NULL), tag, 0),
       "weak comparison accepts W/");
    ok(!im_etag_match(apr_pstrcat(p, "W/", tag, NULL), tag, 1),
       "strong comparison refuses W/");
    ok(!im_etag_match("\"abc", tag, 0), "unterminated tag");

    ok(im_token_parse(p, "Token abc123", &key, &why) == IM_TOKEN_OK
       && strcmp(key, "abc123") == 0, "token parsed");
    ok(im_token_parse(p, "token  abc123 ", &key, &why) == IM_TOKEN_OK,
       "keyword case-insensitive");
    ok(im_token_parse(p, "Basic YTpi", &key, &why) == IM_TOKEN_NONE,
       "Basic is not ours");
    ok(im_token_parse(p, "Tokenabc", &key, &why) == IM_TOKEN_NONE,
       "Tokenabc is another scheme");
    ok(im_token_parse(p, "Token", &key, &why) == IM_TOKEN_MALFORMED,
       "no key");
    ok(im_token_parse(p, "Token a b", &key, &why) == IM_TOKEN_MALFORMED,
       "key with spaces");
    ok(im_token_parse(p, "Token a\x01", &key, &why) == IM_TOKEN_MALFORMED,
       "control byte in key");
}

static void test_time_parse(void)
{
    apr_int64_t t;

    ok(im_time_parse("2015-03-30T18:30:45.501948Z", &t)
       && t == APR_INT64_C(1427740245501948), "Z timestamp");
    ok(im_time_parse("2015-03-30T20:30:45.501948+02:00", &t)
       && t == APR_INT64_C(1427740245501948), "offset +02:00");
    ok(im_time_parse("2015-03-30 18:30Z", &t)
       && t == APR_INT64_C(1427740200000000), "space, no seconds");
    ok(im_time_parse("2015-03-30T18:30:45.5-0130", &t)
       && t == APR_INT64_C(1427740245500000) + APR_INT64_C(5400000000),
       "fraction and -HHMM offset");
    ok(im_time_parse("2015-03-30T18:30:45.1234567Z", &t)
       && t % 1000000 == 123456, "seventh digit cut");
    ok(!im_time_parse("2015-03-30T18:30:45", &t), "no offset refused");
    ok(!im_time_parse("2015-02-29T00:00Z", &t), "no 29 February 2015");
    ok(im_time_parse("2016-02-29T00:00Z", &t), "29 February 2016");
    ok(!im_time_parse("2015-13-01T00:00Z", &t), "month 13");
    ok(!im_time_parse("2015-01-01T24:00Z", &t), "hour 24");
    ok(!im_time_parse("2015-01-01T00:00Zjunk", &t), "trailing junk");
    ok(!im_time_parse("0001-01-01T00:00+01:00", &t), "before year 1");
    ok(!im_time_parse("", &t), "empty");
    ok(im_time_read("0001-01-01T00:00+01:00", &t) == -1,
       "before year 1: well-formed, out of range");
    ok(im_time_read("9999-12-31T23:59:59-01:00", &t) == -1,
       "past year 9999: well-formed, out of range");
    ok(im_time_read("10000-01-01T00:00Z", &t) == 0, "a five-digit year");
    ok(im_time_read("2015-03-30T18:30Z", &t) == 1, "in range");
    ok(!im_time_parse("2030-01-02T03:04+05:", &t), "offset with a bare colon");
    ok(im_parse_int64("9223372036854775807", &t) && t == APR_INT64_MAX,
       "largest bigint parses");
    ok(im_parse_int64("-9223372036854775808", &t) && t == APR_INT64_MIN,
       "smallest bigint parses");
    ok(!im_parse_int64("9223372036854775808", &t), "past it does not");
    ok(im_time_parse("9999-12-31T23:59:59.999999Z", &t), "last instant");
    is_str(im_time_format(p, t), "9999-12-31T23:59:59.999999Z",
           "formats back");
}

static void test_patch(void)
{
    im_patch_t pt;
    json_t *err;
    const char *b;
    apr_size_t len;

    b = "{\"name\": \" n \", \"tags\": [3, {\"id\": 1}], \"id\": 9,"
        " \"end_date\": null, \"is_public\": false}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_OK,
       "valid body");
    is_str(pt.name, "n", "name trimmed");
    is_str(pt.tags, "3,1", "tag ids");
    ok(pt.set_end_date && !pt.end_date, "end_date null");
    ok(pt.set_is_public && !pt.is_public, "is_public false");
    ok(!pt.set_description, "description untouched");
    b = "{\"name\": \"\\u00a0\\u3000x\\u2028\\u0085\\u001f\","
        " \"description\": \"\\u2000\\u200a\"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_OK,
       "Unicode whitespace around a name");
    is_str(pt.name, "x", "name stripped as Python strips");
    is_str(pt.description, "", "description stripped to empty");
    b = "{\"name\": \"\\u00a0\\u3000\"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_INVALID,
       "a name of Unicode whitespace is blank");
    json_decref(err);

    b = "{\"name\": 5, \"bogus\": 1, \"tags\": [true]}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_INVALID,
       "invalid fields");
    is_str(err ? im_json_dump(p, err, &len) : NULL,
           "{\"name\":[\"Not a valid string.\"],\"tags\":[\"Incorrect type."
           " Expected pk value, received bool.\"],\"bogus\":[\"This field is "
           "not allowed.\"]}", "all field errors, the serializer's order");
    json_decref(err);

    b = "{\"x\": 1, \"tags\": [1, 2, \"3\", 4], \"is_public\": 0,"
        " \"end_date\": 1, \"description\": 2, \"name\": \"\"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_INVALID,
       "every field invalid");
    is_str(err ? im_json_dump(p, err, &len) : NULL,
           "{\"name\":[\"This field may not be blank.\"],\"description\":"
           "[\"Not a valid string.\"],\"end_date\":[\"Datetime has wrong "
           "format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[."
           "uuuuuu]][+HH:MM|-HH:MM|Z].\"],\"is_public\":[\"Must be a valid "
           "boolean.\"],\"tags\":[\"Incorrect type. Expected pk value, "
           "received str.\"],\"x\":[\"This field is not allowed.\"]}",
           "name, description, end_date, is_public, tags, then the rest");
    is_str(pt.tags, "1,2", "tag ids up to the first that is not one");
    {
        json_t *e2 = im_patch_errors(p, err, &pt, "2");
        is_str(e2 ? im_json_dump(p, e2, &len) : NULL,
               "{\"name\":[\"This field may not be blank.\"],\"description"
               "\":[\"Not a valid string.\"],\"end_date\":[\"Datetime has "
               "wrong format. Use one of these formats instead: YYYY-MM-DDThh"
               ":mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].\"],\"is_public\":[\"Must "
               "be a valid boolean.\"],\"tags\":[\"Invalid pk \\\"2\\\" - "
               "object does not exist.\"],\"x\":[\"This field is not "
               "allowed.\"]}", "an unknown id before the bad item wins");
        json_decref(e2);
        e2 = im_patch_errors(p, err, &pt, NULL);
        ok(e2 == err, "nothing unknown: the same errors");
        json_decref(e2);
    }
    json_decref(err);

    b = "{\"tags\": [7, 12, 7, 3]}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_OK && !err,
       "tag ids");
    {
        json_t *e2 = im_patch_errors(p, NULL, &pt, "3,7");
        is_str(e2 ? im_json_dump(p, e2, &len) : NULL,
               "{\"tags\":[\"Invalid pk \\\"7\\\" - object does not "
               "exist.\"]}", "the first unknown id in the body's order");
        json_decref(e2);
        ok(im_patch_errors(p, NULL, &pt, "") == NULL
           && im_patch_errors(p, NULL, &pt, "71") == NULL,
           "no unknown id of the body: no errors");
    }

    b = "{\"a\": 1, \"a\": 2}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_PARSE_ERROR,
       "duplicate keys refused");
    json_decref(err);
    ok(im_patch_parse(p, "", 0, &pt, &err) == IM_PATCH_PARSE_ERROR,
       "empty body refused");
    json_decref(err);
    b = "{\"name\": \"a\\u0000\"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_INVALID,
       "NUL in a name refused");
    is_str(err ? im_json_dump(p, err, &len) : NULL,
           "{\"name\":[\"Null characters are not allowed.\"]}",
           "NUL in a name: DRF's message");
    json_decref(err);
    b = "{\"description\": \" \\u0000 \", \"name\": \"\\u0000 \"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_INVALID
       && !pt.set_name && !pt.set_description, "NUL alone is no blank");
    is_str(err ? im_json_dump(p, err, &len) : NULL,
           "{\"name\":[\"Null characters are not allowed.\"],\"description"
           "\":[\"Null characters are not allowed.\"]}",
           "NUL alone: not blank, not allowed");
    json_decref(err);

    b = "{\"name\": \"\\u00\xc3\xa9\"}";
    ok(im_patch_parse(p, b, strlen(b), &pt, &err) == IM_PATCH_PARSE_ERROR
       && err != NULL, "parse error quoting a cut UTF-8 sequence has a body");
    json_decref(err);

    ok(im_is_json_media_type("application/json"), "application/json");
    ok(im_is_json_media_type("Application/JSON; charset=utf-8"),
       "with parameters, any case");
    ok(!im_is_json_media_type("application/jsonx"), "jsonx");
    ok(im_is_json_media_type(" application/json \t; charset=utf-8"),
       "blanks around the type");
    ok(!im_is_json_media_type("application/json garbage"),
       "a subtype of two words");
    ok(!im_is_json_media_type("application/json x; charset=utf-8"),
       "a subtype of two words, with a parameter");
    ok(!im_is_json_media_type("text/plain"), "text/plain");
    ok(!im_is_json_media_type(NULL), "no header");
}

/* libpq's verbose messages (im_pgerr.c): the SQLSTATE, whatever the
 * language of the severity, and one line for the log. */
static void test_pgerr(void)
{
    char st[6];

    ok(im_pg_sqlstate("ERROR:  42501: permission denied for table images\n"
                      "LOCATION:  aclcheck_error, aclchk.c:3650\n", st)
       && strcmp(st, "42501") == 0, "SQLSTATE of an ERROR");
    ok(im_pg_sqlstate("FEHLER:  25006: kann UPDATE nicht ausf\xc3\xbchren\n",
                      st) && strcmp(st, "25006") == 0,
       "SQLSTATE after a translated severity");
    ok(im_pg_sqlstate("FATAL:  57P01: terminating connection due to "
                      "administrator command\nserver closed the connection "
                      "unexpectedly\n", st) && strcmp(st, "57P01") == 0,
       "SQLSTATE of a FATAL");
    ok(!im_pg_sqlstate("server closed the connection unexpectedly\n", st)
       && !*st, "none in libpq's own message");
    ok(!im_pg_sqlstate("ERROR:  permission denied\n", st) && !*st,
       "none in a terse message");
    ok(!im_pg_sqlstate(NULL, st) && !*st, "none in no message");
    is_str(im_pg_message(p, "ERROR:  42501: permission denied for table x\n"
                         "DETAIL:  a detail\nHINT:  a hint\n"
                         "QUERY:  SELECT 1\nCONTEXT:  PL/pgSQL\n"
                         "LOCATION:  f, x.c:1\n"),
           "permission denied for table x; DETAIL:  a detail; "
           "HINT:  a hint", "message: text, DETAIL, HINT, one line");
    is_str(im_pg_message(p, "could not connect\n\tIs the server running?\n"),
           "could not connect; Is the server running?",
           "a message without SQLSTATE, on one line");
    is_str(im_pg_message(p, "ERROR:  23505: duplicate key\r\nDETAIL:  Key "
                         "(name)=(a\rb) already exists.\r\n"),
           "duplicate key; DETAIL:  Key (name)=(a; b) already exists.",
           "message: a CR in a quoted value still gives one line");
    ok(im_pg_sqlstate("ERROR:  23505\r: x\n", st) == 0 && !*st,
       "no SQLSTATE across a CR");
    is_str(im_pg_message(p, "\nERROR:  42501: denied\n"),
           "ERROR:  42501: denied",
           "message: a SQLSTATE the caller does not get is kept");
    is_str(im_pg_message(p, "LOCATION:  f, x.c:1\nERROR:  42501: denied\n"),
           "ERROR:  42501: denied",
           "message: kept after a first line left out");
    is_str(im_pg_message(p, ""), "no error text", "an empty message");
    is_str(im_pg_message(p, NULL), "no error text", "no message");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&p, NULL);
    test_path();
    test_query();
    test_links();
    test_time();
    test_render();
    test_render_strings();
    test_render_ls_ps();
    test_render_malformed();
    test_etag_and_token();
    test_time_parse();
    test_patch();
    test_pgerr();
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
