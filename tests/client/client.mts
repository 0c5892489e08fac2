// client.mts: a frontend's use of newsd through a client generated from its OpenAPI document.
//
// tests/integration/test_client.py fetches /openapi.json from a running newsd, turns it into
// newsd.d.ts with openapi-typescript, compiles this file against it with tsc (strict) and runs
// it with Node. Every request goes through openapi-fetch's createClient<paths>(); every value
// read from an answer is typed by the generated file alone, never by a type written here.
// The server's address and an API key come from ND_CLIENT_URL and ND_CLIENT_KEY. Each step
// prints one JSON line {"name","ok","detail"} on standard output, which the test turns into
// a TAP point; a step that fails says what it got.

import createClient from 'openapi-fetch';
import type { components, paths } from './newsd.js';

// Node's process object, as far as this file uses it (the test tools carry no Node types).
declare const process: { env: Record<string, string | undefined>; exitCode?: number };

type Schemas = components['schemas'];

const baseUrl = process.env['ND_CLIENT_URL'] ?? '';
const key = process.env['ND_CLIENT_KEY'] ?? '';

// A reader without a key, as a public web page is, and an editor with one.
const reader = createClient<paths>({ baseUrl });
const editor = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });

const CATEGORY = 'Generated client';
const BULK_CATEGORY = 'Generated client bulk';
const WORD = 'quetzalcoatlus';
const MAIN = {
    title: 'Fossil hunters find a pterosaur wing',
    body: `Hikers & fossil hunters found the wing of a ${WORD} on a ridge.\n\nThe bones go to the museum.`,
    category: CATEGORY,
    tags: ['fossils', 'museum'],
    source_url: 'https://example.com/pterosaur',
    published_at: '2025-07-12T09:30:00Z',
} satisfies Schemas['ArticleCreate'];
const OLDER = ['Ridge path reopens', 'Museum extends its hours', 'Volunteers map the quarry',
               'Quarry tours start in May'];
const PATCHED_TITLE = 'Fossil hunters find a giant pterosaur wing';

class CheckFailed extends Error {}

function expect(cond: boolean, message: string): asserts cond {
    if (!cond) {
        throw new CheckFailed(message);
    }
}

function same(got: unknown, want: unknown, what: string): void {
    const g = JSON.stringify(got);
    const w = JSON.stringify(want);
    expect(g === w, `${what}: got ${g}, want ${w}`);
}

function report(name: string, ok: boolean, detail: string): void {
    console.log(JSON.stringify({ name, ok, detail }));
}

// Runs fn as one step; its value, or undefined when it failed (reported with the reason).
async function step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
        const value = await fn();
        report(name, true, '');
        return value;
    } catch (e) {
        const detail = e instanceof CheckFailed ? e.message : String(e instanceof Error ? e.stack : e);
        report(name, false, detail);
        return undefined;
    }
}

// The answer's data, or a failed step naming the problem document that came instead.
function ok<D>(what: string, result: { data?: D; error?: unknown; response: Response }): D {
    expect(result.error === undefined && result.data !== undefined,
           `${what}: status ${result.response.status}, problem ${JSON.stringify(result.error)}`);
    return result.data as D;
}

// Answers asked without `fields` are whole, but their type also admits the trimmed shapes
// (`fields` may name any subset): these guards tell the whole ones apart.
type AnyComment = Schemas['Comment'] | Schemas['CommentNode'] | Schemas['CommentFields'] |
    Schemas['CommentNodeFields'];
function isNode(c: AnyComment): c is Schemas['CommentNode'] {
    return 'replies' in c && 'id' in c && 'author' in c && 'body' in c && 'created_at' in c;
}

type AnyHit = Schemas['ArticleSearchResult'] | Schemas['CommentSearchResult'] |
    Schemas['ArticleSearchResultFields'] | Schemas['CommentSearchResultFields'];
function isArticleHit(r: AnyHit): r is Schemas['ArticleSearchResult'] {
    return 'title' in r && 'id' in r && 'snippet' in r && 'score' in r;
}

