/*
 * standalone.c: a main() that replays corpus files through a fuzz harness,
 * so that the ordinary test build (gcc, ASan+UBSan, or valgrind) runs every
 * harness on every seed and every saved crash without libFuzzer.
 *
 *     fuzz_router_replay DIR_OR_FILE...
 *
 * Each regular file (a folder's files in name order) is one TAP test point.
 * Each file runs in a forked child, so an abort, a sanitizer report, a leak
 * (LeakSanitizer checks when the child exits) or a run longer than a minute
 * fails that file alone and names it, and the remaining files still run. A
 * run that finds no file at all fails: an empty or misplaced corpus must not
 * pass unnoticed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

/* Longest one file may take, valgrind's slowdown included. */
#define FILE_SECONDS_MAX 60

struct file_list {
    char **paths;
    size_t n, cap;
};

/* Appends a copy of path; false when out of memory. */
static bool list_add(struct file_list *list, const char *path)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 64;
        char **grown = realloc(list->paths, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        list->paths = grown;
        list->cap = cap;
    }
    list->paths[list->n] = strdup(path);
    return list->paths[list->n++] != NULL;
}

static void list_free(struct file_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->paths[i]);
    free(list->paths);
}

static int skip_dots(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Adds path, or the regular files directly inside it when it is a folder. */
static bool collect(struct file_list *list, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode))
        return list_add(list, path);
    struct dirent **names = NULL;
    int n = scandir(path, &names, skip_dots, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
        if (ok && stat(full, &st) == 0 && S_ISREG(st.st_mode))
            ok = list_add(list, full);
        free(names[i]);
    }
    free(names);
    return ok;
}

/* The whole file in a new buffer (*len bytes); NULL when it cannot be read. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *grown = realloc(buf, cap *= 2);
            if (grown == NULL)
                free(buf);
            buf = grown;
        }
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Runs one file in a child; true when the child exited 0. */
static bool replay(const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return false;
    }
    if (pid == 0) {
        alarm(FILE_SECONDS_MAX); /* an endless loop is a failure too */
        size_t len = 0;
        uint8_t *data = read_all(path, &len);
        if (data == NULL) {
            fprintf(stderr, "%s: cannot read\n", path);
            exit(1);
        }
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    struct file_list list = {0};
    int failed = 0, bad_args = 0;
    for (int i = 1; i < argc; i++) {
        if (!collect(&list, argv[i]))
            bad_args++;
    }
    size_t points = list.n + (size_t)bad_args + (list.n == 0 && bad_args == 0);
    printf("1..%zu\n", points);
    size_t point = 0;
    for (int i = 1; i <= bad_args; i++)
        printf("not ok %zu - a corpus argument cannot be read (see stderr)\n", ++point);
    if (list.n == 0 && bad_args == 0)
        printf("not ok %zu - no corpus files found\n", ++point);
    failed = point > 0;
    for (size_t i = 0; i < list.n; i++) {
        bool ok = replay(list.paths[i]);
        printf("%s %zu - %s\n", ok ? "ok" : "not ok", ++point, list.paths[i]);
        failed |= !ok;
    }
    list_free(&list);
    return failed;
}
