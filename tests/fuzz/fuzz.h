/*
 * fuzz.h: what every fuzz harness of newsd shares.
 *
 * A harness (tests/fuzz/fuzz_<target>.c) defines LLVMFuzzerTestOneInput and
 * nothing else that is global. Built with clang's -fsanitize=fuzzer it is a
 * libFuzzer target; built with standalone.c (any compiler) it is a program
 * that replays a corpus folder once, which the ordinary test build runs.
 *
 * A broken invariant calls FUZZ_REQUIRE, which prints what failed and
 * aborts: libFuzzer saves the input as a crash, the replay reports the file
 * as "not ok".
 */
#ifndef NEWSD_FUZZ_H
#define NEWSD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The entry point libFuzzer calls once per input; always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * A NUL-terminated copy of the size bytes at data (which may hold NULs of
 * their own). Aborts when out of memory: a harness has no other answer.
 */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_REQUIRE(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
