/*
 * filters.js: what the article list is narrowed to and in which order. A
 * list's filters are {category, tag, author, sort}, read from the route
 * and written back into it (router.js's links.list), so a filtered list
 * has an address that can be shared, reloaded and gone back to. They
 * combine: the API's exact-match filters are all applied at once, and the
 * sort's cursors page the list in that order.
 *
 * The filter bar of the list view offers every category and author with
 * its number of articles (GET /v1/categories, /v1/authors), the list's
 * order, and the most used tags with their counts (GET /v1/tags) with an
 * "All tags" expansion. Each of the three lists is asked for once per
 * page load; while one has not answered, or when it failed, the bar
 * offers the names seen in the articles loaded so far, without counts.
 * The links of an article's category, author and tags lead here too.
 */
import { api } from './api.js';
import { keepFocusOn, links, navigate } from './router.js';
import { $, plural } from './ui.js';

/* The list's orders, as the API names them, with the menu's words. */
const SORTS = [
    { value: 'newest', label: 'Newest first', heading: 'Latest' },
    { value: 'oldest', label: 'Oldest first', heading: 'Oldest' },
    { value: 'updated', label: 'Recently updated', heading: 'Recently updated' },
    { value: 'commented', label: 'Most commented', heading: 'Most commented' },
];

const TOP_TAGS = 8; /* tags shown before "All tags" */

/* For each filter: the API's list of {name, count} once it answered, and the names seen. */
const facets = {
    category: { path: '/v1/categories', entries: null, asked: false, seen: new Set() },
    author: { path: '/v1/authors', entries: null, asked: false, seen: new Set() },
    tag: { path: '/v1/tags', entries: null, asked: false, seen: new Set() },
};

let shownBar = null; /* {node, filters} of the list view built last */

/* The filters of list route r; a sort the API does not know reads as the default. */
export function readFilters(r) {
    const known = SORTS.some(function (s) { return s.value === r.sort; });
    return {
        category: r.category || '',
        tag: r.tag || '',
        author: r.author || '',
        sort: known ? r.sort : 'newest',
    };
}

/* The query of GET /v1/articles for filters f (without a cursor). */
export function listQuery(f) {
    const params = new URLSearchParams();
    for (const name of ['category', 'tag', 'author'])
        if (f[name])
            params.set(name, f[name]);
    if (f.sort !== 'newest')
        params.set('sort', f.sort);
    return params;
}

/* Whether any filter narrows the list (the order does not). */
export function isFiltered(f) {
    return Boolean(f.category || f.tag || f.author);
}

/* The heading of the list: "Latest articles", "Oldest in World". */
export function listHeading(f) {
    const words = SORTS.find(function (s) { return s.value === f.sort; }).heading;
    return words + (f.category ? ' in ' + f.category : ' articles');
}

/* The document title: the filters, then the site. */
export function listTitle(f) {
    const parts = [];
    if (f.category)
        parts.push(f.category);
    if (f.tag)
        parts.push('#' + f.tag);
    if (f.author)
        parts.push(f.author);
    parts.push('newsd');
    return parts.join(' · ');
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
        link.href = links.list({ tag: tag });
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
    link.href = links.list({ category: category });
    link.textContent = category;
}

/* Links the .author element of node to the author's articles, or removes its .author-wrap. */
export function renderAuthor(node, author) {
    if (!author) {
        $('.author-wrap', node).remove();
        return;
    }
    const link = $('.author', node);
    link.href = links.list({ author: author });
    link.textContent = author;
}

/* Notes the categories, authors and tags of loaded articles, for a bar without the API's lists. */
export function noteArticles(articles) {
    for (const article of articles) {
        if (article.category)
            facets.category.seen.add(article.category);
        if (article.author)
            facets.author.seen.add(article.author);
        for (const tag of article.tags || [])
            facets.tag.seen.add(tag);
    }
    refreshBar();
}

/*
 * The entries {name, count} of a facet: the API's, in its order, or the
 * names seen so far with count null. The current value is always offered,
 * even when no article has it.
 */
function entriesOf(facet, current) {
    let entries;
    if (facet.entries) {
        entries = facet.entries.slice();
    } else {
        entries = Array.from(facet.seen).sort(function (a, b) {
            return a.localeCompare(b);
        }).map(function (name) {
            return { name: name, count: null };
        });
    }
    if (current && !entries.some(function (e) { return e.name === current; }))
        entries.push({ name: current, count: null });
    return entries;
}

/* "World (12)", or "World" without a count. */
function labelOf(entry) {
    return entry.count === null ? entry.name : entry.name + ' (' + entry.count + ')';
}

/* Refills a menu of a facet after its first option ("All ..."), keeping current selected. */
function fillMenu(select, facet, current) {
    select.replaceChildren(select.options[0]);
    for (const entry of entriesOf(facet, current)) {
        const option = document.createElement('option');
        option.value = entry.name;
        option.textContent = labelOf(entry);
        select.append(option);
    }
    select.value = current;
}