async function createArticles(): Promise<Schemas['Article']> {
    const denied = await reader.POST('/v1/articles', { body: { title: 'No key', body: 'Text.' } });
    expect(denied.error !== undefined, `without a key: status ${denied.response.status}`);
    same(denied.error.status, 401, 'without a key: problem status');
    expect(denied.response.headers.get('WWW-Authenticate')?.startsWith('Bearer') === true,
           'without a key: no WWW-Authenticate: Bearer');

    const result = await editor.POST('/v1/articles', { body: MAIN });
    const article = ok('POST /v1/articles', result);
    same(result.response.status, 201, 'status');
    same(result.response.headers.get('Location'), `/v1/articles/${article.id}`, 'Location');
    same(article.title, MAIN.title, 'title');
    same(article.body, MAIN.body, 'body');
    same(article.slug, 'fossil-hunters-find-a-pterosaur-wing', 'slug');
    same(article.tags, MAIN.tags, 'tags');
    same(article.category, CATEGORY, 'category');
    same(article.source_url, MAIN.source_url, 'source_url');
    same(article.published_at, MAIN.published_at, 'published_at');
    same(article.status, 'published', 'status');
    same(article.comment_count, 0, 'comment_count');
    expect(Number.isInteger(article.id) && article.id > 0, `id ${article.id}`);
    for (const [i, title] of OLDER.entries()) {
        const older = ok(title, await editor.POST('/v1/articles', {
            body: { title, body: `Item ${i + 1}.`, category: CATEGORY,
                    published_at: `2025-07-11T0${8 - i}:00:00Z` },
        }));
        same(older.title, title, 'older title');
    }
    return article;
}

async function invalid(): Promise<void> {
    const { data, error, response } = await editor.POST('/v1/articles', {
        body: { title: '   ', body: 'Text.', tags: ['x'.repeat(51)] },
    });
    expect(data === undefined && error !== undefined, `status ${response.status}`);
    same(error.status, 422, 'problem status');
    same(error.title, 'Unprocessable Content', 'problem title');
    same((error.errors ?? []).map((e) => e.field).sort(), ['tags[0]', 'title'], 'fields named');
}

// GET /v1/articles/{id} by the article's id or by its slug: the same article as created.
async function getArticle(article: Schemas['Article'], by: 'id' | 'slug'): Promise<void> {
    const got = ok(`GET by ${by}`, await reader.GET('/v1/articles/{id}', {
        params: { path: { id: article[by] } },
    }));
    same(got.id, article.id, 'id');
    same(got.slug, article.slug, 'slug');
    same(got.title, MAIN.title, 'title');
    same(got.body, MAIN.body, 'body');
    same(got.tags, MAIN.tags, 'tags');
    same(got.created_at, article.created_at, 'created_at');
}

// Pages of two, from the first to the last by next_cursor: every article once, newest first.
async function listPages(article: Schemas['Article']): Promise<void> {
    const titles: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
        const page = ok(`page ${pages + 1}`, await reader.GET('/v1/articles', {
            params: { query: { category: CATEGORY, limit: 2, cursor } },
        }));
        pages += 1;
        expect(page.data.length <= 2, `page ${pages} holds ${page.data.length} items`);
        for (const item of page.data) {
            expect(!('body' in item), `list item ${item.id} carries a body`);
            expect(item.title !== undefined, `list item ${item.id} has no title`);
            titles.push(item.title);
        }
        cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined && pages < 10);
    same(pages, 3, 'pages');
    same(titles, [article.title, ...OLDER], 'titles in order');
}

async function patch(article: Schemas['Article']): Promise<void> {
    const got = ok('PATCH', await editor.PATCH('/v1/articles/{id}', {
        params: { path: { id: article.id } },
        body: { title: PATCHED_TITLE, tags: null, summary: 'A wing, found on a ridge.' },
    }));
    same(got.title, PATCHED_TITLE, 'title');
    same(got.slug, article.slug, 'slug (kept when only the title changes)');
    same(got.tags, [], 'tags reset by null');
    same(got.summary, 'A wing, found on a ridge.', 'summary');
    same(got.body, MAIN.body, 'body kept');
    expect(got.updated_at >= article.updated_at, `updated_at ${got.updated_at}`);
}

