/*
 * store_search_snippet.c: nd_snippet(), an FTS5 auxiliary function that
 * returns exactly what FTS5's own snippet(table, -1, open, close, ellipsis,
 * tokens) returns, for a fraction of its cost.
 *
 * Why: snippet() tokenises every column of the row from its first byte to
 * its last, twice for the column it quotes (once to find sentence starts,
 * once to cut and mark the window), with the table's porter tokenizer; for
 * a 5 KB body that was about 0.4 million instructions a row, 8 million a
 * page of 20, more than the ranking of a rare word. Only token positions
 * and byte offsets matter for a snippet (the terms matched are known from
 * the phrase instances FTS5 already decoded), so this function:
 *   - skips the columns without a match (they never win, so snippet() only
 *     wasted its tokenising on them);
 *   - reads positions only as far as the last match of a column (and, for
 *     the column quoted, the end of the window), not to the end of the text;
 *   - counts positions itself over ASCII text, where unicode61's rule is
 *     plain (a token is a run of ASCII letters and digits; every other
 *     ASCII character separates), and hands each stretch that holds other
 *     bytes, cut at ASCII separators on both sides, to the table's own
 *     tokenizer; porter emits one token per unicode61 token, so positions
 *     and offsets are the same as those snippet() sees.
 * The choice of column and window, the sentence-start bonus and the marking
 * of coalesced matches follow snippet()'s rules step by step; the unit
 * tests and the fuzz harness compare the two on the same rows.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/buf.h"
#include "store_search_fts.h"

/* One phrase instance of the row: phrase, column, token position. */
struct inst {
    int phrase;
    int col;
    int off;
};

/* Token positions of one column, read as far as needed. */
struct tokens {
    const char *doc;
    int len;
    int *start; /* start[p], end[p]: byte offsets of the token at position p */
    int *end;
    int n;
    int cap;
    int stop; /* read positions 0..stop only */
    bool failed;
    int *firsts; /* positions of the sentence starts among them, ascending */
    int nfirsts;
};

static bool ascii_token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Records a token; false once positions past tk->stop are not wanted (or on NOMEM). */
static bool add_token(struct tokens *tk, int start, int end)
{
    if (tk->n > tk->stop)
        return false;
    if (tk->n == tk->cap) {
        int cap = tk->cap ? 2 * tk->cap : 64;
        int *s = realloc(tk->start, (size_t)cap * sizeof *s);
        if (s)
            tk->start = s;
        int *e = s ? realloc(tk->end, (size_t)cap * sizeof *e) : NULL;
        if (!e) {
            tk->failed = true;
            return false;
        }
        tk->end = e;
        tk->cap = cap;
    }
    tk->start[tk->n] = start;
    tk->end[tk->n] = end;
    tk->n++;
    return true;
}

/* What an xTokenize callback needs to add a stretch's tokens at their offsets. */
struct stretch {
    struct tokens *tk;
    int base; /* the stretch's byte offset in the column */
};

