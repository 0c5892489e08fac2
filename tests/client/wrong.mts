// wrong.mts: mistakes the generated newsd.d.ts must catch. It is type-checked, never run.
//
// tests/integration/test_client.py type-checks this file against the types openapi-typescript
// made from the server's /openapi.json. Each comment "rejected: TSnnnn "text" why" marks the
// statement below it (up to the line ending in ";"): tsc must report error TSnnnn there,
// its message containing the quoted text; an error anywhere else fails the test too. A document
// whose schemas said nothing (any, unknown, objects of any shape) would let these through, so
// this file is what shows that the generated types are real.

import createClient from 'openapi-fetch';
import type { components, paths } from './newsd.js';

type Schemas = components['schemas'];

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:8080' });

export async function mistakes(article: Schemas['Article'], key: string): Promise<void> {
    const auth = { Authorization: `Bearer ${key}` };

    // rejected: TS2339 "Property 'headline' does not exist" a field Article does not have
    const headline: string = article.headline;
    // rejected: TS2322 "Type 'number' is not assignable to type 'string'" comment_count is a number
    const count: string = article.comment_count;
    // rejected: TS2322 "Type 'null' is not assignable to type 'string'" source_url may be null
    const url: string = article.source_url;
    // rejected: TS2353 "'state' does not exist" a member ArticleCreate does not have
    const draft: Schemas['ArticleCreate'] = { title: 'T', body: 'B', state: 'draft' };
    // rejected: TS2322 "Type 'string' is not assignable to type 'number'" limit is a number
    await client.GET('/v1/articles', { params: { query: { limit: '5' } } });
    // rejected: TS2353 "'order' does not exist" a query parameter listArticles does not have
    await client.GET('/v1/articles', { params: { query: { order: 'oldest' } } });
    // rejected: TS2322 "Type '\"popular\"' is not assignable" sort is one of four orders
    await client.GET('/v1/articles', { params: { query: { sort: 'popular' } } });
    // rejected: TS2322 "Type '\"oldest\"' is not assignable" search sorts by relevance or newest
    await client.GET('/v1/search', { params: { query: { q: 'x', sort: 'oldest' } } });
    // rejected: TS2345 "'\"/v1/article/{id}\"' is not assignable" a path the document does not have
    await client.GET('/v1/article/{id}', { params: { path: { id: 1 } } });
    // rejected: TS2322 "Type 'boolean' is not assignable to type 'string | number'" an id or a slug
    await client.GET('/v1/articles/{id}', { params: { path: { id: true } } });
    // rejected: TS2741 "Property 'id' is missing" the path parameter id is required
    await client.GET('/v1/articles/{id}', { params: { path: {} } });
    // rejected: TS2322 "Property 'title' is missing" a new article needs a title
    await client.POST('/v1/articles', { headers: auth, body: { body: 'No title.' } });
    // rejected: TS2322 "Type '\"archived\"' is not assignable" status is published or draft
    await client.PATCH('/v1/articles/{id}', {
        params: { path: { id: 1 } }, headers: auth, body: { status: 'archived' },
    });
    // rejected: TS2322 "Type 'string' is not assignable to type 'number'" PATCH takes an id, no slug
    await client.PATCH('/v1/articles/{id}', {
        params: { path: { id: 'a-slug' } }, headers: auth, body: {},
    });
    // rejected: TS2345 "not assignable to parameter of type 'never'" the document has no PUT
    await client.PUT('/v1/articles/{id}', { params: { path: { id: 1 } }, body: {} });
    // rejected: TS2322 "Type 'string' is not assignable to type 'number'" parent_id is a number
    await client.POST('/v1/articles/{id}/comments', {
        params: { path: { id: 1 } }, body: { author: 'A', body: 'B', parent_id: '7' },
    });
    // rejected: TS2741 "Property 'q' is missing" a search needs q
    await client.GET('/v1/search', { params: { query: { type: 'articles' } } });

    const page = await client.GET('/v1/articles', {});
    if (page.data) {
        // rejected: TS18047 "'page.data.next_cursor' is possibly 'null'" null on the last page
        const more: number = page.data.next_cursor.length;
        // rejected: TS2339 "Property 'body' does not exist" list items leave out body
        const body: string = page.data.data[0]!.body;
    }
    const thread = await client.GET('/v1/articles/{id}/comments', {
        params: { path: { id: 1 }, query: { view: 'tree' } },
    });
    if (thread.data) {
        // rejected: TS2339 "Property 'replies' does not exist" flat comments have no replies
        const replies = thread.data.data[0]!.replies;
    }
    const hits = await client.GET('/v1/search', { params: { query: { q: 'x' } } });
    if (hits.data) {
        // rejected: TS2339 "Property 'title' does not exist" comment hits have no title
        const title: string = hits.data.data[0]!.title;
    }
    const missing = await client.GET('/v1/comments/{id}', { params: { path: { id: 1 } } });
    if (missing.error) {
        // rejected: TS2322 "Type 'number' is not assignable to type 'string'" a problem's status
        const status: string = missing.error.status;
        // rejected: TS18048 "'missing.data' is possibly 'undefined'" no data comes with a problem
        const id: number = missing.data.id;
    }
    // rejected: TS2322 "Type '\"draft\"' is not assignable to type '\"published\"'" feeds are public
    const feed = await client.GET('/v1/feed.json', { params: { query: { status: 'draft' } } });
    if (feed.data) {
        // rejected: TS2322 "Type 'string | undefined' is not assignable to type 'number'" items typed
        const title: number = feed.data.items[0]!.title;
        // rejected: TS2322 "version/1.1\"' is not assignable" the feed is JSON Feed 1.1
        const version: 'https://jsonfeed.org/version/1' = feed.data.version;
    }
}
