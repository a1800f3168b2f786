/*
 * "Authorization: Token <key>", read the way Django REST Framework's
 * TokenAuthentication reads it, so its error messages carry over.
 */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "im_core.h"

const char *im_token_digest(apr_pool_t *p, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char *out;

    if (!EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL)) {
        return NULL;
    }
    out = apr_palloc(p, 2 * n + 1);
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

im_token_e im_token_parse(apr_pool_t *p, const char *header,
                          const char **key, const char **why)
{
    const char *s = header, *start;

    *key = NULL;
    *why = NULL;
    if (!header) {
        return IM_TOKEN_NONE;
    }
    while (*s == ' ' || *s == '\t') s++;
    if (strncasecmp(s, "token", 5) != 0
        || (s[5] != '\0' && s[5] != ' ' && s[5] != '\t')) {
        return IM_TOKEN_NONE;             /* Basic, Bearer, ...: not ours */
    }
    s += 5;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) {
        *why = "Invalid token header. No credentials provided.";
        return IM_TOKEN_MALFORMED;
    }
    start = s;
    while (*s && *s != ' ' && *s != '\t') {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e) {
            /* no key holds such a byte; none reaches the database */
            *why = "Invalid token.";
            return IM_TOKEN_MALFORMED;
        }
        s++;
    }
    *key = apr_pstrmemdup(p, start, s - start);
    while (*s == ' ' || *s == '\t') s++;
    if (*s) {
        *key = NULL;
        *why = "Invalid token header. "
               "Token string should not contain spaces.";
        return IM_TOKEN_MALFORMED;
    }
    return IM_TOKEN_OK;
}
