/*
 * assets.h: the files newsd serves as they are, compiled into the binary.
 *
 * server/assets/ holds the OpenAPI document and the reader web page (HTML,
 * CSS, JavaScript); server/embed_assets.py turns every file listed in
 * asset_files (server/meson.build; an unlisted file there stops the build)
 * into an entry of nd_assets at build time, with its ETag and its gzip
 * encoding made then, so a deployed newsd never reads them from disk, its
 * answers cannot drift from the build, and serving one costs no hashing and
 * no compression.
 */
#ifndef NEWSD_ASSETS_H
#define NEWSD_ASSETS_H

#include <stddef.h>

struct nd_asset {
    const char *name; /* the file name, "app.js" */
    const char *type; /* its Content-Type, "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag;             /* quoted, as the HTTP layer makes them */
    const unsigned char *gz_data; /* the gzip encoding; NULL when not worth it */
    size_t gz_len;
    const char *gz_etag; /* quoted, the ETag with "-gz9"; "" without gz_data */
};

extern const struct nd_asset nd_assets[];
extern const unsigned nd_assets_count;

/* The asset called name, or NULL. */
const struct nd_asset *nd_asset_find(const char *name);

#endif
