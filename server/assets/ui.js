/*
 * ui.js: the DOM helpers every view of the reader shares: finding and
 * cloning elements, dates and counts in words, and the notices above
 * <main> (the polite status region and the error banner).
 *
 * Text from the API is only ever set through textContent here and in the
 * views, so it never becomes markup.
 */

/* The first element matching selector, in root or in the document. */
export function $(selector, root) {
    return (root || document).querySelector(selector);
}

/* A fresh copy of the first element of the <template> with this id. */
export function clone(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
});

/* Fills a <time> element with an RFC 3339 time stamp from the API. */
export function setTime(el, stamp, withTime) {
    const date = new Date(stamp);
    el.dateTime = stamp;
    const format = withTime ? dateTimeFormat : dateFormat;
    el.textContent = isNaN(date) ? stamp : format.format(date);
}

/* "1 comment", "3 comments". */
export function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
}

/* Says message to assistive technology (the status region is not shown). */
export function announce(message) {
    const status = $('#status');
    status.textContent = '';
    /* A change of text, even to the same words, is announced again. */
    window.setTimeout(function () {
        status.textContent = message;
    }, 50);
}

export function showError(message) {
    const banner = $('#error');
    banner.textContent = message;
    banner.hidden = false;
}

export function clearError() {
    const banner = $('#error');
    banner.textContent = '';
    banner.hidden = true;
}
