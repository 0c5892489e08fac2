/*
 * test_auth.c: API keys against a real store (":memory:", or a new
 * PostgreSQL database in unit-pg: backend_fixture.h): the key's shape,
 * accepted and refused Authorization values, names, and revocation.
 */
#include <stdlib.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/auth.h"
#include "newsd/store.h"

static struct nd_store *open_store(void)
{
    struct nd_store_options opts = {ND_SYNC_OFF, 1000, 0, 0, false};
    return fresh_store(&opts);
}

/* Checks the header value before + key + after. */
static int check_header(struct nd_store *store, const char *before, const char *key,
                        const char *after)
{
    char header[256];
    snprintf(header, sizeof header, "%s%s%s", before, key, after);
    return nd_auth_check(store, header);
}

static void test_key_shape(void)
{
    struct nd_store *store = open_store();
    char *a = NULL, *b = NULL;

    CHECK_INT(nd_auth_key_create(store, "ci", &a), ND_OK);
    CHECK_INT(nd_auth_key_create(store, "deploy", &b), ND_OK);
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL)
        goto out;
    CHECK_INT(strlen(a), 59);
    CHECK(strncmp(a, "nd_", 3) == 0);
    CHECK(a[15] == '_');
    CHECK_INT(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 59);
    CHECK(strcmp(a, b) != 0);
    CHECK(strncmp(a, b, 15) != 0); /* distinct key ids */
out:
    free(a);
    free(b);
    nd_store_close(store);
}

static void test_check(void)
{
    struct nd_store *store = open_store();
    char *key = NULL;
    char wrong[64];

    CHECK_INT(nd_auth_key_create(store, "ci", &key), ND_OK);
    if (key == NULL)
        goto out;
    CHECK_INT(check_header(store, "Bearer ", key, ""), ND_OK);
    CHECK_INT(check_header(store, "bearer ", key, ""), ND_OK);
    CHECK_INT(check_header(store, "BEARER   ", key, "  "), ND_OK);

    /* The same key id with another secret. */
    snprintf(wrong, sizeof wrong, "%s", key);
    wrong[58] = wrong[58] == 'A' ? 'B' : 'A';
    CHECK_INT(check_header(store, "Bearer ", wrong, ""), ND_ERR_UNAUTHORIZED);
    /* An unknown key id with the right secret. */
    snprintf(wrong, sizeof wrong, "%s", key);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    CHECK_INT(check_header(store, "Bearer ", wrong, ""), ND_ERR_UNAUTHORIZED);
out:
    free(key);
    nd_store_close(store);
}

static void test_malformed(void)
{
    struct nd_store *store = open_store();
    char *key = NULL;
    char text[128];
    static const struct {
        const char *before, *after;
    } forms[] = {
        {"", ""},             /* no scheme */
        {"Basic ", ""},       /* another scheme */
        {"Bearer", ""},       /* no separator */
        {"Bearer ", "x"},     /* one character too many */
        {"Bearer x", ""},     /* ...in front */
        {"Bearer ", " more"}, /* two tokens */
        {"Token ", ""},
    };
    CHECK_INT(nd_auth_key_create(store, "ci", &key), ND_OK);
    if (key == NULL)
        goto out;
    CHECK_INT(nd_auth_check(store, NULL), ND_ERR_UNAUTHORIZED);
    CHECK_INT(nd_auth_check(store, ""), ND_ERR_UNAUTHORIZED);
    CHECK_INT(nd_auth_check(store, "Bearer"), ND_ERR_UNAUTHORIZED);
    CHECK_INT(nd_auth_check(store, "Bearer "), ND_ERR_UNAUTHORIZED);
    CHECK_INT(nd_auth_check(store, "Basic dXNlcjpwYXNzd29yZA=="), ND_ERR_UNAUTHORIZED);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        printf("# \"%sKEY%s\"\n", forms[i].before, forms[i].after);
        CHECK_INT(check_header(store, forms[i].before, key, forms[i].after), ND_ERR_UNAUTHORIZED);
    }
    /* Truncated, and with a character outside the alphabet. */
    snprintf(text, sizeof text, "Bearer %.*s", 58, key);
    CHECK_INT(nd_auth_check(store, text), ND_ERR_UNAUTHORIZED);
    snprintf(text, sizeof text, "Bearer %s", key);
    text[7 + 40] = '+';
    CHECK_INT(nd_auth_check(store, text), ND_ERR_UNAUTHORIZED);
out:
    free(key);
    nd_store_close(store);
}

static void test_names(void)
{
    struct nd_store *store = open_store();
    char *key = NULL;
    char name[80];

    CHECK_INT(nd_auth_key_create(store, "", &key), ND_ERR_INVALID);
    CHECK_INT(nd_auth_key_create(store, "tab\there", &key), ND_ERR_INVALID);
    CHECK_INT(nd_auth_key_create(store, "bad\xff", &key), ND_ERR_INVALID);
    memset(name, 'n', 65);
    name[65] = '\0';
    CHECK_INT(nd_auth_key_create(store, name, &key), ND_ERR_INVALID);
    CHECK(key == NULL);
    name[64] = '\0';
    CHECK_INT(nd_auth_key_create(store, name, &key), ND_OK);
    free(key);
    key = NULL;
    CHECK_INT(nd_auth_key_create(store, "Zoë's laptop", &key), ND_OK);
    free(key);
    key = NULL;
    CHECK_INT(nd_auth_key_create(store, "Zoë's laptop", &key), ND_ERR_CONFLICT);
    CHECK(key == NULL);
    nd_store_close(store);
}

static void test_revoked(void)
{
    struct nd_store *store = open_store();
    char *key = NULL;

    CHECK_INT(nd_auth_key_create(store, "temp", &key), ND_OK);
    if (key == NULL)
        goto out;
    CHECK_INT(check_header(store, "Bearer ", key, ""), ND_OK);
    CHECK_INT(nd_store_key_delete(store, "temp"), ND_OK);
    CHECK_INT(check_header(store, "Bearer ", key, ""), ND_ERR_UNAUTHORIZED);
    CHECK_INT(nd_store_key_delete(store, "temp"), ND_ERR_NOT_FOUND);
out:
    free(key);
    nd_store_close(store);
}

static void test_key_id(void)
{
    struct nd_store *store = open_store();
    char *key = NULL;
    char id[ND_KEY_ID_LEN + 1] = "";
    char header[128];

    CHECK_INT(nd_auth_key_create(store, "ci", &key), ND_OK);
    if (key == NULL)
        goto out;
    snprintf(header, sizeof header, "Bearer  %s ", key);
    CHECK(nd_auth_key_id(header, id));
    CHECK_INT(strlen(id), ND_KEY_ID_LEN);
    CHECK(strncmp(id, key + 3, ND_KEY_ID_LEN) == 0);
    CHECK(strstr(key, id) == key + 3);
    CHECK(!nd_auth_key_id("Bearer nd_short_key", id));
    CHECK(!nd_auth_key_id(NULL, id));
    CHECK(!nd_auth_key_id(key, id)); /* no scheme */
out:
    free(key);
    nd_store_close(store);
}

int main(void)
{
    if (nd_auth_init() != ND_OK)
        return 1;
    return STORE_CHECK_RUN(CHECK_CASE(test_key_shape), CHECK_CASE(test_check),
                           CHECK_CASE(test_malformed), CHECK_CASE(test_names),
                           CHECK_CASE(test_revoked), CHECK_CASE(test_key_id));
}
