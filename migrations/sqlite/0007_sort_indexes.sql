-- 0007_sort_indexes.sql: an index for each order of the article list.
--
-- GET /v1/articles?sort= reads pages newest first (articles_by_status and
-- articles_by_time, 0001), oldest first (the same indexes walked backwards),
-- recently updated first and most commented first. Without an index of
-- their own the last two sorted every published article for each page
-- (a full scan and a temporary b-tree: tens of milliseconds at 100,000
-- articles); with one a page stops after its rows. One index with the status
-- first serves readers (status = 'published'), one without it serves key
-- holders listing status=any. Ties are broken by id, as in the cursors.
--
-- comment_count changes with every visible comment, so the comment
-- indexes are written on each comment as well: one more b-tree entry moved
-- per comment, the price of a cheap "most commented" page.

CREATE INDEX articles_by_status_updated ON articles (status, updated_at DESC, id DESC);
CREATE INDEX articles_by_updated ON articles (updated_at DESC, id DESC);
CREATE INDEX articles_by_status_comments ON articles (status, comment_count DESC, id DESC);
CREATE INDEX articles_by_comments ON articles (comment_count DESC, id DESC);