static int stretch_token(void *ctx, int flags, const char *token, int ntoken, int start, int end)
{
    struct stretch *s = ctx;
    (void)token;
    (void)ntoken;
    if (flags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    return add_token(s->tk, s->base + start, s->base + end) ? SQLITE_OK : SQLITE_DONE;
}

/*
 * Reads the token positions of doc into tk up to position stop (fewer when
 * the text ends first), going on from the tokens tk already holds: a token
 * ends where a separator starts, so reading on from its end finds what
 * reading from the start would. SQLITE_OK or the tokenizer's error;
 * tk->failed on NOMEM.
 */
static int read_tokens(const Fts5ExtensionApi *api, Fts5Context *fts, struct tokens *tk, int stop)
{
    const unsigned char *d = (const unsigned char *)tk->doc;
    int i = tk->n ? tk->end[tk->n - 1] : 0;
    tk->stop = stop;
    while (i < tk->len && tk->n <= stop) {
        if (d[i] < 0x80 && !ascii_token_char(d[i])) {
            i++;
            continue;
        }
        int j = i;
        while (j < tk->len && d[j] < 0x80 && ascii_token_char(d[j]))
            j++;
        if (j == tk->len || !(d[j] & 0x80)) { /* an ASCII token, ended by a separator */
            if (!add_token(tk, i, j))
                break;
            i = j;
            continue;
        }
        /* a stretch with other bytes: up to the next ASCII separator, to the tokenizer */
        while (j < tk->len && (d[j] >= 0x80 || ascii_token_char(d[j])))
            j++;
        struct stretch s = {tk, i};
        int rc = api->xTokenize(fts, tk->doc + i, j - i, &s, stretch_token);
        if (rc != SQLITE_OK && rc != SQLITE_DONE)
            return rc;
        if (tk->failed)
            return SQLITE_NOMEM;
        i = j;
    }
    return tk->failed ? SQLITE_NOMEM : SQLITE_OK;
}

/*
 * Whether the token at position p (p > 0, read) starts a sentence as
 * snippet() sees it: whitespace right before it, and before that whitespace
 * a '.' or ':'.
 */
static bool sentence_start(const struct tokens *tk, int p)
{
    int i = tk->start[p] - 1;
    while (i >= 0 &&
           (tk->doc[i] == ' ' || tk->doc[i] == '\t' || tk->doc[i] == '\n' || tk->doc[i] == '\r'))
        i--;
    return i != tk->start[p] - 1 && i >= 0 && (tk->doc[i] == '.' || tk->doc[i] == ':');
}

/* Lists the sentence starts of the tokens read (position 0 always is one). */
static int find_sentences(struct tokens *tk)
{
    int *firsts = realloc(tk->firsts, ((size_t)tk->n + 1) * sizeof *firsts);
    if (!firsts)
        return SQLITE_NOMEM;
    tk->firsts = firsts;
    tk->nfirsts = 0;
    for (int p = 0; p < tk->n; p++)
        if (p == 0 || sentence_start(tk, p))
            firsts[tk->nfirsts++] = p;
    return SQLITE_OK;
}

/* The last sentence start at or before position at (snippet()'s search, to the letter). */
static int sentence_before(const struct tokens *tk, int at)
{
    int j = 0;
    while (j < tk->nfirsts - 1 && tk->firsts[j + 1] <= at)
        j++;
    return tk->firsts[j];
}

struct row {
    const Fts5ExtensionApi *api;
    Fts5Context *fts;
    struct inst *insts;
    int ninsts;
    unsigned char *seen; /* one flag per phrase */
    int nphrases;
};

/*
 * snippet()'s score of the window of ntokens from pos in column col: 1000
 * per distinct phrase in it, 1 per repeat; *adj (when not NULL) the start
 * that centres the window's matches, kept inside the column.
 */
static int window_score(const struct row *r, int col, int colsize, int pos, int ntokens, int *adj)
{
    int score = 0, first = -1, last = 0;
    memset(r->seen, 0, (size_t)r->nphrases);
    for (int i = 0; i < r->ninsts; i++) {
        const struct inst *in = &r->insts[i];
        if (in->col != col || in->off < pos || (long long)in->off >= (long long)pos + ntokens)
            continue;
        score += r->seen[in->phrase] ? 1 : 1000;
        r->seen[in->phrase] = 1;
        if (first < 0)
            first = in->off;
        last = in->off + r->api->xPhraseSize(r->fts, in->phrase);
    }
    if (adj) {
        long long a = first - (ntokens - (last - first)) / 2;
        if (a + ntokens > colsize)
            a = colsize - ntokens;
        *adj = a < 0 ? 0 : (int)a;
    }
    return score;
}

/* The best window so far. */
struct best {
    int score;
    int col;
    int start;
    int colsize;
};

/* Scores every window snippet() would try in column col (which has matches). */
static int score_column(const struct row *r, int col, int ntokens, struct tokens *tk,
                        struct best *best)
{
    int colsize = 0, last = -1;
    int rc = r->api->xColumnSize(r->fts, col, &colsize);
    for (int i = 0; i < r->ninsts; i++)
        if (r->insts[i].col == col && r->insts[i].off > last)
            last = r->insts[i].off;
    if (rc == SQLITE_OK)
        rc = r->api->xColumnText(r->fts, col, &tk->doc, &tk->len);
    if (rc == SQLITE_OK && !tk->doc)
        tk->len = 0;
    tk->n = 0;
    if (rc == SQLITE_OK)
        rc = read_tokens(r->api, r->fts, tk, last);
    if (rc == SQLITE_OK)
        rc = find_sentences(tk);
    for (int i = 0; rc == SQLITE_OK && i < r->ninsts; i++) {
        const struct inst *in = &r->insts[i];
        if (in->col != col)
            continue;
        if (in->off > colsize)
            return SQLITE_CORRUPT_VTAB;
        int adj;
        int score = window_score(r, col, colsize, in->off, ntokens, &adj);
        if (score > best->score)
            *best = (struct best){score, col, adj, colsize};
        if (tk->nfirsts == 0 || colsize <= ntokens)
            continue;
        int first = sentence_before(tk, in->off);
        if (first < in->off) {
            score = window_score(r, col, colsize, first, ntokens, NULL) + (first == 0 ? 120 : 100);
            if (score > best->score)
                *best = (struct best){score, col, first, colsize};
        }
    }
    return rc;
}

/* Coalesced matches of one column: overlapping instances count as one. */
struct cinst {
    const struct row *r;
    int col;
    int next;  /* the next instance to look at */
    int start; /* the current match's first and last token, -1 when done */
    int end;
};

static void cinst_next(struct cinst *it)
{
    it->start = it->end = -1;
    for (; it->next < it->r->ninsts; it->next++) {
        const struct inst *in = &it->r->insts[it->next];
        if (in->col != it->col)
            continue;
        int end = in->off - 1 + it->r->api->xPhraseSize(it->r->fts, in->phrase);
        if (it->start < 0) {
            it->start = in->off;
            it->end = end;
        } else if (in->off <= it->end) {
            if (end > it->end)
                it->end = end;
        } else {
            break;
        }
    }
}

/* The quoted window, marked as snippet()'s highlighting marks it. */
struct mark {
    struct nd_buf out;
    const char *text;
    int len;
    int off; /* copied up to here */
    bool open;
    const char *open_tag;
    const char *close_tag;
};

static void copy_to(struct mark *m, int to)
{
    nd_buf_append(&m->out, m->text + m->off, (size_t)(to - m->off));
    m->off = to;
}

/* One token at position p of the window [rs, re]. */
static void mark_token(struct mark *m, struct cinst *it, const struct tokens *tk, int p, int rs,
                       int re)
{
    int start = tk->start[p], end = tk->end[p];
    if (rs && p == rs)
        m->off = start;
    if (m->open && (p <= it->start || it->start < 0) && start > m->off) {
        nd_buf_append_str(&m->out, m->close_tag);
        m->open = false;
    }
    if (p == it->start && !m->open) {
        copy_to(m, start);
        nd_buf_append_str(&m->out, m->open_tag);
        m->open = true;
    }
    if (p == it->end) {
        if (!m->open) {
            nd_buf_append_str(&m->out, m->open_tag);
            m->open = true;
        }
        copy_to(m, end);
        cinst_next(it);
    }
    if (p == re) {
        if (m->open) {
            if (it->start >= 0 && p >= it->start)
                copy_to(m, end);
            nd_buf_append_str(&m->out, m->close_tag);
            m->open = false;
        }
        copy_to(m, end);
    }
}

/* Reads the row's phrase instances into r (malloc'd). */
static int load_row(struct row *r)
{
    int rc = r->api->xInstCount(r->fts, &r->ninsts);
    r->nphrases = r->api->xPhraseCount(r->fts);
    r->insts = malloc(((size_t)r->ninsts + 1) * sizeof *r->insts);
    r->seen = malloc((size_t)r->nphrases + 1);
    if (rc == SQLITE_OK && (!r->insts || !r->seen))
        rc = SQLITE_NOMEM;
    for (int i = 0; rc == SQLITE_OK && i < r->ninsts; i++) {
        struct inst *in = &r->insts[i];
        rc = r->api->xInst(r->fts, i, &in->phrase, &in->col, &in->off);
    }
    return rc;
}

/* nd_snippet(table, open, close, ellipsis, tokens): see the file comment. */
static void nd_snippet(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                       int nargs, sqlite3_value **args)
{
    if (nargs != 4) {
        sqlite3_result_error(ctx, "nd_snippet takes open, close, ellipsis and tokens", -1);
        return;
    }
    const char *open_tag = (const char *)sqlite3_value_text(args[0]);
    const char *close_tag = (const char *)sqlite3_value_text(args[1]);
    const char *ellipsis = (const char *)sqlite3_value_text(args[2]);
    int ntokens = sqlite3_value_int(args[3]);
    struct row r = {.api = api, .fts = fts};
    int ncols = api->xColumnCount(fts);
    struct tokens *cols = calloc((size_t)ncols, sizeof *cols); /* positions per column */
    struct best best = {0};
    struct mark m = {.out = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT),
                     .open_tag = open_tag ? open_tag : "",
                     .close_tag = close_tag ? close_tag : ""};
    ellipsis = ellipsis ? ellipsis : "";
    int rc = load_row(&r);
    if (rc == SQLITE_OK && !cols)
        rc = SQLITE_NOMEM;
    for (int col = 0; rc == SQLITE_OK && col < ncols; col++) {
        bool matched = false;
        for (int i = 0; i < r.ninsts && !matched; i++)
            matched = r.insts[i].col == col;
        if (matched)
            rc = score_column(&r, col, ntokens, &cols[col], &best);
    }
    if (rc == SQLITE_OK)
        rc = api->xColumnText(fts, best.col, &m.text, &m.len);
    if (rc == SQLITE_OK && best.colsize == 0)
        rc = api->xColumnSize(fts, best.col, &best.colsize);
    if (rc == SQLITE_OK && m.text) {
        int rs = best.start, re = best.start + ntokens - 1;
        struct tokens *tk = &cols[best.col]; /* as far as scoring read it, or empty */
        tk->doc = m.text;
        tk->len = m.len;
        rc = read_tokens(api, fts, tk, re);
        struct cinst it = {.r = &r, .col = best.col};
        cinst_next(&it);
        if (rs > 0)
            nd_buf_append_str(&m.out, ellipsis);
        while (it.start >= 0 && it.start < rs)
            cinst_next(&it);
        for (int p = rs; rc == SQLITE_OK && p < tk->n && p <= re; p++)
            mark_token(&m, &it, tk, p, rs, re);
        if (m.open)
            nd_buf_append_str(&m.out, m.close_tag);
        if (re >= best.colsize - 1)
            copy_to(&m, m.len);
        else
            nd_buf_append_str(&m.out, ellipsis);
    }
    if (rc == SQLITE_OK && m.out.err != ND_OK)
        rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        sqlite3_result_text(ctx, nd_buf_str(&m.out), -1, SQLITE_TRANSIENT);
    else
        sqlite3_result_error_code(ctx, rc);
    nd_buf_free(&m.out);
    for (int col = 0; cols && col < ncols; col++) {
        free(cols[col].start);
        free(cols[col].end);
        free(cols[col].firsts);
    }
    free(cols);
    free(r.insts);
    free(r.seen);
}

enum nd_err nd_store_search_functions(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_pointer(stmt, 1, &api, "fts5_api_ptr", NULL);
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW || !api || api->iVersion < 2)
        return ND_ERR_DB;
    rc = api->xCreateFunction(api, "nd_snippet", NULL, nd_snippet, NULL);
    return rc == SQLITE_OK ? ND_OK : ND_ERR_DB;
}
