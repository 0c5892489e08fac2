// reader.mjs: drives the newsd reader page (server/assets) in headless Chromium.
//
// Usage: node reader.mjs CONFIG.json
// CONFIG names the servers test_web.py started and what it seeded there
// (see that file). Every check prints one JSON line {"name","ok","detail"} on
// standard output; test_web.py turns each into a TAP point. Screenshots go to
// config.screenshots. playwright-core comes from $ND_NODE_TOOLS (installed by
// scripts/test); the browser is Debian's /usr/bin/chromium.

import fs from 'node:fs';
import path from 'node:path';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const tools = process.env.ND_NODE_TOOLS;
const { chromium } = await import(path.join(tools, 'playwright-core', 'index.mjs'));

// launch() gives every run a fresh temporary profile (--user-data-dir) of its own.
const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function report(name, ok, detail) {
    process.stdout.write(JSON.stringify({ name, ok, detail: detail || '' }) + '\n');
}

class CheckFailed extends Error {}

function expect(cond, message) {
    if (!cond)
        throw new CheckFailed(message);
}

// Runs fn as one check; a thrown error fails it with its message.
async function check(name, fn) {
    try {
        await fn();
        report(name, true);
        return true;
    } catch (e) {
        report(name, false, e instanceof CheckFailed ? e.message : String(e.stack || e));
        return false;
    }
}

// What a page did that it must not: console errors, uncaught exceptions,
// CSP violations, requests to other origins. Failed API answers that a step
// provokes on purpose (422, 429, 400) are allowed while `expected` lists them.
const trouble = [];
const expected = new Set();

async function watch(context, origin) {
    await context.exposeBinding('__ndReportViolation', (source, text) => {
        trouble.push('CSP violation: ' + text);
    });
    await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__ndReportViolation(e.violatedDirective + ' blocked ' + e.blockedURI +
                ' at ' + e.sourceFile + ':' + e.lineNumber);
        });
    });
    context.on('page', (page) => attach(page, origin));
}

