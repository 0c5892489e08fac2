/*
 * tls.c: the checks of the tls-priorities setting and of the tls-cert and
 * tls-key pair.
 *
 * libmicrohttpd only says that a daemon could not start when GnuTLS refuses
 * its priority string, its certificate or its key. They are therefore
 * checked here, by GnuTLS itself, before anything listens: the priority
 * string when the configuration is read (a typo stops newsd with the part of
 * the string GnuTLS stopped at), the certificate and key once read, so a
 * pair that does not match is a bad setting with a reason, not a start that
 * fails.
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

enum nd_err nd_tls_check_pair(const char *cert, const char *key, char *why, size_t len)
{
    gnutls_certificate_credentials_t creds = NULL;
    enum nd_err rc = ND_ERR_NOMEM;
    gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};

    if (gnutls_certificate_allocate_credentials(&creds) < 0)
        goto out;
    int gr = gnutls_certificate_set_x509_key_mem(creds, &c, &k, GNUTLS_X509_FMT_PEM);
    if (gr == GNUTLS_E_MEMORY_ERROR)
        goto out;
    rc = ND_ERR_INVALID;
    if (gr == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        snprintf(why, len,
                 "tls-key is not the key of the tls-cert certificate: give the key "
                 "the certificate was made for");
        goto out;
    }
    if (gr < 0) {
        snprintf(why, len,
                 "GnuTLS cannot use tls-cert and tls-key (%s): give a PEM certificate and its "
                 "unencrypted PEM private key",
                 gnutls_strerror(gr));
        goto out;
    }
    rc = ND_OK;
out:
    if (creds != NULL)
        gnutls_certificate_free_credentials(creds);
    return rc;
}
