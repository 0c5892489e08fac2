// server.js: newsd's read and write API as a Node.js user would write it,
// with fastify 5 and better-sqlite3 12, over a database that newsd made.
// It exists only to be measured beside newsd (bench/run --peer); it is not
// part of the product.
//
//   node bench/peer/server.js --db FILE [--host 127.0.0.1] [--port 8081]
//
// One process, one connection, prepared statements kept in a map, one
// transaction per write, no response cache. The routes are those the
// benchmark uses (GET /health, the article list, one article by id or slug,
// an article's comments, search; creating an article with newsd's API key
// and a comment), with newsd's JSON fields, cursors, problem documents and
// search semantics (search.js). Keys are checked against the BLAKE2b hashes
// newsd stores, so a key made with `newsd key create` works here too.
import { timingSafeEqual, createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

import { blake2b } from '@noble/hashes/blake2.js';
import Database from 'better-sqlite3';
import Fastify from 'fastify';

import {
  checkArticle, checkComment, decodeCursor, encodeCursor, encodeParam, isoTime, parseId,
  parseLimit, parseTime, slugValid,
} from './fields.js';
import { QueryError, snippetHtml, translate } from './search.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8081' },
  },
});
if (!args.db) {
  console.error('usage: node server.js --db FILE [--host ADDR] [--port N]');
  process.exit(2);
}

const db = new Database(args.db, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');

const statements = new Map();
function stmt(sql) {
  let s = statements.get(sql);
  if (!s) {
    s = db.prepare(sql);
    statements.set(sql, s);
  }
  return s;
}

const REASONS = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found',
  405: 'Method Not Allowed', 409: 'Conflict', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 422: 'Unprocessable Content', 500: 'Internal Server Error' };

class Problem extends Error {
  constructor(status, detail, extra = {}) {
    super(detail);
    this.status = status;
    this.extra = extra;
  }
}

function sendProblem(reply, status, detail, extra = {}) {
  const doc = { type: 'about:blank', title: REASONS[status] ?? 'Error', status, detail, ...extra };
  return reply.code(status).type('application/problem+json').send(JSON.stringify(doc));
}

// ---- keys -------------------------------------------------------------------

const BEARER = /^Bearer[ \t]+(nd_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43})[ \t]*$/i;

// 'none' without an Authorization header, 'bad' for a wrong key, 'ok'.
function keyState(request) {
  const header = request.headers.authorization;
  if (header === undefined) return 'none';
  const m = BEARER.exec(header);
  if (!m || !/^Bearer/i.test(header) || m[1].slice(0, 3) !== 'nd_') return 'bad';
  const key = m[1];
  const row = stmt('SELECT hash FROM api_keys WHERE key_id = ?').get(key.slice(3, 15));
  if (!row) return 'bad';
  const given = Buffer.from(blake2b(Buffer.from(key), { dkLen: 32 }));
  return given.length === row.hash.length && timingSafeEqual(given, row.hash) ? 'ok' : 'bad';
}

function requireKey(request, reply) {
  const state = keyState(request);
  if (state === 'ok') return true;
  if (state === 'none') {
    reply.header('WWW-Authenticate', 'Bearer');
    sendProblem(reply, 401, 'this request needs an API key (Authorization: Bearer KEY)');
  } else {
    reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
    sendProblem(reply, 401, 'the API key is not valid');
  }
  return false;
}

// ---- articles ---------------------------------------------------------------

const LIST_COLUMNS = 'id, slug, title, summary, author, category, tags, source_url, status, ' +
  'published_at, created_at, updated_at, comment_count';

function articleJson(row, withBody) {
  const a = { id: row.id, slug: row.slug, title: row.title, summary: row.summary };
  if (withBody) a.body = row.body;
  a.author = row.author;
  a.category = row.category;
  a.tags = JSON.parse(row.tags);
  a.source_url = row.source_url;
  a.status = row.status;
  a.published_at = isoTime(row.published_at);
  a.created_at = isoTime(row.created_at);
  a.updated_at = isoTime(row.updated_at);
  a.comment_count = row.comment_count;
  return a;
}

