-- 0003_notify.sql (PostgreSQL): every commit that a cache of rendered
-- answers must hear of notifies the channel newsd_changes.
--
-- SQLite tells each connection that another one committed (data_version),
-- and newsd then reads the change log's head and the count of migrations to
-- tell its own commits from others' (store.c). PostgreSQL tells listeners
-- instead (store_pg_listen.c): the notification carries the process id of
-- the server backend that sent it, so newsd knows its own. What notifies is
-- what SQLite's check reads: the change log (every write to articles and
-- comments adds a row there in the same transaction), its pruning, and
-- schema_migrations. An UPDATE that changes nothing a client sees (a
-- comment_count set by hand) is not told on either backend.
--
-- Statement-level triggers: a bulk write notifies once per statement, and
-- PostgreSQL folds equal notifications of one transaction into one.

CREATE FUNCTION newsd_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('newsd_changes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER changes_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON changes
FOR EACH STATEMENT EXECUTE FUNCTION newsd_notify();

CREATE TRIGGER changes_pruned_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON changes_pruned FOR EACH STATEMENT EXECUTE FUNCTION newsd_notify();

CREATE TRIGGER schema_migrations_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON schema_migrations FOR EACH STATEMENT EXECUTE FUNCTION newsd_notify();
