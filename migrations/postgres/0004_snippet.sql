-- 0004_snippet.sql (PostgreSQL): search snippets closer to SQLite's.
--
-- SQLite's snippet() (FTS5) gives a text of at most 24 words whole, with
-- its matches marked, and otherwise a window of 24 words with "…" where
-- the window does not reach the start or the end of the text. ts_headline
-- differs in three ways that this function takes away:
--   - its parser reads "<script>" as an HTML tag and leaves it out of the
--     headline; here "<" and ">" become the control characters 3 and 4
--     (which stored text never holds, as the markers 1 and 2) for the
--     parser, a word's separators, and are put back afterwards;
--   - a short text loses what follows its last word ("one." gives "one");
--     a text of at most 24 words is here given whole (HighlightAll);
--   - it adds no "…"; here one marks a cut at either end, as in SQLite.
-- Which words a longer text's window holds still differs (docs/postgresql.md).
CREATE FUNCTION newsd_snippet(doc text, q tsquery) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    WITH d AS (
        SELECT translate(doc, '<>', chr(3) || chr(4)) AS text,
               octet_length(doc) <= 4096
               AND (SELECT count(*) FROM regexp_matches(doc, '[[:alnum:]]+', 'g')) <= 24 AS whole
    ), h AS (
        SELECT whole,
               translate(ts_headline('newsd'::regconfig, d.text, q,
                                     format('StartSel=%s, StopSel=%s, ShortWord=1, %s',
                                            chr(1), chr(2),
                                            CASE WHEN whole THEN 'HighlightAll=true'
                                                 ELSE 'MaxWords=24, MinWords=12, MaxFragments=1'
                                            END)),
                         chr(3) || chr(4), '<>') AS text
        FROM d
    ), p AS (
        SELECT whole, text, replace(replace(text, chr(1), ''), chr(2), '') AS plain FROM h
    )
    SELECT CASE WHEN whole THEN text
                ELSE CASE WHEN starts_with(doc, plain) THEN '' ELSE '…' END || text
                     || CASE WHEN right(doc, length(plain)) = plain THEN '' ELSE '…' END
           END
    FROM p
$$;
