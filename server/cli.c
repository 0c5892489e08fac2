/*
 * cli.c: the subcommands of newsd: serve, migrate, import, key, backup and
 * export.
 *
 * Every subcommand that touches the database goes through open_store, which
 * creates the database's directory when it is missing and lets
 * nd_store_open create and migrate the database itself, so any command works
 * on a fresh machine. The exception is backup: it copies a database that
 * exists, and a missing one is an error rather than an empty copy.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "newsd/auth.h"
#include "newsd/http.h"
#include "newsd/import.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"

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

/*
 * Opens (creating and migrating) the configured database into *store;
 * quiet: the caller says what a failure means. A PostgreSQL URI has no
 * directory to make.
 */
static enum nd_err try_open_store(const struct nd_config *cfg, struct nd_store **store)
{
    struct nd_store_options opts = {cfg->synchronous, cfg->busy_timeout_ms, cfg->db_cache_size,
                                    cfg->db_mmap_size, false};

    *store = NULL;
    if (!nd_store_is_postgres(cfg->db_path) && !make_parent_dirs(cfg->db_path))
        return ND_ERR_IO;
    return nd_store_open(cfg->db_path, &opts, store);
}

/*
 * Opens the configured database, or says why not on stderr: the --db value
 * only as nd_store_describe prints it (a URI may hold a password), and for
 * PostgreSQL the reason the store logged just before.
 */
static struct nd_store *open_store(const struct nd_config *cfg)
{
    struct nd_store *store = NULL;
    char shown[512];

    enum nd_err rc = try_open_store(cfg, &store);
    if (rc == ND_ERR_IO) /* make_parent_dirs said why */
        return NULL;
    if (rc != ND_OK) {
        bool pg = nd_store_is_postgres(cfg->db_path);
        fprintf(stderr, "newsd: cannot open the database %s: %s%s\n",
                nd_store_describe(cfg->db_path, shown, sizeof shown),
                pg && rc == ND_ERR_BUSY ? "PostgreSQL cannot be reached" : nd_err_str(rc),
                pg ? " (the log line above says why)" : "");
        return NULL;
    }
    return store;
}

/*
 * The drain after the first stop signal: /ready turns 503 at once, and the
 * server goes on serving for drain-seconds, long enough for a balancer's
 * checks to take it out of rotation, so that no client is sent to a closed
 * port. A second signal ends the drain early (an operator in a hurry, or a
 * supervisor's second SIGTERM); without drain-seconds the stop is as
 * immediate as it always was.
 */
