-- 0013_tag_category.sql: a list filtered by tag and category is read from
-- the tag's index alone.
--
-- A tag's rows carry their article's date and status (0004) and are walked
-- in list order; a category filter beside the tag was tested on the
-- article, so every tagged article of another category was looked up only
-- to be passed over. In the benchmark's corpus (eight categories) a page of
-- 20 for a tag and a category looked up 177 articles on average, a page
-- read each. Each tag row now carries its article's category too, at the
-- end of the tag's index, so the walk passes over the others inside the
-- index and looks up only the articles it shows.

ALTER TABLE article_tags ADD COLUMN tagged_category TEXT NOT NULL DEFAULT '';

UPDATE article_tags
SET tagged_category = (SELECT category FROM articles WHERE articles.id = article_tags.article_id);

DROP INDEX article_tags_in_order;
CREATE INDEX article_tags_in_order
    ON article_tags (tag, tagged_status, tagged_at DESC, article_id DESC, tagged_category);

-- The store writes the three columns with every tag; an article whose date,
-- status or category changes without its tags being rewritten is followed.
DROP TRIGGER article_tags_follow;
CREATE TRIGGER article_tags_follow AFTER UPDATE OF published_at, status, category ON articles
BEGIN
    UPDATE article_tags
    SET tagged_at = new.published_at, tagged_status = new.status, tagged_category = new.category
    WHERE article_id = new.id;
END;
