/*
 * test_config.c: defaults, every setting type, error messages, the config
 * file parser (on temporary files) and the environment layer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/config.h"

/* Writes text to a new temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/newsd-test-config-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void)
{
    struct nd_config cfg;

    CHECK_INT(nd_config_init(&cfg), ND_OK);
    CHECK_STR(cfg.db_path, "./data/newsd.db");
    CHECK_STR(cfg.bind, "127.0.0.1");
    CHECK_INT(cfg.port, 8080);
    CHECK_INT(cfg.threads, 0);
    CHECK_INT(cfg.log_level, ND_LOG_INFO);
    CHECK_INT(cfg.synchronous, ND_SYNC_NORMAL);
    CHECK_INT(cfg.max_body, 1024 * 1024);
    CHECK_INT(cfg.conn_timeout, 30);
    CHECK_INT(cfg.conn_limit, 1000);
    CHECK_INT(cfg.per_ip_conn_limit, 64);
    CHECK_INT(cfg.conn_memory_limit, 64 * 1024);
    CHECK_INT(cfg.busy_timeout_ms, 5000);
    CHECK_INT(cfg.comment_rate, 10);
    CHECK_INT(cfg.comment_burst, 20);
    CHECK_INT(cfg.shutdown_grace, 10);
    CHECK_INT(cfg.write_rate, 600);
    CHECK_INT(cfg.write_burst, 100);
    CHECK_STR(cfg.trusted_proxies, "");
    CHECK_STR(cfg.cors_origins, "*");
    CHECK(!cfg.cors_credentials);
    CHECK_INT(cfg.comment_moderation, ND_MODERATION_OFF);
    CHECK_STR(cfg.tls_cert, "");
    CHECK_STR(cfg.tls_key, "");
    nd_config_fini(&cfg);
    CHECK(cfg.tls_key == NULL && cfg.cors_origins == NULL && cfg.db_path == NULL);
    nd_config_fini(NULL);
}

static void test_set_each_type(void)
{
    struct nd_config cfg;
    char err[256];

    nd_config_init(&cfg);
    CHECK_INT(nd_config_set(&cfg, "db", "/var/lib/newsd/news.db", err, sizeof err), ND_OK);
    CHECK_STR(cfg.db_path, "/var/lib/newsd/news.db");
    CHECK_INT(nd_config_set(&cfg, "bind", "::1", err, sizeof err), ND_OK);
    CHECK_STR(cfg.bind, "::1");
    CHECK_INT(nd_config_set(&cfg, "bind", "0.0.0.0", err, sizeof err), ND_OK);
    CHECK_STR(cfg.bind, "0.0.0.0");
    CHECK_INT(nd_config_set(&cfg, "port", "0", err, sizeof err), ND_OK);
    CHECK_INT(cfg.port, 0);
    CHECK_INT(nd_config_set(&cfg, "port", "65535", err, sizeof err), ND_OK);
    CHECK_INT(cfg.port, 65535);
    CHECK_INT(nd_config_set(&cfg, "log-level", "debug", err, sizeof err), ND_OK);
    CHECK_INT(cfg.log_level, ND_LOG_DEBUG);
    CHECK_INT(nd_config_set(&cfg, "synchronous", "full", err, sizeof err), ND_OK);
    CHECK_INT(cfg.synchronous, ND_SYNC_FULL);
    CHECK_INT(nd_config_set(&cfg, "max-body", "1M", err, sizeof err), ND_OK);
    CHECK_INT(cfg.max_body, 1048576);
    CHECK_INT(nd_config_set(&cfg, "max-body", "512k", err, sizeof err), ND_OK);
    CHECK_INT(cfg.max_body, 524288);
    CHECK_INT(nd_config_set(&cfg, "max-body", "10000", err, sizeof err), ND_OK);
    CHECK_INT(cfg.max_body, 10000);
    CHECK_INT(nd_config_set(&cfg, "connection-memory-limit", "1M", err, sizeof err), ND_OK);
    CHECK_INT(cfg.conn_memory_limit, 1048576);
    CHECK_INT(nd_config_set(&cfg, "comment-rate", "0", err, sizeof err), ND_OK);
    CHECK_INT(cfg.comment_rate, 0);
    CHECK_INT(nd_config_set(&cfg, "shutdown-grace", "3", err, sizeof err), ND_OK);
    CHECK_INT(cfg.shutdown_grace, 3);
    CHECK_INT(nd_config_set(&cfg, "write-rate", "0", err, sizeof err), ND_OK);
    CHECK_INT(cfg.write_rate, 0);
    CHECK_INT(nd_config_set(&cfg, "write-burst", "7", err, sizeof err), ND_OK);
    CHECK_INT(cfg.write_burst, 7);
    CHECK_INT(nd_config_set(&cfg, "trusted-proxies", "10.0.0.0/8, ::1", err, sizeof err), ND_OK);
    CHECK_STR(cfg.trusted_proxies, "10.0.0.0/8, ::1");
    CHECK_INT(nd_config_set(&cfg, "cors-origins", "https://a.example,http://localhost:3000", err,
                            sizeof err),
              ND_OK);
    CHECK_STR(cfg.cors_origins, "https://a.example,http://localhost:3000");
    CHECK_INT(nd_config_set(&cfg, "cors-origins", "", err, sizeof err), ND_OK);
    CHECK_STR(cfg.cors_origins, "");
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(nd_config_set(&cfg, "cors-credentials", yes[i], err, sizeof err), ND_OK);
        CHECK(cfg.cors_credentials);
        CHECK_INT(nd_config_set(&cfg, "cors-credentials", no[i], err, sizeof err), ND_OK);
        CHECK(!cfg.cors_credentials);
    }
    CHECK_INT(nd_config_set(&cfg, "comment-moderation", "pre", err, sizeof err), ND_OK);
    CHECK_INT(cfg.comment_moderation, ND_MODERATION_PRE);
    CHECK_INT(nd_config_set(&cfg, "comment-moderation", "off", err, sizeof err), ND_OK);
    CHECK_INT(cfg.comment_moderation, ND_MODERATION_OFF);
    CHECK_INT(nd_config_set(&cfg, "tls-cert", "/etc/newsd/cert.pem", err, sizeof err), ND_OK);
    CHECK_STR(cfg.tls_cert, "/etc/newsd/cert.pem");
    CHECK_INT(nd_config_set(&cfg, "tls-cert", "", err, sizeof err), ND_OK);
    CHECK_STR(cfg.tls_cert, "");
    CHECK(nd_config_is_setting("per-ip-connection-limit"));
    CHECK(!nd_config_is_setting("config"));
    nd_config_fini(&cfg);
}

/* A bad value as data: the setting, the text, and a piece of the message. */
struct bad_case {
    const char *name;
    const char *text;
    const char *message_part;
};

