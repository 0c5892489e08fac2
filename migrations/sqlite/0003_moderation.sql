-- 0003_moderation.sql: comment moderation.
--
-- A comment is 'visible' or 'pending' (comment-moderation = pre stores new
-- comments as pending until a key holder approves them; a key holder can
-- also hide a visible comment again). Readers see visible comments only, so
-- comment_count now counts visible comments: the counting triggers of 0001
-- are replaced by ones that look at the status, and every article is
-- counted again once.

-- SQLite cannot add a CHECK constraint to an existing table; these triggers
-- refuse any other status instead.
CREATE TRIGGER comments_status_insert BEFORE INSERT ON comments
WHEN new.status NOT IN ('visible', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'a comment status is visible or pending');
END;

CREATE TRIGGER comments_status_update BEFORE UPDATE OF status ON comments
WHEN new.status NOT IN ('visible', 'pending')
BEGIN
    SELECT RAISE(ABORT, 'a comment status is visible or pending');
END;

DROP TRIGGER comments_count_insert;
DROP TRIGGER comments_count_delete;
DROP TRIGGER comments_count_move;

CREATE TRIGGER comments_count_insert AFTER INSERT ON comments
WHEN new.status = 'visible'
BEGIN
    UPDATE articles SET comment_count = comment_count + 1 WHERE id = new.article_id;
END;

CREATE TRIGGER comments_count_delete AFTER DELETE ON comments
WHEN old.status = 'visible'
BEGIN
    UPDATE articles SET comment_count = comment_count - 1 WHERE id = old.article_id;
END;

-- A change of status or of article: the old row stops counting where it
-- counted, the new row starts counting where it counts.
CREATE TRIGGER comments_count_update AFTER UPDATE OF status, article_id ON comments
WHEN old.status IS NOT new.status OR old.article_id IS NOT new.article_id
BEGIN
    UPDATE articles SET comment_count = comment_count - 1
    WHERE id = old.article_id AND old.status = 'visible';
    UPDATE articles SET comment_count = comment_count + 1
    WHERE id = new.article_id AND new.status = 'visible';
END;

-- The moderation queue of an article, and the quick test of whether an
-- article has any pending comment at all (its reader tree then needs more
-- work, see store_comments.c). Small: only pending rows are in it.
CREATE INDEX comments_pending ON comments (article_id, id) WHERE status = 'pending';

-- Count what earlier versions stored; only rows whose count changes are
-- written.
UPDATE articles SET comment_count = (
    SELECT count(*) FROM comments
    WHERE comments.article_id = articles.id AND comments.status = 'visible')
WHERE comment_count IS NOT (
    SELECT count(*) FROM comments
    WHERE comments.article_id = articles.id AND comments.status = 'visible');
