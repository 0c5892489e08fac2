-- 0008_comment_import_key.sql: comments made by an importer carry a key.
--
-- The WordPress importer gives each comment it stores a key made of the
-- blog and the WordPress comment id (as articles have had since 0001), so
-- importing the same export twice finds the comments of the first time
-- instead of adding them again. Comments written through the API have none.
-- ALTER TABLE cannot add a UNIQUE column: a partial unique index does it,
-- and holds only the imported rows.
--
-- It runs after whatever 0005..0007 did to comments (a rebuilt table keeps
-- its name and columns): a nullable column at the end and a new index ask
-- nothing of the table's shape. A later migration that rebuilds comments
-- must copy import_key and recreate this index.

ALTER TABLE comments ADD COLUMN import_key TEXT;

CREATE UNIQUE INDEX comments_by_import_key ON comments (import_key)
    WHERE import_key IS NOT NULL;