static void test_bad_values(void)
{
    static const struct bad_case cases[] = {
        {"port", "65536", "port must be a whole number from 0 to 65535"},
        {"port", "-1", "port must be"},
        {"port", "80x", "not \"80x\""},
        {"port", "", "port must be"},
        {"port", " 80", "port must be"},
        {"port", "99999999999999999999999", "port must be"},
        {"threads", "1025", "threads must be"},
        {"bind", "localhost", "bind must be an IPv4 or IPv6 address"},
        {"bind", "1.2.3", "bind must be"},
        {"bind", "[::1]", "bind must be"},
        {"db", "", "db must be a file name"},
        {"log-level", "verbose", "log-level must be error, warn, info or debug"},
        {"log-level", "INFO", "log-level must be"},
        {"synchronous", "extra", "synchronous must be off, normal or full"},
        {"max-body", "1T", "max-body must be a size"},
        {"max-body", "M", "max-body must be a size"},
        {"max-body", "100", "max-body must be a size from 1K"},
        {"max-body", "99999999999G", "max-body must be"},
        {"connection-timeout", "0", "connection-timeout must be a whole number from 1"},
        {"comment-burst", "0", "comment-burst must be"},
        {"write-burst", "0", "write-burst must be a whole number from 1"},
        {"write-rate", "fast", "write-rate must be"},
        {"trusted-proxies", "10.0.0.0/33", "trusted-proxies: \"10.0.0.0/33\" is not an IP"},
        {"trusted-proxies", "10.0.0.1, proxy.example", "\"proxy.example\" is not an IP"},
        {"cors-origins", "https://a.example/", "cors-origins: \"https://a.example/\" is not an"},
        {"cors-origins", "*, https://a.example", "\"*\" is not an origin"},
        {"cors-credentials", "maybe", "cors-credentials must be true or false"},
        {"comment-moderation", "post", "comment-moderation must be off or pre"},
        {"no-such-thing", "1", "unknown setting \"no-such-thing\""},
    };
    struct nd_config cfg;
    char err[256];

    nd_config_init(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        CHECK_INT(nd_config_set(&cfg, cases[i].name, cases[i].text, err, sizeof err),
                  ND_ERR_INVALID);
        if (strstr(err, cases[i].message_part) == NULL) {
            printf("# message \"%s\" lacks \"%s\"\n", err, cases[i].message_part);
            CHECK(0);
        }
    }
    /* A failed set leaves the config unchanged. */
    CHECK_INT(cfg.port, 8080);
    CHECK_STR(cfg.bind, "127.0.0.1");
    CHECK_INT(cfg.max_body, 1024 * 1024);
    CHECK_STR(cfg.trusted_proxies, "");
    CHECK_STR(cfg.cors_origins, "*");
    nd_config_fini(&cfg);
}

