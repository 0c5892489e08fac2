/*
 * config.c: the settings table and the three ways to fill it.
 *
 * Each setting is one row of `settings`: its name (the config file key and,
 * with "--", the flag), where it lives in struct nd_config, its type and
 * range, its default written as text, and its help line. Defaults go through
 * the same parser as any user-supplied value, so the help text, the file
 * parser, the environment and the flags cannot disagree about a setting.
 */
#include "newsd/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "newsd/cors.h"
#include "newsd/feed.h"
#include "newsd/proxy.h"
#include "newsd/tls.h"
#include "newsd/util.h"

enum setting_type {
    TYPE_PATH, /* char *: a non-empty file name */
    TYPE_FILE, /* char *: a file name, or "" for none */
    TYPE_ADDR, /* char *: an IPv4 or IPv6 literal */
    TYPE_TEXT, /* char *: any text that the setting's check accepts */
    TYPE_UINT, /* unsigned, decimal, within [min, max] */
    TYPE_SIZE, /* size_t, decimal with an optional K, M or G suffix (powers of 1024) */
    TYPE_BOOL, /* bool: true/false, yes/no, on/off, 1/0 */
    TYPE_ENUM, /* an enum, by the name of its value (names[value]) */
};

struct setting {
    const char *name;
    enum setting_type type;
    size_t offset;
    unsigned long long min, max;
    const char *def;
    const char *metavar;
    const char *help;
    const char *const *names; /* TYPE_ENUM: the names of the values, in order */
    /* TYPE_TEXT: ND_OK, or ND_ERR_INVALID with why the text is wrong */
    enum nd_err (*check)(const char *text, char *why, size_t whylen);
};

#define AT(field) offsetof(struct nd_config, field)
#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)

static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const sync_names[] = {"off", "normal", "full", NULL};
static const char *const moderation_names[] = {"off", "pre", NULL};

static enum nd_err check_proxies(const char *text, char *why, size_t whylen)
{
    struct nd_proxy_list *list = NULL;
    enum nd_err rc = nd_proxy_list_parse(text, &list, why, whylen);
    nd_proxy_list_destroy(list);
    return rc;
}

static enum nd_err check_origins(const char *text, char *why, size_t whylen)
{
    struct nd_cors *cors = NULL;
    enum nd_err rc = nd_cors_create(text, false, &cors, why, whylen);
    nd_cors_destroy(cors);
    return rc;
}

/* db-replica: none, or a PostgreSQL URI (whether --db is one too is checked when serving). */
static enum nd_err check_replica(const char *text, char *why, size_t whylen)
{
    if (text[0] == '\0' || strncasecmp(text, "postgres://", 11) == 0 ||
        strncasecmp(text, "postgresql://", 13) == 0)
        return ND_OK;
    nd_why(why, whylen, "a replica is a PostgreSQL hot standby: a postgresql:// URI");
    return ND_ERR_INVALID;
}

