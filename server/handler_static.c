/*
 * handler_static.c: the embedded files (assets.h): the reader web page at
 * "/" with its scripts and styles under "/assets/", and the OpenAPI
 * document at "/openapi.json".
 *
 * They are answered like any GET: an ETag of their bytes, 304 on a match,
 * gzip over 1 KiB; both made at build time (assets.h), so an answer costs
 * neither hashing nor compression. "Cache-Control: no-cache" makes browsers
 * revalidate, so a new build is seen at once and costs a 304 otherwise. The page gets a
 * Content-Security-Policy of its own: scripts, styles and API calls from
 * this origin only, no inline code, nothing else.
 */
#include <string.h>

#include "newsd/assets.h"
#include "newsd/handlers.h"

#define PAGE_POLICY                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

/* Answers with the embedded file called name; 404 when there is none. */
static int serve(struct nd_request *req, const char *name, bool page)
{
    const struct nd_asset *asset = nd_asset_find(name);
    if (asset == NULL)
        return nd_respond_problem(req, 404, "there is no resource at this path");
    if (!nd_respond_header(req, "Cache-Control", "no-cache") ||
        (page && !nd_respond_header(req, "Content-Security-Policy", PAGE_POLICY)))
        return 500; /* the HTTP layer answers 500 for a lost header */
    return nd_respond_asset(req, 200, asset);
}

int nd_handle_index(struct nd_request *req)
{
    return serve(req, "index.html", true);
}

/* Only the page's own files: not the document served at its own path. */
int nd_handle_asset(struct nd_request *req)
{
    const char *name = nd_request_param(req, 0);
    if (strcmp(name, "index.html") == 0 || strcmp(name, "openapi.json") == 0)
        return nd_respond_problem(req, 404, "there is no resource at this path");
    return serve(req, name, true);
}

int nd_handle_openapi(struct nd_request *req)
{
    return serve(req, "openapi.json", false);
}
