/*
 * article.js: one article with its comments as a thread (?view=tree; "More
 * comments" pages through top-level comments) and the form to add one.
 * Replies are indented MAX_INDENT levels deep; deeper ones line up and say
 * whom they answer. The Reply button of a comment moves the form below
 * it. The server alone validates: a 422 puts each field's message under
 * its field, a 429 holds the button back for Retry-After seconds, and a
 * comment held for moderation is announced instead of shown.
 *
 * While the article is on screen, comments that others post (or that a
 * moderator approves) appear in their place in the thread, and removed or
 * hidden ones go, their replies moving up (live.js).
 */
import { api } from './api.js';
import { renderAuthor, renderCategory, renderTags } from './filters.js';
import { onLive } from './live.js';
import { noteArticleOpened, noteArticleShown, updateCachedCount } from './list.js';
import { currentToken, isCurrent, mount, settle, showMissing, whenLeft } from './router.js';
import { $, announce, clone, plural, setTime, showError } from './ui.js';


const MAX_INDENT = 4; /* deeper replies line up with their parent */

let shown = null; /* the state of the article on screen, for live updates */

/* Shows the article once it is loaded: until then the old view stays. */
export async function showArticle(r, token) {
    noteArticleOpened(r.slug);
    let article;
    try {
        article = await api('/v1/articles/' + encodeURIComponent(r.slug));
    } catch (e) {
        if (!isCurrent(token))
            return;
        if (e.status === 404)
            showMissing('There is no article at this address. It may have been removed.');
        else
            showError('The article could not be loaded: ' + e.message);
        return;
    }
    if (!isCurrent(token))
        return;
    const node = clone('tpl-article');
    renderStory(node, article);
    document.title = article.title + ' · newsd';
    const state = {
        article: article,
        node: node,
        cursor: null,
        shown: new Set(),
        total: article.comment_count,
        parent: null,
    };
    setCommentTotal(state);
    $('.more-comments', node).addEventListener('click', function () {
        loadComments(state, currentToken(), true);
    });
    setUpForm(state);
    shown = state;
    noteArticleShown(article.id);
    whenLeft(node, function () {
        if (shown === state) {
            shown = null;
            noteArticleShown(null);
        }
    });
    mount(node);
    settle($('h1', node));
    loadComments(state, token, false);
}

function renderStory(node, article) {
    $('.story-title', node).textContent = article.title;
    setTime($('time', node), article.published_at, false);
    renderAuthor(node, article.author);
    renderCategory(node, article.category);
    renderTags($('.tags', node), article.tags);
    const body = $('.story-body', node);
    for (const text of article.body.split(/\n[ \t]*\n/)) {
        if (text.trim() === '')
            continue;
        const para = document.createElement('p');
        para.textContent = text.trim();
        body.append(para);
    }
    if (article.source_url && /^https?:\/\//i.test(article.source_url)) {
        $('.source-link', node).href = article.source_url;
        $('.source', node).hidden = false;
    }
}

function setCommentTotal(state) {
    $('.comment-total', state.node).textContent = '(' + state.total + ')';
    $('.no-comments', state.node).hidden = state.total > 0;
}

/* Loads the next page of top-level comments, each with all its replies. */
async function loadComments(state, token, fromMore) {
    const params = new URLSearchParams({ view: 'tree' });
    if (state.cursor)
        params.set('cursor', state.cursor);
    const more = $('.more-comments', state.node);
    more.disabled = true;
    let page;
    try {
        page = await api('/v1/articles/' + state.article.id + '/comments?' + params.toString());
    } catch (e) {
        more.disabled = false;
        if (isCurrent(token))
            showError('The comments could not be loaded: ' + e.message);
        return;
    }
    const thread = $('.thread', state.node);
    let first = null;
    for (const comment of page.data) {
        if (state.shown.has(comment.id))
            continue; /* posted here before this page was loaded */
        const item = renderComment(state, comment, 0);
        thread.append(item);
        first = first || item;
    }
    state.cursor = page.next_cursor;
    more.disabled = false;
    more.hidden = !state.cursor;
    if (fromMore && first && isCurrent(token))
        $('.reply-button', first).focus();
}

/*
 * The <li> of a comment with its replies, to any depth. parentAuthor
 * names the comment it answers: replies deeper than MAX_INDENT are not
 * indented further, so they say whom they answer.
 */