/* One tag of the tag list: a link that filters by it, or clears it when it is the filter. */
function tagItem(entry, f) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.className = 'tag-link';
    const chosen = entry.name === f.tag;
    link.href = links.list(Object.assign({}, f, { tag: chosen ? '' : entry.name }));
    if (chosen)
        link.setAttribute('aria-current', 'true');
    const name = document.createElement('span');
    name.className = 'tag-name';
    name.textContent = entry.name;
    link.append(name);
    if (entry.count !== null) {
        const count = document.createElement('span');
        count.className = 'tag-count';
        count.textContent = String(entry.count);
        const words = document.createElement('span');
        words.className = 'visually-hidden';
        words.textContent = entry.count === 1 ? ' article' : ' articles';
        link.append(' ', count, words);
    }
    item.append(link);
    return item;
}

/*
 * Fills the tag list of a bar: the TOP_TAGS most used (ties in the API's
 * order) and the current one, then every tag under "All tags" when there
 * are more.
 */
function fillTags(node, f) {
    const entries = entriesOf(facets.tag, f.tag);
    const nav = $('.tag-nav', node);
    nav.hidden = entries.length === 0;
    const top = entries.slice().sort(function (a, b) {
        return (b.count || 0) - (a.count || 0);
    }).slice(0, TOP_TAGS);
    if (f.tag && !top.some(function (e) { return e.name === f.tag; }))
        top.push(entries.find(function (e) { return e.name === f.tag; }));
    $('.tag-top', node).replaceChildren(...top.map(function (e) { return tagItem(e, f); }));
    const all = $('.all-tags', node);
    all.hidden = entries.length <= top.length;
    $('.all-tags-label', node).textContent = 'All ' + plural(entries.length, 'tag', 'tags');
    $('.tag-index', node).replaceChildren(...entries.map(function (e) { return tagItem(e, f); }));
}

/* Fills every part of a bar from what is known now. */
function fillBar(node, f) {
    fillMenu($('#category-select', node), facets.category, f.category);
    fillMenu($('#author-select', node), facets.author, f.author);
    fillTags(node, f);
}

function refreshBar() {
    if (shownBar)
        fillBar(shownBar.node, shownBar.filters);
}

/* Asks the API for a facet's list, once per page load; the bar is filled again when it answers. */
async function loadFacet(facet) {
    if (facet.asked)
        return;
    facet.asked = true;
    let doc;
    try {
        doc = await api(facet.path);
    } catch (e) {
        return; /* the names of the loaded articles stand in */
    }
    if (!doc || !Array.isArray(doc.data))
        return;
    facet.entries = doc.data.filter(function (e) {
        return e && typeof e.name === 'string' && e.name !== '' && Number.isInteger(e.count);
    });
    refreshBar();
}

/* Lists the active filters, each with a link that removes it. */
function fillActive(node, f) {
    const items = [];
    for (const [name, words, cls] of [['category', 'In', 'filter-category'],
                                      ['tag', 'Tagged', 'filter-tag'],
                                      ['author', 'By', 'filter-author']]) {
        if (!f[name])
            continue;
        const item = document.createElement('li');
        const value = document.createElement('strong');
        value.className = cls;
        value.textContent = f[name];
        const remove = document.createElement('a');
        remove.className = 'remove-filter';
        remove.href = links.list(Object.assign({}, f, { [name]: '' }));
        remove.textContent = 'remove';
        remove.setAttribute('aria-label', 'Remove the filter ' + words.toLowerCase() + ' ' +
                            f[name]);
        item.append(words + ' ', value, ' (', remove, ')');
        items.push(item);
    }
    $('.active-filters', node).replaceChildren(...items);
    $('.filter-note', node).hidden = items.length === 0;
    $('.clear-filters', node).href = links.list({ sort: f.sort });
}

/*
 * Sets up the filter bar of a new list view node for filters f: the
 * menus navigate to the list they choose (focus stays on the menu), and
 * the tag links lead to the list with that tag. Asks the API for the
 * categories, authors and tags the first time.
 */
export function setUpFilters(node, f) {
    const sort = $('#sort-select', node);
    for (const s of SORTS) {
        const option = document.createElement('option');
        option.value = s.value;
        option.textContent = s.label;
        sort.append(option);
    }
    sort.value = f.sort;
    for (const [id, name] of [['category-select', 'category'], ['author-select', 'author'],
                              ['sort-select', 'sort']]) {
        const select = $('#' + id, node);
        select.addEventListener('change', function () {
            keepFocusOn(id);
            navigate(links.list(Object.assign({}, f, { [name]: select.value })));
        });
    }
    $('#filter-form', node).addEventListener('submit', function (ev) {
        ev.preventDefault();
    });
    fillActive(node, f);
    shownBar = { node: node, filters: f };
    fillBar(node, f);
    for (const facet of Object.values(facets))
        loadFacet(facet);
}
