// fields.js: what the comparison server checks and derives like newsd does:
// ids, slugs, cursors, times, and the fields of a new article or comment.
//
// Cursors are newsd's (a kind letter and 64-bit big-endian integers in
// URL-safe base64), so a cursor of one server is valid on the other. The
// checks follow newsd's rules for the fields the benchmark writes; a slug is
// folded with Unicode NFD plus an ASCII filter, close to newsd's table.

export const LIMIT_DEFAULT = 20;
export const LIMIT_MAX = 100;
const SLUG_MAX = 120;
const SUMMARY_MAX = 200;

export function isoTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function parseTime(text) {
  const m = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return null;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

// A positive decimal id without leading zeros, or null.
export function parseId(text) {
  if (!/^[1-9][0-9]{0,18}$/.test(text)) return null;
  const n = BigInt(text);
  return n <= 9223372036854775807n ? n : null;
}

export function slugValid(slug) {
  return slug.length <= SLUG_MAX && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug) && !/^[0-9]+$/.test(slug);
}

export function parseLimit(text) {
  if (text === undefined) return LIMIT_DEFAULT;
  if (!/^[0-9]{1,3}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= LIMIT_MAX ? n : null;
}

export function encodeCursor(kind, values) {
  const buf = Buffer.alloc(1 + 8 * values.length);
  buf[0] = kind.charCodeAt(0);
  values.forEach((v, i) => {
    if (typeof v === 'number' && !Number.isInteger(v)) buf.writeDoubleBE(v, 1 + 8 * i);
    else buf.writeBigInt64BE(BigInt(v), 1 + 8 * i);
  });
  return buf.toString('base64url');
}

// The n values of a cursor of kind (the first as a double when score), or null.
export function decodeCursor(text, kind, n, score = false) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const buf = Buffer.from(text, 'base64url');
  if (buf.length !== 1 + 8 * n || buf[0] !== kind.charCodeAt(0) ||
      buf.toString('base64url') !== text) return null;
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(score && i === 0 ? buf.readDoubleBE(1 + 8 * i) : buf.readBigInt64BE(1 + 8 * i));
  }
  return out;
}

