/*
 * What every libFuzzer target shares: APR set up once, a fresh pool per
 * input, and pool allocations that AddressSanitizer can see.
 *
 * APR carves apr_palloc() memory out of large malloc'd blocks, so an
 * overrun of one allocation lands in the next and ASan says nothing
 * (FIELD-NOTES.md, "Sanitizers and valgrind").  While an input runs, this
 * file's apr_palloc() replaces APR's: every allocation is a malloc of its
 * own, freed when the input is done.  libapr calls apr_palloc through its
 * PLT (apr_pstrdup, apr_array_push, apr_pstrcat, ...), so those allocations
 * come here too; the binary exports the symbol (-rdynamic).  Outside an
 * input (apr_initialize) calls go on to APR's own apr_palloc.
 *
 * Include this once, in the target's only source file.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "im_core.h"

/* An invariant that must hold for every input; abort() makes libFuzzer
 * save the input as a crash. */
#define CHECK(cond) do {                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,    \
                    __LINE__, #cond);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

static int fz_armed;
static void **fz_blocks;
static size_t fz_nblocks, fz_capblocks;

static void *fz_track(void *mem)
{
    if (!mem) {
        abort();                          /* as APR's abort function */
    }
    if (fz_nblocks == fz_capblocks) {
        size_t cap = fz_capblocks ? fz_capblocks * 2 : 1024;
        void **grown = realloc(fz_blocks, cap * sizeof(*grown));
        if (!grown) {
            abort();
        }
        fz_blocks = grown;
        fz_capblocks = cap;
    }
    fz_blocks[fz_nblocks++] = mem;
    return mem;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    static void *(*real)(apr_pool_t *, apr_size_t);

    if (fz_armed) {
        return fz_track(malloc(size));
    }
    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "apr_palloc");
        if (!real) {
            abort();
        }
    }
    return real(p, size);
}

#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    void *mem = apr_palloc(p, size);
    memset(mem, 0, size);
    return mem;
}

/* A pool for the whole run (external: the compiler keeps it, and leak
 * detection sees it reachable). */
apr_pool_t *fz_global;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* a child of APR's global pool: its allocator, nothing new */
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&fz_global, NULL) != APR_SUCCESS) {
        abort();
    }
    /* as the module does before serving: search terms fold in C.UTF-8 */
    im_query_fold_init(fz_global);
    return 0;
}

/* A pool of its own (and an allocator of its own, so that destroying it
 * frees every block and leak detection sees no false leaks). */
static apr_pool_t *fz_begin(void)
{
    apr_pool_t *p;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        abort();
    }
    fz_armed = 1;
    return p;
}

static void fz_end(apr_pool_t *p)
{
    size_t i;

    apr_pool_destroy(p);
    fz_armed = 0;
    for (i = 0; i < fz_nblocks; i++) {
        free(fz_blocks[i]);
    }
    fz_nblocks = 0;
}

/* The input as a NUL-terminated string in a block of exactly its size, so
 * that reading past the NUL is an ASan report. */
static char *fz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif /* FUZZ_COMMON_H */
