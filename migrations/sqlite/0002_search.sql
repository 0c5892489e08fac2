-- 0002_search.sql: full-text indexes for /v1/search.
--
-- External-content FTS5 tables: the text lives once, in articles and
-- comments, and the triggers below keep the indexes in step inside the same
-- transaction as every write. Column names match the content tables so that
-- snippet() can read the text back.
--
-- Tokenizer: porter stemming over unicode61 with diacritics removed, so
-- "Elections" finds "election" and "cafe" finds "Café"; prefix indexes of 2
-- and 3 characters make "el*" and "ele*" index look-ups, not scans.

CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, summary, body,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);

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

-- Only a change of indexed text re-indexes: comment_count moves with every
-- comment and must not rewrite the article's index entries.
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body ON articles
BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

CREATE VIRTUAL TABLE comments_fts USING fts5 (
    body,
    content = 'comments', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);

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

-- Index what earlier versions stored.
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
INSERT INTO comments_fts (comments_fts) VALUES ('rebuild');
