-- 0001_init.sql: the first schema of newsd.
--
-- Times are INTEGER seconds since the Unix epoch (UTC); the store renders them
-- as RFC 3339. Text columns that the contract shows as "" when empty are NOT
-- NULL with a '' default, so the store never has to map NULL to "".

CREATE TABLE articles (
    id            INTEGER PRIMARY KEY,
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
    -- Maintained by the triggers below, never counted per request.
    comment_count INTEGER NOT NULL DEFAULT 0,
    -- Set by the importer (a hash of title and body) so a re-import finds it.
    import_key    TEXT UNIQUE
);

-- The list order, with and without a status condition, then one index per
-- equality filter followed by the list order.
CREATE INDEX articles_by_status ON articles (status, published_at DESC, id DESC);
CREATE INDEX articles_by_time ON articles (published_at DESC, id DESC);
CREATE INDEX articles_by_category ON articles (category, status, published_at, id);
CREATE INDEX articles_by_author ON articles (author, status, published_at, id);

CREATE TABLE article_tags (
    tag        TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, article_id)
) WITHOUT ROWID;

-- For the cascade from articles and for replacing an article's tags.
CREATE INDEX article_tags_by_article ON article_tags (article_id);

-- parent_id has no ON DELETE action on purpose: deleting a comment first
-- re-attaches its replies to its own parent (the store does both in one
-- transaction), and deleting an article deletes all of its comments in one
-- statement, at whose end no reference is left. A cascade on parent_id
-- would recurse once per nesting level and fail on deep reply chains.
CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    parent_id  INTEGER REFERENCES comments (id),
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'visible',
    created_at INTEGER NOT NULL
);

-- The flat list; the top-level comments of the threaded list (parent_id IS
-- NULL); replies of a comment, which the parent_id constraint needs as well.
CREATE INDEX comments_by_article ON comments (article_id, id);
CREATE INDEX comments_by_thread ON comments (article_id, parent_id, id);
CREATE INDEX comments_by_parent ON comments (parent_id);

CREATE TRIGGER comments_count_insert AFTER INSERT ON comments
BEGIN
    UPDATE articles SET comment_count = comment_count + 1 WHERE id = new.article_id;
END;

CREATE TRIGGER comments_count_delete AFTER DELETE ON comments
BEGIN
    UPDATE articles SET comment_count = comment_count - 1 WHERE id = old.article_id;
END;

CREATE TRIGGER comments_count_move AFTER UPDATE OF article_id ON comments
WHEN old.article_id IS NOT new.article_id
BEGIN
    UPDATE articles SET comment_count = comment_count - 1 WHERE id = old.article_id;
    UPDATE articles SET comment_count = comment_count + 1 WHERE id = new.article_id;
END;

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    key_id     TEXT NOT NULL UNIQUE,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
