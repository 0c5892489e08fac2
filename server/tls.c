/*
 * tls.c: the check of the tls-priorities setting.
 *
 * libmicrohttpd only says that a daemon could not start when GnuTLS refuses
 * its priority string. The setting is therefore parsed here, by GnuTLS
 * itself, when the configuration is read: a typo stops newsd with the part
 * of the string GnuTLS stopped at, before anything listens.
 */
#include "newsd/tls.h"

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

enum nd_err nd_tls_check_priorities(const char *text, char *why, size_t len)
{
    gnutls_priority_t cache = NULL;
    const char *stop = NULL;
    unsigned suite = 0;
    enum nd_err rc = ND_ERR_INVALID;

    if (text[0] == '\0') {
        snprintf(why, len,
                 "must not be empty: give a GnuTLS priority string, such as the default \"%s\"",
                 ND_TLS_DEFAULT_PRIORITIES);
        return ND_ERR_INVALID;
    }
    int gr = gnutls_priority_init(&cache, text, &stop);
    if (gr == GNUTLS_E_MEMORY_ERROR) {
        rc = ND_ERR_NOMEM;
        goto out;
    }
    if (gr == GNUTLS_E_NO_PRIORITIES_WERE_SET) {
        snprintf(why, len,
                 "the priority string leaves GnuTLS nothing to offer (%s): it needs at least one "
                 "TLS version, cipher, MAC and key exchange",
                 gnutls_strerror(gr));
        goto out;
    }
    if (gr < 0) {
        /* stop points into text; a rejected keyword runs to the next ':' */
        int at = stop != NULL ? (int)strcspn(stop, ":") : 0;
        snprintf(why, len,
                 "GnuTLS refuses the priority string at \"%.*s\" (%s); see \"Priority "
                 "strings\" in the GnuTLS manual",
                 at > 0 ? at : 1, stop != NULL ? stop : text, gnutls_strerror(gr));
        goto out;
    }
    /* index 0 is a suite unless the string leaves none (or names only unknown ones) */
    for (unsigned i = 0;; i++) {
        gr = gnutls_priority_get_cipher_suite_index(cache, i, &suite);
        if (gr != GNUTLS_E_UNKNOWN_CIPHER_SUITE)
            break;
    }
    if (gr < 0) {
        snprintf(why, len, "the priority string leaves no cipher suite a client could use");
        goto out;
    }
    rc = ND_OK;
out:
    if (cache != NULL)
        gnutls_priority_deinit(cache);
    return rc;
}
