/*
 * list.js: the latest articles, newest first, filtered by category or tag,
 * with "More articles" following the API's cursors. The category menu
 * offers every category the API lists (GET /v1/categories, asked once per
 * page load), with its number of articles; if that request fails, it
 * offers the categories of the articles loaded so far instead.
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
import { onLive } from './live.js';
import { links, currentToken, isCurrent, keepFocusOn, mount, navigate, settle,
         whenLeft } from './router.js';
import { $, announce, clone, plural, setTime, showError } from './ui.js';

let listCache = null;   /* the last list view, kept for the back button */
let lastSlug = null;    /* the article opened last, focused on return */
let apiCategories = null;      /* [{name, count}] from /v1/categories, once it answered */
let categoriesAsked = false;   /* /v1/categories is asked once per page load */
const knownCategories = new Set(); /* seen in articles: the menu when the API list fails */

let shownArticleId = null; /* the article on screen: article.js keeps its count */

/* Notes the article on screen (null when none), whose comment count article.js keeps. */
export function noteArticleShown(id) {
    shownArticleId = id;
}

/* Notes the article being opened, to focus its link when the list is shown again. */
export function noteArticleOpened(slug) {
    lastSlug = slug;
}


/* Fills list with links to each tag, or removes it when there are none. */
export function renderTags(list, tags) {
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

/* Links the .category element of node to its category, or removes it. */
export function renderCategory(node, category) {
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
    node.dataset.published = article.published_at;
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
    card.dataset.comments = count || 0;
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

/* Shows the list the route r names: the kept one when it is recent, else a new one. */
export function showList(r, token) {
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
        keepFocusOn('category-select');
        navigate(links.list(select.value, r.tag));
    });
    $('#filter-form', node).addEventListener('submit', function (ev) {
        ev.preventDefault();
    });
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
        category: r.category,
        state: state,
    };
    whenLeft(node, function () {
        if (listCache && listCache.node === node)
            listCache.scrollY = window.scrollY;
    });
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

/*
 * A newly published article goes where the list's order puts it (newest
 * published_at first), when it matches the list's filters and falls among
 * the articles loaded so far; an older one will come with "More articles".
 */
onLive(['article.published'], async function (change) {
    if (!listCache || liveCard(change.article_id))
        return;
    const kept = listCache;
    let article;
    try {
        article = await api('/v1/articles/' + change.article_id);
    } catch (e) {
        return; /* gone again, or not to be seen: nothing to show */
    }
    const r = kept.state.r;
    if (listCache !== kept || liveCard(article.id) || article.status !== 'published' ||
        (r.category && article.category !== r.category) ||
        (r.tag && !(article.tags || []).includes(r.tag)))
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
    if (article.category)
        knownCategories.add(article.category);
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
