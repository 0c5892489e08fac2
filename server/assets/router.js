/*
 * router.js: the reader's addresses and its one current view. Routing lives
 * in the URL's fragment so that links, reloads and the back button work:
 * "#/" (optionally "?category=...&tag=...&author=...&sort=..."), "#/articles/SLUG",
 * "#/search?q=...". Each change of fragment shows the view it names in
 * <main>; a view that loads something checks with isCurrent() that the
 * reader has not moved on before it shows what arrived.
 *
 * The views register themselves through start(), so this module imports
 * none of them.
 */
import { $, clearError, clone } from './ui.js';

/* The fragment of each view. */
export const links = {
    /* The list narrowed by filters {category, tag, author, sort}; each may be absent. */
    list(filters) {
        const f = filters || {};
        const params = new URLSearchParams();
        for (const name of ['category', 'tag', 'author'])
            if (f[name])
                params.set(name, f[name]);
        if (f.sort && f.sort !== 'newest')
            params.set('sort', f.sort);
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
        return { name: 'list', category: '', tag: '', author: '', sort: '' };
    const at = hash.indexOf('?');
    const path = at < 0 ? hash : hash.slice(0, at);
    const params = new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
    if (path === '/')
        return {
            name: 'list',
            category: params.get('category') || '',
            tag: params.get('tag') || '',
            author: params.get('author') || '',
            sort: params.get('sort') || '',
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

let views = {};         /* route name -> function (route, token) showing it */
let routeToken = 0;     /* which navigation a pending load belongs to */
let firstView = true;   /* the page's first view does not move focus */
let keepFocusId = null; /* an element to focus again in the next view */
const leaveHooks = new WeakMap(); /* view node -> called as it leaves <main> */

/* The token of the navigation shown now. */
export function currentToken() {
    return routeToken;
}

/* Whether the navigation token belongs to is still the one shown. */
export function isCurrent(token) {
    return token === routeToken;
}

/* Goes to hash; shows the view again when it is the current one already. */
export function navigate(hash) {
    if (location.hash === hash)
        route();
    else
        location.hash = hash;
}

/* Asks the next view to focus the element with this id, if it has one. */
export function keepFocusOn(id) {
    keepFocusId = id;
}

/* Has hook called when node, now shown, is replaced by another view. */
export function whenLeft(node, hook) {
    leaveHooks.set(node, hook);
}

/* Puts a view into <main>, telling the view it replaces. */
export function mount(node) {
    const main = $('#main');
    const old = main.firstElementChild;
    if (old && leaveHooks.has(old))
        leaveHooks.get(old)();
    main.replaceChildren(node);
}

/* Moves focus into a newly shown view, except on the page's first one. */
export function settle(focusTarget, scrollY) {
    let target = focusTarget;
    if (keepFocusId && document.getElementById(keepFocusId))
        target = document.getElementById(keepFocusId);
    keepFocusId = null;
    if (!firstView && target)
        target.focus({ preventScroll: true });
    firstView = false;
    window.scrollTo(0, scrollY || 0);
}

export function showMissing(text) {
    const node = clone('tpl-missing');
    $('.missing-text', node).textContent = text;
    document.title = 'Not found · newsd';
    mount(node);
    settle($('h1', node));
}

function route() {
    const token = ++routeToken;
    const r = parseRoute();
    clearError();
    if (r.name !== 'search')
        $('#search-input').value = '';
    const view = views[r.name];
    if (view)
        view(r, token);
    else
        showMissing('There is no page at this address.');
}

/*
 * Shows the view the address names, and each one it names later. byName
 * maps 'list', 'article' and 'search' to the function that shows it.
 */
export function start(byName) {
    views = byName;
    if ('scrollRestoration' in history)
        history.scrollRestoration = 'manual';
    window.addEventListener('hashchange', route);
    route();
}
