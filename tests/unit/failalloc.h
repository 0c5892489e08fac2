/*
 * failalloc.h: an allocator that fails on demand, for the allocation-failure
 * test (test_alloc_failure.c).
 *
 * While armed, one counter sees every allocation asked for by any thread but
 * the one that installed the hooks: Jansson's (json_set_alloc_funcs),
 * SQLite's (SQLITE_CONFIG_MALLOC around its default allocator, with
 * lookaside off so that every allocation goes through it) and newsd's own
 * calls to malloc, calloc, realloc, strdup and strndup (the test program is
 * linked with -Wl,--wrap for each: that reaches the statically linked newsd
 * code and nothing else). libmicrohttpd's own allocations cannot be reached
 * this way; they are neither counted nor failed.
 */
#ifndef NEWSD_TEST_FAILALLOC_H
#define NEWSD_TEST_FAILALLOC_H

#include <stdbool.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

/* What one armed stretch saw. */
struct nd_failalloc_run {
    unsigned long asked;  /* allocations asked for */
    unsigned long failed; /* made to fail */
    unsigned long spared; /* would have failed, but fell on Jansson's lexer (failalloc.c) */
};

/*
 * Installs the hooks; the calling thread's own allocations never count.
 * Call first, before anything touches Jansson or SQLite. False when SQLite
 * refuses the allocator or the lexer's call site cannot be found.
 */
bool nd_failalloc_install(void);

/* Starts counting from 0; allocation at (0: none) fails, with after every later one too. */
void nd_failalloc_arm(unsigned long at, bool after);

/* Stops counting and says what happened since nd_failalloc_arm. */
void nd_failalloc_disarm(struct nd_failalloc_run *out);

/* Prints where the first failed allocation was asked for, as TAP comments. */
void nd_failalloc_print_site(void);

#endif
