/*
 * api.js: calls to newsd's public JSON API, on the page's own origin (the
 * page's Content-Security-Policy allows no other). A failed call becomes
 * an ApiError carrying the problem document's detail, its field errors
 * and Retry-After; while any call is under way the page shows it is busy.
 */
import { $ } from './ui.js';

/* A failed API call: status 0 when the server could not be reached. */
export class ApiError extends Error {
    constructor(status, problem, retryAfter) {
        super((problem && problem.detail) || 'The server answered ' + status + '.');
        this.status = status;
        this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
        this.retryAfter = retryAfter;
    }
}

let pendingRequests = 0;

/* Counts calls under way; the loading bar and aria-busy follow the count. */
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
export async function api(path, options) {
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