static void test_file(void)
{
    struct nd_config cfg;
    char err[512];
    char *path = write_temp("# newsd test\n"
                            "\n"
                            "   port = 9090   \n"
                            "db = \"/tmp/with space # and hash.db\"  # trailing comment\n"
                            "bind=::1\n"
                            "log-level = warn # inline comment\n"
                            "max-body = \"64K\"\n"
                            "synchronous = \"f\\\"ull\"\n"
                            "\tcomment-rate\t=\t0\n");

    nd_config_init(&cfg);
    /* The escaped quote makes synchronous invalid on line 8: the rest applied. */
    CHECK_INT(nd_config_load_file(&cfg, path, err, sizeof err), ND_ERR_INVALID);
    CHECK(strstr(err, ":8: synchronous must be") != NULL);
    CHECK(strstr(err, "f\\\"ull") == NULL && strstr(err, "f\"ull") != NULL);
    CHECK_INT(cfg.port, 9090);
    CHECK_STR(cfg.db_path, "/tmp/with space # and hash.db");
    CHECK_STR(cfg.bind, "::1");
    CHECK_INT(cfg.log_level, ND_LOG_WARN);
    CHECK_INT(cfg.max_body, 65536);
    unlink(path);
    free(path);

    path = write_temp("port = 1\ncomment-rate\t=\t0\nthreads = 4\n");
    CHECK_INT(nd_config_load_file(&cfg, path, err, sizeof err), ND_OK);
    CHECK_INT(cfg.port, 1);
    CHECK_INT(cfg.comment_rate, 0);
    CHECK_INT(cfg.threads, 4);
    unlink(path);
    free(path);
    nd_config_fini(&cfg);
}

/* One malformed file per case: the error names the file and line. */
struct file_case {
    const char *text;
    const char *message_part;
};

