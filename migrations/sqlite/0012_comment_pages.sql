-- 0012_comment_pages.sql: a page of an article's comments is read from one
-- index.
--
-- The flat list of an article's comments (the default view) walked
-- comments_by_article (article_id, id) and then fetched each comment's row
-- from the table. Comments arrive over time for many articles at once, so
-- an article's rows lie on as many table pages as it has comments: a page
-- of 16 comments cost 16 page reads (a `pread` each once the file outgrows
-- the page cache), and the profile of cold comment pages at 100,000
-- articles spent about two thirds of its time in that statement. The index
-- now carries every column of a comment, in id order under its article, so
-- the page is one range of the index, on one or two of its pages.
--
-- A comment is written to the index as before (one entry), now with its
-- columns: about 300 bytes more per comment. import_key stays out: only
-- the importers read it, by its own index.

DROP INDEX comments_by_article;
CREATE INDEX comments_by_article
    ON comments (article_id, id, parent_id, author, body, status, created_at);
