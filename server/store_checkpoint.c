/*
 * store_checkpoint.c: checkpoints of a SQLite database off the write path.
 *
 * In WAL mode a commit appends pages to the WAL, and a checkpoint copies
 * them back into the database file. SQLite runs it by itself in the commit
 * that takes the WAL past 1,000 pages: that commit then waits for the copy
 * and two fdatasync calls (7 to 30 ms measured here with the comment
 * benchmark, strace -T), and so does every write of the committer's group
 * and every write queued behind it. A store opened with
 * background_checkpoints leaves that to one thread of the process instead:
 * its connections' commits only wake the thread once the WAL passes the same
 * 1,000 pages, and the thread checkpoints over a connection of its own.
 *
 * The checkpoint is PASSIVE, as SQLite's own is: it copies what no reader
 * still needs, waits for no reader or writer, and writers go on appending
 * to the WAL while it runs. So what a commit is durable against does not
 * change (synchronous decides that, as before), only who pays for the copy.
 *
 * A writer starts the WAL again from its beginning only when its
 * transaction began with every frame copied, which commits made during a
 * checkpoint prevent; under a steady stream of writes the WAL would grow
 * without end (tried: 800 MB in 5 s). So once a checkpoint leaves the WAL
 * over RESTART_PAGES, the thread marks a restart due, and the next write of
 * a store that uses it, holding the process's writer mutex before its BEGIN
 * (nd_sqlite_checkpoints_before_write), copies the few frames written since
 * and waits for the readers still on the WAL (SQLITE_CHECKPOINT_RESTART):
 * its transaction then starts the WAL again. That write pays for a short
 * copy and its two fdatasync calls once per RESTART_PAGES pages, where
 * SQLite's own checkpoints made a write pay for a full copy every 1,000.
 * (The thread cannot do it itself: it would have to take the writer mutex,
 * which a busy committer takes again the moment it lets go.)
 *
 * One database per process gets the thread: the path of the first store
 * that asks. A store of another path, or one whose thread could not be
 * started, keeps SQLite's own checkpoints. The thread lives while a store
 * that uses it is open; the last one to close stops and joins it, and the
 * last connection SQLite closes checkpoints the rest and removes the WAL as
 * it always does.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/log.h"
#include "store_internal.h"

/* WAL pages after which a checkpoint is due: SQLite's own default. */
#define CHECKPOINT_PAGES 1000
/* WAL pages after which the WAL is made to start again (16 MB of 4 KiB pages). */
#define RESTART_PAGES 4000
/* How long a restarting write waits for the readers still on the WAL. */
#define RESTART_WAIT_MS 20

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    unsigned users; /* open stores whose commits wake the thread */
    bool due;       /* a commit left CHECKPOINT_PAGES in the WAL not yet copied */
    int copied;     /* WAL pages the last checkpoint had copied */
    bool stop;
    _Atomic bool restart_due; /* the WAL is over RESTART_PAGES, all but the last commits copied */
    char *path;
    unsigned long done; /* checkpoints run, for the debug log */
} ckpt = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* Held by whoever joins or leaves: a thread being stopped is joined before another starts. */
static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER;

