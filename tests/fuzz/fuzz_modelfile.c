/* fuzz: libFuzzer target for the Modelfile parser (store_modelfile_parse).
 * The input is a Modelfile's text. Invariants: the parser returns 0 with a
 * JSON object (the /api/create body) or a negative code with an error
 * message and no object; on success the "parameters" object, when present,
 * goes through store_options_check (either verdict is fine, but a failure
 * must carry a message and no typed copy) and store_show_parameters, and the
 * body serialises with store_json_go. Nothing may leak. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = NULL;
    char err[512] = "";
    int rc = store_modelfile_parse((const char *)data, size, &req, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0 || req || !err[0])
            abort();
        return 0;
    }
    if (!json_is_object(req))
        abort();
    const json_t *params = json_object_get(req, "parameters");
    if (params) {
        json_t *typed = NULL;
        char e2[512] = "";
        int r2 = store_options_check(params, &typed, e2, sizeof(e2));
        if (r2 == 0) {
            if (json_is_object(params) && !json_is_object(typed))
                abort();
            char *txt = store_show_parameters(typed);
            if (!txt)
                abort();
            free(txt);
        } else if (r2 > 0 || typed || !e2[0]) {
            abort();
        }
        json_decref(typed);
    }
    size_t len = 0;
    char *s = store_json_go(req, true, false, &len);
    if (!s || strlen(s) != len)
        abort();
    free(s);
    json_decref(req);
    return 0;
}
