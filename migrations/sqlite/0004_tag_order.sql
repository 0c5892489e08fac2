-- 0004_tag_order.sql: a list filtered by tag in list order, from an index.
--
-- Before, a tag filter walked the whole list order of articles and looked
-- each one up in article_tags, so a rare tag read most of the table (seen at
-- 0.3 s a page with 100,000 articles). Each tag row now carries its
-- article's published_at and status, and an index in list order lets the
-- query start from the tag and stop after one page.

ALTER TABLE article_tags ADD COLUMN tagged_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE article_tags ADD COLUMN tagged_status TEXT NOT NULL DEFAULT 'published';

UPDATE article_tags
SET tagged_at = (SELECT published_at FROM articles WHERE articles.id = article_tags.article_id),
    tagged_status = (SELECT status FROM articles WHERE articles.id = article_tags.article_id);

CREATE INDEX article_tags_in_order
    ON article_tags (tag, tagged_status, tagged_at DESC, article_id DESC);

-- The store writes both columns with every tag; an article whose date or
-- status changes without its tags being rewritten is followed here.
CREATE TRIGGER article_tags_follow AFTER UPDATE OF published_at, status ON articles
BEGIN
    UPDATE article_tags SET tagged_at = new.published_at, tagged_status = new.status
    WHERE article_id = new.id;
END;
