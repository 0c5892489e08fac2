/*
 * failalloc.c: the failing allocator of failalloc.h.
 *
 * One exception is made, the only allocation that is never failed: Jansson
 * 2.14's lexer ignores a failed growth of the buffer that holds the token
 * it reads (load.c, lex_save), drops that byte and goes on; when the byte
 * was a string's closing quote, lex_scan_string then reads and writes past
 * the end of its buffers (seen here: a heap overflow that corrupted newsd's
 * memory). No caller can prevent that, so that one call site in libjansson
 * is spared; every other allocation of a parse still fails (and newsd
 * answers 500: see newsd/json.h). The site is the pair of return addresses
 * of the two innermost libjansson frames of such a growth, learnt when the
 * hooks are installed by parsing a long string (calibrate_lexer).
 */
#include "failalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_bool armed;                /* counting: a request is being served */
static atomic_ulong alloc_count;         /* allocations asked for while armed */
static atomic_ulong fail_at;             /* the allocation that fails; 0: none */
static atomic_bool fail_after;           /* every allocation after fail_at fails too */
static atomic_ulong failures;            /* allocations made to fail in this run */
static atomic_ulong spared;              /* ... and left alone (see lexer_growth) */
static _Thread_local bool client_thread; /* the test's own allocations never count */
static void *fail_frames[32];            /* where the first failed allocation was asked for */
static int fail_nframes;

/* Where Jansson's lexer asks for its token buffer to grow (see the top). */
static void *lexer_site[2];
static bool calibrating;

/* The two innermost libjansson frames of a call stack, into site. False when there are none. */
static bool jansson_site(void *const *frames, int n, void *site[2])
{
    Dl_info info;
    for (int i = 0; i + 1 < n; i++) {
        if (dladdr(frames[i], &info) != 0 && info.dli_fname != NULL &&
            strstr(info.dli_fname, "libjansson") != NULL) {
            site[0] = frames[i];
            site[1] = frames[i + 1];
            return true;
        }
    }
    return false;
}

static bool lexer_growth(void *const *frames, int n)
{
    void *site[2];
    return jansson_site(frames, n, site) && memcmp(site, lexer_site, sizeof site) == 0;
}

static bool alloc_fails(void)
{
    void *frames[32];
    if (client_thread || !atomic_load(&armed))
        return false;
    unsigned long n = atomic_fetch_add(&alloc_count, 1) + 1;
    unsigned long at = atomic_load(&fail_at);
    if (at == 0 || n < at || (n > at && !atomic_load(&fail_after)))
        return false;
    int nframes = backtrace(frames, 32);
    if (lexer_growth(frames, nframes)) {
        atomic_fetch_add(&spared, 1);
        return false;
    }
    if (atomic_fetch_add(&failures, 1) == 0) {
        memcpy(fail_frames, frames, sizeof frames);
        fail_nframes = nframes;
    }
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return alloc_fails() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return alloc_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return alloc_fails() ? NULL : __real_strndup(s, n);
}

/*
 * While calibrating, the first growth of the lexer's buffer (16 to 32
 * bytes, the 17th byte of a token) gives the site, the second (to 64)
 * confirms it.
 */
static int calibration_step;

static void calibrate(size_t size)
{
    void *frames[32], *site[2];
    if ((size != 32 || calibration_step != 0) && (size != 64 || calibration_step != 1))
        return;
    if (!jansson_site(frames, backtrace(frames, 32), site))
        return;
    if (calibration_step == 0)
        memcpy(lexer_site, site, sizeof site);
    if (calibration_step == 0 || memcmp(site, lexer_site, sizeof site) == 0)
        calibration_step++;
}

static void *json_alloc(size_t size)
{
    if (calibrating)
        calibrate(size);
    return alloc_fails() ? NULL : __real_malloc(size);
}

static bool calibrate_lexer(void)
{
    json_error_t err;
    calibrating = true;
    json_t *text = json_loads("\"a token longer than thirty-two bytes, to grow twice\"",
                              JSON_DECODE_ANY, &err);
    calibrating = false;
    json_decref(text);
    return text != NULL && calibration_step == 2;
}

static sqlite3_mem_methods sqlite_default;

static void *sqlite_alloc(int n)
{
    return alloc_fails() ? NULL : sqlite_default.xMalloc(n);
}

static void *sqlite_grow(void *p, int n)
{
    return alloc_fails() ? NULL : sqlite_default.xRealloc(p, n);
}

static void sqlite_release(void *p)
{
    sqlite_default.xFree(p);
}

static int sqlite_size(void *p)
{
    return sqlite_default.xSize(p);
}

static int sqlite_roundup(int n)
{
    return sqlite_default.xRoundup(n);
}

static int sqlite_init(void *app)
{
    return sqlite_default.xInit(app);
}

static void sqlite_shutdown(void *app)
{
    sqlite_default.xShutdown(app);
}

bool nd_failalloc_install(void)
{
    void *frames[1];
    client_thread = true;
    backtrace(frames, 1); /* loads the unwinder now, not inside a failing run */
    json_set_alloc_funcs(json_alloc, free);
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
        return false;
    sqlite3_mem_methods hooks = {sqlite_alloc,    sqlite_release,         sqlite_grow,
                                 sqlite_size,     sqlite_roundup,         sqlite_init,
                                 sqlite_shutdown, sqlite_default.pAppData};
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &hooks) == SQLITE_OK &&
           sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) == SQLITE_OK && calibrate_lexer();
}

void nd_failalloc_arm(unsigned long at, bool after)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_at, at);
    atomic_store(&fail_after, after);
    atomic_store(&failures, 0);
    atomic_store(&spared, 0);
    fail_nframes = 0;
    atomic_store(&armed, true);
}

void nd_failalloc_disarm(struct nd_failalloc_run *out)
{
    atomic_store(&armed, false);
    out->asked = atomic_load(&alloc_count);
    out->failed = atomic_load(&failures);
    out->spared = atomic_load(&spared);
}

void nd_failalloc_print_site(void)
{
    for (int i = 1; i < fail_nframes && i < 14; i++) {
        char line[256] = "";
#ifdef HAVE_ASAN
        __sanitizer_symbolize_pc(fail_frames[i], "%F %L", line, sizeof line);
#else
        snprintf(line, sizeof line, "%p", fail_frames[i]);
#endif
        printf("#     %s\n", line);
    }
}