async function comment(article: Schemas['Article']): Promise<[Schemas['Comment'], Schemas['Comment']]> {
    const top = ok('top comment', await reader.POST('/v1/articles/{id}/comments', {
        params: { path: { id: article.id } },
        body: { author: 'Ada', body: `A ${WORD} had a wingspan of ten metres.` },
    }));
    same(top.article_id, article.id, 'article_id');
    same(top.parent_id, null, 'parent_id');
    same(top.author, 'Ada', 'author');
    same(top.status, 'visible', 'status');
    const reply = ok('reply', await reader.POST('/v1/articles/{id}/comments', {
        params: { path: { id: article.id } },
        body: { author: 'Ben', body: 'Eleven, says the museum.', parent_id: top.id },
    }));
    same(reply.parent_id, top.id, 'reply parent_id');
    same(reply.article_id, article.id, 'reply article_id');
    const fetched = ok('GET comment', await reader.GET('/v1/comments/{id}', {
        params: { path: { id: reply.id } },
    }));
    same(fetched.body, 'Eleven, says the museum.', 'fetched reply body');
    const counted = ok('GET article', await reader.GET('/v1/articles/{id}', {
        params: { path: { id: article.id } },
    }));
    same(counted.comment_count, 2, 'comment_count');
    return [top, reply];
}

async function tree(article: Schemas['Article'], top: Schemas['Comment'],
                    reply: Schemas['Comment']): Promise<void> {
    const page = ok('tree', await reader.GET('/v1/articles/{id}/comments', {
        params: { path: { id: article.id }, query: { view: 'tree' } },
    }));
    same(page.next_cursor, null, 'next_cursor');
    same(page.data.length, 1, 'top-level comments');
    const root = page.data[0];
    expect(root !== undefined && isNode(root), 'the top-level comment has no replies array');
    same(root.id, top.id, 'top id');
    same(root.replies.map((r) => [r.id, r.parent_id, r.author]), [[reply.id, top.id, 'Ben']],
         'replies');
    same(root.replies[0]?.replies, [], 'replies of the reply');

    const flat = ok('flat', await reader.GET('/v1/articles/{id}/comments', {
        params: { path: { id: article.id }, query: { limit: 1 } },
    }));
    same(flat.data.map((c) => c.id), [top.id], 'first flat page');
    expect(flat.next_cursor !== null, 'a second flat page is announced');
}

async function search(article: Schemas['Article'], top: Schemas['Comment']): Promise<void> {
    const found = ok('search', await reader.GET('/v1/search', { params: { query: { q: WORD } } }));
    const hit = found.data[0];
    expect(hit !== undefined && isArticleHit(hit), `no article hit: ${JSON.stringify(found)}`);
    same(found.data.length, 1, 'hits');
    same(hit.id, article.id, 'id');
    same(hit.title, PATCHED_TITLE, 'title');
    expect(hit.snippet.includes(`<mark>${WORD}</mark>`), `snippet ${hit.snippet}`);
    expect(hit.snippet.includes('&amp;') && !hit.snippet.includes(' & '),
           `snippet not HTML-escaped: ${hit.snippet}`);
    expect(typeof hit.score === 'number' && hit.score > 0, `score ${hit.score}`);

    const comments = ok('comment search', await reader.GET('/v1/search', {
        params: { query: { q: WORD, type: 'comments' } },
    }));
    same(comments.data.map((r) => [r.id, 'article_id' in r ? r.article_id : null]),
         [[top.id, article.id]], 'comment hits');
}

