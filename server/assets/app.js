/*
 * app.js: the newsd reader. It lists the latest articles (with a category
 * filter and "More" pages that follow the API's cursors), shows an article
 * with its threaded comments and a form to add one, and searches. The
 * category menu offers every category the API lists (GET /v1/categories,
 * asked once), with its number of articles; if that request fails, it
 * offers the categories of the articles loaded so far instead.
 *
 * Routing lives in the URL's fragment so that links, reloads and the back
 * button work: "#/" (optionally "?category=...&tag=..."), "#/articles/SLUG",
 * "#/search?q=...". Each view is cloned from a <template> of index.html and
 * filled through textContent: text that came from the API never becomes
 * markup. The one exception is a search snippet, which the API sends as
 * escaped text with <mark> around the matches; appendSnippet() keeps only
 * its text and its <mark> elements.
 *
 * Everything goes through the public JSON API of the same origin; the
 * page's Content-Security-Policy allows nothing else.
 */
'use strict';

(function () {
    /* ---- small DOM helpers ------------------------------------------------ */

    function $(selector, root) {
        return (root || document).querySelector(selector);
    }

    /* A fresh copy of the first element of the <template> with this id. */
    function clone(id) {
        return document.getElementById(id).content.firstElementChild.cloneNode(true);
    }

    const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
    const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
        dateStyle: 'medium',
        timeStyle: 'short',
    });

    /* Fills a <time> element with an RFC 3339 time stamp from the API. */
    function setTime(el, stamp, withTime) {
        const date = new Date(stamp);
        el.dateTime = stamp;
        const format = withTime ? dateTimeFormat : dateFormat;
        el.textContent = isNaN(date) ? stamp : format.format(date);
    }

    function plural(n, one, many) {
        return n + ' ' + (n === 1 ? one : many);
    }

    /*
     * Appends a search snippet to target. The API escapes every character
     * of the snippet and adds only <mark> elements; parsing it in an inert
     * document (DOMParser runs no script and loads nothing) and copying
     * text and <mark> alone keeps that promise even if it were ever broken.
     */
    function appendSnippet(target, html) {
        const doc = new DOMParser().parseFromString('<!doctype html><body>' + html, 'text/html');
        for (const node of doc.body.childNodes) {
            if (node.nodeType === Node.ELEMENT_NODE && node.localName === 'mark') {
                const mark = document.createElement('mark');
                mark.textContent = node.textContent;
                target.append(mark);
            } else {
                target.append(document.createTextNode(node.textContent));
            }
        }
    }

    /* ---- the API ------------------------------------------------------------ */

    /* A failed API call: status 0 when the server could not be reached. */
    class ApiError extends Error {
        constructor(status, problem, retryAfter) {
            super((problem && problem.detail) || 'The server answered ' + status + '.');
            this.status = status;
            this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
            this.retryAfter = retryAfter;
        }
    }

    let pendingRequests = 0;

    function setBusy(delta) {
        pendingRequests += delta;
        const busy = pendingRequests > 0;
        document.body.classList.toggle('loading', busy);
        $('#main').setAttribute('aria-busy', busy ? 'true' : 'false');
    }

    /*
     * Calls the API at path (same origin) and resolves to the parsed JSON
     * body; rejects with an ApiError for a network failure or a status of
     * 400 and above, carrying the problem document's detail and errors.
     */
    async function api(path, options) {
        const init = Object.assign({ headers: { Accept: 'application/json' } }, options || {});
        let resp;
        setBusy(1);
        try {
            try {
                resp = await fetch(path, init);
            } catch (e) {
                throw new ApiError(0, {
                    detail: 'The server could not be reached. Check the connection and try again.',
                });
            }
            let doc = null;
            try {
                doc = await resp.json();
            } catch (e) {
                doc = null;
            }
            if (!resp.ok)
                throw new ApiError(resp.status, doc, resp.headers.get('Retry-After'));
            return doc;
        } finally {
            setBusy(-1);
        }
    }

    /* ---- notices ------------------------------------------------------------- */

    /* Says message to assistive technology (the status region is not shown). */
    function announce(message) {
        const status = $('#status');
        status.textContent = '';
        /* A change of text, even to the same words, is announced again. */
        window.setTimeout(function () {
            status.textContent = message;
        }, 50);
    }

    function showError(message) {
        const banner = $('#error');
        banner.textContent = message;
        banner.hidden = false;
    }

    function clearError() {
        const banner = $('#error');
        banner.textContent = '';
        banner.hidden = true;
    }

    /* ---- routes --------------------------------------------------------------- */

    const links = {
        list(category, tag) {
            const params = new URLSearchParams();
            if (category)
                params.set('category', category);
            if (tag)
                params.set('tag', tag);
            const query = params.toString();
            return '#/' + (query ? '?' + query : '');
        },
        article(slug) {
            return '#/articles/' + encodeURIComponent(slug);
        },
        search(q) {
            return '#/search?' + new URLSearchParams({ q: q }).toString();
        },
    };

    /* The route the fragment names: {name: 'list'|'article'|'search'|'missing', ...}. */
    function parseRoute() {
        const hash = location.hash.slice(1);
        if (!hash.startsWith('/'))
            return { name: 'list', category: '', tag: '' };
        const at = hash.indexOf('?');
        const path = at < 0 ? hash : hash.slice(0, at);
        const params = new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
        if (path === '/')
            return {
                name: 'list',
                category: params.get('category') || '',
                tag: params.get('tag') || '',
            };
        if (path === '/search')
            return { name: 'search', q: params.get('q') || '' };
        const match = /^\/articles\/([^/]+)$/.exec(path);
        if (match) {
            try {
                return { name: 'article', slug: decodeURIComponent(match[1]) };
            } catch (e) {
                return { name: 'missing' };
            }
        }
        return { name: 'missing' };
    }

    /* Goes to hash; shows the view again when it is the current one already. */
    function navigate(hash) {
        if (location.hash === hash)
            route();
        else
            location.hash = hash;
    }

    let routeToken = 0;     /* which navigation a pending load belongs to */
    let firstView = true;   /* the page's first view does not move focus */
    let keepFocusId = null; /* an element to focus again in the next view */
    let listCache = null;   /* the last list view, kept for the back button */
    let lastSlug = null;    /* the article opened last, focused on return */
    let apiCategories = null;      /* [{name, count}] from /v1/categories, once it answered */
    let categoriesAsked = false;   /* /v1/categories is asked once per page load */
    const knownCategories = new Set(); /* seen in articles: the menu when the API list fails */

    function isCurrent(token) {
        return token === routeToken;
    }

    /* Puts a view into <main>, keeping the list view for a later return. */
    function mount(node) {
        const main = $('#main');
        const old = main.firstElementChild;
        if (old && old.classList.contains('list-view') && listCache && listCache.node === old)
            listCache.scrollY = window.scrollY;
        main.replaceChildren(node);
    }

    /* Moves focus into a newly shown view, except on the page's first one. */
    function settle(focusTarget, scrollY) {
        let target = focusTarget;
        if (keepFocusId && document.getElementById(keepFocusId))
            target = document.getElementById(keepFocusId);
        keepFocusId = null;
        if (!firstView && target)
            target.focus({ preventScroll: true });
        firstView = false;
        window.scrollTo(0, scrollY || 0);
    }

    function route() {
        const token = ++routeToken;
        const r = parseRoute();
        clearError();
        if (r.name !== 'search')
            $('#search-input').value = '';
        if (r.name === 'list')
            showList(r, token);
        else if (r.name === 'article')
            showArticle(r, token);
        else if (r.name === 'search')
            showSearch(r, token);
        else
            showMissing('There is no page at this address.');
    }

    function showMissing(text) {
        const node = clone('tpl-missing');
        $('.missing-text', node).textContent = text;
        document.title = 'Not found · newsd';
        mount(node);
        settle($('h1', node));
    }

    /* ---- the list of articles --------------------------------------------- */

    function renderTags(list, tags) {
        if (!tags || tags.length === 0) {
            list.remove();
            return;
        }
        for (const tag of tags) {
            const item = document.createElement('li');
            const link = document.createElement('a');
            link.href = links.list('', tag);
            link.textContent = tag;
            item.append(link);
            list.append(item);
        }
    }

    function renderCategory(node, category) {
        const link = $('.category', node);
        if (!category) {
            link.remove();
            return;
        }
        link.href = links.list(category, '');
        link.textContent = category;
    }

    function renderCard(article) {
        const node = clone('tpl-card');
        node.dataset.id = article.id;
        const link = $('.title-link', node);
        link.href = links.article(article.slug);
        link.dataset.slug = article.slug;
        link.textContent = article.title;
        setTime($('time', node), article.published_at, false);
        renderCategory(node, article.category);
        setCommentCount(node, article.comment_count);
        $('.summary', node).textContent = article.summary;
        renderTags($('.tags', node), article.tags);
        return node;
    }

    function setCommentCount(card, count) {
        const label = $('.comment-count', card);
        label.hidden = !count;
        label.textContent = plural(count || 0, 'comment', 'comments');
    }

    /*
     * The menu's entries {name, label}: the API's categories in the API's
     * order, labelled with their counts ("World (12)"), or, until the API
     * has answered or when it failed, every category seen so far. The
     * current filter is always offered, even when no article is in it.
     */
    function categoryEntries(current) {
        let entries;
        if (apiCategories) {
            entries = apiCategories.map(function (c) {
                return { name: c.name, label: c.name + ' (' + c.count + ')' };
            });
        } else {
            if (current)
                knownCategories.add(current);
            entries = Array.from(knownCategories).sort(function (a, b) {
                return a.localeCompare(b);
            }).map(function (name) {
                return { name: name, label: name };
            });
        }
        if (current && !entries.some(function (e) { return e.name === current; }))
            entries.push({ name: current, label: current });
        return entries;
    }

    /* Refills the category menu, keeping current selected. */
    function fillCategories(select, current) {
        select.replaceChildren(select.options[0]);
        for (const entry of categoryEntries(current)) {
            const option = document.createElement('option');
            option.value = entry.name;
            option.textContent = entry.label;
            select.append(option);
        }
        select.value = current;
    }

    /*
     * Asks the API for every category, once; when it answers, the menu of
     * the list view (shown or kept for the back button) is filled again. A
     * failure leaves the menu to the categories of the loaded articles.
     */
    async function loadCategories() {
        if (categoriesAsked)
            return;
        categoriesAsked = true;
        let doc;
        try {
            doc = await api('/v1/categories');
        } catch (e) {
            return;
        }
        if (!doc || !Array.isArray(doc.data))
            return;
        apiCategories = doc.data.filter(function (c) {
            return c && typeof c.name === 'string' && c.name !== '' &&
                Number.isInteger(c.count);
        });
        if (listCache)
            fillCategories($('#category-select', listCache.node), listCache.category);
    }

    function listKey(r) {
        return links.list(r.category, r.tag);
    }

    function showList(r, token) {
        const key = listKey(r);
        if (listCache && listCache.key === key && Date.now() - listCache.at < 5 * 60 * 1000) {
            const cached = listCache;
            mount(cached.node);
            document.title = cached.title;
            const back = lastSlug && cached.node.querySelector(
                'a.title-link[data-slug="' + CSS.escape(lastSlug) + '"]');
            settle(back || $('h1', cached.node), cached.scrollY);
            return;
        }
        const node = clone('tpl-list');
        const state = { r: r, cursor: null, count: 0, node: node };
        const heading = $('h1', node);
        if (r.category)
            heading.textContent = 'Latest in ' + r.category;
        document.title = r.category ? r.category + ' · newsd' : 'newsd';
        if (r.tag) {
            $('.filter-tag', node).textContent = r.tag;
            $('.filter-note', node).hidden = false;
        }
        const select = $('#category-select', node);
        fillCategories(select, r.category);
        select.addEventListener('change', function () {
            keepFocusId = 'category-select';
            navigate(links.list(select.value, r.tag));
        });
        $('#filter-form', node).addEventListener('submit', function (ev) {
            ev.preventDefault();
        });
        const more = $('.more', node);
        more.addEventListener('click', function () {
            loadArticles(state, routeToken, true);
        });
        listCache = {
            key: key,
            node: node,
            at: Date.now(),
            scrollY: 0,
            title: document.title,
            category: r.category,
        };
        mount(node);
        settle(heading);
        loadArticles(state, token, false);
        loadCategories();
    }

    /* Loads the next page of state's list; fromMore moves focus to its first article. */
    async function loadArticles(state, token, fromMore) {
        const params = new URLSearchParams();
        if (state.r.category)
            params.set('category', state.r.category);
        if (state.r.tag)
            params.set('tag', state.r.tag);
        if (state.cursor)
            params.set('cursor', state.cursor);
        const more = $('.more', state.node);
        more.disabled = true;
        let page;
        try {
            const query = params.toString();
            page = await api('/v1/articles' + (query ? '?' + query : ''));
        } catch (e) {
            more.disabled = false;
            if (isCurrent(token))
                showError('The articles could not be loaded: ' + e.message);
            return;
        }
        const list = $('.article-list', state.node);
        let first = null;
        for (const article of page.data) {
            const card = renderCard(article);
            list.append(card);
            first = first || card;
            if (article.category)
                knownCategories.add(article.category);
        }
        state.count += page.data.length;
        state.cursor = page.next_cursor;
        more.disabled = false;
        more.hidden = !state.cursor;
        $('.empty', state.node).hidden = state.count > 0;
        fillCategories($('#category-select', state.node), state.r.category);
        if (!isCurrent(token))
            return;
        if (fromMore && first)
            $('.title-link', first).focus();
        announce(fromMore ? plural(page.data.length, 'more article', 'more articles') + ' shown.'
                          : plural(state.count, 'article', 'articles') + ' shown.');
    }

    /* ---- one article and its comments -------------------------------------- */

    const MAX_INDENT = 4; /* deeper replies line up with their parent */

    /* Shows the article once it is loaded: until then the old view stays. */
    async function showArticle(r, token) {
        lastSlug = r.slug;
        let article;
        try {
            article = await api('/v1/articles/' + encodeURIComponent(r.slug));
        } catch (e) {
            if (!isCurrent(token))
                return;
            if (e.status === 404)
                showMissing('There is no article at this address. It may have been removed.');
            else
                showError('The article could not be loaded: ' + e.message);
            return;
        }
        if (!isCurrent(token))
            return;
        const node = clone('tpl-article');
        renderStory(node, article);
        document.title = article.title + ' · newsd';
        const state = {
            article: article,
            node: node,
            cursor: null,
            shown: new Set(),
            total: article.comment_count,
            parent: null,
        };
        setCommentTotal(state);
        $('.more-comments', node).addEventListener('click', function () {
            loadComments(state, routeToken, true);
        });
        setUpForm(state);
        mount(node);
        settle($('h1', node));
        loadComments(state, token, false);
    }

    function renderStory(node, article) {
        $('.story-title', node).textContent = article.title;
        setTime($('time', node), article.published_at, false);
        if (article.author)
            $('.author', node).textContent = article.author;
        else
            $('.author-wrap', node).remove();
        renderCategory(node, article.category);
        renderTags($('.tags', node), article.tags);
        const body = $('.story-body', node);
        for (const text of article.body.split(/\n[ \t]*\n/)) {
            if (text.trim() === '')
                continue;
            const para = document.createElement('p');
            para.textContent = text.trim();
            body.append(para);
        }
        if (article.source_url && /^https?:\/\//i.test(article.source_url)) {
            $('.source-link', node).href = article.source_url;
            $('.source', node).hidden = false;
        }
    }

    function setCommentTotal(state) {
        $('.comment-total', state.node).textContent = '(' + state.total + ')';
        $('.no-comments', state.node).hidden = state.total > 0;
    }

    /* Loads the next page of top-level comments, each with all its replies. */
    async function loadComments(state, token, fromMore) {
        const params = new URLSearchParams({ view: 'tree' });
        if (state.cursor)
            params.set('cursor', state.cursor);
        const more = $('.more-comments', state.node);
        more.disabled = true;
        let page;
        try {
            page = await api('/v1/articles/' + state.article.id + '/comments?' + params.toString());
        } catch (e) {
            more.disabled = false;
            if (isCurrent(token))
                showError('The comments could not be loaded: ' + e.message);
            return;
        }
        const thread = $('.thread', state.node);
        let first = null;
        for (const comment of page.data) {
            if (state.shown.has(comment.id))
                continue; /* posted here before this page was loaded */
            const item = renderComment(state, comment, 0);
            thread.append(item);
            first = first || item;
        }
        state.cursor = page.next_cursor;
        more.disabled = false;
        more.hidden = !state.cursor;
        if (fromMore && first && isCurrent(token))
            $('.reply-button', first).focus();
    }

    /*
     * The <li> of a comment with its replies, to any depth. parentAuthor
     * names the comment it answers: replies deeper than MAX_INDENT are not
     * indented further, so they say whom they answer.
     */
    function renderComment(state, comment, depth, parentAuthor) {
        const node = clone('tpl-comment');
        node.dataset.id = comment.id;
        node.dataset.depth = depth;
        node.id = 'comment-' + comment.id;
        $('.comment-author', node).textContent = comment.author;
        if (depth > MAX_INDENT - 1 && parentAuthor) {
            $('.reply-to-name', node).textContent = parentAuthor;
            $('.reply-to', node).hidden = false;
        }
        setTime($('.comment-time', node), comment.created_at, true);
        $('.comment-text', node).textContent = comment.body;
        const reply = $('.reply-button', node);
        reply.setAttribute('aria-label', 'Reply to ' + comment.author);
        reply.addEventListener('click', function () {
            startReply(state, node, comment);
        });
        const replies = $('.replies', node);
        if (depth + 1 >= MAX_INDENT)
            replies.classList.add('flat');
        for (const child of comment.replies || [])
            replies.append(renderComment(state, child, depth + 1, comment.author));
        state.shown.add(comment.id);
        return node;
    }

    /* ---- the comment form ----------------------------------------------------- */

    const FIELD_LABELS = { author: 'Name', body: 'Comment' };

    function setUpForm(state) {
        const form = clone('tpl-comment-form');
        state.form = form;
        $('.form-home', state.node).append(form);
        try {
            $('#comment-author', form).value = localStorage.getItem('newsd.author') || '';
        } catch (e) {
            /* storage may be disabled: the name is then typed each time */
        }
        $('.cancel-reply', form).addEventListener('click', function () {
            const back = state.parent && $('.reply-button', state.parent.node);
            endReply(state);
            if (back)
                back.focus();
        });
        form.addEventListener('submit', function (ev) {
            ev.preventDefault();
            postComment(state);
        });
    }

    /* Moves the form below the comment being answered. */
    function startReply(state, node, comment) {
        const form = state.form;
        state.parent = {
            id: comment.id,
            node: node,
            depth: Number(node.dataset.depth),
            author: comment.author,
        };
        $('.replying-to', form).textContent = comment.author;
        $('.replying', form).hidden = false;
        $('.form-title', form).textContent = 'Reply';
        clearFormErrors(form);
        $('.form-message', form).textContent = '';
        node.insertBefore(form, $('.replies', node));
        const author = $('#comment-author', form);
        (author.value ? $('#comment-body', form) : author).focus();
    }

    /* Puts the form back below the thread, as a new top-level comment. */
    function endReply(state) {
        const form = state.form;
        state.parent = null;
        $('.replying', form).hidden = true;
        $('.form-title', form).textContent = 'Leave a comment';
        $('.form-home', state.node).append(form);
    }

    function clearFormErrors(form) {
        for (const field of ['author', 'body']) {
            $('#comment-' + field, form).removeAttribute('aria-invalid');
            $('#comment-' + field + '-error', form).textContent = '';
        }
    }

    /* Shows a 422's field errors next to their fields; returns the other messages. */
    function showFieldErrors(form, errors) {
        const other = [];
        let first = null;
        for (const err of errors) {
            const label = FIELD_LABELS[err.field];
            if (!label) {
                other.push(err.message);
                continue;
            }
            const input = $('#comment-' + err.field, form);
            input.setAttribute('aria-invalid', 'true');
            const text = label + ' ' + err.message + '.';
            $('#comment-' + err.field + '-error', form).textContent = text;
            first = first || input;
        }
        if (first)
            first.focus();
        return other;
    }

    /* Holds the submit button back for seconds after a 429. */
    function waitBeforeRetry(form, seconds) {
        const submit = $('.submit', form);
        submit.disabled = true;
        window.setTimeout(function () {
            submit.disabled = false;
        }, seconds * 1000);
    }

    async function postComment(state) {
        const form = state.form;
        const submit = $('.submit', form);
        const message = $('.form-message', form);
        if (submit.disabled)
            return;
        clearFormErrors(form);
        const payload = {
            author: $('#comment-author', form).value,
            body: $('#comment-body', form).value,
        };
        if (state.parent)
            payload.parent_id = state.parent.id;
        submit.disabled = true;
        message.textContent = 'Posting your comment…';
        let created;
        try {
            created = await api('/v1/articles/' + state.article.id + '/comments', {
                method: 'POST',
                headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
                body: JSON.stringify(payload),
            });
        } catch (e) {
            submit.disabled = false;
            commentFailed(form, e);
            return;
        }
        submit.disabled = false;
        try {
            localStorage.setItem('newsd.author', created.author);
        } catch (e) {
            /* not remembered: harmless */
        }
        $('#comment-body', form).value = '';
        commentPosted(state, created);
    }

    function commentFailed(form, err) {
        const message = $('.form-message', form);
        if (err.status === 422) {
            const other = showFieldErrors(form, err.errors);
            message.textContent = other.length
                ? 'The comment was not posted: ' + other.join('; ') + '.'
                : 'The comment was not posted: please correct the marked fields.';
        } else if (err.status === 429) {
            const seconds = Math.max(1, parseInt(err.retryAfter, 10) || 60);
            message.textContent = 'You have posted several comments in a short time. Please wait ' +
                plural(seconds, 'second', 'seconds') + ' and try again; your text is kept.';
            waitBeforeRetry(form, seconds);
        } else {
            message.textContent = 'The comment was not posted: ' + err.message;
        }
    }

    /* Shows a new comment in its place in the thread (or says it awaits moderation). */
    function commentPosted(state, created) {
        const form = state.form;
        const message = $('.form-message', form);
        const parent = state.parent;
        endReply(state);
        if (created.status === 'pending') {
            message.textContent = 'Thank you. Your comment awaits moderation and will appear ' +
                'once a moderator approves it.';
            $('#comment-body', form).focus();
            return;
        }
        const depth = parent ? parent.depth + 1 : 0;
        const node = renderComment(state, Object.assign({ replies: [] }, created), depth,
                                   parent && parent.author);
        node.classList.add('just-posted');
        const list = parent ? $('.replies', parent.node) : $('.thread', state.node);
        list.append(node);
        state.total += 1;
        setCommentTotal(state);
        updateCachedCount(state.article.id, state.total);
        message.textContent = 'Your comment is posted.';
        const box = $('.comment-box', node);
        box.tabIndex = -1;
        box.focus();
    }

    /* Keeps the comment count of the kept list view in step. */
    function updateCachedCount(articleId, total) {
        if (!listCache)
            return;
        const card = listCache.node.querySelector('li.card[data-id="' + articleId + '"]');
        if (card)
            setCommentCount(card, total);
    }

    /* ---- search ------------------------------------------------------------------ */

    function showSearch(r, token) {
        $('#search-input').value = r.q;
        const node = clone('tpl-search');
        $('.query', node).textContent = r.q;
        document.title = 'Search: ' + r.q + ' · newsd';
        const state = { q: r.q, cursor: null, count: 0, node: node };
        $('.more', node).addEventListener('click', function () {
            loadResults(state, routeToken, true);
        });
        mount(node);
        settle($('h1', node));
        loadResults(state, token, false);
    }

    function renderResult(result) {
        const node = clone('tpl-result');
        const link = $('.title-link', node);
        link.href = links.article(result.slug);
        link.dataset.slug = result.slug;
        link.textContent = result.title;
        setTime($('time', node), result.published_at, false);
        appendSnippet($('.snippet', node), result.snippet || '');
        return node;
    }

    async function loadResults(state, token, fromMore) {
        const params = new URLSearchParams({ q: state.q });
        if (state.cursor)
            params.set('cursor', state.cursor);
        const more = $('.more', state.node);
        const empty = $('.empty', state.node);
        more.disabled = true;
        let page;
        try {
            page = await api('/v1/search?' + params.toString());
        } catch (e) {
            more.disabled = false;
            if (!isCurrent(token))
                return;
            if (e.status === 400) {
                empty.textContent = 'This search cannot be run: ' + e.message;
                empty.hidden = false;
                announce(empty.textContent);
            } else {
                showError('The search failed: ' + e.message);
            }
            return;
        }
        const list = $('.result-list', state.node);
        let first = null;
        for (const result of page.data) {
            const item = renderResult(result);
            list.append(item);
            first = first || item;
        }
        state.count += page.data.length;
        state.cursor = page.next_cursor;
        more.disabled = false;
        more.hidden = !state.cursor;
        empty.hidden = state.count > 0;
        if (!isCurrent(token))
            return;
        if (fromMore && first)
            $('.title-link', first).focus();
        announce(state.count === 0 ? 'Nothing matched.'
                                   : plural(state.count, 'result', 'results') + ' shown.');
    }

    /* ---- start ------------------------------------------------------------------- */

    function start() {
        if ('scrollRestoration' in history)
            history.scrollRestoration = 'manual';
        $('#skip-link').addEventListener('click', function (ev) {
            ev.preventDefault();
            $('#main').focus();
        });
        $('#search-form').addEventListener('submit', function (ev) {
            ev.preventDefault();
            const input = $('#search-input');
            const q = input.value.trim();
            if (q === '') {
                input.focus();
                return;
            }
            navigate(links.search(q));
        });
        window.addEventListener('hashchange', route);
        route();
    }

    start();
})();
