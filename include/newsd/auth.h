/*
 * auth.h: API keys.
 *
 * A key reads "nd_<key id>_<secret>": the key id (public, 12 URL-safe base64
 * characters) finds the row, and the BLAKE2b hash of the whole key is
 * compared with the stored one in constant time. Keys come from libsodium's
 * CSPRNG; only hashes are stored.
 */
#ifndef NEWSD_AUTH_H
#define NEWSD_AUTH_H

#include <stdbool.h>

#include "newsd/err.h"

struct nd_store;

#define ND_KEY_HASH_LEN 32

/* Initializes libsodium. Call once before threads start. */
enum nd_err nd_auth_init(void);

/*
 * Makes a key named name, stores its hash and returns the key text
 * (malloc'd) in *key. ND_ERR_CONFLICT: the name is taken. ND_ERR_INVALID:
 * name is not 1..64 printable characters.
 */
enum nd_err nd_auth_key_create(struct nd_store *store, const char *name, char **key);

/*
 * Checks an Authorization header value ("Bearer KEY"). ND_OK when it names
 * a stored key; ND_ERR_UNAUTHORIZED when absent, malformed or unknown; other
 * errors when the store fails.
 */
enum nd_err nd_auth_check(struct nd_store *store, const char *authorization);

/* Length of a key's public id. */
#define ND_KEY_ID_LEN 12

/*
 * Copies the public id of the key in an Authorization value ("Bearer KEY")
 * to id. False, writing nothing, when the value does not hold a key of the
 * right shape. The id names the key (rate limits per key) without its secret.
 */
bool nd_auth_key_id(const char *authorization, char id[ND_KEY_ID_LEN + 1]);

#endif
