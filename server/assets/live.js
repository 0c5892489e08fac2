/*
 * live.js: what is published while the page is open, without a reload. One
 * EventSource on GET /v1/events for the whole page; each view asks, with
 * onLive(), to hear of the kinds of change it shows (list.js: articles;
 * article.js: comments). An event carries only the change (its kind, ids,
 * status and, for articles, slug and title): a view that needs more loads
 * the resource through the API, which alone decides what a reader sees.
 *
 * The browser reconnects by itself after a dropped connection, sending the
 * id of the last event so that nothing is missed. When the server refuses
 * the stream (too many open, or it is stopping) the browser gives up, so
 * this module opens a new one after a pause, from the last id it saw. A
 * "reset" (the page was away longer than the server keeps changes) reloads
 * the page. While the stream is open, <body data-live="open">.
 */

const KINDS = ['article.published', 'article.updated', 'article.unpublished', 'article.deleted',
               'comment.added', 'comment.removed', 'comment.moderated'];
const RETRY_MS = [2000, 5000, 15000, 60000]; /* pauses before opening a refused stream again */

const listeners = new Map(); /* kind -> Set of functions called with the change */
let source = null;
let lastId = null;   /* the id of the last event seen, to go on from */
let failures = 0;    /* refusals in a row, for the pause before the next try */

/* Calls fn(change) for every change of one of kinds from now on. */
export function onLive(kinds, fn) {
    for (const kind of kinds) {
        if (!listeners.has(kind))
            listeners.set(kind, new Set());
        listeners.get(kind).add(fn);
    }
}

function deliver(ev) {
    let change;
    try {
        change = JSON.parse(ev.data);
    } catch (e) {
        return;
    }
    if (ev.lastEventId)
        lastId = ev.lastEventId;
    failures = 0;
    for (const fn of listeners.get(ev.type) || [])
        fn(change);
}

function open() {
    const url = '/v1/events' + (lastId ? '?since=' + encodeURIComponent(lastId) : '');
    source = new EventSource(url);
    source.addEventListener('open', function () {
        document.body.dataset.live = 'open';
    });
    source.addEventListener('error', function () {
        delete document.body.dataset.live;
        if (source.readyState !== EventSource.CLOSED)
            return; /* the browser reconnects by itself */
        const pause = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
        failures += 1;
        window.setTimeout(open, pause);
    });
    source.addEventListener('reset', function () {
        window.location.reload();
    });
    for (const kind of KINDS)
        source.addEventListener(kind, deliver);
}

/* Opens the stream (once); without EventSource the page simply stays as loaded. */
export function startLive() {
    if (source || typeof EventSource !== 'function')
        return;
    open();
}