function renderComment(state, comment, depth, parentAuthor) {
    const node = clone('tpl-comment');
    node.dataset.id = comment.id;
    node.dataset.depth = depth;
    node.id = 'comment-' + comment.id;
    $('.comment-author', node).textContent = comment.author;
    if (depth > MAX_INDENT - 1 && parentAuthor) {
        $('.reply-to-name', node).textContent = parentAuthor;
        $('.reply-to', node).hidden = false;
    }
    setTime($('.comment-time', node), comment.created_at, true);
    $('.comment-text', node).textContent = comment.body;
    const reply = $('.reply-button', node);
    reply.setAttribute('aria-label', 'Reply to ' + comment.author);
    reply.addEventListener('click', function () {
        startReply(state, node, comment);
    });
    const replies = $('.replies', node);
    if (depth + 1 >= MAX_INDENT)
        replies.classList.add('flat');
    for (const child of comment.replies || [])
        replies.append(renderComment(state, child, depth + 1, comment.author));
    state.shown.add(comment.id);
    return node;
}

/* ---- the comment form ------------------------------------------------- */

const FIELD_LABELS = { author: 'Name', body: 'Comment' };

function setUpForm(state) {
    const form = clone('tpl-comment-form');
    state.form = form;
    $('.form-home', state.node).append(form);
    try {
        $('#comment-author', form).value = localStorage.getItem('newsd.author') || '';
    } catch (e) {
        /* storage may be disabled: the name is then typed each time */
    }
    $('.cancel-reply', form).addEventListener('click', function () {
        const back = state.parent && $('.reply-button', state.parent.node);
        endReply(state);
        if (back)
            back.focus();
    });
    form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        postComment(state);
    });
}

/* Moves the form below the comment being answered. */
function startReply(state, node, comment) {
    const form = state.form;
    state.parent = {
        id: comment.id,
        node: node,
        depth: Number(node.dataset.depth),
        author: comment.author,
    };
    $('.replying-to', form).textContent = comment.author;
    $('.replying', form).hidden = false;
    $('.form-title', form).textContent = 'Reply';
    clearFormErrors(form);
    $('.form-message', form).textContent = '';
    node.insertBefore(form, $('.replies', node));
    const author = $('#comment-author', form);
    (author.value ? $('#comment-body', form) : author).focus();
}

/* Puts the form back below the thread, as a new top-level comment. */
function endReply(state) {
    const form = state.form;
    state.parent = null;
    $('.replying', form).hidden = true;
    $('.form-title', form).textContent = 'Leave a comment';
    $('.form-home', state.node).append(form);
}

function clearFormErrors(form) {
    for (const field of ['author', 'body']) {
        $('#comment-' + field, form).removeAttribute('aria-invalid');
        $('#comment-' + field + '-error', form).textContent = '';
    }
}

/* Shows a 422's field errors next to their fields; returns the other messages. */
function showFieldErrors(form, errors) {
    const other = [];
    let first = null;
    for (const err of errors) {
        const label = FIELD_LABELS[err.field];
        if (!label) {
            other.push(err.message);
            continue;
        }
        const input = $('#comment-' + err.field, form);
        input.setAttribute('aria-invalid', 'true');
        const text = label + ' ' + err.message + '.';
        $('#comment-' + err.field + '-error', form).textContent = text;
        first = first || input;
    }
    if (first)
        first.focus();
    return other;
}

/* Holds the submit button back for seconds after a 429. */
function waitBeforeRetry(form, seconds) {
    const submit = $('.submit', form);
    submit.disabled = true;
    window.setTimeout(function () {
        submit.disabled = false;
    }, seconds * 1000);
}

async function postComment(state) {
    const form = state.form;
    const submit = $('.submit', form);
    const message = $('.form-message', form);
    if (submit.disabled)
        return;
    clearFormErrors(form);
    const payload = {
        author: $('#comment-author', form).value,
        body: $('#comment-body', form).value,
    };
    if (state.parent)
        payload.parent_id = state.parent.id;
    submit.disabled = true;
    message.textContent = 'Posting your comment…';
    let created;
    try {
        created = await api('/v1/articles/' + state.article.id + '/comments', {
            method: 'POST',
            headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
            body: JSON.stringify(payload),
        });
    } catch (e) {
        submit.disabled = false;
        commentFailed(form, e);
        return;
    }
    submit.disabled = false;
    try {
        localStorage.setItem('newsd.author', created.author);
    } catch (e) {
        /* not remembered: harmless */
    }
    $('#comment-body', form).value = '';
    commentPosted(state, created);
}

