/*
 * list.js: the articles, newest first or in the order chosen, narrowed by
 * the filters of the route, with "More articles" following the API's
 * cursors of that order. The filter bar (the category and author menus,
 * the order and the tag list) and what the filters mean for the API are
 * filters.js's.
 *
 * The last list shown is kept for five minutes, so that going back to it
 * finds the pages already loaded, the scroll position and the focus on the
 * article just read. The article view tells it which one that was and
 * keeps its comment counts in step.
 */
import { api } from './api.js';
import { isFiltered, listHeading, listQuery, listTitle, noteArticles, readFilters,
         renderAuthor, renderCategory, renderTags, setUpFilters } from './filters.js';
import { links, currentToken, isCurrent, mount, settle, whenLeft } from './router.js';
import { $, announce, clone, plural, setTime, showError } from './ui.js';

let listCache = null;   /* the last list view, kept for the back button */
let lastSlug = null;    /* the article opened last, focused on return */

/* Notes the article being opened, to focus its link when the list is shown again. */
export function noteArticleOpened(slug) {
    lastSlug = slug;
}

function renderCard(article) {
    const node = clone('tpl-card');
    node.dataset.id = article.id;
    const link = $('.title-link', node);
    link.href = links.article(article.slug);
    link.dataset.slug = article.slug;
    link.textContent = article.title;
    setTime($('time', node), article.published_at, false);
    renderAuthor(node, article.author);
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

/* Shows the list the route r names: the kept one when it is recent, else a new one. */
export function showList(r, token) {
    const filters = readFilters(r);
    const key = links.list(filters);
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
    const state = { filters: filters, cursor: null, count: 0, node: node };
    const heading = $('h1', node);
    heading.textContent = listHeading(filters);
    document.title = listTitle(filters);
    if (isFiltered(filters))
        $('.empty', node).textContent = 'No articles match these filters.';
    setUpFilters(node, filters);
    const more = $('.more', node);
    more.addEventListener('click', function () {
        loadArticles(state, currentToken(), true);
    });
    listCache = {
        key: key,
        node: node,
        at: Date.now(),
        scrollY: 0,
        title: document.title,
    };
    whenLeft(node, function () {
        if (listCache && listCache.node === node)
            listCache.scrollY = window.scrollY;
    });
    mount(node);
    settle(heading);
    loadArticles(state, token, false);
}

/* Loads the next page of state's list; fromMore moves focus to its first article. */
async function loadArticles(state, token, fromMore) {
    const params = listQuery(state.filters);
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
    }
    noteArticles(page.data);
    state.count += page.data.length;
    state.cursor = page.next_cursor;
    more.disabled = false;
    more.hidden = !state.cursor;
    $('.empty', state.node).hidden = state.count > 0;
    if (!isCurrent(token))
        return;
    if (fromMore && first)
        $('.title-link', first).focus();
    announce(fromMore ? plural(page.data.length, 'more article', 'more articles') + ' shown.'
                      : plural(state.count, 'article', 'articles') + ' shown.');
}

/* Keeps the comment count of the kept list view in step. */
export function updateCachedCount(articleId, total) {
    if (!listCache)
        return;
    const card = listCache.node.querySelector('li.card[data-id="' + articleId + '"]');
    if (card)
        setCommentCount(card, total);
}