/* SQLite's WAL hook: called after each commit of a store that uses the thread. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)arg;
    (void)db;
    (void)name;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&ckpt.lock);
        /* fewer pages than were copied: the WAL started again since */
        if (pages - (pages >= ckpt.copied ? ckpt.copied : 0) >= CHECKPOINT_PAGES) {
            ckpt.due = true;
            pthread_cond_signal(&ckpt.wake);
        }
        pthread_mutex_unlock(&ckpt.lock);
    }
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    sqlite3 *db = arg;
    bool failed_logged = false;
    pthread_mutex_lock(&ckpt.lock);
    for (;;) {
        /* while a restart is due the next write checkpoints: a pass here would make it busy */
        while ((!ckpt.due || atomic_load(&ckpt.restart_due)) && !ckpt.stop)
            pthread_cond_wait(&ckpt.wake, &ckpt.lock);
        if (ckpt.stop)
            break;
        ckpt.due = false;
        pthread_mutex_unlock(&ckpt.lock);
        int log = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc == SQLITE_OK && log >= RESTART_PAGES)
            atomic_store(&ckpt.restart_due, true);
        if (rc == SQLITE_BUSY) { /* a write's restart (or another process) checkpoints now */
            rc = SQLITE_OK;
            copied = 0;
        }
        if (rc != SQLITE_OK && !failed_logged) {
            nd_log(ND_LOG_WARN,
                   "store: background checkpoint failed: %s (tried again after the "
                   "next commits)",
                   sqlite3_errmsg(db));
            failed_logged = true;
        } else if (rc == SQLITE_OK) {
            failed_logged = false;
        }
        pthread_mutex_lock(&ckpt.lock);
        ckpt.copied = rc == SQLITE_OK ? copied : 0;
        ckpt.done++;
    }
    unsigned long done = ckpt.done;
    pthread_mutex_unlock(&ckpt.lock);
    nd_log(ND_LOG_DEBUG, "store: %lu background checkpoints", done);
    sqlite3_close(db);
    return NULL;
}

/* Opens the thread's connection and starts it (life held, no thread running). */
static bool start(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    /* a connection takes the WAL up at its first read: before, a checkpoint does nothing */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    char *copy = strdup(path);
    if (rc != SQLITE_OK || copy == NULL) {
        nd_log(ND_LOG_WARN, "store: no background checkpoints (%s): commits checkpoint",
               db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        free(copy);
        return false;
    }
    ckpt.stop = false;
    ckpt.due = false;
    ckpt.copied = 0;
    atomic_store(&ckpt.restart_due, false);
    if (pthread_create(&ckpt.thread, NULL, checkpointer, db) != 0) {
        nd_log(ND_LOG_WARN, "store: no background checkpoints (no thread): commits checkpoint");
        sqlite3_close(db);
        free(copy);
        return false;
    }
    ckpt.path = copy;
    return true;
}

bool nd_sqlite_checkpoints_join(struct nd_sqlite *st, const char *path)
{
    bool joined = false;
    pthread_mutex_lock(&life);
    if (ckpt.users > 0)
        joined = strcmp(ckpt.path, path) == 0;
    else
        joined = start(path);
    if (joined) {
        pthread_mutex_lock(&ckpt.lock);
        ckpt.users++;
        pthread_mutex_unlock(&ckpt.lock);
        /* replaces SQLite's own checkpointing hook (sqlite3_wal_autocheckpoint) */
        sqlite3_wal_hook(st->db, on_commit, NULL);
        st->checkpoints_joined = true;
    }
    pthread_mutex_unlock(&life);
    return joined;
}

void nd_sqlite_checkpoints_leave(struct nd_sqlite *st)
{
    if (!st->checkpoints_joined)
        return;
    st->checkpoints_joined = false;
    sqlite3_wal_hook(st->db, NULL, NULL);
    pthread_mutex_lock(&life);
    pthread_mutex_lock(&ckpt.lock);
    bool last = --ckpt.users == 0;
    if (last) {
        ckpt.stop = true;
        pthread_cond_signal(&ckpt.wake);
    }
    pthread_mutex_unlock(&ckpt.lock);
    if (last) {
        pthread_join(ckpt.thread, NULL);
        free(ckpt.path);
        ckpt.path = NULL;
    }
    pthread_mutex_unlock(&life);
}

void nd_sqlite_checkpoints_before_write(struct nd_sqlite *st)
{
    if (!st->checkpoints_joined || !atomic_load(&ckpt.restart_due) ||
        !atomic_exchange(&ckpt.restart_due, false))
        return;
    /* Readers still on the WAL are waited for a little; one that stays longer (a backup
       reads for minutes) leaves the WAL as it is (SQLITE_BUSY), and the thread marks the
       restart due again after its next pass. */
    sqlite3_busy_timeout(st->db, RESTART_WAIT_MS);
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    sqlite3_busy_timeout(st->db,
                         st->busy_timeout_ms > INT_MAX ? INT_MAX : (int)st->busy_timeout_ms);
}
