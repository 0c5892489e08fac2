-- 0011_body_last.sql: an article's body is its last column.
--
-- SQLite keeps a row's columns in order, and a row longer than about 4 KB
-- (pages of 4096 bytes) keeps only its first part in the table's page and
-- the rest in overflow pages. body was the fifth column of fifteen, so for
-- a typical article (a body of 5 KB) everything after it, author, category,
-- tags, status and the times, lay in an overflow page: every row of a list
-- page, and every "is this article published?" check before its comments,
-- read one more page than it needed (a `pread` each once the file outgrows
-- the page cache; the profile of a filtered list at 100,000 articles spent
-- about half its time there). With body last, a row's small columns are
-- all in its first page, and only a read of the body follows the chain.
--
-- SQLite cannot move a column, so articles is made again as 0009 made it
-- (its rows under their own ids, sqlite_sequence carried over), then its
-- indexes and triggers as 0001-0010 left them. migrate.c runs this with
-- foreign key enforcement off (dropping articles would otherwise delete
-- every comment and tag through ON DELETE CASCADE) and checks every
-- reference before it commits. The triggers of comments name articles; a
-- rename checks them against the schema, where articles is missing for a
-- moment, so the rename runs with legacy_alter_table on (it leaves other
-- tables' triggers as they are) and off again right after. articles_fts
-- reads its text from articles by column name and keeps working unchanged.
--
-- It rewrites every article once: 14 s for 100,000 articles of 5 KB (1.7 GB)
-- on the benchmark machine; a few hundred articles take a moment.

CREATE TABLE articles_v11 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    slug          TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL,
    summary       TEXT NOT NULL DEFAULT '',
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
    import_key    TEXT UNIQUE,
    -- Last, so that the columns above stay in the row's first page.
    body          TEXT NOT NULL
);

INSERT INTO articles_v11 (id, slug, title, summary, author, category, tags, source_url, status,
                          published_at, created_at, updated_at, comment_count, import_key, body)
SELECT id, slug, title, summary, author, category, tags, source_url, status,
       published_at, created_at, updated_at, comment_count, import_key, body
FROM articles ORDER BY id;

-- The largest id ever given, not only the largest one stored (0009).
DELETE FROM sqlite_sequence WHERE name = 'articles_v11';
INSERT INTO sqlite_sequence (name, seq) SELECT 'articles_v11', seq FROM sqlite_sequence
WHERE name = 'articles';

DROP TABLE articles;
PRAGMA legacy_alter_table = ON;
ALTER TABLE articles_v11 RENAME TO articles;
PRAGMA legacy_alter_table = OFF;

-- The indexes of 0001 and 0007.
CREATE INDEX articles_by_status ON articles (status, published_at DESC, id DESC);
CREATE INDEX articles_by_time ON articles (published_at DESC, id DESC);
CREATE INDEX articles_by_category ON articles (category, status, published_at, id);
CREATE INDEX articles_by_author ON articles (author, status, published_at, id);
CREATE INDEX articles_by_status_updated ON articles (status, updated_at DESC, id DESC);
CREATE INDEX articles_by_updated ON articles (updated_at DESC, id DESC);
CREATE INDEX articles_by_status_comments ON articles (status, comment_count DESC, id DESC);
CREATE INDEX articles_by_comments ON articles (comment_count DESC, id DESC);

-- The search triggers of 0002.
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

-- The tag follower of 0004.
CREATE TRIGGER article_tags_follow AFTER UPDATE OF published_at, status ON articles
BEGIN
    UPDATE article_tags SET tagged_at = new.published_at, tagged_status = new.status
    WHERE article_id = new.id;
END;

-- The change log of 0006.
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
