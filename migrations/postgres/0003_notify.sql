-- 0003_notify.sql (PostgreSQL): a migration committed by another process is
-- told to the response caches too.
--
-- SQLite tells a connection that another one committed (data_version), and
-- newsd then reads the change log's head and the count of migrations to
-- tell other processes' commits from its own (store.c). 0001's
-- changes_notify covers the change log (every write to articles and
-- comments adds a row there) and its pruning; this covers the other half,
-- schema_migrations, so that a migration by another newsd or by hand (which
-- may change what answers look like without a change row) empties the
-- caches as on SQLite. An UPDATE that changes nothing a client sees (a
-- comment_count set by hand) is told on neither backend.
CREATE TRIGGER schema_migrations_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON schema_migrations FOR EACH STATEMENT EXECUTE FUNCTION changes_notify();