// RFC 3986 unreserved characters kept, every other byte %XX: newsd's Link encoding.
export function encodeParam(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function slugFromTitle(title) {
  const folded = title.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss').replace(/[æÆ]/g, 'ae').replace(/[œŒ]/g, 'oe')
    .replace(/['\u2018\u2019\u02bc]/g, '').toLowerCase();
  let slug = folded.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (slug.length > SLUG_MAX) {
    const cut = slug.lastIndexOf('-', SLUG_MAX);
    slug = slug.slice(0, cut > 0 ? cut : SLUG_MAX);
  }
  if (slug === '') return 'article';
  return /^[0-9]+$/.test(slug) ? `article-${slug}`.slice(0, SLUG_MAX) : slug;
}

// The first paragraph of body, white space folded, cut at a word to 200 characters with "…".
export function summaryFromBody(body) {
  const paragraph = body.trim().split(/[ \t\r\v\f]*\n[ \t\r\v\f]*\n\s*/)[0];
  const text = paragraph.replace(/[ \t\n\r\v\f]+/g, ' ').trim();
  const chars = [...text];
  if (chars.length <= SUMMARY_MAX) return text;
  const head = chars.slice(0, SUMMARY_MAX - 1).join('');
  const space = chars[SUMMARY_MAX - 1] === ' ' ? head.length : head.lastIndexOf(' ');
  return `${space > 0 ? head.slice(0, space) : head}…`;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f\x80-\x9f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_MULTI = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]/;

// Checks the text field name of obj; returns the trimmed value or undefined.
function text(obj, name, errors, { required = false, allowEmpty = false, max, bytes = false,
  multiLine = false }) {
  const value = obj[name];
  if (value === undefined || value === null) {
    if (required) errors.push({ field: name, message: 'is required' });
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push({ field: name, message: 'must be a string' });
    return undefined;
  }
  const trimmed = value.trim();
  const len = bytes ? Buffer.byteLength(trimmed) : [...trimmed].length;
  if (!allowEmpty && trimmed === '') {
    errors.push({ field: name, message: 'must not be empty' });
  } else if (len > max) {
    errors.push({ field: name, message: `must be at most ${max} ${bytes ? 'bytes' : 'characters'}` });
  } else if ((multiLine ? CONTROL_MULTI : CONTROL).test(trimmed)) {
    errors.push({ field: name, message: multiLine
      ? 'must not contain control characters other than tabs and line breaks'
      : 'must not contain control characters' });
  } else {
    return trimmed;
  }
  return undefined;
}

function unknownMembers(obj, writable, readonly, errors) {
  for (const key of Object.keys(obj)) {
    if (writable.includes(key)) continue;
    errors.push({ field: key, message: readonly.includes(key) ? 'is read-only' : 'is not allowed' });
  }
}

const ARTICLE_WRITABLE = ['slug', 'title', 'summary', 'body', 'author', 'category', 'tags',
  'status', 'source_url', 'published_at'];
const ARTICLE_READONLY = ['id', 'created_at', 'updated_at', 'comment_count'];

// The row to insert for a new article, or the 422 errors ({errors}).
export function checkArticle(obj, now) {
  const errors = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return { errors: [{ field: '', message: 'must be a JSON object' }] };
  }
  unknownMembers(obj, ARTICLE_WRITABLE, ARTICLE_READONLY, errors);
  const a = {
    title: text(obj, 'title', errors, { required: true, max: 300 }),
    body: text(obj, 'body', errors, { required: true, max: 1048576, bytes: true, multiLine: true }),
    summary: text(obj, 'summary', errors, { allowEmpty: true, max: 1000, multiLine: true }),
    author: text(obj, 'author', errors, { allowEmpty: true, max: 80 }) ?? '',
    category: text(obj, 'category', errors, { allowEmpty: true, max: 100 }) ?? '',
    status: 'published',
    source_url: null,
    published_at: now,
    tags: [],
  };
  if (obj.slug !== undefined && obj.slug !== null) {
    if (typeof obj.slug !== 'string') errors.push({ field: 'slug', message: 'must be a string' });
    else if (!slugValid(obj.slug)) {
      errors.push({ field: 'slug', message: 'must be lower-case letters and digits in words ' +
        'joined by hyphens, at most 120 bytes, and not only digits' });
    } else a.slug = obj.slug;
  }
  if (obj.tags !== undefined && obj.tags !== null) {
    if (!Array.isArray(obj.tags)) errors.push({ field: 'tags', message: 'must be an array of strings' });
    else {
      obj.tags.forEach((tag, i) => {
        const field = `tags[${i}]`;
        if (typeof tag !== 'string') return errors.push({ field, message: 'must be a string' });
        const t = tag.trim();
        const len = [...t].length;
        if (len < 1 || len > 50) errors.push({ field, message: 'must be 1 to 50 characters' });
        else if (CONTROL.test(t)) errors.push({ field, message: 'must not contain control characters' });
        else if (!a.tags.includes(t)) a.tags.push(t);
        return undefined;
      });
      if (a.tags.length > 20) errors.push({ field: 'tags', message: 'must hold at most 20 distinct tags' });
    }
  }
  if (obj.status !== undefined && obj.status !== null) {
    if (obj.status === 'draft' || obj.status === 'published') a.status = obj.status;
    else errors.push({ field: 'status', message: 'must be "published" or "draft"' });
  }
  if (obj.source_url !== undefined && obj.source_url !== null) {
    const url = typeof obj.source_url === 'string' ? obj.source_url.trim() : null;
    if (url === null) errors.push({ field: 'source_url', message: 'must be a string or null' });
    else if (!/^https?:\/\/[^\s/?#:@]+/i.test(url) || url.length > 2048) {
      errors.push({ field: 'source_url', message: 'must be an http or https URL with a host' });
    } else a.source_url = url;
  }
  if (obj.published_at !== undefined && obj.published_at !== null) {
    const t = typeof obj.published_at === 'string' ? parseTime(obj.published_at) : null;
    if (t === null) {
      errors.push({ field: 'published_at',
        message: 'must be an RFC 3339 date-time such as 2025-07-12T09:30:00Z' });
    } else a.published_at = t;
  }
  if (errors.length) return { errors };
  a.slugDerived = a.slug === undefined;
  a.slug ??= slugFromTitle(a.title);
  a.summary ??= summaryFromBody(a.body);
  return { article: a };
}

// The fields of a new comment, or the 422 errors ({errors}).
export function checkComment(obj) {
  const errors = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return { errors: [{ field: '', message: 'must be a JSON object' }] };
  }
  unknownMembers(obj, ['author', 'body', 'parent_id'], ['id', 'article_id', 'status', 'created_at'],
    errors);
  const c = {
    author: text(obj, 'author', errors, { required: true, max: 80 }),
    body: text(obj, 'body', errors, { required: true, max: 10000, multiLine: true }),
    parent_id: null,
  };
  if (obj.parent_id !== undefined && obj.parent_id !== null) {
    if (!Number.isInteger(obj.parent_id) || obj.parent_id < 1) {
      errors.push({ field: 'parent_id', message: 'must be a positive integer or null' });
    } else c.parent_id = obj.parent_id;
  }
  return errors.length ? { errors } : { comment: c };
}
