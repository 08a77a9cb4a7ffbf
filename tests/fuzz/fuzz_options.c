/* fuzz: libFuzzer target for request options (store_options_check, the
 * "options" object of /api/generate, /api/chat, /api/embed and Modelfile
 * parameters). The input is any JSON value; it is checked as it is, and,
 * when it is an object, each of its values is also checked under a few
 * known option names of every type. Invariants: 0 with a typed object
 * that checks again to an equal object (idempotent), or a negative code
 * with a message and no object; store_show_parameters renders the typed
 * copy; nothing leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

static const char *const names[] = {"temperature", "num_ctx", "stop", "use_mmap", "seed",
                                    "top_p", "num_predict", "penalize_newline", "mirostat_tau",
                                    "numa"};

static void check(const json_t *opts)
{
    json_t *typed = NULL, *again = NULL;
    char err[512] = "";
    int rc = store_options_check(opts, &typed, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0 || typed || !err[0])
            abort();
        return;
    }
    if (opts && !typed)
        abort();
    if (typed) {
        char e2[512] = "";
        if (store_options_check(typed, &again, e2, sizeof(e2)) != 0 || !json_equal(typed, again))
            abort();
        json_decref(again);
    }
    char *s = store_show_parameters(typed);
    if (!s)
        abort();
    free(s);
    json_decref(typed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v)
        return 0;
    check(v);
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                json_t *o = json_pack("{s:O}", names[i], x);
                check(o);
                json_decref(o);
            }
        }
    }
    json_decref(v);
    return 0;
}
