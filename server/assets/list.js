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
 *
 * While the page is open, articles published since appear at their place in
 * the list shown or kept (when they match its filters), edited titles
 * change, unpublished and deleted articles go, and comment counts follow
 * (live.js).
 */
import { api } from './api.js';
import { isFiltered, listHeading, listQuery, listTitle, noteArticles, readFilters,
         renderAuthor, renderCategory, renderTags, setUpFilters } from './filters.js';
import { onLive } from './live.js';
import { links, currentToken, isCurrent, mount, settle, whenLeft } from './router.js';
import { $, announce, clone, plural, setTime, showError } from './ui.js';

let listCache = null;   /* the last list view, kept for the back button */
let lastSlug = null;    /* the article opened last, focused on return */

let shownArticleId = null; /* the article on screen: article.js keeps its count */

/* Notes the article on screen (null when none), whose comment count article.js keeps. */
export function noteArticleShown(id) {
    shownArticleId = id;
}

/* Notes the article being opened, to focus its link when the list is shown again. */
export function noteArticleOpened(slug) {
    lastSlug = slug;
}

function renderCard(article) {
    const node = clone('tpl-card');
    node.dataset.id = article.id;
    node.dataset.published = article.published_at;
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
    card.dataset.comments = count || 0;
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
        state: state,
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

/* ---- live updates ------------------------------------------------------- */

/* The card of article id in the list shown or kept, or null. */
function liveCard(id) {
    return listCache && listCache.node.querySelector('li.card[data-id="' + id + '"]');
}

/* True when article belongs in a list with filters f. */
function matchesFilters(article, f) {
    return article.status === 'published' && (!f.category || article.category === f.category) &&
        (!f.author || article.author === f.author) &&
        (!f.tag || (article.tags || []).includes(f.tag));
}

/*
 * A newly published article goes where the list's order puts it, when the
 * list is newest first, it matches the list's filters and falls among the
 * articles loaded so far; an older one will come with "More articles". The
 * other orders (oldest, updated, most commented) rank by what a new
 * article cannot show yet, so they take it when the list is loaded again.
 */
onLive(['article.published'], async function (change) {
    if (!listCache || listCache.state.filters.sort !== 'newest' || liveCard(change.article_id))
        return;
    const kept = listCache;
    let article;
    try {
        article = await api('/v1/articles/' + change.article_id);
    } catch (e) {
        return; /* gone again, or not to be seen: nothing to show */
    }
    if (listCache !== kept || liveCard(article.id) || !matchesFilters(article, kept.state.filters))
        return;
    const list = $('.article-list', kept.node);
    const after = Array.from(list.children).find(function (card) {
        return card.dataset.published < article.published_at ||
            (card.dataset.published === article.published_at &&
             Number(card.dataset.id) < article.id);
    });
    if (!after && kept.state.cursor)
        return;
    const card = renderCard(article);
    card.classList.add('just-arrived');
    list.insertBefore(card, after || null);
    kept.state.count += 1;
    $('.empty', kept.node).hidden = true;
    noteArticles([article]);
    if (kept.node.isConnected)
        announce('New article: ' + article.title);
});

onLive(['article.updated'], function (change) {
    const card = liveCard(change.article_id);
    if (!card)
        return;
    const link = $('.title-link', card);
    link.textContent = change.title;
    link.dataset.slug = change.slug;
    link.href = links.article(change.slug);
});

onLive(['article.unpublished', 'article.deleted'], function (change) {
    const card = liveCard(change.article_id);
    if (!card)
        return;
    card.remove();
    listCache.state.count -= 1;
    $('.empty', listCache.node).hidden = listCache.state.count > 0;
});

/*
 * A comment appeared (visible) or went (was visible): the card's count
 * follows, unless the article is on screen (article.js counts it then).
 */
onLive(['comment.added', 'comment.removed', 'comment.moderated'], function (change) {
    const card = liveCard(change.article_id);
    if (!card || change.article_id === shownArticleId)
        return;
    let delta = 0;
    if (change.kind === 'comment.added' && change.status === 'visible')
        delta = 1;
    else if (change.kind === 'comment.removed' && change.status === 'visible')
        delta = -1;
    else if (change.kind === 'comment.moderated')
        delta = change.status === 'visible' ? 1 : -1;
    if (delta !== 0)
        setCommentCount(card, Math.max(0, Number(card.dataset.comments) + delta));
});
