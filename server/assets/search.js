/*
 * search.js: the results of the header's search box (GET /v1/search), in
 * the API's order, each snippet with its <mark>ed words, and "More results"
 * by cursor. A query the API refuses shows the API's detail.
 *
 * A snippet is the one piece of the API's text that is not set as text:
 * the API escapes every character and adds only <mark> elements, and
 * appendSnippet() copies just its text and its <mark> elements.
 */
import { api } from './api.js';
import { links, currentToken, isCurrent, mount, settle } from './router.js';
import { $, announce, clone, plural, setTime, showError } from './ui.js';

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


/* Shows the results of the query of route r, asking for the first page. */
export function showSearch(r, token) {
    $('#search-input').value = r.q;
    const node = clone('tpl-search');
    $('.query', node).textContent = r.q;
    document.title = 'Search: ' + r.q + ' · newsd';
    const state = { q: r.q, cursor: null, count: 0, node: node };
    $('.more', node).addEventListener('click', function () {
        loadResults(state, currentToken(), true);
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
