/*
 * backend_fixture.h: which store backend the store's unit tests run
 * against, and the PostgreSQL databases they make.
 *
 * meson registers each store test twice: against SQLite (suite unit) and
 * with NEWSD_TEST_BACKEND=postgres (suite unit-pg) against the PostgreSQL
 * server whose key=value conninfo NEWSD_TEST_PG names (scripts/test starts
 * one with scripts/pg-cluster, as for the integration tests). There every
 * store a test opens as "fresh" lives in a database of its own, made with
 * CREATE DATABASE and named by a postgresql:// URI as newsd --db takes it;
 * a fresh store's database is a copy of one the store migrated once for
 * the process (a database a test migrates itself starts empty), and the
 * databases a case made are dropped when it ends (check.h's
 * nd_check_after_case) and any left at exit. Without NEWSD_TEST_PG the
 * postgres variant of a test is one TAP skip with the reason.
 *
 * A case about SQLite itself (a file, WAL, query plans, the sqlite3 handle)
 * begins with SQLITE_ONLY("why"), a TAP skip on postgres.
 */
#ifndef NEWSD_TEST_BACKEND_FIXTURE_H
#define NEWSD_TEST_BACKEND_FIXTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "newsd/migrate.h"
#include "newsd/store.h"

/* True when the tests run against PostgreSQL (NEWSD_TEST_BACKEND=postgres). */
static inline bool on_postgres(void)
{
    const char *backend = getenv("NEWSD_TEST_BACKEND");
    return backend != NULL && strcmp(backend, "postgres") == 0;
}

/* Skips the running case on PostgreSQL, with why (a line), and returns from it. */
#define SQLITE_ONLY(why)                                                                           \
    do {                                                                                           \
        if (on_postgres()) {                                                                       \
            CHECK_SKIP("about SQLite alone: " why);                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* How many migrations the backend under test has. */
static inline unsigned backend_migrations_count(void)
{
    return on_postgres() ? nd_pg_migrations_count : nd_migrations_count;
}

#define PG_MADE_MAX 64

/* The databases made and not dropped yet (names), and a serial for new ones. */
static char pg_made[PG_MADE_MAX][48];
static unsigned pg_made_count, pg_serial;

/* The value of key in the conninfo NEWSD_TEST_PG into out ("" when absent). */
static inline void pg_conninfo_value(const char *key, char *out, size_t len)
{
    const char *info = getenv("NEWSD_TEST_PG");
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = info; p && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
            return;
        }
        p += n;
    }
}

/* Appends text to out percent-encoded (all but unreserved characters). */
static inline void pg_uri_escape(const char *text, char *out, size_t len)
{
    size_t used = strlen(out);
    for (const unsigned char *p = (const unsigned char *)text; *p && used + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            out[used++] = (char)*p;
        else
            used += (size_t)snprintf(out + used, len - used, "%%%02X", *p);
    }
    out[used] = '\0';
}

/*
 * The URI of database name on the test server, as newsd --db takes it:
 * postgresql://USER@/NAME?host=SOCKETDIR&port=PORT.
 */
static inline void pg_uri_for(const char *name, char *out, size_t len)
{
    char user[128], host[256], port[16];
    pg_conninfo_value("user", user, sizeof user);
    pg_conninfo_value("host", host, sizeof host);
    pg_conninfo_value("port", port, sizeof port);
    snprintf(out, len, "postgresql://");
    pg_uri_escape(user, out, len);
    snprintf(out + strlen(out), len - strlen(out), "%s/%s?host=", user[0] ? "@" : "", name);
    pg_uri_escape(host, out, len);
    snprintf(out + strlen(out), len - strlen(out), "&port=%s", port);
}

