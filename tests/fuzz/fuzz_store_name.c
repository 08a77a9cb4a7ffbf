/* fuzz: libFuzzer target for model names and digests (store_name_parse,
 * store_name_full/display, store_digest_valid/canon). The input, cut at its
 * first NUL, is a name and a digest candidate. Invariants: a parsed name has
 * four non-empty parts with no '/', none starting with '.', and only the
 * host may hold ':' (so it is a safe relative path); its full and display
 * forms parse again to an equal name (and the full form re-renders to
 * itself); a digest is valid only at 71 bytes, its canonical form is valid,
 * lowercase, and canonical again. Violations trap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "store/models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Log lines are formatted (at every level) but not printed. */
static void quiet_log(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)lvl, (void)ud;
    if (strlen(module) + strlen(msg) == (size_t)-1)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    om_log_set(quiet_log, NULL, OM_LOG_DEBUG);
    return 0;
}

static void check_part(const char *p, int colon_ok)
{
    if (!p[0] || p[0] == '.' || strchr(p, '/') || strchr(p, '\\'))
        __builtin_trap();
    if (!colon_ok && strchr(p, ':'))
        __builtin_trap();
}

static void check_name(const char *s)
{
    struct store_name n, m, d;
    if (store_name_parse(s, &n) != 0)
        return;
    check_part(n.host, 1);
    check_part(n.ns, 0);
    check_part(n.model, 0);
    check_part(n.tag, 0);
    if (strchr(n.ns, '.'))
        __builtin_trap();
    char full[2048], full2[2048], disp[2048];
    store_name_full(&n, full, sizeof(full));
    if (store_name_parse(full, &m) != 0 || !store_name_equal(&n, &m))
        __builtin_trap();
    if (memcmp(&n, &m, sizeof(n)) != 0) /* same bytes, not only case-insensitively */
        __builtin_trap();
    store_name_full(&m, full2, sizeof(full2));
    if (strcmp(full, full2) != 0)
        __builtin_trap();
    store_name_display(&n, disp, sizeof(disp));
    if (store_name_parse(disp, &d) != 0 || !store_name_equal(&n, &d))
        __builtin_trap();
    if (!store_name_equal(&n, &n))
        __builtin_trap();
}

static void check_digest(const char *s)
{
    char c[72], c2[72];
    int v = store_digest_valid(s);
    if (v != 0 && v != 1)
        __builtin_trap();
    int rc = store_digest_canon(s, c);
    if ((rc == 0) != (v == 1))
        __builtin_trap();
    if (!v)
        return;
    if (strlen(s) != STORE_DIGEST_LEN || strlen(c) != STORE_DIGEST_LEN)
        __builtin_trap();
    if (memcmp(c, "sha256:", 7) != 0 || !store_digest_valid(c))
        __builtin_trap();
    for (int i = 7; i < STORE_DIGEST_LEN; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f')))
            __builtin_trap();
    if (store_digest_canon(c, c2) != 0 || strcmp(c, c2) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_name(s);
    check_digest(s);
    /* after the first NUL, the rest is a second name/digest */
    size_t n0 = strlen(s);
    if (n0 < size) {
        check_name(s + n0 + 1);
        check_digest(s + n0 + 1);
    }
    free(s);
    return 0;
}
