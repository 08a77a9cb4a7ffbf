/* test helper: reads the golden reference files in shared/golden/
 * (<model>.greedy.json) with a tiny hand-written JSON scanner: for each
 * prompt, its prompt token ids, the first-step top-k (id, logit) and the
 * greedy generated token ids. Everything else in the file is skipped. */
#ifndef GOLDEN_JSON_H
#define GOLDEN_JSON_H

#include <stdint.h>

#define GOLDEN_MAX_TOK 512
#define GOLDEN_MAX_TOPK 32
#define GOLDEN_MAX_CASES 16

struct golden_case {
    int n_prompt;
    int32_t prompt[GOLDEN_MAX_TOK];
    int n_topk;
    int32_t top_id[GOLDEN_MAX_TOPK];
    float top_logit[GOLDEN_MAX_TOPK];
    int n_gen;
    int32_t gen[GOLDEN_MAX_TOK];
};

/* Parses path into cases (up to max). Returns the number of cases, or -1
 * when the file cannot be read or is not the expected shape. */
int golden_load(const char *path, struct golden_case *cases, int max);

#endif