/* Runs sql on the database of conninfo (a URI or key=value); false, as a failed check, when not. */
static inline bool pg_exec(const char *conninfo, const char *sql)
{
    PGconn *conn = PQconnectdb(conninfo);
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
        PGresult *res = PQexec(conn, sql);
        ExecStatusType status = PQresultStatus(res);
        ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
        PQclear(res);
    }
    if (!ok)
        printf("# postgres: %s: %s", sql, PQerrorMessage(conn));
    CHECK(ok);
    PQfinish(conn);
    return ok;
}

static inline void pg_drop(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
    pg_exec(getenv("NEWSD_TEST_PG"), sql);
}

/* Drops every database made so far (after each case, and at exit). */
static inline void pg_drop_made(void)
{
    for (unsigned i = 0; i < pg_made_count; i++)
        pg_drop(pg_made[i]);
    pg_made_count = 0;
}

/* Makes database name (from template, or empty when NULL); false (a failed check) when not. */
static inline bool pg_create(const char *name, const char *template)
{
    char sql[160];
    /* FILE_COPY: copying the files of a small template is quicker than logging them */
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"%s%s%s", name, template ? " TEMPLATE \"" : "",
             template ? template : "", template ? "\" STRATEGY FILE_COPY" : "");
    return pg_exec(getenv("NEWSD_TEST_PG"), sql);
}

/* The migrated template of pg_new_db's migrated databases ("" until made). */
static char pg_template[48];

/*
 * Makes a new database on the test server and writes its URI to uri; false
 * (a failed check) when it cannot. It is dropped when the case ends.
 * migrated: a copy of a database the store has migrated once for the
 * process (opening it applies nothing), else an empty one.
 */
static inline bool pg_new_db(bool migrated, char *uri, size_t len)
{
    char name[48];
    if (migrated && !pg_template[0]) {
        /* made by the store itself, as a server would make it, then closed */
        struct nd_store_options opts = {ND_SYNC_OFF, 5000, 0, 0, false};
        struct nd_store *st = NULL;
        snprintf(name, sizeof name, "newsd_unit_%ld_template", (long)getpid());
        if (!pg_create(name, NULL))
            return false;
        snprintf(pg_template, sizeof pg_template, "%s", name);
        pg_uri_for(name, uri, len);
        CHECK_INT(nd_store_open(uri, &opts, &st), ND_OK);
        nd_store_close(st);
    }
    if (pg_made_count == PG_MADE_MAX) {
        CHECK(!"too many databases in one case");
        return false;
    }
    snprintf(name, sizeof name, "newsd_unit_%ld_%u", (long)getpid(), ++pg_serial);
    if (!pg_create(name, migrated ? pg_template : NULL))
        return false;
    snprintf(pg_made[pg_made_count++], sizeof pg_made[0], "%s", name);
    pg_uri_for(name, uri, len);
    return true;
}

static inline void pg_drop_at_exit(void)
{
    pg_drop_made();
    if (pg_template[0])
        pg_drop(pg_template);
}

/*
 * Call first in main: NULL when the tests can run against the chosen
 * backend (on postgres the cleanup is then set up), else why not, for
 * nd_check_skip_all.
 */
static inline const char *backend_setup(void)
{
    const char *backend = getenv("NEWSD_TEST_BACKEND");
    if (backend != NULL && *backend && strcmp(backend, "sqlite") != 0 && !on_postgres())
        return "unknown NEWSD_TEST_BACKEND (want sqlite or postgres)";
    if (!on_postgres())
        return NULL;
    const char *info = getenv("NEWSD_TEST_PG");
    if (info == NULL || *info == '\0')
        return "no PostgreSQL server for the tests (NEWSD_TEST_PG unset; scripts/test starts one)";
    nd_check_after_case = pg_drop_made;
    atexit(pg_drop_at_exit);
    return NULL;
}

/* main's body for a store test: a skip of the whole test when backend_setup says so. */
#define STORE_CHECK_RUN(...)                                                                       \
    (backend_setup() ? nd_check_skip_all(backend_setup()) : CHECK_RUN(__VA_ARGS__))

#endif