/* One row per setting; the defaults are text, parsed like any given value. */
static const struct setting settings[] = {
    {"db", TYPE_PATH, AT(db_path), 0, 0, "./data/newsd.db", "PATH|URI",
     "SQLite database file, or a postgresql:// URI (docs/postgresql.md)", NULL, NULL},
    {"db-replica", TYPE_TEXT, AT(db_replica), 0, 0, "", "URI",
     "PostgreSQL hot standby for public reads (docs/postgresql.md); needs a PostgreSQL db", NULL,
     check_replica},
    {"bind", TYPE_ADDR, AT(bind), 0, 0, "127.0.0.1", "ADDR",
     "listen address, an IPv4 or IPv6 literal (:: listens on both)", NULL, NULL},
    {"port", TYPE_UINT, AT(port), 0, 65535, "8080", "N", "listen port; 0 picks a free one", NULL,
     NULL},
    {"threads", TYPE_UINT, AT(threads), 0, 1024, "0", "N", "worker threads; 0 = one per CPU core",
     NULL, NULL},
    {"log-level", TYPE_ENUM, AT(log_level), 0, 0, "info", "LEVEL", "error, warn, info or debug",
     level_names, NULL},
    {"log-format", TYPE_ENUM, AT(log_format), 0, 0, "text", "FORMAT",
     "text, or json: one JSON object per log line", log_format_names, NULL},
    {"synchronous", TYPE_ENUM, AT(synchronous), 0, 0, "normal", "MODE",
     "SQLite synchronous mode: off, normal or full", sync_names, NULL},
    {"max-body", TYPE_SIZE, AT(max_body), 1 * KIB, 1024 * MIB, "1M", "BYTES",
     "largest request body; larger ones get 413", NULL, NULL},
    {"bulk-max-body", TYPE_SIZE, AT(bulk_max_body), 1 * KIB, 1024 * 1024 * MIB, "1G", "BYTES",
     "largest body of POST /v1/articles/bulk; larger ones get 413", NULL, NULL},
    {"bulk-max-lines", TYPE_UINT, AT(bulk_max_lines), 1, 100000000, "100000", "N",
     "most articles (lines) in one POST /v1/articles/bulk", NULL, NULL},
    {"bulk-max-line", TYPE_SIZE, AT(bulk_max_line), 1 * KIB, 64 * MIB, "2M", "BYTES",
     "longest line of POST /v1/articles/bulk; a longer line is that line's 413", NULL, NULL},
    {"connection-timeout", TYPE_UINT, AT(conn_timeout), 1, 86400, "30", "SECONDS",
     "close a connection idle this long", NULL, NULL},
    {"connection-limit", TYPE_UINT, AT(conn_limit), 1, 1000000, "1000", "N",
     "most connections at once", NULL, NULL},
    {"per-ip-connection-limit", TYPE_UINT, AT(per_ip_conn_limit), 0, 1000000, "64", "N",
     "most connections from one address; 0 = no limit", NULL, NULL},
    {"connection-memory-limit", TYPE_SIZE, AT(conn_memory_limit), 8 * KIB, 64 * MIB, "64K", "BYTES",
     "memory per connection; request headers must fit", NULL, NULL},
    {"busy-timeout", TYPE_UINT, AT(busy_timeout_ms), 0, 600000, "5000", "MS",
     "how long a writer waits for the database lock", NULL, NULL},
    {"db-cache-size", TYPE_SIZE, AT(db_cache_size), 0, 4096 * MIB, "0", "BYTES",
     "SQLite page cache of each database connection; 0 = SQLite's default (2M)", NULL, NULL},
    {"db-mmap-size", TYPE_SIZE, AT(db_mmap_size), 0, 1024 * 1024 * MIB, "0", "BYTES",
     "bytes of the database file read through a memory map; 0 = read with system calls", NULL,
     NULL},
    {"comment-rate", TYPE_UINT, AT(comment_rate), 0, 1000000, "10", "N",
     "comments per minute per client address; 0 = no limit", NULL, NULL},
    {"comment-burst", TYPE_UINT, AT(comment_burst), 1, 1000000, "20", "N",
     "comments a client address may post at once", NULL, NULL},
    {"shutdown-grace", TYPE_UINT, AT(shutdown_grace), 0, 3600, "10", "SECONDS",
     "time given to requests in flight on shutdown", NULL, NULL},
    {"drain-seconds", TYPE_UINT, AT(drain_seconds), 0, 3600, "0", "SECONDS",
     "on SIGTERM, answer /ready 503 and go on serving this long before stopping (longer than "
     "the balancer needs to notice: check interval times fall count)",
     NULL, NULL},
    {"write-rate", TYPE_UINT, AT(write_rate), 0, 1000000, "600", "N",
     "writes per minute per API key; 0 = no limit", NULL, NULL},
    {"write-burst", TYPE_UINT, AT(write_burst), 1, 1000000, "100", "N",
     "writes an API key may make at once", NULL, NULL},
    {"trusted-proxies", TYPE_TEXT, AT(trusted_proxies), 0, 0, "", "LIST",
     "proxies (IPs, CIDRs; comma-separated) whose X-Forwarded-For is believed", NULL,
     check_proxies},
    {"cors-origins", TYPE_TEXT, AT(cors_origins), 0, 0, "*", "LIST",
     "origins browsers may call from: *, a comma-separated list, or empty for none", NULL,
     check_origins},
    {"cors-credentials", TYPE_BOOL, AT(cors_credentials), 0, 0, "false", "BOOL",
     "allow credentials from the listed cors-origins (never with *)", NULL, NULL},
    {"comment-moderation", TYPE_ENUM, AT(comment_moderation), 0, 0, "off", "MODE",
     "off, or pre: new comments stay pending until approved", moderation_names, NULL},
    {"cache-size", TYPE_SIZE, AT(cache_size), 0, 1024 * MIB, "16M", "BYTES",
     "memory for rendered public answers, invalidated by the writes; 0 = no cache", NULL, NULL},
    {"tls-cert", TYPE_FILE, AT(tls_cert), 0, 0, "", "FILE",
     "PEM certificate (chain) to serve HTTPS; needs tls-key", NULL, NULL},
    {"tls-key", TYPE_FILE, AT(tls_key), 0, 0, "", "FILE",
     "PEM private key of tls-cert (unencrypted)", NULL, NULL},
    {"tls-priorities", TYPE_TEXT, AT(tls_priorities), 0, 0, ND_TLS_DEFAULT_PRIORITIES, "STRING",
     "GnuTLS priority string: TLS versions and cipher suites, in the server's order", NULL,
     nd_tls_check_priorities},
    {"metrics", TYPE_BOOL, AT(metrics), 0, 0, "true", "BOOL",
     "serve Prometheus metrics at GET /metrics", NULL, NULL},
    {"feed-size", TYPE_UINT, AT(feed_size), 1, 100, "20", "N",
     "entries in the Atom, RSS and JSON feeds", NULL, NULL},
    {"public-url", TYPE_TEXT, AT(public_url), 0, 0, "", "URL",
     "URL clients reach newsd at, for the links in feeds; empty = from the request's Host", NULL,
     nd_feed_check_public_url},
    {"article-url", TYPE_TEXT, AT(article_url), 0, 0, "", "TEMPLATE",
     "page of an article that feed entries link to: a URL with {slug} and/or {id}; empty = the "
     "reader page (/#/articles/{slug})",
     NULL, nd_feed_check_page},
    {"gzip-level", TYPE_UINT, AT(gzip_level), 0, 9, "6", "N",
     "gzip level for answers over 1 KiB to clients that accept it; 0 = never", NULL, NULL},
    {"change-log-days", TYPE_UINT, AT(change_log_days), 1, 3650, "7", "DAYS",
     "days the change log keeps changes for /v1/events and /v1/changes", NULL, NULL},
    {"events-heartbeat", TYPE_UINT, AT(events_heartbeat), 1, 3600, "15", "SECONDS",
     "a comment line on idle /v1/events streams this often, for proxies", NULL, NULL},
    {"events-limit", TYPE_UINT, AT(events_limit), 1, 1000000, "500", "N",
     "open /v1/events streams in all; more get 503", NULL, NULL},
    {"events-per-client", TYPE_UINT, AT(events_per_client), 1, 1000000, "8", "N",
     "open /v1/events streams per client address; more get 429", NULL, NULL},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

bool nd_config_is_setting(const char *name)
{
    return find_setting(name) != NULL;
}

/* A size: digits and an optional K, M or G suffix (either case). */
static bool parse_size(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    uint64_t mult = 1, v;
    if (len > 0) {
        switch (text[len - 1]) {
        case 'k':
        case 'K':
            mult = KIB;
            break;
        case 'm':
        case 'M':
            mult = MIB;
            break;
        case 'g':
        case 'G':
            mult = 1024 * MIB;
            break;
        default:
            break;
        }
    }
    if (mult != 1)
        len--;
    if (!nd_parse_uint(text, len, UINT64_MAX / mult, &v))
        return false;
    *out = v * mult;
    return true;
}

/* The index of text in the NULL-terminated names, or -1. */
static int parse_name(const char *text, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    return -1;
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    if (parse_name(text, yes) >= 0) {
        *out = true;
        return true;
    }
    if (parse_name(text, no) >= 0) {
        *out = false;
        return true;
    }
    return false;
}

/* Replaces the string at *slot with a copy of text. */
static enum nd_err set_string(char **slot, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return ND_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return ND_OK;
}

static bool is_ip_literal(const char *text)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* Every enum of struct nd_config is stored through an int (TYPE_ENUM). */
_Static_assert(sizeof(enum nd_log_level) == sizeof(int) &&
                   sizeof(enum nd_log_format) == sizeof(int) &&
                   sizeof(enum nd_sync_mode) == sizeof(int) &&
                   sizeof(enum nd_moderation) == sizeof(int),
               "config enums are stored as int");

/*
 * Parses text as setting s and stores it in cfg. ND_ERR_INVALID for a bad
 * value (with the check's reason in why, for TYPE_TEXT) and ND_ERR_NOMEM
 * leave cfg unchanged.
 */
static enum nd_err store_value(struct nd_config *cfg, const struct setting *s, const char *text,
                               char *why, size_t whylen)
{
    char *field = (char *)cfg + s->offset;
    uint64_t v = 0;
    bool flag = false;
    int idx;

    switch (s->type) {
    case TYPE_PATH:
    case TYPE_FILE:
        if ((s->type == TYPE_PATH && text[0] == '\0') || strlen(text) >= 4096)
            return ND_ERR_INVALID;
        return set_string((char **)(void *)field, text);
    case TYPE_ADDR:
        if (!is_ip_literal(text))
            return ND_ERR_INVALID;
        return set_string((char **)(void *)field, text);
    case TYPE_TEXT:
        if (s->check(text, why, whylen) != ND_OK)
            return ND_ERR_INVALID;
        return set_string((char **)(void *)field, text);
    case TYPE_UINT:
        if (!nd_parse_uint(text, strlen(text), s->max, &v) || v < s->min)
            return ND_ERR_INVALID;
        *(unsigned *)(void *)field = (unsigned)v;
        return ND_OK;
    case TYPE_SIZE:
        if (!parse_size(text, &v) || v < s->min || v > s->max)
            return ND_ERR_INVALID;
        *(size_t *)(void *)field = (size_t)v;
        return ND_OK;
    case TYPE_BOOL:
        if (!parse_bool(text, &flag))
            return ND_ERR_INVALID;
        *(bool *)(void *)field = flag;
        return ND_OK;
    case TYPE_ENUM:
        idx = parse_name(text, s->names);
        if (idx < 0)
            return ND_ERR_INVALID;
        *(int *)(void *)field = idx;
        return ND_OK;
    }
    return ND_ERR_INVALID;
}

/* "a, b or c" from a NULL-terminated list of names. */
static void join_names(const char *const *names, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] != NULL && used < len; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ";
        int n = snprintf(buf + used, len - used, "%s%s", sep, names[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* What a value of setting s must be, for error messages. */
static void expectation(const struct setting *s, char *buf, size_t len)
{
    switch (s->type) {
    case TYPE_PATH:
    case TYPE_FILE:
        snprintf(buf, len, "a file name");
        break;
    case TYPE_ADDR:
        snprintf(buf, len, "an IPv4 or IPv6 address such as 127.0.0.1 or ::1");
        break;
    case TYPE_TEXT:
        snprintf(buf, len, "valid");
        break;
    case TYPE_UINT:
        snprintf(buf, len, "a whole number from %llu to %llu", s->min, s->max);
        break;
    case TYPE_SIZE:
        snprintf(buf, len, "a size from %lluK to %lluM (digits with an optional K, M or G)",
                 s->min / KIB, s->max / MIB);
        break;
    case TYPE_BOOL:
        snprintf(buf, len, "true or false (also yes/no, on/off, 1/0)");
        break;
    case TYPE_ENUM:
        join_names(s->names, buf, len);
        break;
    }
}

/* store_value, with a sentence naming the setting in why on a bad value. */
static enum nd_err apply(struct nd_config *cfg, const struct setting *s, const char *text,
                         char *why, size_t whylen)
{
    char expected[128];
    char reason[256] = "";
    enum nd_err rc = store_value(cfg, s, text, reason, sizeof reason);

    if (rc == ND_ERR_INVALID && reason[0] != '\0') {
        nd_why(why, whylen, "%s: %s", s->name, reason);
    } else if (rc == ND_ERR_INVALID) {
        expectation(s, expected, sizeof expected);
        if (strstr(text, "://") != NULL) /* a URI may hold a password: not repeated */
            nd_why(why, whylen, "%s must be %s", s->name, expected);
        else
            nd_why(why, whylen, "%s must be %s, not \"%.60s\"", s->name, expected, text);
    } else if (rc != ND_OK) {
        nd_why(why, whylen, "%s: out of memory", s->name);
    }
    return rc;
}

enum nd_err nd_config_init(struct nd_config *cfg)
{
    char err[256];

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++) {
        enum nd_err rc = apply(cfg, &settings[i], settings[i].def, err, sizeof err);
        if (rc != ND_OK) {
            nd_config_fini(cfg);
            return rc; /* only ND_ERR_NOMEM: the defaults are tested */
        }
    }
    return ND_OK;
}

static bool is_string(const struct setting *s)
{
    return s->type == TYPE_PATH || s->type == TYPE_FILE || s->type == TYPE_ADDR ||
           s->type == TYPE_TEXT;
}

void nd_config_fini(struct nd_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (!is_string(&settings[i]))
            continue;
        char **slot = (char **)(void *)((char *)cfg + settings[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

enum nd_err nd_config_set(struct nd_config *cfg, const char *name, const char *text, char *why,
                          size_t whylen)
{
    const struct setting *s = find_setting(name);
    if (s == NULL) {
        nd_why(why, whylen, "unknown setting \"%.60s\"", name);
        return ND_ERR_INVALID;
    }
    return apply(cfg, s, text, why, whylen);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/*
 * Reads the value part of a line in place. A quoted value ends at the
 * closing quote (\" and \\ are escapes) and may be followed only by a
 * comment; an unquoted value ends at a '#' that follows white space.
 * Returns NULL with a reason in *why on a malformed value.
 */
static char *parse_value(char *v, const char **why)
{
    if (*v != '"') {
        for (char *p = v; *p != '\0'; p++) {
            if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
                *p = '\0';
                break;
            }
        }
        return trim(v);
    }
    char *out = v;
    char *p = v + 1;
    while (*p != '"') {
        if (*p == '\0') {
            *why = "the quoted value has no closing quote";
            return NULL;
        }
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        *out++ = *p++;
    }
    *out = '\0';
    p = trim(p + 1);
    if (*p != '\0' && *p != '#') {
        *why = "unexpected text after the closing quote";
        return NULL;
    }
    return v;
}

/* Applies one line of a config file. Blank lines and comments are fine. */
static enum nd_err load_line(struct nd_config *cfg, char *line, const char *path, unsigned lineno,
                             char *why, size_t whylen)
{
    char msg[256];
    const char *reason = NULL;
    char *key = trim(line);

    if (*key == '\0' || *key == '#')
        return ND_OK;
    char *eq = strchr(key, '=');
    if (eq == NULL) {
        nd_why(why, whylen, "%s:%u: expected \"name = value\"", path, lineno);
        return ND_ERR_INVALID;
    }
    *eq = '\0';
    key = trim(key);
    char *value = parse_value(trim(eq + 1), &reason);
    if (value == NULL) {
        nd_why(why, whylen, "%s:%u: %s", path, lineno, reason);
        return ND_ERR_INVALID;
    }
    enum nd_err rc = nd_config_set(cfg, key, value, msg, sizeof msg);
    if (rc == ND_ERR_INVALID)
        nd_why(why, whylen, "%s:%u: %s", path, lineno, msg);
    return rc;
}

enum nd_err nd_config_load_file(struct nd_config *cfg, const char *path, char *why, size_t whylen)
{
    enum nd_err rc = ND_OK;
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        nd_why(why, whylen, "%s: %s", path, strerror(errno));
        return ND_ERR_IO;
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        rc = load_line(cfg, line, path, lineno, why, whylen);
        if (rc != ND_OK)
            goto out;
    }
    if (ferror(f)) {
        nd_why(why, whylen, "%s: read error", path);
        rc = ND_ERR_IO;
    }
out:
    free(line);
    fclose(f);
    return rc;
}

/* "max-body" -> "NEWSD_MAX_BODY". */
static void env_name(const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "NEWSD_%s", name);
    for (char *p = buf + 6; n > 0 && *p != '\0'; p++)
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
}

enum nd_err nd_config_load_env(struct nd_config *cfg, char *why, size_t whylen)
{
    char var[64];
    char msg[256];

    for (size_t i = 0; i < NSETTINGS; i++) {
        env_name(settings[i].name, var, sizeof var);
        const char *text = getenv(var);
        if (text == NULL || text[0] == '\0')
            continue; /* an empty variable counts as unset */
        enum nd_err rc = apply(cfg, &settings[i], text, msg, sizeof msg);
        if (rc != ND_OK) {
            nd_why(why, whylen, "%s: %s", var, msg);
            return rc;
        }
    }
    return ND_OK;
}

void nd_config_print_help(void *out)
{
    FILE *f = out;
    char flag[64];
    char var[64];

    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        snprintf(flag, sizeof flag, "--%s %s", s->name, s->metavar);
        env_name(s->name, var, sizeof var);
        fprintf(f, "  %-34s %s\n  %-34s %s, default %s\n", flag, s->help, "", var,
                s->def[0] != '\0' ? s->def : "none");
    }
}
