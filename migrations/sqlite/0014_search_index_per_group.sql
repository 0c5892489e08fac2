-- 0014_search_index_per_group.sql: a group commit indexes its new rows for
-- search once, at its end, not in each write.
--
-- FTS5 writes what it holds in memory to the index as a new segment at
-- every savepoint and every statement end inside a transaction, and each
-- write of a group commit is a savepoint: a group of 30 comments wrote 30
-- one-row segments (and the merges that follow), which took a third of the
-- committer's time (bench/RESULTS.md, Run 11).
--
-- While a batch of writes runs (store.c, nd_sqlite_batch_begin), its
-- transaction holds one row here: the largest article and comment ids
-- before the batch. A row made above them is new in this batch, and the
-- triggers leave its search text alone: the batch's end indexes every row
-- above the marks that still stands, in one statement each, then deletes
-- the row here, all before its COMMIT. A row deleted or edited in the batch
-- that made it is therefore indexed once, as it is at the end; a row of an
-- older id (an import that keeps its ids) is indexed at once as before.
-- Another connection never sees the row here: it comes and goes inside one
-- write transaction, and without it every trigger works as 0009 and 0011
-- made it (so does any other program that writes to the database).

CREATE TABLE search_deferred (
    articles_above INTEGER NOT NULL,
    comments_above INTEGER NOT NULL
);

DROP TRIGGER articles_fts_insert;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_update;
DROP TRIGGER comments_fts_insert;
DROP TRIGGER comments_fts_delete;
DROP TRIGGER comments_fts_update;

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE new.id > articles_above)
BEGIN
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE old.id > articles_above)
BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body ON articles
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE old.id > articles_above)
BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, body)
    VALUES ('delete', old.id, old.title, old.summary, old.body);
    INSERT INTO articles_fts (rowid, title, summary, body)
    VALUES (new.id, new.title, new.summary, new.body);
END;

CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE new.id > comments_above)
BEGIN
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE old.id > comments_above)
BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER comments_fts_update AFTER UPDATE OF body ON comments
WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE old.id > comments_above)
BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;
