/*
 * tls.h: which TLS versions and cipher suites newsd's HTTPS offers.
 *
 * The tls-priorities setting is a GnuTLS priority string, handed to
 * libmicrohttpd (MHD_OPTION_HTTPS_PRIORITIES), which hands it to GnuTLS for
 * every connection. The default offers TLS 1.3 and 1.2 only, AEAD ciphers
 * only (AES-256-GCM, ChaCha20-Poly1305, AES-128-GCM, in that order) with
 * ECDHE key exchange (forward secrecy), and makes the server's order win
 * over the client's (%SERVER_PRECEDENCE): no CBC, RC4, 3DES, NULL or export
 * suite, no RSA key exchange, no TLS 1.0 or 1.1.
 */
#ifndef NEWSD_TLS_H
#define NEWSD_TLS_H

#include <stddef.h>

#include "newsd/err.h"

#define ND_TLS_DEFAULT_PRIORITIES                                                                  \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:"      \
    "+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/*
 * Checks a tls-priorities setting (config.h) the way the server will use
 * it: GnuTLS must accept the string and it must leave at least one cipher
 * suite. ND_ERR_INVALID writes a sentence to why (len bytes) naming the
 * part GnuTLS stopped at; ND_ERR_NOMEM when GnuTLS ran out of memory.
 */
enum nd_err nd_tls_check_priorities(const char *text, char *why, size_t len);

/*
 * Checks that the PEM certificate (chain) cert and the PEM private key key
 * (NUL-terminated, borrowed) are a pair GnuTLS can serve with: the key
 * unencrypted and belonging to the first certificate. ND_ERR_INVALID writes
 * a sentence to why (len bytes) saying what to change; ND_ERR_NOMEM.
 */
enum nd_err nd_tls_check_pair(const char *cert, const char *key, char *why, size_t len);

#endif
