/*
 * check.h: the unit-test harness, written once. A test file defines test
 * functions, lists them in a table and calls nd_check_run(); every CHECK that
 * fails is reported as "not ok" in TAP, which Meson reads.
 *
 *     static void test_parse(void) { CHECK_INT(add(1, 2), 3); }
 *     int main(void) { return CHECK_RUN(test_parse); }
 */
#ifndef NEWSD_TEST_CHECK_H
#define NEWSD_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int nd_check_failures;
static const char *nd_check_skip_reason;
/* Run after each case when set (a fixture's cleanup: backend_fixture.h). */
static void (*nd_check_after_case)(void);

/* Marks the running case as skipped (TAP "# SKIP reason"); call it and return. */
#define CHECK_SKIP(reason) (nd_check_skip_reason = (reason))

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                      \
            nd_check_failures++;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (got_ != want_) {                                                                       \
            printf("# %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, got_, want_);     \
            nd_check_failures++;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        if (got_ == NULL || want_ == NULL ? got_ != want_ : strcmp(got_, want_) != 0) {            \
            printf("# %s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,               \
                   got_ ? got_ : "(null)", want_ ? want_ : "(null)");                              \
            nd_check_failures++;                                                                   \
        }                                                                                          \
    } while (0)

struct nd_check_case {
    const char *name;
    void (*fn)(void);
};

/* Runs every case, printing one TAP line each. Returns the exit status. */
static inline int nd_check_run(const struct nd_check_case *cases, size_t n)
{
    int failed = 0;
    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        int before = nd_check_failures;
        nd_check_skip_reason = NULL;
        cases[i].fn();
        if (nd_check_after_case)
            nd_check_after_case();
        int ok = nd_check_failures == before;
        printf("%s %zu - %s%s%s\n", ok ? "ok" : "not ok", i + 1, cases[i].name,
               nd_check_skip_reason ? " # SKIP " : "",
               nd_check_skip_reason ? nd_check_skip_reason : "");
        fflush(stdout);
        failed += !ok;
    }
    return failed ? 1 : 0;
}

/* The whole test as one TAP skip with why (it cannot run here); the exit status. */
static inline int nd_check_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    return 0;
}

#define CHECK_CASE(fn)                                                                             \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define CHECK_RUN(...)                                                                             \
    nd_check_run((const struct nd_check_case[]){__VA_ARGS__},                                      \
                 sizeof((const struct nd_check_case[]){__VA_ARGS__}) /                             \
                     sizeof(struct nd_check_case))

#endif