// The list filters of a request: {params, parts} for the SQL, or a Problem thrown.
function listFilters(request, reply) {
  const q = request.query;
  const f = { status: 'published' };
  if (q.status !== undefined && q.status !== 'published') {
    if (q.status !== 'draft' && q.status !== 'any') {
      throw new Problem(400, 'status must be published, draft or any');
    }
    if (!requireKey(request, reply)) return null;
    f.status = q.status === 'any' ? null : 'draft';
  }
  for (const name of ['category', 'tag', 'author']) if (q[name] !== undefined) f[name] = q[name];
  for (const name of ['since', 'until']) {
    if (q[name] === undefined) continue;
    f[name] = parseTime(q[name]);
    if (f[name] === null) {
      throw new Problem(400, `${name} must be an RFC 3339 date-time such as 2025-07-12T09:30:00Z`);
    }
  }
  return f;
}

function filterSql(f, params, { viaTags = false } = {}) {
  let sql = '';
  if (f.status && !viaTags) {
    sql += ' AND status = @status';
    params.status = f.status;
  }
  if (f.category !== undefined) {
    sql += ' AND category = @category';
    params.category = f.category;
  }
  if (f.tag !== undefined && !viaTags) {
    sql += ' AND id IN (SELECT article_id FROM article_tags WHERE tag = @tag)';
    params.tag = f.tag;
  }
  if (f.author !== undefined) {
    sql += ' AND author = @author';
    params.author = f.author;
  }
  if (f.since !== undefined) {
    sql += ' AND published_at >= @since';
    params.since = f.since;
  }
  if (f.until !== undefined) {
    sql += ' AND published_at < @until';
    params.until = f.until;
  }
  return sql;
}

