/*
 * store_keys.c: API keys in SQLite. Only a key's public id and the hash of
 * the whole key are stored; the key itself never reaches the store, and the
 * hash never leaves it except through nd_store_key_lookup for comparison.
 */
#include <string.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

enum nd_err nd_sqlite_key_insert(struct nd_store *store, const char *name, const char *key_id,
                                 const unsigned char *hash, size_t hash_len)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!st || !name || !key_id || !hash || hash_len == 0 || hash_len > INT32_MAX)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_exec(st, ND_STMT_KEY_INSERT,
                        "INSERT INTO api_keys (name, key_id, hash, created_at) "
                        "VALUES (:name, :key_id, :hash, :now)",
                        ND_PARAMS(ND_TEXT(":name", name), ND_TEXT(":key_id", key_id),
                                  ND_BLOB(":hash", hash, (int)hash_len),
                                  ND_INT(":now", nd_time_now())),
                        "key insert");
    return nd_store_finish(st, err);
}

/* Where a key's stored hash is copied to. */
struct hash_out {
    unsigned char *hash;
    size_t len;
};

/* An nd_store_row_fn: the hash in column 0 into the struct hash_out at ctx. */
static enum nd_err read_hash(sqlite3_stmt *stmt, void *ctx)
{
    const struct hash_out *out = ctx;
    const void *stored = sqlite3_column_blob(stmt, 0);
    size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
    if (!stored || len != out->len) {
        nd_log(ND_LOG_ERROR, "store: the stored hash of a key has %zu bytes, not %zu", len,
               out->len);
        return ND_ERR_DB;
    }
    memcpy(out->hash, stored, len);
    return ND_OK;
}

enum nd_err nd_sqlite_key_lookup(struct nd_store *store, const char *key_id, unsigned char *hash,
                                 size_t hash_len)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    struct hash_out out = {hash, hash_len};
    if (!key_id)
        return ND_ERR_NOT_FOUND;
    return nd_store_row(st, ND_STMT_KEY_LOOKUP, "SELECT hash FROM api_keys WHERE key_id = :key_id",
                        ND_PARAMS(ND_TEXT(":key_id", key_id)), read_hash, &out, "key lookup");
}

enum nd_err nd_sqlite_key_list(struct nd_store *store, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_list(st, ND_STMT_KEY_LIST,
                         "SELECT name, key_id, created_at FROM api_keys ORDER BY id", NULL,
                         nd_row_map_shape, &nd_key_shape, out, "key list");
}

enum nd_err nd_sqlite_key_delete(struct nd_store *store, const char *name)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!name)
        return ND_ERR_NOT_FOUND;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_exec_change(st, ND_STMT_KEY_DELETE, "DELETE FROM api_keys WHERE name = :name",
                               ND_PARAMS(ND_TEXT(":name", name)), "key delete");
    return nd_store_finish(st, err);
}
