/*
 * auth.c: making and checking API keys.
 *
 * A key is "nd_" + key id + "_" + secret: the key id is 9 random bytes and
 * the secret 32, both in URL-safe base64 without padding (12 and 43
 * characters). As the base64 alphabet contains '_', the parts are found by
 * position, never by splitting on '_'. The store keeps the key id in clear
 * (to find the row) and a 32-byte BLAKE2b hash of the whole key, compared in
 * constant time. The secret has 256 bits of entropy, so an unsalted fast hash
 * is enough: there is nothing to brute-force.
 */
#include "newsd/auth.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/util.h"

#define ID_BYTES 9
#define SECRET_BYTES 32
#define ID_CHARS ND_KEY_ID_LEN /* base64 of 9 bytes, no padding */
#define SECRET_CHARS 43        /* base64 of 32 bytes, no padding */
#define PREFIX "nd_"
#define PREFIX_LEN 3
#define KEY_CHARS (PREFIX_LEN + ID_CHARS + 1 + SECRET_CHARS)
#define NAME_MAX_CHARS 64

enum nd_err nd_auth_init(void)
{
    if (sodium_init() < 0) {
        nd_log(ND_LOG_ERROR, "libsodium cannot be initialized");
        return ND_ERR_IO;
    }
    return ND_OK;
}

static void hash_key(const char *key, size_t len, unsigned char hash[ND_KEY_HASH_LEN])
{
    crypto_generichash(hash, ND_KEY_HASH_LEN, (const unsigned char *)key, len, NULL, 0);
}

/* 1..64 characters of valid UTF-8 without control characters. */
static bool name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || !nd_utf8_valid(name, len) || nd_utf8_len(name) > NAME_MAX_CHARS)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/*
 * Creates a key. On ND_OK *key is a malloc'd string the caller frees (and
 * should wipe); on failure nothing is stored and *key is untouched.
 */
enum nd_err nd_auth_key_create(struct nd_store *store, const char *name, char **key)
{
    unsigned char id_bytes[ID_BYTES];
    unsigned char secret[SECRET_BYTES];
    unsigned char hash[ND_KEY_HASH_LEN];
    char id[ID_CHARS + 1];
    char *text = NULL;
    enum nd_err rc;

    if (!name_valid(name))
        return ND_ERR_INVALID;
    text = malloc(KEY_CHARS + 1);
    if (text == NULL)
        return ND_ERR_NOMEM;
    randombytes_buf(id_bytes, sizeof id_bytes);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2base64(id, sizeof id, id_bytes, sizeof id_bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    memcpy(text, PREFIX, PREFIX_LEN);
    memcpy(text + PREFIX_LEN, id, ID_CHARS);
    text[PREFIX_LEN + ID_CHARS] = '_';
    sodium_bin2base64(text + PREFIX_LEN + ID_CHARS + 1, SECRET_CHARS + 1, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_key(text, KEY_CHARS, hash);
    rc = nd_store_key_insert(store, name, id, hash, sizeof hash);
    if (rc != ND_OK)
        goto out;
    *key = text;
    text = NULL;
out:
    sodium_memzero(secret, sizeof secret);
    if (text != NULL) {
        sodium_memzero(text, KEY_CHARS + 1);
        free(text);
    }
    return rc;
}

static bool is_base64url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/*
 * Finds the key in an Authorization value: the scheme "Bearer" (any case),
 * white space, then a token of exactly the key's shape. NULL otherwise.
 */
static const char *bearer_key(const char *authorization)
{
    const char *p = authorization;
    if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return NULL;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len != KEY_CHARS || memcmp(p, PREFIX, PREFIX_LEN) != 0 || p[PREFIX_LEN + ID_CHARS] != '_' ||
        !is_base64url(p, KEY_CHARS))
        return NULL;
    return p;
}

bool nd_auth_key_id(const char *authorization, char id[ND_KEY_ID_LEN + 1])
{
    const char *key = bearer_key(authorization);
    if (key == NULL)
        return false;
    memcpy(id, key + PREFIX_LEN, ID_CHARS);
    id[ID_CHARS] = '\0';
    return true;
}

enum nd_err nd_auth_check(struct nd_store *store, const char *authorization)
{
    unsigned char stored[ND_KEY_HASH_LEN];
    unsigned char given[ND_KEY_HASH_LEN];
    char id[ID_CHARS + 1];
    const char *key = bearer_key(authorization);

    if (key == NULL)
        return ND_ERR_UNAUTHORIZED;
    memcpy(id, key + PREFIX_LEN, ID_CHARS);
    id[ID_CHARS] = '\0';
    enum nd_err rc = nd_store_key_lookup(store, id, stored, sizeof stored);
    if (rc == ND_ERR_NOT_FOUND)
        return ND_ERR_UNAUTHORIZED;
    if (rc != ND_OK)
        return rc;
    hash_key(key, KEY_CHARS, given);
    return sodium_memcmp(stored, given, sizeof given) == 0 ? ND_OK : ND_ERR_UNAUTHORIZED;
}