function attach(page, origin) {
    page.on('console', (msg) => {
        if (msg.type() !== 'error' && msg.type() !== 'warning')
            return;
        const text = msg.text();
        const status = /status of (\d{3})/.exec(text);
        if (status && expected.has(Number(status[1])))
            return;
        trouble.push(`console ${msg.type()}: ${text}`);
    });
    page.on('pageerror', (err) => trouble.push('uncaught exception: ' + err.message));
    // The page, its own files and the public API: nothing else.
    page.on('request', (req) => {
        const url = req.url();
        if (!url.startsWith(origin + '/'))
            trouble.push('request to another origin: ' + url);
        else if (!/^\/(assets\/|v1\/|$|#)/.test(url.slice(origin.length)))
            trouble.push('request outside the page and the public API: ' + url);
    });
}

// Saves a screenshot: the whole page, or with fullPage false what the screen shows.
async function shot(page, name, fullPage = true) {
    await page.screenshot({ path: path.join(config.screenshots, name), fullPage });
}

async function texts(page, selector) {
    return page.locator(selector).allTextContents();
}

async function pwned(page) {
    return page.evaluate(() => [window.__pwned, document.querySelectorAll('img').length]);
}

function same(got, want) {
    return JSON.stringify(got) === JSON.stringify(want);
}

// Waits until fn() (evaluated in the page) is true; false after the timeout.
async function until(page, fn, arg) {
    try {
        await page.waitForFunction(fn, arg, { timeout: config.timeout_ms });
        return true;
    } catch (e) {
        return false;
    }
}

async function scrollWidth(page) {
    return page.evaluate(() => document.scrollingElement.scrollWidth);
}

// ---- the desktop reader ----------------------------------------------------

async function listChecks(page) {
    const url = config.url;
    await check('list: the page shows the newest articles in order', async () => {
        const resp = await page.goto(url + '/');
        expect(resp.status() === 200, 'GET / answered ' + resp.status());
        const csp = resp.headers()['content-security-policy'] || '';
        expect(csp.includes("script-src 'self'") && !csp.includes('unsafe'), 'page CSP: ' + csp);
        await page.locator('.article-list > li').nth(config.first_page.length - 1).waitFor();
        const titles = await texts(page, '.article-list .title-link');
        expect(same(titles, config.first_page),
            'titles ' + JSON.stringify(titles) + ' want ' + JSON.stringify(config.first_page));
        expect(await page.locator('.more').isVisible(), '"More articles" is not shown');
        const hostile = await page.locator('.title-link', { hasText: '<img src=x' }).count();
        expect(hostile === 1, 'the article title with markup is not shown as text');
        await shot(page, 'desktop-list.png');
    });

    await check('list: "More" loads the next page through the cursor', async () => {
        await page.locator('.more').click();
        const all = config.all_titles.length;
        expect(await until(page,
            (n) => document.querySelectorAll('.article-list > li').length >= n, all),
        'the list did not grow to ' + all);
        const titles = await texts(page, '.article-list .title-link');
        expect(same(titles, config.all_titles), 'titles after More: ' + JSON.stringify(titles));
        expect(await page.locator('.more').isHidden(), '"More" still shown after the last page');
    });

    await check('list: the category menu lists every category with its count, from the API',
        async () => {
            // A fresh page holds only the first page of articles, and none of them is in
            // config.archive: only GET /v1/categories can put that category in the menu.
            await page.goto(url + '/');
            await page.locator('.article-list > li').nth(config.first_page.length - 1).waitFor();
            const shown = await texts(page, '.article-list .category');
            expect(!shown.includes(config.archive),
                `an article of ${config.archive} is on the first page: ${JSON.stringify(shown)}`);
            const want = ['All categories', ...config.category_menu];
            const filled = await until(page, (w) => JSON.stringify(Array.from(
                document.querySelectorAll('#category-select option'),
                (o) => o.textContent)) === w, JSON.stringify(want));
            const options = await texts(page, '#category-select option');
            expect(filled, 'menu ' + JSON.stringify(options) + ' want ' + JSON.stringify(want));
            const select = page.locator('#category-select');
            await select.selectOption(config.archive);
            expect(await until(page, (n) => location.hash.includes('category=') &&
                document.querySelectorAll('.article-list > li').length === n &&
                !document.body.classList.contains('loading'), config.archive_titles.length),
            'the list of the category did not appear');
            const titles = await texts(page, '.article-list .title-link');
            expect(same(titles, config.archive_titles), 'archive: ' + JSON.stringify(titles));
            const heading = await page.locator('#list-heading').textContent();
            expect(heading === 'Latest in ' + config.archive, 'heading ' + heading);
            expect(await select.inputValue() === config.archive, 'the menu lost its choice');
            await select.selectOption('');
            expect(await until(page, () => !location.hash.includes('category=')),
                'filter not cleared');
        });

    await check('list: the category filter narrows the list', async () => {
        const select = page.locator('#category-select');
        const values = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
        for (const name of config.categories)
            expect(values.includes(name), `no category ${name} in ${JSON.stringify(values)}`);
        await select.selectOption(config.category);
        expect(await until(page, (n) => location.hash.includes('category=') &&
            document.querySelectorAll('.article-list > li').length === n &&
            !document.body.classList.contains('loading'), config.category_titles.length),
        'the filtered list did not appear');
        const titles = await texts(page, '.article-list .title-link');
        expect(same(titles, config.category_titles), 'filtered: ' + JSON.stringify(titles));
        const focused = await page.evaluate(() => document.activeElement.id);
        expect(focused === 'category-select', 'focus left the category menu: ' + focused);
        await select.selectOption('');
        expect(await until(page, () => !location.hash.includes('category=')), 'filter not cleared');
    });

    await check('list: a tag link lists the articles with that tag', async () => {
        await page.locator('.article-list .tags a', { hasText: config.tag }).first().click();
        expect(await until(page, (n) => location.hash.includes('tag=') &&
            !document.body.classList.contains('loading') &&
            document.querySelectorAll('.article-list > li').length === n, config.tag_titles.length),
        'the tagged list did not appear');
        const titles = await texts(page, '.article-list .title-link');
        expect(same(titles, config.tag_titles), 'tagged: ' + JSON.stringify(titles));
        expect(await page.locator('.filter-tag').textContent() === config.tag, 'no tag note');
    });
}

// GET /v1/categories failing (503 here): the menu falls back to the categories of the
// articles loaded so far, without counts, and the page shows no error for it.
async function categoryFallbackCheck(page) {
    await check('list: without /v1/categories the menu offers the loaded articles\' categories',
        async () => {
            const problem = { type: 'about:blank', title: 'Service Unavailable', status: 503,
                detail: 'the database is unavailable', request_id: 'reader-test' };
            expected.add(503);
            await page.route('**/v1/categories', (route) => route.fulfill({ status: 503,
                contentType: 'application/problem+json', body: JSON.stringify(problem) }));
            try {
                await page.goto(config.url + '/');
                await page.locator('.article-list > li').nth(config.first_page.length - 1)
                    .waitFor();
                expect(await until(page, () => !document.body.classList.contains('loading')),
                    'the page kept loading');
                const options = await texts(page, '#category-select option');
                const want = ['All categories', ...config.fallback_menu];
                expect(same(options, want),
                    'menu ' + JSON.stringify(options) + ' want ' + JSON.stringify(want));
                expect(await page.locator('#error').isHidden(), 'an error is shown');
            } finally {
                await page.unroute('**/v1/categories');
                expected.delete(503);
            }
        });
}

// ---- the filter bar: tags, authors, order ---------------------------------------

// Waits until the list shows exactly titles (in order) and nothing is loading.
async function listShows(page, titles) {
    return until(page, (want) => !document.body.classList.contains('loading') &&
        JSON.stringify(Array.from(document.querySelectorAll('.article-list .title-link'),
            (a) => a.textContent)) === want, JSON.stringify(titles));
}

async function shownTitles(page) {
    return JSON.stringify(await texts(page, '.article-list .title-link'));
}

// [[name, count]] of the tag links in the list selector names.
async function tagPairs(page, selector) {
    return page.locator(selector + ' .tag-link').evaluateAll((links) => links.map((a) =>
        [a.querySelector('.tag-name').textContent, Number(a.querySelector('.tag-count')
            .textContent)]));
}

async function filterChecks(page) {
    const f = config.filters;
    await check('filters: the tag list shows the most used tags with exact counts, "All tags"' +
        ' every tag', async () => {
        await page.goto(config.url + '/');
        expect(await until(page, (n) => document.querySelectorAll('.tag-top .tag-count')
            .length === n, f.top_tags.length), 'the tag list did not fill with counts');
        const top = await tagPairs(page, '.tag-top');
        expect(same(top, f.top_tags), 'top tags ' + JSON.stringify(top) + ' want ' +
            JSON.stringify(f.top_tags));
        const summary = page.locator('.all-tags summary');
        expect(await page.locator('.tag-index').isHidden(), 'all tags shown before asked for');
        expect(await summary.textContent() === `All ${f.all_tags.length} tags`,
            'summary ' + await summary.textContent());
        await summary.focus();
        await page.keyboard.press('Enter');
        await page.locator('.tag-index').waitFor();
        const all = await tagPairs(page, '.tag-index');
        expect(same(all, f.all_tags), 'all tags ' + JSON.stringify(all) + ' want ' +
            JSON.stringify(f.all_tags));
        await shot(page, 'desktop-tags.png', false);
    });

    await check('filters: the author menu lists every author with the number of articles',
        async () => {
            const want = JSON.stringify(f.author_menu);
            const filled = await until(page, (w) => JSON.stringify(Array.from(
                document.querySelectorAll('#author-select option'), (o) => o.textContent)) === w,
            want);
            expect(filled, 'menu ' + JSON.stringify(await texts(page, '#author-select option')) +
                ' want ' + want);
        });

    await check('filters: a tag, an author and a category combine, kept in the address',
        async () => {
            await page.locator('.tag-top .tag-link', { has: page.locator('.tag-name',
                { hasText: new RegExp('^' + f.tag + '$') }) }).click();
            expect(await listShows(page, f.titles.tag), 'tag: ' + await shownTitles(page));
            await page.selectOption('#author-select', f.author);
            expect(await listShows(page, f.titles.tag_author),
                'tag and author: ' + await shownTitles(page));
            const focused = await page.evaluate(() => document.activeElement.id);
            expect(focused === 'author-select', 'focus left the author menu: ' + focused);
            await page.selectOption('#category-select', f.category);
            expect(await listShows(page, f.titles.all_three),
                'tag, author and category: ' + await shownTitles(page));
            const params = new URLSearchParams(await page.evaluate(() =>
                location.hash.slice(location.hash.indexOf('?') + 1)));
            expect(params.get('tag') === f.tag && params.get('author') === f.author &&
                params.get('category') === f.category, 'hash ' + params);
            expect(await page.locator('.filter-tag').textContent() === f.tag, 'no tag note');
            expect(await page.locator('.filter-author').textContent() === f.author,
                'no author note');
            const current = await texts(page, '.tag-top [aria-current="true"] .tag-name');
            expect(same(current, [f.tag]), 'tag marked as chosen: ' + JSON.stringify(current));
            await page.goBack();
            expect(await listShows(page, f.titles.tag_author),
                'back to tag and author: ' + await shownTitles(page));
            expect(await page.inputValue('#category-select') === '', 'category menu after back');
            expect(await page.inputValue('#author-select') === f.author, 'author menu after back');
        });

    await check('filters: the order joins the filters and the route survives a reload',
        async () => {
            await page.selectOption('#sort-select', 'oldest');
            expect(await listShows(page, f.titles.tag_author_oldest),
                'oldest: ' + await shownTitles(page));
            await page.reload();
            expect(await listShows(page, f.titles.tag_author_oldest),
                'after reload: ' + await shownTitles(page));
            const values = [await page.inputValue('#author-select'),
                await page.inputValue('#sort-select'),
                await page.locator('.filter-tag').textContent()];
            expect(same(values, [f.author, 'oldest', f.tag]), 'after reload ' +
                JSON.stringify(values));
            const heading = await page.locator('#list-heading').textContent();
            expect(heading === 'Oldest articles', 'heading ' + heading);
            await shot(page, 'desktop-filtered.png');
        });

    await check('filters: removing the tag keeps the author and the order', async () => {
        await page.locator('.active-filters li', { has: page.locator('.filter-tag') })
            .locator('.remove-filter').click();
        expect(await listShows(page, f.titles.author_oldest),
            'author, oldest: ' + await shownTitles(page));
        const hash = await page.evaluate(() => location.hash);
        expect(!hash.includes('tag=') && hash.includes('sort=oldest'), 'hash ' + hash);
    });

    await check('sort: oldest first, and "More" goes on in that order without repeats',
        async () => {
            await page.goto(config.url + '/#/?sort=oldest');
            expect(await listShows(page, f.oldest_first_page),
                'first page: ' + await shownTitles(page));
            await page.locator('.more').click();
            expect(await listShows(page, f.oldest), 'after More: ' + await shownTitles(page));
            const shown = await texts(page, '.article-list .title-link');
            expect(new Set(shown).size === shown.length, 'an article is shown twice');
            expect(await page.locator('.more').isHidden(), '"More" still shown after the last');
        });

    await check('sort: "Most commented" puts the two articles with comments first', async () => {
        await page.selectOption('#sort-select', 'commented');
        expect(await until(page, (want) => location.hash.includes('sort=commented') &&
            !document.body.classList.contains('loading') &&
            JSON.stringify(Array.from(document.querySelectorAll('.article-list .title-link'),
                (a) => a.textContent).slice(0, 2)) === want, JSON.stringify(f.most_commented)),
        'shown: ' + await shownTitles(page));
        const heading = await page.locator('#list-heading').textContent();
        expect(heading === 'Most commented articles', 'heading ' + heading);
    });
}

async function backChecks(page) {
    await check('list: back from an article keeps the loaded pages, place and focus', async () => {
        await page.goto(config.url + '/');
        await page.locator('.more').click();
        const all = config.all_titles.length;
        await page.locator('.article-list > li').nth(all - 1).waitFor();
        const last = page.locator('.article-list .title-link').last();
        const title = await last.textContent();
        await last.click();
        expect(await until(page, (t) => {
            const h = document.querySelector('.story-title');
            return h && h.textContent === t;
        }, title), 'the article did not open');
        await page.goBack();
        expect(await until(page,
            (n) => document.querySelectorAll('.article-list > li').length === n, all),
        'the list came back without its second page');
        const [y, focused] = await page.evaluate(() =>
            [window.scrollY, document.activeElement.textContent]);
        expect(y > 300, 'scroll position not kept: ' + y);
        expect(focused === title, 'focus is on ' + JSON.stringify(focused));
    });
}

async function keyboardChecks(page) {
    await check('keyboard: Tab reaches the search box, Enter searches and opens an article',
        async () => {
        await page.goto(config.url + '/');
        await page.locator('.article-list > li').first().waitFor();
        await page.keyboard.press('Tab');
        let active = await page.evaluate(() => document.activeElement.textContent);
        expect(active === 'Skip to content', 'first Tab stop is ' + JSON.stringify(active));
        let found = false;
        for (let i = 0; i < 5 && !found; i++) {
            await page.keyboard.press('Tab');
            found = await page.evaluate(() => document.activeElement.id === 'search-input');
        }
        expect(found, 'the search box is not among the first Tab stops');
        await page.keyboard.type(config.search);
        await page.keyboard.press('Enter');
        await page.locator('.result-list > li').first().waitFor();
        let link = null;
        for (let i = 0; i < 10 && !link; i++) {
            await page.keyboard.press('Tab');
            link = await page.evaluate(() => {
                const el = document.activeElement;
                return el.matches('.result-list a.title-link') ? el.textContent : null;
            });
        }
        expect(link, 'Tab never reached a result link');
        await page.keyboard.press('Enter');
        expect(await until(page, (t) => {
            const h = document.querySelector('.story-title');
            return h && h.textContent === t;
        }, link), 'Enter on a result link did not open ' + link);
        expect(await page.evaluate(() => location.hash.startsWith('#/articles/')),
            'hash not an article');
        });

    await check('keyboard: the back button returns to the results, then the list', async () => {
        await page.goBack();
        expect(await until(page, () => location.hash.startsWith('#/search') &&
            document.querySelectorAll('.result-list > li').length > 0),
        'back did not show results');
        await page.goBack();
        expect(await until(page, () => document.querySelectorAll('.article-list > li').length > 0),
            'back did not show the list');
    });
}

async function openThread(page) {
    await page.goto(config.url + '/#/articles/' + config.thread.slug);
    await page.locator('.story-title').waitFor();
    await page.locator(`#comment-${config.thread.comments.top}`).waitFor();
}

async function articleChecks(page) {
    const t = config.thread;
    await check('article: title, paragraphs and threaded comments', async () => {
        await openThread(page);
        expect(await page.locator('.story-title').textContent() === t.title, 'wrong title');
        const paras = await texts(page, '.story-body p');
        expect(same(paras, t.paragraphs), 'paragraphs ' + JSON.stringify(paras));
        for (const [child, parent] of t.nesting) {
            const nested = await page.locator(
                `#comment-${parent} > ol.replies > #comment-${child}`).count();
            expect(nested === 1, `comment ${child} is not shown as a reply to ${parent}`);
        }
        for (const id of t.top_level) {
            const top = await page.locator(`.thread > #comment-${id}`).count();
            expect(top === 1, `comment ${id} is not top-level`);
        }
        await shot(page, 'desktop-article.png');
    });

    await check('article: hostile comments are shown as text and run nothing', async () => {
        for (const [id, body] of t.hostile) {
            const text = await page.locator(`#comment-${id} > .comment-box .comment-text`)
                .textContent();
            expect(text === body, `comment ${id} shows ${JSON.stringify(text)}`);
        }
        const [flag, images] = await pwned(page);
        expect(flag === undefined, 'window.__pwned = ' + flag);
        expect(images === 0, images + ' <img> elements in the page');
        expect(await page.locator('.comments script').count() === 0, 'a <script> in the comments');
    });

    await check('comment form: a 422 names the bad fields', async () => {
        expected.add(422);
        await page.fill('#comment-author', '');
        await page.fill('#comment-body', '   ');
        await page.click('.comment-form .submit');
        await page.locator('#comment-body-error:not(:empty)').waitFor();
        const errors = await texts(page, '.field-error');
        expect(errors.some((e) => e.startsWith('Name')) &&
            errors.some((e) => e.startsWith('Comment')), 'field errors: ' + JSON.stringify(errors));
        const invalid = await page.locator('[aria-invalid="true"]').count();
        expect(invalid === 2, invalid + ' fields marked invalid');
        await page.locator('.comment-form').screenshot({
            path: path.join(config.screenshots, 'form-errors.png') });
        expected.delete(422);
    });

    await check('comment form: a posted comment appears in the thread', async () => {
        await page.fill('#comment-author', config.post.author);
        await page.fill('#comment-body', config.post.top);
        await page.click('.comment-form .submit');
        const item = page.locator('.thread > li.just-posted .comment-text',
            { hasText: config.post.top });
        await item.waitFor();
        const msg = await page.locator('.form-message').textContent();
        expect(msg.includes('posted'), 'form message: ' + msg);
        expect(await page.locator('[aria-invalid="true"]').count() === 0, 'errors still shown');
    });

    await check('comment form: a reply appears under its parent', async () => {
        const parent = t.reply_to;
        await page.locator(`#comment-${parent} > .comment-box .reply-button`).click();
        const form = page.locator(`#comment-${parent} > .comment-form`);
        await form.waitFor();
        const focused = await page.evaluate(() => document.activeElement.id);
        expect(focused === 'comment-body', 'focus after Reply: ' + focused);
        await page.keyboard.type(config.post.reply);
        await page.click('.comment-form .submit');
        await page.locator(`#comment-${parent} > ol.replies > li .comment-text`,
            { hasText: config.post.reply }).waitFor();
        expect(await page.locator('.form-home > .comment-form').count() === 1,
            'form not back home');
    });

    await check('comment form: a hostile comment posted in the page stays text', async () => {
        await page.fill('#comment-body', config.post.hostile);
        await page.click('.comment-form .submit');
        const item = page.locator('.thread > li.just-posted .comment-text', { hasText: 'onerror' });
        await item.waitFor();
        expect(await item.textContent() === config.post.hostile, 'not shown literally');
        await page.waitForTimeout(300); // an onerror would have fired by now
        const [flag, images] = await pwned(page);
        expect(flag === undefined && images === 0, `__pwned ${flag}, ${images} images`);
        await shot(page, 'desktop-comments-posted.png');
    });

    await check('comment form: comments survive a reload (stored through the API)', async () => {
        await page.reload();
        for (const body of [config.post.top, config.post.reply, config.post.hostile])
            await page.locator('.comment-text', { hasText: body }).first().waitFor();
        const [flag] = await pwned(page);
        expect(flag === undefined, 'window.__pwned = ' + flag);
    });
}

async function searchChecks(page) {
    await check('search: ranked results with <mark>ed snippets', async () => {
        await page.goto(config.url + '/');
        await page.fill('#search-input', config.search);
        await page.press('#search-input', 'Enter');
        await page.locator('.result-list > li').first().waitFor();
        const titles = await texts(page, '.result-list .title-link');
        expect(same(titles, config.search_titles), 'results ' + JSON.stringify(titles));
        const marks = await texts(page, '.snippet mark');
        expect(marks.length > 0, 'no <mark> in the snippets');
        const stem = config.search.toLowerCase().slice(0, 5);
        expect(marks.every((m) => m.toLowerCase().startsWith(stem)),
            'marked words: ' + JSON.stringify(marks));
        const hash = await page.evaluate(() => location.hash);
        expect(hash === '#/search?q=' + encodeURIComponent(config.search), 'hash ' + hash);
        await shot(page, 'desktop-search.png');
    });

    await check('search: escaped markup in a snippet is shown as text', async () => {
        await page.fill('#search-input', config.hostile_search.q);
        await page.press('#search-input', 'Enter');
        /* the results of the previous search stay until the new ones arrive:
           wait for the view of this query, not for any snippet */
        await page.waitForFunction((q) => location.hash === '#/search?q=' + encodeURIComponent(q),
            config.hostile_search.q);
        const snippet = page.locator('.result-list .snippet',
            { hasText: config.hostile_search.shows }).first();
        await snippet.waitFor();
        const text = await snippet.textContent();
        expect(text.includes(config.hostile_search.shows), 'snippet text: ' + JSON.stringify(text));
        const tags = await snippet.evaluate((el) =>
            Array.from(el.querySelectorAll('*'), (e) => e.localName));
        expect(tags.length > 0 && tags.every((n) => n === 'mark'), 'snippet elements: ' + tags);
        const [flag, images] = await pwned(page);
        expect(flag === undefined && images === 0, `__pwned ${flag}, ${images} images`);
    });

    await check('search: a query the API refuses is explained', async () => {
        expected.add(400);
        await page.fill('#search-input', '-only');
        await page.press('#search-input', 'Enter');
        const empty = page.locator('.search-view .empty');
        await empty.waitFor();
        const text = await empty.textContent();
        expect(text.startsWith('This search cannot be run'), 'shown: ' + text);
        expected.delete(400);
    });
}

// ---- live updates -----------------------------------------------------------

// A call to the API from outside the page (another writer), with the key when asked.
async function apiCall(method, pathname, body, withKey) {
    const headers = { Accept: 'application/json' };
    if (body)
        headers['Content-Type'] = 'application/json';
    if (withKey)
        headers.Authorization = 'Bearer ' + config.key;
    const resp = await fetch(config.url + pathname,
        { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await resp.text();
    return { status: resp.status, json: text ? JSON.parse(text) : null };
}

async function liveChecks(page) {
    const live = config.live;
    let article = null;
    await check('live: an article published through the API appears first in the open list, ' +
                'without a reload', async () => {
        await page.goto(config.url + '/');
        await page.locator('.article-list > li').first().waitFor();
        expect(await until(page, () => document.body.dataset.live === 'open'),
            'the event stream did not open');
        await page.evaluate(() => { window.__ndNotReloaded = true; });
        const resp = await apiCall('POST', '/v1/articles',
            { title: live.title, body: 'The lights are on.\n\nAll night.', category: 'World' }, true);
        expect(resp.status === 201, 'POST /v1/articles answered ' + resp.status);
        article = resp.json;
        expect(await until(page, (t) => {
            const first = document.querySelector('.article-list .title-link');
            return first !== null && first.textContent === t;
        }, live.title), 'the new article is not first in the list: ' +
            JSON.stringify((await texts(page, '.article-list .title-link')).slice(0, 3)));
        expect(await page.evaluate(() => window.__ndNotReloaded === true), 'the page reloaded');
        await shot(page, 'desktop-live-list.png', false);
    });
    await check('live: a comment posted through the API appears in the open article', async () => {
        expect(article !== null, 'no live article to open');
        await page.locator('.article-list .title-link').first().click();
        await page.locator('.story-title', { hasText: live.title }).waitFor();
        await page.evaluate(() => { window.__ndNotReloaded = true; });
        const resp = await apiCall('POST', `/v1/articles/${article.id}/comments`, live.comment,
            false);
        expect(resp.status === 201, 'POST comment answered ' + resp.status);
        const text = page.locator(`.thread > #comment-${resp.json.id} .comment-text`);
        await text.waitFor();
        expect(await text.textContent() === live.comment.body, 'the comment text differs');
        expect(await page.locator('.comment-total').textContent() === '(1)',
            'comment total ' + await page.locator('.comment-total').textContent());
        expect(await page.evaluate(() => window.__ndNotReloaded === true), 'the page reloaded');
        await shot(page, 'desktop-live-comment.png');
    });
    await check('live: an article deleted through the API leaves the open list', async () => {
        expect(article !== null, 'no live article to delete');
        await page.goBack();
        await page.locator('.article-list .title-link', { hasText: live.title }).waitFor();
        const resp = await apiCall('DELETE', `/v1/articles/${article.id}`, null, true);
        expect(resp.status === 204, 'DELETE answered ' + resp.status);
        expect(await until(page, (t) => !Array.from(
            document.querySelectorAll('.article-list .title-link')).some((a) => a.textContent === t),
            live.title), 'the deleted article is still listed');
        const titles = await texts(page, '.article-list .title-link');
        expect(same(titles.slice(0, config.first_page.length), config.first_page),
            'the list after the delete: ' + JSON.stringify(titles));
    });
}

// ---- moderation and rate limit (a second server) -------------------------------

async function limitedChecks(page) {
    const l = config.limited;
    await check('comment form: pending moderation and 429 Retry-After are explained', async () => {
        expected.add(429);
        await page.goto(l.url + '/#/articles/' + l.slug);
        await page.locator('.comment-form').waitFor();
        await page.fill('#comment-author', 'Patient reader');
        for (let i = 0; i < l.burst; i++) {
            await page.fill('#comment-body', `Pending comment ${i + 1}`);
            await page.click('.comment-form .submit');
            expect(await until(page, () =>
                document.querySelector('.form-message').textContent.includes('awaits moderation')),
            'no moderation message after comment ' + (i + 1));
            await page.evaluate(() => {
                document.querySelector('.form-message').textContent = '';
            });
        }
        expect(await page.locator('.thread > li').count() === 0, 'a pending comment is shown');
        await page.fill('#comment-body', 'One too many');
        await page.click('.comment-form .submit');
        expect(await until(page, () => /wait \d+ seconds?/.test(
            document.querySelector('.form-message').textContent)), 'no Retry-After message');
        expect(await page.locator('.comment-form .submit').isDisabled(), 'submit not held back');
        expect(await page.inputValue('#comment-body') === 'One too many', 'the text was lost');
        await page.locator('.comment-form').screenshot({
            path: path.join(config.screenshots, 'form-rate-limited.png') });
        expected.delete(429);
    });
}

// ---- phone -------------------------------------------------------------------

async function phoneChecks(browser, origin) {
    const context = await browser.newContext({
        viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    });
    await watch(context, origin);
    const page = await context.newPage();
    page.setDefaultTimeout(config.timeout_ms);
    const views = [
        ['list', '/', '.article-list > li', 'phone-list.png'],
        ['article', '/#/articles/' + config.thread.slug, `#comment-${config.thread.deepest}`,
            'phone-article.png'],
        ['search', '/#/search?q=' + encodeURIComponent(config.search), '.result-list > li',
            'phone-search.png'],
        ['filtered list', '/#/?' + new URLSearchParams({ tag: config.filters.tag,
            author: config.filters.author, sort: 'oldest' }), '.tag-top .tag-count',
        'phone-filtered.png'],
    ];
    for (const [name, target, ready, file] of views) {
        await check(`phone 360x740: ${name} has no horizontal overflow`, async () => {
            await page.goto(config.url + target);
            await page.locator(ready).first().waitFor();
            const width = await scrollWidth(page);
            expect(width <= 360, 'scrollWidth ' + width);
            await shot(page, file, false);
        });
    }
    await check('phone 360x740: the deepest reply and the form fit the screen', async () => {
        await page.goto(config.url + '/#/articles/' + config.thread.slug);
        const deepest = page.locator(`#comment-${config.thread.deepest} > .comment-box`);
        await deepest.scrollIntoViewIfNeeded();
        const box = await deepest.boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= 360 && box.width >= 200,
            'deepest reply box ' + JSON.stringify(box));
        await shot(page, 'phone-comments.png', false);
        const form = await page.locator('.comment-form').boundingBox();
        expect(form && form.x >= 0 && form.x + form.width <= 360, 'form ' + JSON.stringify(form));
        expect(await scrollWidth(page) <= 360, 'horizontal overflow');
    });
    await context.close();
}

async function darkScreenshot(browser, origin) {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 },
        colorScheme: 'dark' });
    await watch(context, origin);
    const page = await context.newPage();
    await check('dark colour scheme: the page changes its colours', async () => {
        await page.goto(config.url + '/#/articles/' + config.thread.slug);
        await page.locator(`#comment-${config.thread.comments.top}`).waitFor();
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(bg);
        expect(m && Number(m[1]) + Number(m[2]) + Number(m[3]) < 150, 'dark background is ' + bg);
        await shot(page, 'desktop-article-dark.png');
    });
    await check('dark colour scheme: the filter bar and a chosen tag', async () => {
        await page.goto(config.url + '/#/?' + new URLSearchParams({ tag: config.filters.tag }));
        await page.locator('.tag-top [aria-current="true"] .tag-count').waitFor();
        expect(await listShows(page, config.filters.titles.tag), 'tag list in the dark');
        await shot(page, 'desktop-list-dark.png', false);
    });
    await context.close();
}