// Lists shaped by a frontend: sort, sparse fields, the tags and authors in use.
async function shaped(article: Schemas['Article']): Promise<void> {
    const query = { category: CATEGORY, sort: 'oldest', fields: 'id,title', limit: 2 } as const;
    const oldest = ok('oldest', await reader.GET('/v1/articles', { params: { query } }));
    same(oldest.data, [{ id: article.id + 4, title: OLDER[3] }, { id: article.id + 3, title: OLDER[2] }],
         'oldest first, only id and title');
    const cursor = oldest.next_cursor ?? undefined;
    expect(cursor !== undefined, 'a second oldest page is announced');
    const later = ok('oldest page 2', await reader.GET('/v1/articles', {
        params: { query: { ...query, cursor } },
    }));
    same(later.data.map((a) => a.title), [OLDER[1], OLDER[0]], 'the next oldest');
    const wrongOrder = await reader.GET('/v1/articles', {
        params: { query: { category: CATEGORY, sort: 'newest', cursor } },
    });
    same(wrongOrder.error?.status, 400, 'an oldest cursor on sort=newest');
    const most = ok('most commented', await reader.GET('/v1/articles', {
        params: { query: { sort: 'commented', fields: 'id,comment_count', limit: 1 } },
    }));
    same(most.data, [{ id: article.id, comment_count: 2 }], 'most commented first');
    const one = ok('one article with fields', await reader.GET('/v1/articles/{id}', {
        params: { path: { id: article.id }, query: { fields: 'slug,comment_count' } },
    }));
    same(one, { slug: article.slug, comment_count: 2 }, 'only slug and comment_count');
    const unknown = await reader.GET('/v1/articles/{id}', {
        params: { path: { id: article.id }, query: { fields: 'headline' } },
    });
    same(unknown.error?.status, 400, 'an unknown field');
    const hits = ok('newest search', await reader.GET('/v1/search', {
        params: { query: { q: WORD, sort: 'newest', fields: 'id,title' } },
    }));
    same(hits.data, [{ id: article.id, title: PATCHED_TITLE }], 'search newest with fields');
    const thread = ok('comment fields', await reader.GET('/v1/articles/{id}/comments', {
        params: { path: { id: article.id }, query: { view: 'tree', fields: 'author' } },
    }));
    same(thread.data, [{ author: 'Ada', replies: [{ author: 'Ben', replies: [] }] }], 'tree with fields');

    ok('tagged article', await editor.POST('/v1/articles', {
        body: { title: 'Ammonites of the cliff', body: 'Spirals in the rock.', author: 'Mary Anning',
                category: 'Elsewhere', tags: ['fossils', 'cliffs'], published_at: '2024-01-01T00:00:00Z' },
    }));
    const tags = ok('tags', await reader.GET('/v1/tags', {}));
    same(tags.data, [{ name: 'cliffs', count: 1 }, { name: 'fossils', count: 1 }], 'tags in use');
    const authors = ok('authors', await reader.GET('/v1/authors', {}));
    same(authors.data.map((a) => [a.name, a.count]), [['Mary Anning', 1]], 'authors in use');
}

async function feed(article: Schemas['Article']): Promise<void> {
    const doc = ok('feed', await reader.GET('/v1/feed.json', {
        params: { query: { category: CATEGORY, limit: 2 } },
    }));
    same(doc.version, 'https://jsonfeed.org/version/1.1', 'version');
    same(doc.items.map((i) => i.title), [PATCHED_TITLE, OLDER[0]], 'item titles');
    const first = doc.items[0];
    expect(first !== undefined, 'no items');
    same(first.date_published, article.published_at, 'date_published');
    same(first.content_text, MAIN.body, 'content_text');
    expect(first.url?.endsWith(`/#/articles/${article.slug}`) === true, `url ${first.url}`);
}

async function notFound(): Promise<void> {
    const { data, error, response } = await reader.GET('/v1/articles/{id}', {
        params: { path: { id: 987654321 } },
    });
    expect(data === undefined && error !== undefined, `status ${response.status}`);
    same(response.status, 404, 'HTTP status');
    expect(response.headers.get('Content-Type')?.startsWith('application/problem+json') === true,
           `Content-Type ${response.headers.get('Content-Type')}`);
    same(error.type, 'about:blank', 'type');
    same(error.title, 'Not Found', 'title');
    same(error.status, 404, 'status');
    same(error.detail, 'no article with id 987654321', 'detail');
    expect(error.request_id.length > 0, 'request_id is empty');
    same(response.headers.get('X-Request-Id'), error.request_id, 'X-Request-Id');
}

async function remove(article: Schemas['Article'], top: Schemas['Comment']): Promise<void> {
    const denied = await reader.DELETE('/v1/articles/{id}', { params: { path: { id: article.id } } });
    same(denied.response.status, 401, 'DELETE without a key');
    const gone = await editor.DELETE('/v1/articles/{id}', { params: { path: { id: article.id } } });
    same(gone.response.status, 204, 'DELETE status');
    expect(gone.error === undefined, `DELETE problem ${JSON.stringify(gone.error)}`);
    const again = await reader.GET('/v1/articles/{id}', { params: { path: { id: article.id } } });
    same(again.error?.status, 404, 'the deleted article');
    const orphan = await reader.GET('/v1/comments/{id}', { params: { path: { id: top.id } } });
    same(orphan.error?.status, 404, 'its comment');
}

