-- 0006_changes.sql: the change log behind GET /v1/events and /v1/changes.
--
-- Triggers log each change to an article or comment in the change's own
-- transaction: every write path is logged, a rollback leaves no row. Ids
-- only grow (AUTOINCREMENT), in commit order; changes_pruned holds the newest
-- id pruning removed. public: readers without a key may see it. See README.

CREATE TABLE changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    article_id   INTEGER NOT NULL,
    comment_id   INTEGER,
    public       INTEGER NOT NULL,
    status       TEXT NOT NULL,
    slug         TEXT,
    title        TEXT,
    published_at INTEGER,
    at           INTEGER NOT NULL
);

CREATE TABLE changes_pruned (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    through INTEGER NOT NULL
);

INSERT INTO changes_pruned (one, through) VALUES (1, 0);

-- What readers without a key may see, read in id order.
CREATE INDEX changes_public ON changes (id) WHERE public;

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
