-- 0005_concurrent_writes.sql (PostgreSQL): writers no longer take turns.
--
-- Until now every write transaction took newsd_write_lock first, as
-- SQLite's single writer does, so that the change log's ids followed the
-- order of commits. That kept commits from overlapping: each waited for the
-- previous one's flush of the write-ahead log, and PostgreSQL could never
-- flush several at once. Now writes run side by side and their change rows
-- go to changes_pending, in the writer's own transaction; ids are given
-- afterwards by newsd_publish_changes(), which moves every committed pending
-- row into changes under a lock of its own. Publications take turns and
-- each commits before the next begins, so ids still only grow in the order
-- readers can see them: a reader that has seen id N never later finds a
-- smaller one appear. newsd publishes after each write's commit, before it
-- answers (a client that was answered finds its change in /v1/changes), and
-- its change listener publishes every few seconds, for writes whose process
-- died between commit and publication.
CREATE TABLE changes_pending (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text COLLATE "C" NOT NULL,
    article_id   bigint NOT NULL,
    comment_id   bigint,
    public       boolean NOT NULL,
    status       text COLLATE "C" NOT NULL,
    slug         text COLLATE "C",
    title        text COLLATE "C",
    published_at bigint,
    at           bigint NOT NULL
);

-- changes_pending is written and emptied all day: most of its pages hold
-- rows already deleted, which a sequential scan reads one by one (2 ms for
-- 50 pages seen under load) before vacuum comes by. The function reads it
-- through its primary key only (enable_seqscan off inside it), where
-- deleted entries are soon marked and skipped, in steps of 500 rows.
CREATE FUNCTION newsd_publish_changes() RETURNS bigint
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    moved bigint := 0;
    step bigint;
BEGIN
    -- Nothing visible: every pending row committed before this statement
    -- began has been published (a publication in progress still shows its
    -- rows here, so the caller then waits for it below).
    PERFORM 1 FROM changes_pending ORDER BY seq LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(1852143476);
    LOOP
        WITH batch AS (SELECT seq FROM changes_pending ORDER BY seq LIMIT 500),
        gone AS (DELETE FROM changes_pending p USING batch WHERE p.seq = batch.seq
                 RETURNING p.*)
        INSERT INTO changes (kind, article_id, comment_id, public, status, slug, title,
                             published_at, at)
        SELECT kind, article_id, comment_id, public, status, slug, title, published_at, at
        FROM gone ORDER BY seq;
        GET DIAGNOSTICS step = ROW_COUNT;
        moved := moved + step;
        EXIT WHEN step < 500;
    END LOOP;
    RETURN moved;
END
$$;

-- The article that has slug s, or NULL, after taking a lock of s that is
-- held to the end of the transaction: of two writers that want one slug
-- the second waits here for the first to commit, then finds its row (each
-- statement of a function sees what committed before it began) and
-- suffixes its own slug, as SQLite's single writer would have it.
CREATE FUNCTION newsd_slug_owner(s text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1852143477, hashtext(s));
    RETURN (SELECT id FROM articles WHERE slug = s);
END
$$;

CREATE OR REPLACE FUNCTION changes_article() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unpublished boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO changes_pending (kind, article_id, public, status, slug, title,
                                     published_at, at)
        VALUES (CASE new.status WHEN 'published' THEN 'article.published'
                                ELSE 'article.drafted' END,
                new.id, new.status = 'published', new.status, new.slug, new.title,
                new.published_at, newsd_now());
    ELSIF TG_OP = 'UPDATE' THEN
        -- An article leaving the public is told with what the public saw.
        unpublished := old.status = 'published' AND new.status <> 'published';
        INSERT INTO changes_pending (kind, article_id, public, status, slug, title,
                                     published_at, at)
        VALUES (CASE WHEN old.status = new.status THEN 'article.updated'
                     WHEN new.status = 'published' THEN 'article.published'
                     ELSE 'article.unpublished' END,
                new.id, old.status = 'published' OR new.status = 'published', new.status,
                CASE WHEN unpublished THEN old.slug ELSE new.slug END,
                CASE WHEN unpublished THEN old.title ELSE new.title END,
                CASE WHEN unpublished THEN old.published_at ELSE new.published_at END,
                newsd_now());
    ELSE
        INSERT INTO changes_pending (kind, article_id, public, status, slug, title,
                                     published_at, at)
        VALUES ('article.deleted', old.id, old.status = 'published', old.status, old.slug,
                old.title, old.published_at, newsd_now());
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION changes_comment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    published boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT status = 'published' INTO published FROM articles WHERE id = old.article_id;
        -- An article's delete cascades to its comments once the article
        -- row is gone: article.deleted alone tells of them.
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        INSERT INTO changes_pending (kind, article_id, comment_id, public, status, at)
        VALUES ('comment.removed', old.article_id, old.id,
                old.status = 'visible' AND published, old.status, newsd_now());
        RETURN NULL;
    END IF;
    SELECT status = 'published' INTO published FROM articles WHERE id = new.article_id;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO changes_pending (kind, article_id, comment_id, public, status, at)
        VALUES ('comment.added', new.article_id, new.id,
                new.status = 'visible' AND coalesce(published, false), new.status, newsd_now());
    ELSE
        -- Public both ways on a published article; the event holds no text.
        INSERT INTO changes_pending (kind, article_id, comment_id, public, status, at)
        VALUES ('comment.moderated', new.article_id, new.id, coalesce(published, false),
                new.status, newsd_now());
    END IF;
    RETURN NULL;
END
$$;

-- Other processes' caches are told of a write when it commits (its pending
-- rows), and again when its change rows are published (0001's trigger on
-- changes, which also tells of pruning): the change log's pages are cached
-- too, and one cached between the two would lack the write's change.
CREATE TRIGGER changes_pending_notify AFTER INSERT ON changes_pending
FOR EACH STATEMENT EXECUTE FUNCTION changes_notify();
