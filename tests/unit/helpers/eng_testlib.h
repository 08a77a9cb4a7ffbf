/* test helper: shared plumbing of the engine tests (test_eng_*.c): a
 * temporary directory for synthetic models, loading them, contexts, prompts,
 * batched decoding and logit comparisons. Failures are cmocka assertions. */
#ifndef ENG_TESTLIB_H
#define ENG_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "engine/eng.h"
#include "helpers/synth_model.h"

#define ET_MAXV 256 /* vocabulary bound of the synthetic models */

/* Every decoder family synth_model.c can write. */
extern const char *const et_decoders[];
extern const size_t et_n_decoders;
/* The temporary directory (made by et_setup, removed by et_teardown). */
extern char et_dir[256];

int et_setup(void **state);
int et_teardown(void **state);
/* <et_dir>/<tag>.gguf */
void et_model_path(char *buf, size_t n, const char *tag);
/* Writes o as <tag>.gguf and loads it (asserting success). */
eng_model *et_load_opts(const struct synth_opts *o, const char *tag);
/* Same with synth_opts_default(arch). */
eng_model *et_load_family(const char *arch);
eng_ctx *et_ctx_new(eng_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq, uint32_t kv,
                    int threads);
/* n deterministic token ids in [3, n_vocab) varying with salt. */
void et_prompt(int32_t *t, int n, int n_vocab, int salt);
/* max |a - b| / max(1, |b|) */
double et_max_rel(const float *a, const float *b, int n);
/* Decodes n tokens of seq at positions p0.. asking logits for all; copies them. */
void et_decode_all(eng_ctx *c, const int32_t *tok, int n, int32_t seq, int32_t p0,
                   float (*out)[ET_MAXV], int nv);

#endif
