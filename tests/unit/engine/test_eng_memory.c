/* Engine memory test: weights are views into the mapping, never copied, so
 * the peak resident set while loading, prompting and generating stays under
 * file size + KV cache + 64 MiB (measured as growth of VmHWM over the RSS
 * before loading). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "engine/eng.h"
#include "helpers/synth_model.h"

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static void test_peak_rss(void **st)
{
    (void)st;
    if (getenv("OM_TEST_QUICK")) { /* sanitizer shadow memory distorts RSS */
        fprintf(stderr, "SKIP: RSS bound not meaningful under OM_TEST_QUICK (sanitizers)\n");
        skip();
    }
    char dir[] = "/tmp/om_eng_mem_XXXXXX", path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    /* ~180 MiB of F16 weights: a copy of them would break the bound */
    o.wtype = OM_TYPE_F16;
    o.n_embd = 1024;
    o.n_ff = 2816;
    o.n_layer = 6;
    o.n_head = 16;
    o.n_head_kv = 4;
    o.n_vocab = 8192;
    o.n_ctx_train = 2048;
    assert_int_equal(synth_model_write(&o, path, err, sizeof err), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* reset the peak (writing the model above used memory of its own) */
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    long base = status_kib("VmRSS");
    if (base < 0 || status_kib("VmHWM") < 0) {
        fprintf(stderr, "SKIP: /proc/self/status unavailable\n");
        unlink(path);
        rmdir(dir);
        skip();
    }
    eng_model *m = NULL;
    assert_int_equal(eng_model_load(path, NULL, &m, err, sizeof err), 0);
    struct eng_ctx_params p;
    eng_ctx_params_default(&p);
    p.n_ctx = 1024;
    p.n_batch = 256;
    p.n_threads = 2;
    eng_ctx *c = NULL;
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), 0);
    int32_t t[64];
    for (int i = 0; i < 64; i++)
        t[i] = 3 + (i * 37) % 8000;
    struct eng_batch b = {.n_tokens = 64, .token = t};
    assert_int_equal(eng_decode(c, &b), 0);
    for (int i = 0; i < 8; i++) {
        int32_t tok = 3 + i;
        struct eng_batch one = {.n_tokens = 1, .token = &tok};
        assert_int_equal(eng_decode(c, &one), 0);
    }
    long peak = status_kib("VmHWM");
    uint64_t kv = eng_ctx_kv_bytes(c);
    long bound = (long)(((uint64_t)sb.st_size + kv) / 1024) + 64 * 1024;
    fprintf(stderr, "file %lld KiB, kv %llu KiB, rss growth %ld KiB (bound %ld)\n",
            (long long)sb.st_size / 1024, (unsigned long long)kv / 1024, peak - base, bound);
    assert_true(peak - base <= bound);
    eng_ctx_free(c);
    eng_model_free(m);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_peak_rss)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
