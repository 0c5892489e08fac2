-- 0007_comment_order.sql (PostgreSQL): a comment no longer re-indexes its
-- article.
--
-- Every visible comment moves its article's comment_count (0001's
-- comments_count). While comment_count was a key of two of the article's
-- indexes (the "commented" order), each such UPDATE wrote a new version of
-- the article row into every index of articles: eleven B-trees and the GIN
-- index of its search document, all of the article's words again. Measured
-- with EXPLAIN ANALYZE on a 2,000-article database, the count trigger took
-- 0.96 ms of a comment insert's 1.58 ms; with no index on comment_count the
-- UPDATE is a heap-only tuple update (no index touched) and took 0.16 ms.
--
-- So the commented order gets an index of its own on a narrow table,
-- article_comment_order, one row per article (counted_status and counted
-- copy the article's status and comment_count), written by the same
-- triggers that write comment_count; the article list in that order reads
-- it (server/store_list.c). articles.comment_count stays what every read
-- answers, and leaves the articles' indexes. A lower fillfactor leaves room
-- on each new page of articles for the row's next version, which is what a
-- heap-only update needs.
CREATE TABLE article_comment_order (
    article_id     bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    counted_status text COLLATE "C" NOT NULL,
    counted        bigint NOT NULL
);

INSERT INTO article_comment_order (article_id, counted_status, counted)
SELECT id, status, comment_count FROM articles;

CREATE INDEX article_comment_order_by_count
    ON article_comment_order (counted DESC, article_id DESC);
CREATE INDEX article_comment_order_by_status
    ON article_comment_order (counted_status, counted DESC, article_id DESC);

DROP INDEX articles_by_comments;
DROP INDEX articles_by_status_comments;
ALTER TABLE articles SET (fillfactor = 80);

-- 0001's body, and the same step on the order table.
CREATE OR REPLACE FUNCTION comments_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND old.status = 'visible' THEN
        UPDATE articles SET comment_count = comment_count - 1 WHERE id = old.article_id;
        UPDATE article_comment_order SET counted = counted - 1 WHERE article_id = old.article_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND new.status = 'visible' THEN
        UPDATE articles SET comment_count = comment_count + 1 WHERE id = new.article_id;
        UPDATE article_comment_order SET counted = counted + 1 WHERE article_id = new.article_id;
    END IF;
    RETURN NULL;
END
$$;

-- A new article gets its row and a change of its status is copied (only
-- the triggers above write comment_count). Deleting the article deletes the
-- row.
CREATE FUNCTION article_comment_order_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO article_comment_order (article_id, counted_status, counted)
        VALUES (new.id, new.status, new.comment_count);
    ELSE
        UPDATE article_comment_order SET counted_status = new.status WHERE article_id = new.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER article_comment_order_insert AFTER INSERT ON articles
FOR EACH ROW EXECUTE FUNCTION article_comment_order_follow();

CREATE TRIGGER article_comment_order_status AFTER UPDATE OF status ON articles
FOR EACH ROW WHEN (old.status IS DISTINCT FROM new.status)
EXECUTE FUNCTION article_comment_order_follow();
