/*
 * cli.c: the subcommands of newsd: serve, migrate, import and key.
 *
 * Every subcommand that touches the database goes through open_store, which
 * creates the database's directory when it is missing and lets
 * nd_store_open create and migrate the database itself, so any command works
 * on a fresh machine.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "newsd/auth.h"
#include "newsd/http.h"
#include "newsd/import.h"
#include "newsd/log.h"
#include "newsd/store.h"

/*
 * Creates every missing directory above the file at path (mkdir -p of its
 * dirname). Paths without a directory, ":memory:" and "file:" URIs need
 * nothing. Returns false, having said why on stderr, when one cannot be made.
 */
static bool make_parent_dirs(const char *path)
{
    bool ok = true;
    char *copy = NULL;

    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return true;
    const char *last = strrchr(path, '/');
    if (last == NULL || last == path)
        return true;
    copy = strndup(path, (size_t)(last - path));
    if (copy == NULL)
        return false;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0750) != 0 && errno != EEXIST) {
            fprintf(stderr, "newsd: cannot create directory %s: %s\n", copy, strerror(errno));
            ok = false;
            goto out;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
out:
    free(copy);
    return ok;
}

/* Opens (creating and migrating) the configured database, or says why not. */
static struct nd_store *open_store(const struct nd_config *cfg)
{
    struct nd_store_options opts = {cfg->synchronous, cfg->busy_timeout_ms};
    struct nd_store *store = NULL;

    if (!make_parent_dirs(cfg->db_path))
        return NULL;
    enum nd_err rc = nd_store_open(cfg->db_path, &opts, &store);
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: cannot open the database %s: %s\n", cfg->db_path, nd_err_str(rc));
        return NULL;
    }
    return store;
}

/*
 * The signals are blocked before any thread starts, so every libmicrohttpd
 * worker inherits the mask and sigwait here is the only place they arrive.
 */
int nd_cli_serve(const struct nd_config *cfg)
{
    sigset_t stop_signals;
    struct nd_server *srv = NULL;
    int sig = 0;

    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Migrate once, here, rather than racing in every worker's first open. */
    struct nd_store *store = open_store(cfg);
    if (store == NULL)
        return ND_EXIT_FAILURE;
    nd_log(ND_LOG_INFO, "database %s ready, %u migrations applied", cfg->db_path,
           nd_store_migrations_applied(store));
    nd_store_close(store);

    json_object_seed(0);
    if (nd_auth_init() != ND_OK || nd_server_start(cfg, &srv) != ND_OK)
        return ND_EXIT_FAILURE;
    sigwait(&stop_signals, &sig);
    nd_log(ND_LOG_INFO, "shutting down on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    nd_server_stop(srv);
    nd_log(ND_LOG_INFO, "stopped");
    return ND_EXIT_OK;
}

int nd_cli_migrate(const struct nd_config *cfg)
{
    struct nd_store *store = open_store(cfg);
    if (store == NULL)
        return ND_EXIT_FAILURE;
    printf("applied %u migrations\n", nd_store_migrations_applied(store));
    nd_store_close(store);
    return ND_EXIT_OK;
}

/* Imports one file and reports it; false when it failed. */
static bool import_one(struct nd_store *store, const char *file)
{
    enum nd_import_outcome outcome;
    int64_t id = 0;
    json_t *article = NULL;
    char err[256] = "";

    enum nd_err rc = nd_import_file(store, file, &outcome, &id, err, sizeof err);
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: %s: %s\n", file, err[0] != '\0' ? err : nd_err_str(rc));
        return false;
    }
    rc = nd_store_article_get(store, id, &article);
    const char *slug = rc == ND_OK ? json_string_value(json_object_get(article, "slug")) : NULL;
    printf("%s %lld %s\n", outcome == ND_IMPORT_CREATED ? "created" : "exists", (long long)id,
           slug != NULL ? slug : "?");
    json_decref(article);
    return true;
}

/* Prints a refused line of a JSON-lines file on stderr (ctx: the file name). */
static void report_refused(void *ctx, unsigned long line, const char *why)
{
    fprintf(stderr, "newsd: %s:%lu: %s\n", (const char *)ctx, line, why);
}

/*
 * Imports one JSON-lines file and prints its counts; false when a line was
 * refused or the import stopped.
 */
static bool import_jsonl_one(struct nd_store *store, const char *file)
{
    struct nd_import_jsonl_stats stats;
    char err[256] = "";

    enum nd_err rc =
        nd_import_jsonl_file(store, file, 0, report_refused, (void *)file, &stats, err, sizeof err);
    printf("%s: %lu articles created, %lu existing, %lu comments created, %lu lines refused\n",
           file, stats.articles_created, stats.articles_existing, stats.comments_created,
           stats.lines_refused);
    if (rc != ND_OK)
        fprintf(stderr, "newsd: %s: %s\n", file, err[0] != '\0' ? err : nd_err_str(rc));
    return rc == ND_OK && stats.lines_refused == 0;
}

