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
 * Writes that outrun the thread (a tight loop of large commits on a loaded
 * machine) would still stretch the WAL by all they write during one pass.
 * So the WAL has a ceiling, ND_WAL_CEILING_PAGES: a write that finds the
 * last commit's WAL at or above it waits for the thread's pass to end and
 * then restarts the WAL itself, as above. That is back-pressure where SQLite
 * would have made every 1,000th page's write pay; normal loads never reach
 * it. A WAL that a reader holds (a backup) cannot be restarted: the write
 * gets SQLITE_BUSY after RESTART_WAIT_MS and the ceiling moves up one step,
 * so the writes behind it do not each wait again.
 *
 * While a restart is due the thread leaves the copying to that write, but
 * not for long: when no write comes within IDLE_MS, it copies what is due
 * itself. A pass that a reader kept from copying frames is tried again after
 * IDLE_MS too, without waiting for a commit to ask. So once writes stop, all
 * but the last 1,000 pages or so reach the database file while the store is
 * open, as soon as no reader needs them.
 *
 * One database per process gets the thread: the path of the first store
 * that asks. A store of another path, or one whose thread could not be
 * started, keeps SQLite's own checkpoints. The thread lives while a store
 * that uses it is open; the last one to close stops and joins it, and the
 * last connection SQLite closes checkpoints the rest and removes the WAL as
 * it always does.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

/* WAL pages after which a checkpoint is due: SQLite's own default. */
#define CHECKPOINT_PAGES 1000
/* WAL pages after which the WAL is made to start again (16 MB of 4 KiB pages). */
#define RESTART_PAGES 4000
/* How long a restarting write waits for the readers still on the WAL. */
#define RESTART_WAIT_MS 20
/* How long the thread leaves a due restart to the next write before it copies. */
#define IDLE_MS 100

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t idle; /* a pass of the thread ended */
    pthread_t thread;
    unsigned users;  /* open stores whose commits wake the thread */
    bool due;        /* a commit left CHECKPOINT_PAGES in the WAL not yet copied */
    int copied;      /* WAL pages the last checkpoint had copied */
    bool running;    /* the thread is in a pass */
    bool held;       /* the last pass left frames a reader still needed */
    bool restarting; /* a write is restarting the WAL: no pass starts */
    bool stop;
    _Atomic bool restart_due; /* the WAL is over RESTART_PAGES, all but the last commits copied */
    _Atomic int wal_pages;    /* the WAL's length after the last commit */
    _Atomic int ceiling;      /* wal_pages from which the next write restarts the WAL */
    char *path;
    unsigned long done; /* checkpoints run, for the debug log */
} ckpt = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .idle = PTHREAD_COND_INITIALIZER};

/* Held by whoever joins or leaves: a thread being stopped is joined before another starts. */
static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER;

/* SQLite's WAL hook: called after each commit of a store that uses the thread. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)arg;
    (void)db;
    (void)name;
    atomic_store(&ckpt.wal_pages, pages);
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

/*
 * Waits (ckpt.lock held) until a pass is to run: true, or false when the
 * thread is to stop. A pass runs when one is due and no write restarts the
 * WAL; while a restart is due, or the last pass found frames it could not
 * copy (a reader still needed them), only once IDLE_MS went by without a
 * write's restart.
 */
static bool wait_for_pass(void)
{
    for (;;) {
        if (ckpt.stop)
            return false;
        if (!ckpt.due || ckpt.restarting) {
            pthread_cond_wait(&ckpt.wake, &ckpt.lock);
            continue;
        }
        if (!atomic_load(&ckpt.restart_due) && !ckpt.held)
            return true;
        struct timespec until = nd_time_after_ms(CLOCK_REALTIME, IDLE_MS);
        int w = 0;
        while (w != ETIMEDOUT && !ckpt.stop && !ckpt.restarting &&
               (ckpt.held || atomic_load(&ckpt.restart_due)))
            w = pthread_cond_timedwait(&ckpt.wake, &ckpt.lock, &until);
        if (w == ETIMEDOUT && !ckpt.stop && !ckpt.restarting && ckpt.due)
            return true;
    }
}

static void *checkpointer(void *arg)
{
    sqlite3 *db = arg;
    bool failed_logged = false;
    pthread_mutex_lock(&ckpt.lock);
    while (wait_for_pass()) {
        ckpt.due = false;
        ckpt.running = true;
        pthread_mutex_unlock(&ckpt.lock);
        int start = atomic_load(&ckpt.wal_pages);
        int log = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc == SQLITE_OK && log >= RESTART_PAGES)
            atomic_store(&ckpt.restart_due, true);
        if (rc == SQLITE_BUSY) { /* another process checkpoints now */
            rc = SQLITE_OK;
            copied = 0;
        }
        /* frames there at the start and not copied: a reader (of this process or another)
           still needs them; tried again after IDLE_MS, since no commit may come to ask */
        bool held = rc == SQLITE_OK && copied < start && start - copied >= CHECKPOINT_PAGES;
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
        ckpt.running = false;
        ckpt.held = held;
        if (held)
            ckpt.due = true;
        pthread_cond_broadcast(&ckpt.idle);
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
    ckpt.running = false;
    ckpt.held = false;
    ckpt.restarting = false;
    atomic_store(&ckpt.restart_due, false);
    atomic_store(&ckpt.wal_pages, 0);
    atomic_store(&ckpt.ceiling, ND_WAL_CEILING_PAGES);
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
    if (!st->checkpoints_joined)
        return;
    bool over = atomic_load(&ckpt.wal_pages) >= atomic_load(&ckpt.ceiling);
    if (!over && !atomic_load(&ckpt.restart_due))
        return;
    /* Writes hold the writer mutex: this is the only write here. Over the ceiling it waits
       for the thread's pass, since SQLite lets one checkpoint run at a time. */
    pthread_mutex_lock(&ckpt.lock);
    ckpt.restarting = true;
    while (ckpt.running)
        pthread_cond_wait(&ckpt.idle, &ckpt.lock);
    pthread_mutex_unlock(&ckpt.lock);
    /* Readers still on the WAL are waited for a little; one that stays longer (a backup
       reads for minutes) leaves the WAL as it is (SQLITE_BUSY), and the thread marks the
       restart due again after its next pass. */
    sqlite3_busy_timeout(st->db, RESTART_WAIT_MS);
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    sqlite3_busy_timeout(st->db,
                         st->busy_timeout_ms > INT_MAX ? INT_MAX : (int)st->busy_timeout_ms);
    pthread_mutex_lock(&ckpt.lock);
    ckpt.restarting = false;
    atomic_store(&ckpt.restart_due, false);
    if (rc == SQLITE_OK) { /* this write's transaction starts the WAL again */
        ckpt.copied = 0;
        ckpt.held = false;
        atomic_store(&ckpt.wal_pages, 0);
        atomic_store(&ckpt.ceiling, ND_WAL_CEILING_PAGES);
    } else if (over) {
        atomic_store(&ckpt.ceiling, atomic_load(&ckpt.wal_pages) + ND_WAL_CEILING_PAGES);
    }
    pthread_cond_signal(&ckpt.wake);
    pthread_mutex_unlock(&ckpt.lock);
}
