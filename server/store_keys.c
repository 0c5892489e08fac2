/*
 * store_keys.c: API keys in SQLite. Only a key's public id and the hash of
 * the whole key are stored; the key itself never reaches the store, and the
 * hash never leaves it except through nd_store_key_lookup for comparison.
 */
#include <string.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

enum nd_err nd_store_key_insert(struct nd_store *st, const char *name, const char *key_id,
                                const unsigned char *hash, size_t hash_len)
{
    enum nd_err err = ND_OK;
    if (!st || !name || !key_id || !hash || hash_len == 0 || hash_len > INT32_MAX)
        return ND_ERR_INVALID;
    err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    sqlite3_stmt *stmt = nd_store_stmt(st, ND_STMT_KEY_INSERT,
                                       "INSERT INTO api_keys (name, key_id, hash, created_at) "
                                       "VALUES (:name, :key_id, :hash, :now)",
                                       &err);
    if (!stmt)
        goto out;
    int rc = nd_store_bind_text(stmt, ":name", name);
    if (rc == SQLITE_OK)
        rc = nd_store_bind_text(stmt, ":key_id", key_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(stmt, sqlite3_bind_parameter_index(stmt, ":hash"), hash,
                               (int)hash_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = nd_store_bind_int(stmt, ":now", nd_time_now());
    err = rc == SQLITE_OK ? nd_store_step_done(st, stmt, "key insert")
                          : nd_store_sqlite_err(st->db, rc, "key insert");
    nd_store_release(stmt);
out:
    return nd_store_finish(st, err);
}

enum nd_err nd_store_key_lookup(struct nd_store *st, const char *key_id, unsigned char *hash,
                                size_t hash_len)
{
    enum nd_err err = ND_OK;
    if (!key_id)
        return ND_ERR_NOT_FOUND;
    sqlite3_stmt *stmt = nd_store_stmt(st, ND_STMT_KEY_LOOKUP,
                                       "SELECT hash FROM api_keys WHERE key_id = :key_id", &err);
    if (!stmt)
        return err;
    int rc = nd_store_bind_text(stmt, ":key_id", key_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(stmt, 0);
        size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
        if (stored && len == hash_len) {
            memcpy(hash, stored, hash_len);
        } else {
            nd_log(ND_LOG_ERROR, "store: the stored hash of a key has %zu bytes, not %zu", len,
                   hash_len);
            err = ND_ERR_DB;
        }
    } else if (rc == SQLITE_DONE) {
        err = ND_ERR_NOT_FOUND;
    } else {
        err = nd_store_sqlite_err(st->db, rc, "key lookup");
    }
    nd_store_release(stmt);
    return err;
}

/* Appends the key in the current row of stmt (name, key_id, created_at) to arr. */
static enum nd_err append_key(json_t *arr, sqlite3_stmt *stmt)
{
    json_t *obj = json_object();
    if (!obj)
        return ND_ERR_NOMEM;
    enum nd_err err = nd_store_json_text(obj, "name", stmt, 0);
    if (err == ND_OK)
        err = nd_store_json_text(obj, "key_id", stmt, 1);
    if (err == ND_OK)
        err = nd_store_json_time(obj, "created_at", stmt, 2);
    if (err != ND_OK) {
        json_decref(obj);
        return err;
    }
    return json_array_append_new(arr, obj) == 0 ? ND_OK : ND_ERR_NOMEM;
}

enum nd_err nd_store_key_list(struct nd_store *st, json_t **out)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = nd_store_stmt(
        st, ND_STMT_KEY_LIST, "SELECT name, key_id, created_at FROM api_keys ORDER BY id", &err);
    if (!stmt)
        return err;
    json_t *arr = json_array();
    if (!arr) {
        err = ND_ERR_NOMEM;
        goto out;
    }
    int rc = sqlite3_step(stmt);
    for (; rc == SQLITE_ROW && err == ND_OK; rc = sqlite3_step(stmt))
        err = append_key(arr, stmt);
    if (err == ND_OK && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, "key list");
out:
    nd_store_release(stmt);
    if (err != ND_OK) {
        json_decref(arr);
        return err;
    }
    *out = arr;
    return ND_OK;
}

enum nd_err nd_store_key_delete(struct nd_store *st, const char *name)
{
    enum nd_err err = ND_OK;
    if (!name)
        return ND_ERR_NOT_FOUND;
    err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    sqlite3_stmt *stmt =
        nd_store_stmt(st, ND_STMT_KEY_DELETE, "DELETE FROM api_keys WHERE name = :name", &err);
    if (!stmt)
        goto out;
    int rc = nd_store_bind_text(stmt, ":name", name);
    err = rc == SQLITE_OK ? nd_store_step_done(st, stmt, "key delete")
                          : nd_store_sqlite_err(st->db, rc, "key delete");
    if (err == ND_OK && sqlite3_changes(st->db) == 0)
        err = ND_ERR_NOT_FOUND;
    nd_store_release(stmt);
out:
    return nd_store_finish(st, err);
}
