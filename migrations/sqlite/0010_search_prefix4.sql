-- 0010_search_prefix4.sql: a prefix index of 4 characters for both search
-- indexes.
--
-- The search box asks for prefixes like "elec*". With prefix indexes of 2
-- and 3 only, FTS5 answered a 4-letter prefix by merging the lists of every
-- indexed word that starts with it, and did so again for each snippet: a
-- query over 30,000 articles cost about 206 million instructions (sqlite3
-- CLI under callgrind), 23 million with this index and one snippet
-- statement per page. The matches and their BM25 scores are the same: the
-- index holds the same positions, grouped by prefix.
--
-- FTS5 cannot add a prefix index to an existing table, so each table is
-- made again with the options of 0002 plus '4' and rebuilt from its content
-- table (about 40 s for 30,000 articles of 5 KB; the index grows by about a
-- sixth). The triggers of 0002 (as 0009 made them again) name the tables,
-- not their options, and keep working unchanged.

DROP TABLE articles_fts;
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, summary, body,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');

DROP TABLE comments_fts;
CREATE VIRTUAL TABLE comments_fts USING fts5 (
    body,
    content = 'comments', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
INSERT INTO comments_fts (comments_fts) VALUES ('rebuild');