function commentFailed(form, err) {
    const message = $('.form-message', form);
    if (err.status === 422) {
        const other = showFieldErrors(form, err.errors);
        message.textContent = other.length
            ? 'The comment was not posted: ' + other.join('; ') + '.'
            : 'The comment was not posted: please correct the marked fields.';
    } else if (err.status === 429) {
        const seconds = Math.max(1, parseInt(err.retryAfter, 10) || 60);
        message.textContent = 'You have posted several comments in a short time. Please wait ' +
            plural(seconds, 'second', 'seconds') + ' and try again; your text is kept.';
        waitBeforeRetry(form, seconds);
    } else {
        message.textContent = 'The comment was not posted: ' + err.message;
    }
}

/* Shows a new comment in its place in the thread (or says it awaits moderation). */
function commentPosted(state, created) {
    const form = state.form;
    const message = $('.form-message', form);
    const parent = state.parent;
    endReply(state);
    if (created.status === 'pending') {
        message.textContent = 'Thank you. Your comment awaits moderation and will appear ' +
            'once a moderator approves it.';
        $('#comment-body', form).focus();
        return;
    }
    const arrived = state.node.querySelector('#comment-' + created.id);
    if (arrived) {
        /* its live event came first: it moves here, counted once */
        arrived.remove();
        state.total -= 1;
    }
    const depth = parent ? parent.depth + 1 : 0;
    const node = renderComment(state, Object.assign({ replies: [] }, created), depth,
                               parent && parent.author);
    node.classList.add('just-posted');
    const list = parent ? $('.replies', parent.node) : $('.thread', state.node);
    list.append(node);
    state.total += 1;
    setCommentTotal(state);
    updateCachedCount(state.article.id, state.total);
    message.textContent = 'Your comment is posted.';
    const box = $('.comment-box', node);
    box.tabIndex = -1;
    box.focus();
}

/* ---- live updates ------------------------------------------------------- */

/* Counts one comment more (or less) on the article shown. */
function countComment(state, delta) {
    state.total = Math.max(0, state.total + delta);
    setCommentTotal(state);
    updateCachedCount(state.article.id, state.total);
}

/*
 * A comment that became visible on the article shown goes under its parent
 * when that is shown, else at the end of the thread once every page of it
 * is loaded (until then "More comments" brings it).
 */
onLive(['comment.added', 'comment.moderated'], async function (change) {
    const state = shown;
    if (!state || change.article_id !== state.article.id || change.status !== 'visible' ||
        state.shown.has(change.comment_id))
        return;
    let comment;
    try {
        comment = await api('/v1/comments/' + change.comment_id);
    } catch (e) {
        return;
    }
    if (shown !== state || state.shown.has(comment.id) || comment.status !== 'visible')
        return;
    const parent = comment.parent_id && state.node.querySelector('#comment-' + comment.parent_id);
    countComment(state, 1);
    if (!parent && state.cursor)
        return;
    const depth = parent ? Number(parent.dataset.depth) + 1 : 0;
    const author = parent ? $('.comment-author', parent).textContent : null;
    const node = renderComment(state, Object.assign({ replies: [] }, comment), depth, author);
    node.classList.add('just-arrived');
    (parent ? $('.replies', parent) : $('.thread', state.node)).append(node);
    announce('New comment by ' + comment.author + '.');
});

/* A comment removed, or hidden by a moderator: it goes, its replies move up. */
onLive(['comment.removed', 'comment.moderated'], function (change) {
    const state = shown;
    if (!state || change.article_id !== state.article.id ||
        (change.kind === 'comment.moderated' && change.status === 'visible'))
        return;
    const node = state.node.querySelector('#comment-' + change.comment_id);
    if (!node)
        return;
    if (state.form.parentNode === node)
        endReply(state);
    for (const reply of Array.from($('.replies', node).children))
        node.parentNode.insertBefore(reply, node);
    node.remove();
    state.shown.delete(change.comment_id);
    countComment(state, -1);
});
