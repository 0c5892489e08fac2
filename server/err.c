/*
 * err.c: names of errors and their one mapping to HTTP statuses.
 */
#include "newsd/err.h"

const char *nd_err_str(enum nd_err err)
{
    switch (err) {
    case ND_OK:
        return "ok";
    case ND_ERR_NOMEM:
        return "out of memory";
    case ND_ERR_INVALID:
        return "invalid input";
    case ND_ERR_NOT_FOUND:
        return "not found";
    case ND_ERR_CONFLICT:
        return "conflict";
    case ND_ERR_DB:
        return "database error";
    case ND_ERR_BUSY:
        return "database busy";
    case ND_ERR_READONLY:
        return "database not writable";
    case ND_ERR_IO:
        return "input/output error";
    case ND_ERR_UNAUTHORIZED:
        return "unauthorized";
    case ND_ERR_LIMIT:
        return "over a limit";
    case ND_ERR_UNSUPPORTED:
        return "not supported";
    }
    return "unknown error";
}

int nd_err_http_status(enum nd_err err)
{
    switch (err) {
    case ND_OK:
        return 200;
    case ND_ERR_INVALID:
    case ND_ERR_LIMIT:
        return 400;
    case ND_ERR_UNAUTHORIZED:
        return 401;
    case ND_ERR_NOT_FOUND:
        return 404;
    case ND_ERR_CONFLICT:
        return 409;
    case ND_ERR_UNSUPPORTED:
        return 501;
    case ND_ERR_BUSY:
    case ND_ERR_READONLY:
        return 503;
    case ND_ERR_NOMEM:
    case ND_ERR_DB:
    case ND_ERR_IO:
        return 500;
    }
    return 500;
}