function linkHeader(path, pairs) {
  const query = pairs.filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encodeParam(k)}=${encodeParam(String(v))}`).join('&');
  return `<${path}${query ? `?${query}` : ''}>; rel="next"`;
}

function listLinkPairs(q, limit, next) {
  return [['limit', limit], ['cursor', next], ['category', q.category], ['tag', q.tag],
    ['author', q.author], ['since', q.since], ['until', q.until], ['status', q.status]];
}

function page(reply, items, next, path, pairs) {
  if (next) reply.header('Link', linkHeader(path, pairs));
  return { data: items, next_cursor: next };
}

function listArticles(request, reply) {
  const q = request.query;
  const limit = parseLimit(q.limit);
  if (limit === null) throw new Problem(400, 'limit must be an integer from 1 to 100');
  const f = listFilters(request, reply);
  if (!f) return undefined;
  const params = { limit: limit + 1 };
  let sql;
  if (f.tag !== undefined) {
    // the tag's rows carry the list order (tagged_at), so a page reads limit rows
    sql = `SELECT ${LIST_COLUMNS} FROM article_tags CROSS JOIN articles` +
      ' ON articles.id = article_tags.article_id WHERE tag = @tag';
    params.tag = f.tag;
    if (f.status) {
      sql += ' AND tagged_status = @status';
      params.status = f.status;
    }
    sql += filterSql(f, params, { viaTags: true });
  } else {
    sql = `SELECT ${LIST_COLUMNS} FROM articles WHERE 1${filterSql(f, params)}`;
  }
  if (q.cursor !== undefined) {
    const pos = decodeCursor(q.cursor, 'a', 2);
    if (!pos) {
      throw new Problem(400, 'cursor is not a cursor of this list in sort order newest: ' +
        'start again without it');
    }
    [params.cursor_at, params.cursor_id] = pos;
    sql += f.tag !== undefined
      ? ' AND (tagged_at, article_id) < (@cursor_at, @cursor_id)'
      : ' AND (published_at, id) < (@cursor_at, @cursor_id)';
  }
  sql += f.tag !== undefined
    ? ' ORDER BY tagged_at DESC, article_id DESC LIMIT @limit'
    : ' ORDER BY published_at DESC, id DESC LIMIT @limit';
  const rows = stmt(sql).all(params);
  let next = null;
  if (rows.length > limit) {
    rows.length = limit;
    const last = rows[limit - 1];
    next = encodeCursor('a', [last.published_at, last.id]);
  }
  return page(reply, rows.map((r) => articleJson(r, false)), next, '/v1/articles',
    listLinkPairs(q, limit, next));
}

function getArticle(request, reply) {
  const key = request.params.key;
  const id = parseId(key);
  let row;
  if (id !== null) row = stmt('SELECT * FROM articles WHERE id = ?').get(id);
  else if (slugValid(key)) row = stmt('SELECT * FROM articles WHERE slug = ?').get(key);
  if (row && row.status === 'draft' && keyState(request) !== 'ok') row = undefined;
  if (!row) {
    if (id !== null) throw new Problem(404, `no article with id ${id}`);
    if (slugValid(key)) throw new Problem(404, `no article with slug '${key}'`);
    throw new Problem(404, 'no article with that id or slug');
  }
  return articleJson(row, true);
}

const INSERT_ARTICLE = 'INSERT INTO articles (slug, title, summary, body, author, category, tags, ' +
  'source_url, status, published_at, created_at, updated_at) VALUES (@slug, @title, @summary, ' +
  '@body, @author, @category, @tags, @source_url, @status, @published_at, @now, @now)';

const saveArticle = db.transaction((a, now) => {
  const taken = (slug) => stmt('SELECT 1 FROM articles WHERE slug = ?').get(slug) !== undefined;
  let slug = a.slug;
  if (taken(slug)) {
    if (!a.slugDerived) throw new Problem(409, `slug '${slug}' is taken`);
    slug = null;
    for (let n = 2; n <= 1000 && slug === null; n++) {
      const suffix = `-${n}`;
      const candidate = a.slug.slice(0, 120 - suffix.length).replace(/-+$/, '') + suffix;
      if (!taken(candidate)) slug = candidate;
    }
    if (slug === null) throw new Problem(409, 'no free slug could be made from the title; give one');
  }
  const info = stmt(INSERT_ARTICLE).run({ ...a, slug, tags: JSON.stringify(a.tags), now });
  const id = info.lastInsertRowid;
  const tag = stmt('INSERT OR IGNORE INTO article_tags (tag, article_id, tagged_at, tagged_status)' +
    ' VALUES (?, ?, ?, ?)');
  for (const t of a.tags) tag.run(t, id, a.published_at, a.status);
  return stmt('SELECT * FROM articles WHERE id = ?').get(id);
});

function createArticle(request, reply) {
  if (!requireKey(request, reply)) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const { article, errors } = checkArticle(request.body, now);
  if (errors) throw new Problem(422, 'the request has invalid fields', { errors });
  const row = saveArticle(article, now);
  reply.code(201).header('Location', `/v1/articles/${row.id}`);
  return articleJson(row, true);
}

// ---- comments ---------------------------------------------------------------

const COMMENT_COLUMNS = 'id, article_id, parent_id, author, body, status, created_at';

function commentJson(row) {
  return { id: row.id, article_id: row.article_id, parent_id: row.parent_id, author: row.author,
    body: row.body, status: row.status, created_at: isoTime(row.created_at) };
}

// The article id of the path when the request may see that article; else a Problem.
function visibleArticle(request) {
  const id = parseId(request.params.key);
  if (id === null) {
    throw new Problem(400, 'an article id is a positive decimal integer without leading zeros');
  }
  const row = stmt('SELECT status FROM articles WHERE id = ?').get(id);
  if (!row || (row.status === 'draft' && keyState(request) !== 'ok')) {
    throw new Problem(404, `no article with id ${id}`);
  }
  return id;
}

function listComments(request, reply) {
  const q = request.query;
  const id = visibleArticle(request);
  const limit = parseLimit(q.limit);
  if (limit === null) throw new Problem(400, 'limit must be an integer from 1 to 100');
  if (q.view !== undefined && q.view !== 'flat') {
    throw new Problem(400, 'this server lists comments flat only (view=flat)');
  }
  if (q.status !== undefined && q.status !== 'visible') {
    throw new Problem(400, 'this server lists visible comments only (status=visible)');
  }
  let after = 0n;
  if (q.cursor !== undefined) {
    const pos = decodeCursor(q.cursor, 'c', 2);
    if (!pos || pos[1] !== 0n) throw new Problem(400, 'cursor is not a cursor of this list');
    after = pos[0];
  }
  const rows = stmt(`SELECT ${COMMENT_COLUMNS} FROM comments WHERE article_id = ?` +
    " AND status = 'visible' AND id > ? ORDER BY id LIMIT ?").all(id, after, limit + 1);
  let next = null;
  if (rows.length > limit) {
    rows.length = limit;
    next = encodeCursor('c', [rows[limit - 1].id, 0]);
  }
  return page(reply, rows.map(commentJson), next, `/v1/articles/${id}/comments`,
    [['limit', limit], ['cursor', next], ['view', q.view], ['status', q.status]]);
}

const saveComment = db.transaction((articleId, c, visibleParent, now) => {
  if (!stmt('SELECT 1 FROM articles WHERE id = ?').get(articleId)) {
    throw new Problem(404, `no article with id ${articleId}`);
  }
  if (c.parent_id !== null) {
    const parent = stmt('SELECT article_id, status FROM comments WHERE id = ?').get(c.parent_id);
    if (!parent || BigInt(parent.article_id) !== BigInt(articleId) ||
        (visibleParent && parent.status !== 'visible')) {
      throw new Problem(422, 'the request has invalid fields',
        { errors: [{ field: 'parent_id', message: 'must be a comment of the same article' }] });
    }
  }
  const info = stmt('INSERT INTO comments (article_id, parent_id, author, body, status, created_at)' +
    " VALUES (?, ?, ?, ?, 'visible', ?)").run(articleId, c.parent_id, c.author, c.body, now);
  return stmt(`SELECT ${COMMENT_COLUMNS} FROM comments WHERE id = ?`).get(info.lastInsertRowid);
});

function createComment(request, reply) {
  const id = visibleArticle(request);
  const { comment, errors } = checkComment(request.body);
  if (errors) throw new Problem(422, 'the request has invalid fields', { errors });
  const row = saveComment(id, comment, keyState(request) !== 'ok', Math.floor(Date.now() / 1000));
  reply.code(201).header('Location', `/v1/comments/${row.id}`);
  return commentJson(row);
}

// ---- search -----------------------------------------------------------------

const WINDOW = 200; // newsd ranks only the newest 200 matches

const SEARCH_SQL = 'SELECT id, slug, title, published_at, score FROM (' +
  'SELECT articles.id AS id, articles.slug AS slug, articles.title AS title,' +
  ' articles.published_at AS published_at, articles.status AS status,' +
  ' articles.category AS category, articles.author AS author, hits.score AS score' +
  ' FROM (SELECT rowid AS hit, bm25(articles_fts, 10.0, 2.0, 1.0) AS score' +
  ' FROM articles_fts WHERE articles_fts MATCH @match' +
  ` ORDER BY rowid DESC LIMIT ${WINDOW}) AS hits` +
  ' JOIN articles ON articles.id = hits.hit) WHERE 1';

const SNIPPET_SQL = "SELECT snippet(articles_fts, -1, char(1), char(2), '…', 24) AS s" +
  ' FROM articles_fts WHERE articles_fts MATCH ? AND rowid = ?';

function search(request, reply) {
  const q = request.query;
  if (q.q === undefined) throw new Problem(400, 'q is required: the words to search for');
  const limit = parseLimit(q.limit);
  if (limit === null) throw new Problem(400, 'limit must be an integer from 1 to 100');
  const f = listFilters(request, reply);
  if (!f) return undefined;
  if (q.type !== undefined && q.type !== 'articles') {
    throw new Problem(400, 'this server searches articles only (type=articles)');
  }
  let match;
  try {
    match = translate(q.q);
  } catch (e) {
    if (e instanceof QueryError) throw new Problem(400, e.message);
    throw e;
  }
  const params = { match, limit: limit + 1 };
  let sql = SEARCH_SQL + filterSql(f, params);
  if (q.cursor !== undefined) {
    const pos = decodeCursor(q.cursor, 's', 3, true);
    if (!pos) {
      throw new Problem(400, 'cursor is not a cursor of this search, type and sort order: ' +
        'start again without it');
    }
    [params.cursor_score, params.cursor_at, params.cursor_id] = pos;
    sql += ' AND (score > @cursor_score OR (score = @cursor_score AND' +
      ' (published_at, id) < (@cursor_at, @cursor_id)))';
  }
  sql += ' ORDER BY score, published_at DESC, id DESC LIMIT @limit';
  const rows = stmt(sql).all(params);
  let next = null;
  if (rows.length > limit) {
    rows.length = limit;
    const last = rows[limit - 1];
    next = encodeCursor('s', [last.score, last.published_at, last.id]);
  }
  // the rowid as a BigInt: better-sqlite3 binds a Number as a REAL, and FTS5
  // ignores a rowid constraint that is not an integer (every match comes back)
  const snippet = stmt(SNIPPET_SQL);
  const items = rows.map((r) => ({
    id: r.id, slug: r.slug, title: r.title, published_at: isoTime(r.published_at),
    score: -r.score, snippet: snippetHtml(snippet.get(match, BigInt(r.id))?.s ?? ''),
  }));
  return page(reply, items, next, '/v1/search',
    [...listLinkPairs(q, limit, next), ['q', q.q], ['type', q.type]]);
}

// ---- the server -------------------------------------------------------------

const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

// a strong ETag on every 200 to GET, and 304 when If-None-Match names it
app.addHook('onSend', async (request, reply, payload) => {
  if (request.method !== 'GET' || reply.statusCode !== 200 || typeof payload !== 'string') {
    return payload;
  }
  const etag = `"${createHash('sha1').update(payload).digest('base64url')}"`;
  reply.header('ETag', etag);
  if (request.headers['if-none-match'] === etag) {
    reply.code(304);
    return '';
  }
  return payload;
});

app.setErrorHandler((error, request, reply) => {
  if (error instanceof Problem) return sendProblem(reply, error.status, error.message, error.extra);
  if (error.statusCode && error.statusCode < 500) {
    const detail = error.statusCode === 415 ? 'the body must be JSON (Content-Type: application/json)'
      : error.statusCode === 413 ? 'the body is too large' : error.message;
    return sendProblem(reply, error.statusCode, detail);
  }
  request.log.error(error);
  console.error(error);
  return sendProblem(reply, 500, 'internal error');
});

app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'no such resource'));

app.get('/health', () => {
  stmt('SELECT 1').get();
  return { status: 'ok' };
});
app.get('/v1/articles', listArticles);
app.post('/v1/articles', createArticle);
app.get('/v1/articles/:key', getArticle);
app.get('/v1/articles/:key/comments', listComments);
app.post('/v1/articles/:key/comments', createComment);
app.get('/v1/search', search);

function stop() {
  app.close().then(() => {
    db.close();
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ host: args.host, port: Number(args.port) });
console.log(`peer listening on ${args.host}:${args.port}`);