/*
 * "import [--jsonl] FILE...": --jsonl, anywhere among the arguments, reads
 * every file as JSON lines instead of plain text.
 */
int nd_cli_import(const struct nd_config *cfg, char *const *args, int nargs)
{
    int failed = 0, nfiles = 0;
    bool jsonl = false;

    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--jsonl") == 0)
            jsonl = true;
        else
            nfiles++;
    }
    if (nfiles == 0) {
        fprintf(stderr, "newsd: import needs at least one FILE\n");
        return ND_EXIT_USAGE;
    }
    struct nd_store *store = open_store(cfg);
    if (store == NULL)
        return ND_EXIT_FAILURE;
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--jsonl") == 0)
            continue;
        failed += jsonl ? !import_jsonl_one(store, args[i]) : !import_one(store, args[i]);
        fflush(stdout);
    }
    nd_store_close(store);
    return failed > 0 ? ND_EXIT_FAILURE : ND_EXIT_OK;
}

static int key_create(struct nd_store *store, const char *name)
{
    char *key = NULL;
    enum nd_err rc = nd_auth_key_create(store, name, &key);

    if (rc == ND_ERR_CONFLICT) {
        fprintf(stderr, "newsd: a key named \"%s\" exists already\n", name);
        return ND_EXIT_FAILURE;
    }
    if (rc == ND_ERR_INVALID) {
        fprintf(stderr, "newsd: a key name is 1 to 64 characters without control characters\n");
        return ND_EXIT_USAGE;
    }
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: cannot create the key: %s\n", nd_err_str(rc));
        return ND_EXIT_FAILURE;
    }
    printf("Created key \"%s\". Send it as \"Authorization: Bearer KEY\"; it is shown only once:\n"
           "%s\n",
           name, key);
    sodium_memzero(key, strlen(key));
    free(key);
    return ND_EXIT_OK;
}

static int key_list(struct nd_store *store)
{
    json_t *keys = NULL;
    size_t i;
    json_t *key;

    enum nd_err rc = nd_store_key_list(store, &keys);
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: cannot list the keys: %s\n", nd_err_str(rc));
        return ND_EXIT_FAILURE;
    }
    if (json_array_size(keys) == 0)
        printf("no keys\n");
    json_array_foreach(keys, i, key)
    {
        printf("%s\t%s\t%s\n", json_string_value(json_object_get(key, "name")),
               json_string_value(json_object_get(key, "key_id")),
               json_string_value(json_object_get(key, "created_at")));
    }
    json_decref(keys);
    return ND_EXIT_OK;
}

static int key_revoke(struct nd_store *store, const char *name)
{
    enum nd_err rc = nd_store_key_delete(store, name);
    if (rc == ND_ERR_NOT_FOUND) {
        fprintf(stderr, "newsd: there is no key named \"%s\"\n", name);
        return ND_EXIT_FAILURE;
    }
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: cannot revoke the key: %s\n", nd_err_str(rc));
        return ND_EXIT_FAILURE;
    }
    printf("revoked key \"%s\"\n", name);
    return ND_EXIT_OK;
}

int nd_cli_key(const struct nd_config *cfg, char *const *args, int nargs)
{
    const char *action = nargs > 0 ? args[0] : "";
    bool named = strcmp(action, "create") == 0 || strcmp(action, "revoke") == 0;
    int status;

    if (!(named && nargs == 2) && !(strcmp(action, "list") == 0 && nargs == 1)) {
        fprintf(stderr, "newsd: usage: newsd key create NAME | key list | key revoke NAME\n");
        return ND_EXIT_USAGE;
    }
    if (nd_auth_init() != ND_OK)
        return ND_EXIT_FAILURE;
    struct nd_store *store = open_store(cfg);
    if (store == NULL)
        return ND_EXIT_FAILURE;
    if (strcmp(action, "create") == 0)
        status = key_create(store, args[1]);
    else if (strcmp(action, "revoke") == 0)
        status = key_revoke(store, args[1]);
    else
        status = key_list(store);
    nd_store_close(store);
    return status;
}

/* placeholder: being written */
int nd_cli_backup(const struct nd_config *cfg, char *const *args, int nargs)
{
    (void)cfg, (void)args, (void)nargs;
    return ND_EXIT_FAILURE;
}

int nd_cli_export(const struct nd_config *cfg, char *const *args, int nargs)
{
    (void)cfg, (void)args, (void)nargs;
    return ND_EXIT_FAILURE;
}