static void drain(struct nd_server *srv, unsigned seconds, const sigset_t *signals)
{
    nd_server_drain(srv);
    if (seconds == 0)
        return;
    nd_log(ND_LOG_INFO, "draining for %u s: /ready answers 503, requests are still served",
           seconds);
    uint64_t deadline = nd_monotonic_us() + (uint64_t)seconds * 1000000u;
    for (;;) {
        uint64_t now = nd_monotonic_us();
        if (now >= deadline)
            return;
        uint64_t left = deadline - now;
        struct timespec wait = {(time_t)(left / 1000000u), (long)(left % 1000000u) * 1000};
        int sig = sigtimedwait(signals, NULL, &wait);
        if (sig > 0) {
            nd_log(ND_LOG_INFO, "%s during the drain: stopping now",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        if (errno != EINTR)
            return; /* EAGAIN: the time is up */
    }
}

/*
 * The signals are blocked before any thread starts, so every libmicrohttpd
 * worker inherits the mask and sigwait here (and sigtimedwait in drain) is
 * the only place they arrive.
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

    /*
     * Migrate once, here, rather than racing in every worker's first open.
     * A PostgreSQL server that cannot be reached now (down, restarting, a
     * wrong password) is waited for while serving, as a restart of it
     * later is: every request is a 503 with Retry-After and /health says
     * so until a connection succeeds, and that first connection migrates.
     */
    char shown[512];
    struct nd_store *store = NULL;
    if (cfg->db_replica[0] != '\0' && !nd_store_is_postgres(cfg->db_path)) {
        nd_log(ND_LOG_ERROR, "db-replica needs a PostgreSQL db: a SQLite file has no replica");
        return ND_EXIT_USAGE;
    }
    enum nd_err open_rc = try_open_store(cfg, &store);
    nd_store_describe(cfg->db_path, shown, sizeof shown);
    if (open_rc == ND_ERR_BUSY && nd_store_is_postgres(cfg->db_path)) {
        nd_log(ND_LOG_WARN,
               "database %s cannot be reached; serving anyway: requests are answered 503 "
               "with Retry-After until it can, and the migrations run then",
               shown);
    } else if (open_rc != ND_OK) {
        if (open_rc != ND_ERR_IO)
            nd_log(ND_LOG_ERROR, "cannot open the database %s: %s", shown, nd_err_str(open_rc));
        return ND_EXIT_FAILURE;
    } else {
        nd_log(ND_LOG_INFO, "database %s ready, %u migrations applied", shown,
               nd_store_migrations_applied(store));
        nd_store_close(store);
    }

    json_object_seed(0);
    if (nd_auth_init() != ND_OK)
        return ND_EXIT_FAILURE;
    enum nd_err rc = nd_server_start(cfg, &srv);
    if (rc != ND_OK) /* a bad setting is not mended by a restart: status 2 says so */
        return rc == ND_ERR_INVALID ? ND_EXIT_USAGE : ND_EXIT_FAILURE;
    sigwait(&stop_signals, &sig);
    nd_log(ND_LOG_INFO, "shutting down on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    drain(srv, cfg->drain_seconds, &stop_signals);
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

/* "s" after n things other than one. */
static const char *plural(unsigned long n)
{
    return n == 1 ? "" : "s";
}

/*
 * Imports one WordPress export and prints what it did; false when the file
 * was refused or a post or comment was.
 */
static bool import_wxr_one(struct nd_store *store, const char *file)
{
    struct nd_import_wxr_stats st;
    char err[512] = "";

    enum nd_err rc =
        nd_import_wxr_file(store, file, report_refused, (void *)file, &st, err, sizeof err);
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: %s: %s; nothing was imported\n", file,
                err[0] != '\0' ? err : nd_err_str(rc));
        return false;
    }
    printf("%s: WordPress export (WXR 1.%u): %lu post%s created, %lu existing, %lu comment%s "
           "created, %lu existing, %lu refused\n",
           file, st.version, st.posts_created, plural(st.posts_created), st.posts_existing,
           st.comments_created, plural(st.comments_created), st.comments_existing, st.refused);
    printf("%s: skipped %lu page%s, %lu attachment%s, %lu menu item%s, %lu item%s of other "
           "types, %lu private, %lu trashed and %lu other posts, %lu spam, %lu trashed "
           "comment%s, %lu pingback%s and trackbacks\n",
           file, st.pages, plural(st.pages), st.attachments, plural(st.attachments), st.menu_items,
           plural(st.menu_items), st.other_types, plural(st.other_types), st.private_posts,
           st.trashed_posts, st.other_statuses, st.spam_comments, st.trashed_comments,
           plural(st.trashed_comments), st.pingbacks, plural(st.pingbacks));
    return st.refused == 0;
}

/*
 * Imports one file in the format it is in (nd_import_detect_file): a
 * plain-text article, JSON lines or an export, a WordPress export. JSON
 * that newsd does not read is refused.
 */
static bool import_detected(struct nd_store *store, const char *file)
{
    enum nd_import_format format = ND_IMPORT_TEXT;
    char err[512] = "";
    enum nd_err rc = nd_import_detect_file(file, &format, err, sizeof err);
    if (rc != ND_OK) {
        fprintf(stderr, "newsd: %s: %s\n", file, err[0] != '\0' ? err : nd_err_str(rc));
        return false;
    }
    if (format == ND_IMPORT_JSONL)
        return import_jsonl_one(store, file);
    if (format == ND_IMPORT_XML)
        return import_wxr_one(store, file);
    return import_one(store, file);
}

/*
 * "import [--jsonl] FILE...": each file is read in the format it is in;
 * --jsonl, anywhere among the arguments, reads every file as JSON lines.
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
        failed += jsonl ? !import_jsonl_one(store, args[i]) : !import_detected(store, args[i]);
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

/* ---- backup and export ------------------------------------------------- */

/*
 * A file written under a temporary name in its final directory, and renamed
 * over its real name only once it is complete and on disk, so that no
 * reader ever finds half a file under that name.
 */
struct staged {
    const char *path; /* the final name (borrowed) */
    char *tmp;        /* ".NAME.tmp-XXXXXX" beside it, malloc'd */
    int fd;
    FILE *file; /* the stream over fd, when one was opened */
};

/*
 * Creates the temporary file for path, with mode (less the umask). Returns
 * false, having said why on stderr, when path is a directory or its
 * directory cannot be written; nothing is left behind then.
 */
static bool stage_open(struct staged *s, const char *path, mode_t mode)
{
    struct stat st;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    s->path = path;
    s->fd = -1;
    if (*base == '\0' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "newsd: %s is a directory; name a file\n", path);
        return false;
    }
    size_t len = (size_t)dirlen + strlen(base) + sizeof "..tmp-XXXXXX";
    s->tmp = malloc(len);
    if (!s->tmp) {
        fprintf(stderr, "newsd: out of memory\n");
        return false;
    }
    snprintf(s->tmp, len, "%.*s.%s.tmp-XXXXXX", dirlen, path, base);
    s->fd = mkstemp(s->tmp);
    if (s->fd >= 0 && mode != 0600) {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(s->fd, mode & ~mask);
    }
    if (s->fd < 0) {
        fprintf(stderr, "newsd: cannot write %s: %s\n", path, strerror(errno));
        free(s->tmp);
        s->tmp = NULL;
        return false;
    }
    return true;
}

