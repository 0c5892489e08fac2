-- 0002_search.sql (PostgreSQL): full-text indexes for /v1/search.
--
-- SQLite indexes with FTS5's tokenizer 'porter unicode61 remove_diacritics
-- 2' (0002, 0010); this gives PostgreSQL the same words:
--   - a word is a run of letters and digits; any punctuation separates.
--     PostgreSQL's parser would instead keep "example.com", "a@b.org",
--     "3.14", "/usr/bin" or "north-korea" whole and skip "<b>" as markup,
--     so newsd_search_text() turns ASCII punctuation into spaces before it
--     parses (other punctuation is no letter to a UTF-8 LC_CTYPE, which
--     0001 checked);
--   - case and diacritics fold away: the unaccent dictionary, then the
--     stemmer, which lower-cases;
--   - stems are Porter's original algorithm, the one FTS5's porter applies
--     (the snowball "porter" language, not "english", which is Porter2),
--     and no word is a stop word: FTS5 finds "the", so does this.
-- The text search configuration is called newsd: a query is made with
-- to_tsquery('newsd', ...) over the same words.
--
-- Each article has a tsvector with weights (title A, summary B, body C, so a
-- title hit can outrank a body hit) and each comment one of its body, both
-- written by a BEFORE trigger only when their text is written: a comment
-- moves its article's comment_count, which must not re-index the article
-- (a generated column would be computed again on every update of the row).
-- GIN indexes serve words and prefixes ('elec':*) alike.
--
-- A tsvector holds at most 1 MiB and positions up to 16,383 (later words
-- all count as 16,383). An article whose text would overflow it (a body
-- near its 1 MiB limit made of tens of thousands of different words) has
-- only as much of its body indexed as fits, from the start, instead of
-- being refused; SQLite indexes all of it.

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH DICTIONARY newsd_porter (TEMPLATE = snowball, LANGUAGE = porter);

CREATE TEXT SEARCH CONFIGURATION newsd (PARSER = default);
-- Every kind of token the parser can still make once punctuation is gone
-- (and the rest, should one appear); tag, entity, protocol and blank are
-- not words and stay unmapped, as in every built-in configuration.
ALTER TEXT SEARCH CONFIGURATION newsd
    ADD MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart,
        hword_part, hword_numpart, email, url, host, url_path, file, sfloat, float, int, uint,
        version
    WITH unaccent, newsd_porter;

-- The text as FTS5's unicode61 would split it: every ASCII character that
-- is neither a letter nor a digit becomes a space.
CREATE FUNCTION newsd_search_text(doc text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(doc, E'!"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~',
                     '                                ')
$$;

-- One term of the search language as a tsquery, split into words exactly as
-- the text was: "example.com" is the phrase 'exampl' <-> 'com' (as in FTS5,
-- where it is two tokens), and with prefix the last word matches as a
-- prefix ('elec':*), stemmed first as FTS5 stems a prefix ("running*" finds
-- "run"). A term with no word at all gives an empty tsquery (matching
-- nothing, with a NOTICE). Terms are combined with &, |, ! and <-> by the
-- caller. Query text must always come through here (or through
-- newsd_search_text): to_tsquery('newsd', 'example.com') alone parses a
-- host name, which the index never holds.
CREATE FUNCTION newsd_term_query(term text, prefix boolean) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN prefix
           THEN regexp_replace(phrase::text, '''$', ''':*')::tsquery
           ELSE phrase END
    FROM phraseto_tsquery('newsd'::regconfig, newsd_search_text(term)) AS phrase
$$;

CREATE FUNCTION newsd_tsvector(doc text, weight "char") RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('newsd'::regconfig, newsd_search_text(doc)), weight)
$$;

-- newsd_tsvector of doc, or of as much of its start as fits a tsvector.
-- Only called for long text: its exception block costs a subtransaction.
CREATE FUNCTION newsd_tsvector_capped(doc text, weight "char") RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    len integer := length(doc);
BEGIN
    LOOP
        BEGIN
            RETURN newsd_tsvector(left(doc, len), weight);
        EXCEPTION WHEN program_limit_exceeded THEN
            len := len * 3 / 4;
        END;
    END LOOP;
END
$$;

-- A body under 64 KiB makes a tsvector far below 1 MiB (at most one entry
-- of about ten bytes plus the word for every two bytes of text), so only a
-- longer one takes the capped way. Title and summary are short.
CREATE FUNCTION articles_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    new.search := newsd_tsvector(new.title, 'A') || newsd_tsvector(new.summary, 'B');
    IF octet_length(new.body) < 65536 THEN
        new.search := new.search || newsd_tsvector(new.body, 'C');
    ELSE
        new.search := new.search || newsd_tsvector_capped(new.body, 'C');
    END IF;
    RETURN new;
END
$$;

CREATE FUNCTION comments_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF octet_length(new.body) < 65536 THEN
        new.search := newsd_tsvector(new.body, 'D');
    ELSE
        new.search := newsd_tsvector_capped(new.body, 'D');
    END IF;
    RETURN new;
END
$$;

ALTER TABLE articles ADD COLUMN search tsvector;
ALTER TABLE comments ADD COLUMN search tsvector;

CREATE TRIGGER articles_search BEFORE INSERT OR UPDATE OF title, summary, body ON articles
FOR EACH ROW EXECUTE FUNCTION articles_search();

CREATE TRIGGER comments_search BEFORE INSERT OR UPDATE OF body ON comments
FOR EACH ROW EXECUTE FUNCTION comments_search();

-- Index what is already stored (nothing, unless rows came before this
-- file), naming no column the change log's triggers watch.
UPDATE articles SET search = newsd_tsvector(title, 'A') || newsd_tsvector(summary, 'B')
                             || newsd_tsvector_capped(body, 'C');
UPDATE comments SET search = newsd_tsvector_capped(body, 'D');
ALTER TABLE articles ALTER COLUMN search SET NOT NULL;
ALTER TABLE comments ALTER COLUMN search SET NOT NULL;

CREATE INDEX articles_search ON articles USING gin (search);
CREATE INDEX comments_search ON comments USING gin (search);