// A sync client's view: the change log from the start, page by page, as /v1/changes gives it.
async function changes(article: Schemas['Article'], top: Schemas['Comment'],
                       reply: Schemas['Comment']): Promise<void> {
    const seen: Schemas['Change'][] = [];
    let since = 0;
    let pages = 0;
    for (;;) {
        const page = ok(`changes page ${pages + 1}`, await editor.GET('/v1/changes', {
            params: { query: { since, limit: 3 } },
        }));
        pages += 1;
        seen.push(...page.data);
        since = page.next_since;
        if (page.next_cursor === null || pages > 20) {
            break;
        }
        same(page.next_cursor, String(page.next_since), 'next_cursor of a full page');
    }
    const mine = seen.filter((c) => c.article_id === article.id)
        .map((c) => [c.kind, c.comment_id ?? null, c.status]);
    same(mine, [['article.published', null, 'published'], ['article.updated', null, 'published'],
                ['comment.added', top.id, 'visible'], ['comment.added', reply.id, 'visible'],
                ['article.deleted', null, 'published']], "the article's changes");
    const last = seen[seen.length - 1];
    expect(last !== undefined && last.id === since, `next_since ${since} is the newest change`);
    same(last.title, PATCHED_TITLE, 'the title the deletion names');
    const gone = await reader.GET('/v1/changes', { params: { query: { since: since + 1 } } });
    same(gone.response.status, 410, 'a since newer than the log');
    same(gone.error?.title, 'Gone', 'the 410 problem');
}

// An import tool's view: several articles in one newline-delimited body, one result per line
// in order, each created article readable afterwards; the same body without the key is a 401.
async function bulk(): Promise<void> {
    const lines = [
        { title: 'Quarry report, by the batch', body: 'The quarry opens in May.', category: BULK_CATEGORY },
        { title: '   ', body: 'A line whose title is blank.' },
        { title: 'Museum night, by the batch', body: 'Doors stay open late.', category: BULK_CATEGORY },
    ];
    const ndjson = lines.map((line) => JSON.stringify(line)).join('\n') + '\n';
    const options = {
        body: ndjson,
        bodySerializer: (text: string) => text,
        headers: { 'Content-Type': 'application/x-ndjson' },
        parseAs: 'text',
    } as const;
    const denied = await reader.POST('/v1/articles/bulk', options);
    same(denied.response.status, 401, 'bulk without a key');
    const sent = await editor.POST('/v1/articles/bulk', options);
    expect(sent.response.status === 200 && typeof sent.data === 'string',
           `bulk: status ${sent.response.status}`);
    const results = sent.data.trim().split('\n')
        .map((text) => JSON.parse(text) as { line: number; status: number; id?: number });
    same(results.map((r) => [r.line, r.status]), [[1, 201], [2, 422], [3, 201]],
         'one result per line, in order');
    for (const [index, result] of [[0, results[0]], [2, results[2]]] as const) {
        expect(result !== undefined && result.id !== undefined, `line ${index + 1} has an id`);
        const got = ok(`the article of line ${index + 1}`, await reader.GET('/v1/articles/{id}', {
            params: { path: { id: result.id } },
        }));
        same(got.title, lines[index]?.title, `the title of line ${index + 1}`);
        same(got.category, BULK_CATEGORY, `the category of line ${index + 1}`);
        const gone = await editor.DELETE('/v1/articles/{id}', { params: { path: { id: result.id } } });
        same(gone.response.status, 204, `delete the article of line ${index + 1}`);
    }
}

async function main(): Promise<void> {
    expect(baseUrl !== '' && key !== '', 'ND_CLIENT_URL and ND_CLIENT_KEY must be set');
    const article = await step('create articles with the key (401 without)', createArticles);
    await step('a 422 names every bad field through the typed error', invalid);
    if (article === undefined) {
        return;
    }
    await step('get the article by id', () => getArticle(article, 'id'));
    await step('get the article by slug', () => getArticle(article, 'slug'));
    await step('list with a limit, following next_cursor to the end', () => listPages(article));
    await step('patch the article', () => patch(article));
    const thread = await step('post a comment and a reply', () => comment(article));
    if (thread !== undefined) {
        await step('read the comment tree', () => tree(article, ...thread));
        await step('search finds the article and the comment with <mark>', () =>
            search(article, thread[0]));
        await step('sort, fields, tags and authors shape the lists', () => shaped(article));
    }
    await step('read the JSON feed', () => feed(article));
    await step('a 404 problem document through the typed error', notFound);
    if (thread !== undefined) {
        await step('delete the article (401 without the key)', () => remove(article, thread[0]));
        await step('follow the change log with next_since; 410 past its end', () =>
            changes(article, ...thread));
    }
    await step('create articles in bulk from newline-delimited JSON (401 without the key)', bulk);
    report('every step ran', true, '');
}

await main().catch((e: unknown) => {
    report('the client crashed', false, String(e instanceof Error ? e.stack : e));
    process.exitCode = 1;
});
