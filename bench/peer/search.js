// search.js: newsd's search-box language turned into an FTS5 MATCH expression,
// and FTS5 snippets turned into HTML, for the comparison server.
//
// The rules are newsd's (server/search.c): words are ANDed, "a phrase" stays a
// phrase, word* is a prefix of at least 2 characters, -word excludes, OR joins
// its two neighbours (tighter than the implied AND), AND is dropped, a term
// with no indexable character is dropped. Every term is written inside double
// quotes (embedded quotes doubled), so nothing typed is read as FTS5 syntax.
// Two or more plain words also get "w1 w2" as an alternative phrase, which
// matches nothing more but ranks articles holding the exact phrase higher.

export const MAX_BYTES = 512;
export const MAX_TERMS = 16;
export const MIN_PREFIX = 2;

export class QueryError extends Error {}

// Whether unicode61 keeps code point cp inside a token (newsd's approximation).
function tokenChar(cp) {
  if (cp < 0x80) {
    return (cp >= 48 && cp <= 57) || (cp >= 97 && cp <= 122) || (cp >= 65 && cp <= 90);
  }
  if (cp < 0xc0) {
    return [0xaa, 0xb2, 0xb3, 0xb5, 0xb9, 0xba].includes(cp) || (cp >= 0xbc && cp <= 0xbe);
  }
  if (cp === 0xd7 || cp === 0xf7) return false;
  const separators = [
    [0x2000, 0x2bff], [0x2e00, 0x2e7f], [0x3000, 0x3004], [0x3008, 0x303f],
    [0xfe00, 0xfe0f], [0xfe30, 0xfe4f], [0xff00, 0xff0f], [0x1f000, 0x1faff],
    [0xe0000, 0xe007f],
  ];
  return !separators.some(([lo, hi]) => cp >= lo && cp <= hi);
}

function hasToken(text) {
  for (const ch of text) if (tokenChar(ch.codePointAt(0))) return true;
  return false;
}

// Token characters in the last word of text (after its last separator).
function lastWordChars(text) {
  let count = 0;
  for (const ch of text) count = tokenChar(ch.codePointAt(0)) ? count + 1 : 0;
  return count;
}

function isSeparator(ch) {
  const c = ch.charCodeAt(0);
  return ch === ' ' || c < 0x20 || c === 0x7f;
}

// Reads the term starting at i (not a separator); returns [term, next index].
function readTerm(q, i) {
  const t = { text: '', phrase: false, prefix: false, negated: false, orBefore: false };
  if (q[i] === '-') {
    while (q[i] === '-') i++;
    t.negated = true;
  }
  if (q[i] === '"') {
    const start = ++i;
    while (i < q.length && q[i] !== '"') i++;
    t.text = q.slice(start, i);
    t.phrase = true;
    if (q[i] === '"') i++;
    while (q[i] === '*') {
      t.prefix = true;
      i++;
    }
  } else {
    const start = i;
    while (i < q.length && !isSeparator(q[i]) && q[i] !== '"') i++;
    let text = q.slice(start, i);
    while (text.endsWith('*')) {
      t.prefix = true;
      text = text.slice(0, -1);
    }
    t.text = text;
  }
  return [t, i];
}

function quoted(text) {
  let out = '';
  for (const ch of text) {
    const c = isSeparator(ch) ? ' ' : ch;
    out += c === '"' ? '""' : c;
  }
  return out;
}

function emitTerm(t) {
  return `"${quoted(t.text)}"${t.prefix ? '*' : ''}`;
}

// The positive (negated = false) or excluded terms as AND/OR groups.
function emitTerms(terms, negated) {
  let out = '';
  let first = true;
  for (let i = 0; i < terms.length; i++) {
    const t = terms[i];
    if (t.negated !== negated) continue;
    const nextOr = i + 1 < terms.length && terms[i + 1].orBefore;
    if (!first) out += negated || t.orBefore ? ' OR ' : ' AND ';
    if (!negated && nextOr && !t.orBefore) out += '(';
    out += emitTerm(t);
    if (!negated && t.orBefore && !nextOr) out += ')';
    first = false;
  }
  return out;
}

// Translates what a person typed into an FTS5 expression; throws QueryError
// with newsd's sentence when the query cannot be searched.
export function translate(query) {
  if (Buffer.byteLength(query) > MAX_BYTES) {
    throw new QueryError(
      `the query is ${Buffer.byteLength(query)} bytes long; shorten it to at most ${MAX_BYTES}`);
  }
  const terms = [];
  let pendingOr = false;
  let lastPositive = false;
  for (let i = 0; i < query.length;) {
    if (isSeparator(query[i])) {
      i++;
      continue;
    }
    const [t, next] = readTerm(query, i);
    i = next;
    const bare = !t.phrase && !t.negated;
    if (bare && t.text === 'OR') {
      if (!lastPositive || pendingOr) {
        throw new QueryError('OR must stand between two search terms, as in: cats OR dogs');
      }
      pendingOr = true;
      continue;
    }
    if (bare && t.text === 'AND') continue;
    if (!hasToken(t.text)) continue;
    if (t.prefix && lastWordChars(t.text) < MIN_PREFIX) {
      throw new QueryError(
        `a prefix search needs at least ${MIN_PREFIX} letters before the '*', as in: elect*`);
    }
    if (terms.length === MAX_TERMS) {
      throw new QueryError(
        `the query has more than ${MAX_TERMS} search terms: use fewer words`);
    }
    if (pendingOr) {
      if (t.negated) throw new QueryError('an excluded term (-word) cannot be part of an OR');
      t.orBefore = true;
      pendingOr = false;
    }
    lastPositive = !t.negated;
    terms.push(t);
  }
  if (pendingOr) throw new QueryError('OR must stand between two search terms, as in: cats OR dogs');
  const positive = terms.filter((t) => !t.negated);
  const excluded = terms.length - positive.length;
  if (positive.length === 0) {
    throw new QueryError(excluded
      ? 'excluded terms alone match nothing: add a word to search for'
      : 'the query has no words to search for');
  }
  const bonus = positive.length >= 2 && positive.every((t) => !t.phrase && !t.prefix && !t.orBefore);
  let out = emitTerms(terms, false);
  if (bonus) out = `(${out}) OR "${positive.map((t) => quoted(t.text)).join(' ')}"`;
  if (excluded) out = `(${out}) NOT (${emitTerms(terms, true)})`;
  return out;
}

const HTML = { '\x01': '<mark>', '\x02': '</mark>', '&': '&amp;', '<': '&lt;', '>': '&gt;',
  '"': '&quot;', "'": '&#39;' };

// A raw snippet (\x01 and \x02 around matches) as HTML: matches in <mark>,
// the rest escaped, control characters other than tab and line feed dropped.
export function snippetHtml(raw) {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/[\x00-\x08\x0b-\x1f&<>"']/g, (c) => HTML[c] ?? '');
}
