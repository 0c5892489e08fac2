/*
 * config.h: every setting of newsd, and where each comes from.
 *
 * Settings are layered: built-in defaults, then a config file (--config FILE
 * or NEWSD_CONFIG), then NEWSD_* environment variables, then command-line
 * flags. One table in config.c names each setting once (file key, variable,
 * flag, type, help text), so the three sources can never drift apart.
 */
#ifndef NEWSD_CONFIG_H
#define NEWSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/err.h"

enum nd_log_level {
    ND_LOG_ERROR = 0,
    ND_LOG_WARN,
    ND_LOG_INFO,
    ND_LOG_DEBUG,
};

enum nd_sync_mode {
    ND_SYNC_OFF = 0,
    ND_SYNC_NORMAL,
    ND_SYNC_FULL,
};

enum nd_log_format {
    ND_LOG_FORMAT_TEXT = 0, /* "LEVEL message" lines */
    ND_LOG_FORMAT_JSON,     /* one JSON object per line */
};

enum nd_moderation {
    ND_MODERATION_OFF = 0, /* new comments are visible at once */
    ND_MODERATION_PRE,     /* new comments wait, pending, until a key holder approves them */
};

struct nd_config {
    char *db_path;                 /* db: SQLite file, default "./data/newsd.db" */
    char *db_replica;              /* db-replica: PostgreSQL hot standby URI for reads; "" */
    char *bind;                    /* bind: listen address, default "127.0.0.1" */
    unsigned port;                 /* port: default 8080; 0 = ephemeral */
    unsigned threads;              /* threads: worker pool size; 0 = number of cores */
    enum nd_log_level log_level;   /* log-level: error|warn|info|debug, default info */
    enum nd_log_format log_format; /* log-format: text|json, default text */
    enum nd_sync_mode synchronous; /* synchronous: off|normal|full, default normal */
    size_t max_body;               /* max-body: bytes, default 1 MiB */
    unsigned conn_timeout;         /* connection-timeout: idle seconds, default 30 */
    size_t bulk_max_body;          /* bulk-max-body: bytes of one bulk body, default 1 GiB */
    unsigned bulk_max_lines;       /* bulk-max-lines: lines of one bulk body, default 100,000 */
    size_t bulk_max_line;          /* bulk-max-line: bytes of one bulk line, default 2 MiB */
    unsigned conn_limit;           /* connection-limit: total, default 1000 */
    unsigned per_ip_conn_limit;    /* per-ip-connection-limit: default 64 */
    size_t conn_memory_limit; /* connection-memory-limit: bytes per connection, default 64 KiB */
    unsigned busy_timeout_ms; /* busy-timeout: ms a writer waits for the lock, default 5000 */
    size_t db_cache_size; /* db-cache-size: SQLite page cache per connection; 0 (default): 2 MB */
    size_t db_mmap_size;  /* db-mmap-size: bytes of the database mapped; 0 (default): none */
    unsigned
        comment_rate; /* comment-rate: comments per minute per address; 0 = no limit; default 10 */
    unsigned comment_burst;  /* comment-burst: bucket size, default 20 */
    unsigned shutdown_grace; /* shutdown-grace: seconds to finish requests in flight, default 10 */
    unsigned drain_seconds;  /* drain-seconds: seconds /ready is 503 before the stop; default 0 */
    unsigned write_rate;     /* write-rate: writes per minute per API key; 0 = no limit; 600 */
    unsigned write_burst;    /* write-burst: bucket size, default 100 */
    char *trusted_proxies;   /* trusted-proxies: IPs/CIDRs whose X-Forwarded-For is believed; "" */
    char *cors_origins;      /* cors-origins: "*", a list of origins, or "" (off); default "*" */
    bool cors_credentials;   /* cors-credentials: allow credentials for listed origins; false */
    enum nd_moderation comment_moderation; /* comment-moderation: off|pre, default off */
    size_t cache_size;    /* cache-size: bytes of rendered answers kept; 0 = none; default 16 MiB */
    char *tls_cert;       /* tls-cert: PEM certificate chain file; "" = plain HTTP */
    char *tls_key;        /* tls-key: PEM private key file; "" = plain HTTP */
    char *tls_priorities; /* tls-priorities: GnuTLS priority string; ND_TLS_DEFAULT_PRIORITIES */
    bool metrics;         /* metrics: serve GET /metrics; default true */
    unsigned feed_size;   /* feed-size: entries in each feed, default 20 */
    char *public_url;     /* public-url: base of links in feeds; "" = from Host header */
    char *article_url;    /* article-url: page template ({slug}, {id}) feed entries link to; "" */
    unsigned gzip_level;  /* gzip-level: 1..9 for answers over 1 KiB; 0 = never compress; 6 */
    unsigned change_log_days;   /* change-log-days: days the change log keeps, default 7 */
    unsigned events_heartbeat;  /* events-heartbeat: seconds between pings on idle streams; 15 */
    unsigned events_limit;      /* events-limit: open /v1/events streams in all, default 500 */
    unsigned events_per_client; /* events-per-client: open streams per client address, default 8 */
};

/* True when name is the name of a setting ("port", "log-level"). */
bool nd_config_is_setting(const char *name);

/* Fills cfg with the built-in defaults. cfg owns its strings afterwards. */
enum nd_err nd_config_init(struct nd_config *cfg);

/* Frees the strings cfg owns. Accepts NULL. */
void nd_config_fini(struct nd_config *cfg);

/*
 * Sets the setting called name (its file key, e.g. "port" or "log-level")
 * from text. On ND_ERR_INVALID a sentence saying what is wrong is written to
 * why (whylen bytes) and cfg is unchanged.
 */
enum nd_err nd_config_set(struct nd_config *cfg, const char *name, const char *text, char *why,
                          size_t whylen);

/*
 * Reads "key = value" lines from the file at path ('#' starts a comment).
 * Fails with ND_ERR_IO when the file cannot be read, ND_ERR_INVALID on a bad
 * line or value (why says which line and what is wrong).
 */
enum nd_err nd_config_load_file(struct nd_config *cfg, const char *path, char *why, size_t whylen);

/* Applies every NEWSD_<KEY> variable of the environment (dashes become underscores). */
enum nd_err nd_config_load_env(struct nd_config *cfg, char *why, size_t whylen);

/*
 * Writes the help lines for every setting (flag, variable, default, meaning)
 * to out.
 */
void nd_config_print_help(void *out /* FILE * */);

#endif