async function main() {
    fs.mkdirSync(config.screenshots, { recursive: true });
    const browser = await chromium.launch({
        executablePath: config.chromium,
        headless: true,
        args: CHROMIUM_ARGS,
    });
    try {
        const origin = config.url;
        const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
        await watch(context, origin);
        const page = await context.newPage();
        page.setDefaultTimeout(config.timeout_ms);
        await listChecks(page);
        await categoryFallbackCheck(page);
        await filterChecks(page);
        await backChecks(page);
        await keyboardChecks(page);
        await articleChecks(page);
        await searchChecks(page);
        await liveChecks(page);
        await context.close();

        const limitedContext = await browser.newContext({ viewport: { width: 1024, height: 900 } });
        await watch(limitedContext, config.limited.url);
        const limitedPage = await limitedContext.newPage();
        limitedPage.setDefaultTimeout(config.timeout_ms);
        await limitedChecks(limitedPage);
        await limitedContext.close();

        await phoneChecks(browser, origin);
        await darkScreenshot(browser, origin);
    } finally {
        await browser.close();
    }
    report('no console errors, uncaught exceptions, CSP violations or foreign requests',
        trouble.length === 0, trouble.slice(0, 20).join('\n'));
}

main().catch((e) => {
    report('the browser run finished', false, String(e.stack || e));
    process.exitCode = 1;
});
