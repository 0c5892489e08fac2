-- 0008_tag_category.sql: a list filtered by tag and category is read from
-- the tag's index alone (SQLite's 0013).
--
-- A tag's rows carry their article's date and status and are walked in
-- list order; a category filter beside the tag was tested on the article,
-- so every tagged article of another category was fetched only to be
-- passed over (177 articles on average for a page of 20 in the
-- benchmark's corpus of eight categories). Each tag row now carries its
-- article's category too, at the end of the tag's index, so an index-only
-- walk passes over the others.

ALTER TABLE article_tags ADD COLUMN tagged_category text NOT NULL DEFAULT '';

UPDATE article_tags t SET tagged_category = a.category FROM articles a WHERE a.id = t.article_id;

DROP INDEX article_tags_in_order;
CREATE INDEX article_tags_in_order
    ON article_tags (tag, tagged_status, tagged_at DESC, article_id DESC) INCLUDE (tagged_category);

-- The store writes the three columns with every tag; an article whose date,
-- status or category changes without its tags being rewritten is followed.
CREATE OR REPLACE FUNCTION article_tags_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_tags
    SET tagged_at = new.published_at, tagged_status = new.status, tagged_category = new.category
    WHERE article_id = new.id;
    RETURN NULL;
END
$$;

DROP TRIGGER article_tags_follow ON articles;
CREATE TRIGGER article_tags_follow AFTER UPDATE OF published_at, status, category ON articles
FOR EACH ROW EXECUTE FUNCTION article_tags_follow();