/* Removes the temporary file and what SQLite may have left beside it. */
static void stage_abort(struct staged *s)
{
    static const char *const companions[] = {"-journal", "-wal", "-shm"};
    if (s->file)
        fclose(s->file);
    else if (s->fd >= 0)
        close(s->fd);
    s->file = NULL;
    s->fd = -1;
    if (!s->tmp)
        return;
    unlink(s->tmp);
    for (size_t i = 0; i < sizeof companions / sizeof companions[0]; i++) {
        char side[PATH_MAX];
        if (snprintf(side, sizeof side, "%s%s", s->tmp, companions[i]) < (int)sizeof side)
            unlink(side);
    }
    free(s->tmp);
    s->tmp = NULL;
}

/* Flushes the directory entry of path's directory to disk. */
static bool sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return ok;
}

/*
 * Puts the finished file in place: its data to disk, the rename over the
 * final name, the directory to disk. On failure says why on stderr and
 * removes the temporary file; the final name keeps what it held.
 */
static bool stage_commit(struct staged *s)
{
    bool ok = true;
    if (s->file)
        ok = fflush(s->file) == 0 && fsync(fileno(s->file)) == 0;
    else
        ok = fsync(s->fd) == 0;
    ok = (s->file ? fclose(s->file) : close(s->fd)) == 0 && ok;
    s->file = NULL;
    s->fd = -1;
    if (ok)
        ok = rename(s->tmp, s->path) == 0;
    if (!ok) {
        fprintf(stderr, "newsd: cannot write %s: %s\n", s->path, strerror(errno));
        stage_abort(s);
        return false;
    }
    if (!sync_directory(s->path))
        fprintf(stderr, "newsd: warning: cannot sync the directory of %s: %s\n", s->path,
                strerror(errno));
    free(s->tmp);
    s->tmp = NULL;
    return true;
}

/*
 * The absolute name of path with every symbolic link resolved, also when
 * path itself does not exist yet (then only its directory is resolved),
 * into out. False when not even the directory resolves.
 */
static bool resolve_path(const char *path, char out[PATH_MAX])
{
    char dir[PATH_MAX], resolved[PATH_MAX];
    if (realpath(path, out))
        return true;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path) >=
             (int)sizeof dir)
        return false;
    if (!realpath(dir, resolved))
        return false;
    return snprintf(out, PATH_MAX, "%s/%s", strcmp(resolved, "/") == 0 ? "" : resolved, base) <
           PATH_MAX;
}

/*
 * True when path is the database or one of the files SQLite keeps beside
 * it (its WAL, shared memory or journal, also before they exist), by name
 * or as the same file under another name: writing over one of those would
 * destroy the database.
 */
static bool is_database_file(const char *db_path, const char *path)
{
    static const char *const companions[] = {"", "-wal", "-shm", "-journal"};
    char target[PATH_MAX], db[PATH_MAX];
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (!resolve_path(path, target) || !resolve_path(db_path, db))
        return false;
    for (size_t i = 0; i < sizeof companions / sizeof companions[0]; i++) {
        char name[PATH_MAX];
        struct stat other;
        if (snprintf(name, sizeof name, "%s%s", db, companions[i]) >= (int)sizeof name)
            continue;
        if (strcmp(name, target) == 0)
            return true;
        if (exists && stat(name, &other) == 0 && other.st_dev == st.st_dev &&
            other.st_ino == st.st_ino)
            return true;
    }
    return false;
}

/*
 * "backup FILE": the copy is made under a temporary name beside FILE and
 * renamed over FILE only once it is complete, checked and on disk.
 */
