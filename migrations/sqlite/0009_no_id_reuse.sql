-- 0009_no_id_reuse.sql: an id is never given twice.
--
-- articles and comments had INTEGER PRIMARY KEY without AUTOINCREMENT, so
-- SQLite gave the next row max(id) + 1: deleting the newest article and
-- creating another handed the deleted article's id (and its old links) to a
-- different story. With AUTOINCREMENT SQLite keeps the largest id ever used
-- in sqlite_sequence and never goes below it. An id freed before this
-- migration above the largest id still stored cannot be known and may be
-- given once more; every id after that is new.
--
-- It is numbered after every migration that touches these tables (0006's
-- change-log triggers, 0007's indexes, 0008's import_key column and index),
-- since migrate.c runs each unrecorded migration in version order and a
-- rebuild has to know the whole shape of the tables it makes again. A later
-- migration that rebuilds them must in turn make all of this again.
--
-- SQLite cannot add AUTOINCREMENT to a table, so both tables are rebuilt:
-- a copy with every row under its own id, the old table dropped, the copy
-- renamed, then the indexes and triggers that the old table took with it
-- made again exactly as 0001-0008 left them. migrate.c runs this with
-- foreign key enforcement off (dropping articles would otherwise delete
-- every comment and tag through ON DELETE CASCADE) and checks every
-- reference with PRAGMA foreign_key_check before it commits.
--
-- The search indexes stay as they are: articles_fts and comments_fts keep
-- their text by rowid, the rows keep their ids, and no trigger fires while
-- the rows are copied (the copies have none, and the old triggers go with
-- the old tables).

CREATE TABLE articles_v9 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    slug          TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL,
    summary       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL,
    author        TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT '',
    -- The tags exactly as rendered to clients (a JSON array); article_tags
    -- holds the same tags as rows for filtering.
    tags          TEXT NOT NULL DEFAULT '[]',
    source_url    TEXT,
    status        TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'draft')),
    published_at  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Maintained by the comment triggers, never counted per request.
    comment_count INTEGER NOT NULL DEFAULT 0,
    -- Set by the importer (a hash of title and body) so a re-import finds it.
    import_key    TEXT UNIQUE
);

INSERT INTO articles_v9 (id, slug, title, summary, body, author, category, tags, source_url,
                         status, published_at, created_at, updated_at, comment_count, import_key)
SELECT id, slug, title, summary, body, author, category, tags, source_url,
       status, published_at, created_at, updated_at, comment_count, import_key
FROM articles ORDER BY id;

-- The references name the final tables: they are checked only once the
-- copies carry those names (see migrate.c).
CREATE TABLE comments_v9 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    parent_id  INTEGER REFERENCES comments (id),
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'visible',
    created_at INTEGER NOT NULL,
    -- Set by an importer (0008) so a re-import finds the comment.
    import_key TEXT
);

INSERT INTO comments_v9 (id, article_id, parent_id, author, body, status, created_at, import_key)
SELECT id, article_id, parent_id, author, body, status, created_at, import_key
FROM comments ORDER BY id;

-- Comments first: their triggers write to articles.
DROP TABLE comments;
DROP TABLE articles;
ALTER TABLE articles_v9 RENAME TO articles;
ALTER TABLE comments_v9 RENAME TO comments;

-- articles: the indexes of 0001 and 0007, the search triggers of 0002, the
-- tag follower of 0004, the change log of 0006.
CREATE INDEX articles_by_status ON articles (status, published_at DESC, id DESC);
CREATE INDEX articles_by_time ON articles (published_at DESC, id DESC);
CREATE INDEX articles_by_category ON articles (category, status, published_at, id);
CREATE INDEX articles_by_author ON articles (author, status, published_at, id);
-- The orders of 0007.
CREATE INDEX articles_by_status_updated ON articles (status, updated_at DESC, id DESC);
CREATE INDEX articles_by_updated ON articles (updated_at DESC, id DESC);
CREATE INDEX articles_by_status_comments ON articles (status, comment_count DESC, id DESC);
CREATE INDEX articles_by_comments ON articles (comment_count DESC, id DESC);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
BEGIN
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body ON articles
BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

CREATE TRIGGER article_tags_follow AFTER UPDATE OF published_at, status ON articles
BEGIN
    UPDATE article_tags SET tagged_at = new.published_at, tagged_status = new.status
    WHERE article_id = new.id;
END;

-- comments: the indexes of 0001, 0003 and 0008, the search triggers of
-- 0002, the status and counting triggers of 0003, the change log of 0006.
CREATE INDEX comments_by_article ON comments (article_id, id);
CREATE INDEX comments_by_thread ON comments (article_id, parent_id, id);
CREATE INDEX comments_by_parent ON comments (parent_id);
CREATE INDEX comments_pending ON comments (article_id, id) WHERE status = 'pending';
CREATE UNIQUE INDEX comments_by_import_key ON comments (import_key)
    WHERE import_key IS NOT NULL;

CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments
BEGIN
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments
BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER comments_fts_update AFTER UPDATE OF body ON comments
BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER comments_status_insert BEFORE INSERT ON comments
WHEN new.status NOT IN ('visible', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'a comment status is visible or pending');
END;

CREATE TRIGGER comments_status_update BEFORE UPDATE OF status ON comments
WHEN new.status NOT IN ('visible', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'a comment status is visible or pending');
END;

CREATE TRIGGER comments_count_insert AFTER INSERT ON comments
WHEN new.status = 'visible'
BEGIN
    UPDATE articles SET comment_count = comment_count + 1 WHERE id = new.article_id;
END;

CREATE TRIGGER comments_count_delete AFTER DELETE ON comments
WHEN old.status = 'visible'
BEGIN
    UPDATE articles SET comment_count = comment_count - 1 WHERE id = old.article_id;
END;

CREATE TRIGGER comments_count_update AFTER UPDATE OF status, article_id ON comments
WHEN old.status IS NOT new.status OR old.article_id IS NOT new.article_id
BEGIN
    UPDATE articles SET comment_count = comment_count - 1
    WHERE id = old.article_id AND old.status = 'visible';
    UPDATE articles SET comment_count = comment_count + 1
    WHERE id = new.article_id AND new.status = 'visible';
END;

-- The change log of 0006 (GET /v1/events and /v1/changes).
CREATE TRIGGER changes_article_insert AFTER INSERT ON articles
BEGIN
    INSERT INTO changes (kind, article_id, public, status, slug, title, published_at, at)
    VALUES (CASE new.status WHEN 'published' THEN 'article.published' ELSE 'article.drafted' END,
            new.id, new.status = 'published', new.status, new.slug, new.title,
            new.published_at, unixepoch());
END;

-- Not comment_count or import_key: no client sees those change.
CREATE TRIGGER changes_article_update
AFTER UPDATE OF slug, title, summary, body, author, category, tags, source_url, status,
    published_at ON articles
BEGIN
    INSERT INTO changes (kind, article_id, public, status, slug, title, published_at, at)
    SELECT CASE WHEN old.status = new.status THEN 'article.updated'
                WHEN new.status = 'published' THEN 'article.published'
                ELSE 'article.unpublished' END,
           new.id, old.status = 'published' OR new.status = 'published', new.status,
           CASE WHEN unpublished THEN old.slug ELSE new.slug END,
           CASE WHEN unpublished THEN old.title ELSE new.title END,
           CASE WHEN unpublished THEN old.published_at ELSE new.published_at END,
           unixepoch()
    FROM (SELECT old.status = 'published' AND new.status <> 'published' AS unpublished);
END;

CREATE TRIGGER changes_article_delete AFTER DELETE ON articles
BEGIN
    INSERT INTO changes (kind, article_id, public, status, slug, title, published_at, at)
    VALUES ('article.deleted', old.id, old.status = 'published', old.status, old.slug, old.title,
            old.published_at, unixepoch());
END;

CREATE TRIGGER changes_comment_insert AFTER INSERT ON comments
BEGIN
    INSERT INTO changes (kind, article_id, comment_id, public, status, at)
    VALUES ('comment.added', new.article_id, new.id,
            new.status = 'visible' AND coalesce((SELECT status = 'published' FROM articles
                                                 WHERE id = new.article_id), 0),
            new.status, unixepoch());
END;

-- An article's delete cascades to its comments once the article row is
-- gone: article.deleted alone tells of them.
CREATE TRIGGER changes_comment_delete AFTER DELETE ON comments
WHEN EXISTS (SELECT 1 FROM articles WHERE id = old.article_id)
BEGIN
    INSERT INTO changes (kind, article_id, comment_id, public, status, at)
    VALUES ('comment.removed', old.article_id, old.id,
            old.status = 'visible' AND (SELECT status = 'published' FROM articles
                                        WHERE id = old.article_id),
            old.status, unixepoch());
END;

-- Public both ways on a published article; the event holds no text.
CREATE TRIGGER changes_comment_status AFTER UPDATE OF status ON comments
WHEN old.status IS NOT new.status
BEGIN
    INSERT INTO changes (kind, article_id, comment_id, public, status, at)
    VALUES ('comment.moderated', new.article_id, new.id,
            coalesce((SELECT status = 'published' FROM articles WHERE id = new.article_id), 0),
            new.status, unixepoch());
END;
