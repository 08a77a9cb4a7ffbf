/* test helper: shared plumbing of the engine tests (see eng_testlib.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/eng_testlib.h"

const char *const et_decoders[] = {"llama", "qwen2",  "qwen2moe", "qwen3",  "qwen3moe", "phi3",
                                   "gemma", "gemma2", "gemma3", "granite", "starcoder2",
                                   "olmo2", "phi2",   "command-r"};
const size_t et_n_decoders = sizeof et_decoders / sizeof et_decoders[0];
char et_dir[256];

void et_model_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s/%s.gguf", et_dir, tag);
}

eng_model *et_load_opts(const struct synth_opts *o, const char *tag)
{
    char path[512], err[256];
    et_model_path(path, sizeof path, tag);
    int rc = synth_model_write(o, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "synth %s: %s\n", tag, err);
    assert_int_equal(rc, 0);
    eng_model *m = NULL;
    rc = eng_model_load(path, NULL, &m, err, sizeof err);
    if (rc)
        fprintf(stderr, "load %s: %s\n", tag, err);
    assert_int_equal(rc, 0);
    return m;
}

eng_model *et_load_family(const char *arch)
{
    struct synth_opts o;
    synth_opts_default(&o, arch);
    return et_load_opts(&o, arch);
}

eng_ctx *et_ctx_new(eng_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq,
                        uint32_t kv, int threads)
{
    struct eng_ctx_params p;
    eng_ctx_params_default(&p);
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_seq_max = n_seq;
    p.type_kv = kv;
    p.n_threads = threads;
    eng_ctx *c = NULL;
    char err[256];
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), 0);
    return c;
}

void et_prompt(int32_t *t, int n, int n_vocab, int salt)
{
    for (int i = 0; i < n; i++)
        t[i] = 3 + (i * 7 + salt * 13 + i * i) % (n_vocab - 3);
}

double et_max_rel(const float *a, const float *b, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (d > m)
            m = d;
    }
    return m;
}

/* Decodes n tokens of seq at positions p0.. with logits for all; copies them. */
void et_decode_all(eng_ctx *c, const int32_t *tok, int n, int32_t seq, int32_t p0,
                       float (*out)[ET_MAXV], int nv)
{
    int32_t pos[64], sid[64];
    int8_t lg[64];
    for (int i = 0; i < n; i++) {
        pos[i] = p0 + i;
        sid[i] = seq;
        lg[i] = 1;
    }
    struct eng_batch b = {n, tok, pos, sid, lg};
    assert_int_equal(eng_decode(c, &b), 0);
    assert_int_equal(eng_n_outputs(c), n);
    for (int i = 0; i < n; i++)
        memcpy(out[i], eng_get_logits(c, i), sizeof(float) * (size_t)nv);
}

int et_setup(void **st)
{
    (void)st;
    snprintf(et_dir, sizeof et_dir, "/tmp/om_eng_test_XXXXXX");
    return mkdtemp(et_dir) ? 0 : -1;
}

int et_teardown(void **st)
{
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", et_dir);
    return system(cmd) == 0 ? 0 : -1;
}