int nd_cli_backup(const struct nd_config *cfg, char *const *args, int nargs)
{
    struct nd_backup_options opts = {ND_BACKUP_STEP_PAGES, cfg->busy_timeout_ms, NULL, NULL};
    struct staged out = {NULL, NULL, -1, NULL};
    struct stat st;
    unsigned pages = 0;
    char why[512] = "";

    if (nargs != 1 || args[0][0] == '\0') {
        fprintf(stderr, "newsd: usage: newsd backup FILE\n");
        return ND_EXIT_USAGE;
    }
    if (nd_store_is_postgres(cfg->db_path)) { /* refused with what to use instead */
        nd_store_backup(cfg->db_path, args[0], &opts, &pages, why, sizeof why);
        fprintf(stderr, "newsd: backup: %s\n", why);
        return ND_EXIT_FAILURE;
    }
    if (strcmp(cfg->db_path, ":memory:") != 0 && stat(cfg->db_path, &st) != 0) {
        fprintf(stderr, "newsd: backup: there is no database at %s: %s\n", cfg->db_path,
                strerror(errno));
        return ND_EXIT_FAILURE;
    }
    if (is_database_file(cfg->db_path, args[0])) {
        fprintf(stderr,
                "newsd: backup: %s is the database or one of its files; name another file\n",
                args[0]);
        return ND_EXIT_FAILURE;
    }
    /* 0600: a copy holds the hashes of the API keys */
    if (!stage_open(&out, args[0], 0600))
        return ND_EXIT_FAILURE;
    enum nd_err rc = nd_store_backup(cfg->db_path, out.tmp, &opts, &pages, why, sizeof why);
    if (rc != ND_OK) {
        stage_abort(&out);
        fprintf(stderr, "newsd: backup: %s\n", why);
        return ND_EXIT_FAILURE;
    }
    if (!stage_commit(&out))
        return ND_EXIT_FAILURE;
    printf("backed up %u pages to %s\n", pages, args[0]);
    return ND_EXIT_OK;
}

/* Where export records go, and the first write error met. */
struct export_sink {
    FILE *out;
    int error; /* errno of a failed write, 0 while none */
};

/* Writes one record as a line of compact JSON. */
static enum nd_err write_record(void *ctx, const json_t *record)
{
    struct export_sink *sink = ctx;
    nd_json_watch_reset();
    if (json_dumpf(record, sink->out, JSON_COMPACT) != 0 || fputc('\n', sink->out) == EOF ||
        ferror(sink->out)) {
        sink->error = errno != 0 ? errno : EIO;
        return ND_ERR_IO;
    }
    /* a key Jansson could not write is left out, not reported (newsd/json.h) */
    return nd_json_watch_failed() ? ND_ERR_NOMEM : ND_OK;
}

/*
 * "export [FILE]": JSON lines to standard output, or to FILE through a
 * temporary file renamed over it once complete. A count goes to stderr
 * (stdout carries the data) or, with FILE, to stdout.
 */
int nd_cli_export(const struct nd_config *cfg, char *const *args, int nargs)
{
    struct staged staged = {NULL, NULL, -1, NULL};
    struct export_sink sink = {stdout, 0};
    struct nd_export_stats stats = {0, 0};
    const char *file = nargs == 1 && strcmp(args[0], "-") != 0 ? args[0] : NULL;

    if (nargs > 1 || (nargs == 1 && args[0][0] == '\0')) {
        fprintf(stderr, "newsd: usage: newsd export [FILE]\n");
        return ND_EXIT_USAGE;
    }
    if (file && !nd_store_is_postgres(cfg->db_path) && is_database_file(cfg->db_path, file)) {
        fprintf(stderr,
                "newsd: export: %s is the database or one of its files; name another file\n", file);
        return ND_EXIT_FAILURE;
    }
    struct nd_store *store = open_store(cfg);
    if (store == NULL)
        return ND_EXIT_FAILURE;
    if (file && !stage_open(&staged, file, 0666)) {
        nd_store_close(store);
        return ND_EXIT_FAILURE;
    }
    if (file) {
        staged.file = fdopen(staged.fd, "w");
        sink.out = staged.file;
    }
    enum nd_err rc = sink.out ? nd_store_export(store, write_record, &sink, &stats) : ND_ERR_NOMEM;
    if (rc == ND_OK && (fflush(sink.out) != 0 || ferror(sink.out))) {
        sink.error = errno;
        rc = ND_ERR_IO;
    }
    nd_store_close(store);
    if (rc != ND_OK) {
        if (rc == ND_ERR_IO)
            fprintf(stderr, "newsd: export: cannot write %s: %s\n", file ? file : "the output",
                    strerror(sink.error));
        else
            fprintf(stderr, "newsd: export: %s\n", nd_err_str(rc));
        stage_abort(&staged);
        return ND_EXIT_FAILURE;
    }
    if (file && !stage_commit(&staged))
        return ND_EXIT_FAILURE;
    fprintf(file ? stdout : stderr, "exported %lu articles and %lu comments%s%s\n", stats.articles,
            stats.comments, file ? " to " : "", file ? file : "");
    return ND_EXIT_OK;
}
