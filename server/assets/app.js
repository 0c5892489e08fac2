/*
 * app.js: the newsd reader's entry point, loaded by index.html as an ES
 * module (no build step: the browser follows the imports, each one a file
 * of server/assets served from this origin). The reader lists the latest
 * articles (list.js), shows an article with its threaded comments and a
 * form to add one (article.js), and searches (search.js); router.js keeps
 * the address in the URL's fragment and shows the view it names, api.js
 * calls the public JSON API, live.js brings what is published while the
 * page is open (Server-Sent Events), and ui.js holds the DOM helpers they
 * share.
 *
 * Each view is cloned from a <template> of index.html and filled through
 * textContent: text that came from the API never becomes markup. The one
 * exception is a search snippet, which the API sends as escaped text with
 * <mark> around the matches; search.js keeps only its text and its <mark>
 * elements. Everything goes through the public JSON API of the same
 * origin; the page's Content-Security-Policy allows nothing else.
 *
 * This module wires the page's fixed parts (the skip link and the search
 * box in the header), starts the router and opens the live stream.
 */
import { showArticle } from './article.js';
import { showList } from './list.js';
import { startLive } from './live.js';
import { links, navigate, start } from './router.js';
import { showSearch } from './search.js';
import { $ } from './ui.js';

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

start({ list: showList, article: showArticle, search: showSearch });
startLive();
