/*
 * assets.h: the files newsd serves as they are, compiled into the binary.
 *
 * server/assets/ holds the OpenAPI document and the reader web page (HTML,
 * CSS, JavaScript); server/embed_assets.py turns every file there into an
 * entry of nd_assets at build time, so a deployed newsd never reads them
 * from disk and its answers cannot drift from the build.
 */
#ifndef NEWSD_ASSETS_H
#define NEWSD_ASSETS_H

#include <stddef.h>

struct nd_asset {
    const char *name; /* the file name, "app.js" */
    const char *type; /* its Content-Type, "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
};

extern const struct nd_asset nd_assets[];
extern const unsigned nd_assets_count;

/* The asset called name, or NULL. */
const struct nd_asset *nd_asset_find(const char *name);

#endif