static void test_file_errors(void)
{
    static const struct file_case cases[] = {
        {"port = 1\nportt = 2\n", ":2: unknown setting \"portt\""},
        {"just words\n", ":1: expected \"name = value\""},
        {"\n\ndb = \"/tmp/x\n", ":3: the quoted value has no closing quote"},
        {"db = \"/tmp/x\" extra\n", ":1: unexpected text after the closing quote"},
        {"port = eighty\n", ":1: port must be a whole number"},
        {"port =\n", ":1: port must be"},
    };
    struct nd_config cfg;
    char err[512];

    nd_config_init(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_temp(cases[i].text);
        err[0] = '\0';
        CHECK_INT(nd_config_load_file(&cfg, path, err, sizeof err), ND_ERR_INVALID);
        if (strncmp(err, path, strlen(path)) != 0 || strstr(err, cases[i].message_part) == NULL) {
            printf("# message \"%s\" lacks \"%s\"\n", err, cases[i].message_part);
            CHECK(0);
        }
        unlink(path);
        free(path);
    }
    CHECK_INT(nd_config_load_file(&cfg, "/nonexistent/newsd.conf", err, sizeof err), ND_ERR_IO);
    CHECK(strstr(err, "/nonexistent/newsd.conf") != NULL);
    nd_config_fini(&cfg);
}

static void test_env(void)
{
    struct nd_config cfg;
    char err[256];

    nd_config_init(&cfg);
    setenv("NEWSD_PORT", "1234", 1);
    setenv("NEWSD_LOG_LEVEL", "error", 1);
    setenv("NEWSD_PER_IP_CONNECTION_LIMIT", "3", 1);
    setenv("NEWSD_DB", "", 1); /* empty = unset */
    setenv("NEWSD_COMMENT_MODERATION", "pre", 1);
    setenv("NEWSD_TRUSTED_PROXIES", "127.0.0.1", 1);
    CHECK_INT(nd_config_load_env(&cfg, err, sizeof err), ND_OK);
    CHECK_INT(cfg.port, 1234);
    CHECK_INT(cfg.log_level, ND_LOG_ERROR);
    CHECK_INT(cfg.per_ip_conn_limit, 3);
    CHECK_STR(cfg.db_path, "./data/newsd.db");
    CHECK_INT(cfg.comment_moderation, ND_MODERATION_PRE);
    CHECK_STR(cfg.trusted_proxies, "127.0.0.1");
    unsetenv("NEWSD_COMMENT_MODERATION");
    unsetenv("NEWSD_TRUSTED_PROXIES");

    setenv("NEWSD_MAX_BODY", "lots", 1);
    CHECK_INT(nd_config_load_env(&cfg, err, sizeof err), ND_ERR_INVALID);
    CHECK(strstr(err, "NEWSD_MAX_BODY: max-body must be") != NULL);
    unsetenv("NEWSD_MAX_BODY");
    unsetenv("NEWSD_PORT");
    unsetenv("NEWSD_LOG_LEVEL");
    unsetenv("NEWSD_PER_IP_CONNECTION_LIMIT");
    unsetenv("NEWSD_DB");
    nd_config_fini(&cfg);
}

static void test_help(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    nd_config_print_help(f);
    fclose(f);
    CHECK(strstr(text, "--per-ip-connection-limit N") != NULL);
    CHECK(strstr(text, "NEWSD_PER_IP_CONNECTION_LIMIT, default 64") != NULL);
    CHECK(strstr(text, "--db PATH") != NULL);
    CHECK(strstr(text, "NEWSD_SHUTDOWN_GRACE") != NULL);
    CHECK(strstr(text, "--trusted-proxies LIST") != NULL);
    CHECK(strstr(text, "NEWSD_TRUSTED_PROXIES, default none") != NULL);
    CHECK(strstr(text, "NEWSD_CORS_ORIGINS, default *") != NULL);
    CHECK(strstr(text, "NEWSD_COMMENT_MODERATION, default off") != NULL);
    CHECK(strstr(text, "--tls-key FILE") != NULL);
    free(text);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_defaults), CHECK_CASE(test_set_each_type),
                     CHECK_CASE(test_bad_values), CHECK_CASE(test_file),
                     CHECK_CASE(test_file_errors), CHECK_CASE(test_env), CHECK_CASE(test_help));
}
