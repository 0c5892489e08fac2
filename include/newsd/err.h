/*
 * err.h: the one error vocabulary of newsd.
 *
 * Every module reports failure as an enum nd_err. The mapping from an error to
 * an HTTP status lives in exactly one place (nd_err_http_status), so handlers
 * never invent their own numbers for store failures.
 */
#ifndef NEWSD_ERR_H
#define NEWSD_ERR_H

enum nd_err {
    ND_OK = 0,
    ND_ERR_NOMEM,        /* an allocation failed */
    ND_ERR_INVALID,      /* the input is malformed (bad cursor, bad id, bad file) */
    ND_ERR_NOT_FOUND,    /* no such row */
    ND_ERR_CONFLICT,     /* a unique value (slug, key name) is taken */
    ND_ERR_DB,           /* the database failed in a way the caller cannot fix */
    ND_ERR_BUSY,         /* the database stayed locked past busy_timeout */
    ND_ERR_READONLY,     /* the storage refuses writes (read-only file, disk full, I/O error) */
    ND_ERR_IO,           /* a file could not be read or written */
    ND_ERR_UNAUTHORIZED, /* missing, malformed or unknown API key */
    ND_ERR_LIMIT,        /* the request is over a limit (a search that runs too long) */
    ND_ERR_UNSUPPORTED,  /* this backend (or build) does not do that */
};

/* A short, static, human-readable name of err ("not found"). Never NULL. */
const char *nd_err_str(enum nd_err err);

/* The HTTP status a request that failed with err is answered with. */
int nd_err_http_status(enum nd_err err);

#endif
