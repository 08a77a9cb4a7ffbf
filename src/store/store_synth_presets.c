/* store: named model shapes for the synthesizer.
 *
 * "tinyllama-1.1b" and "qwen2.5-0.5b" have the shapes of the public models
 * (TinyLlama-1.1B-Chat-v1.0, Qwen2.5-0.5B-Instruct) for benchmarks; the
 * "tiny-<arch>" presets are small shapes (n_embd 128, 2 layers) for tests. */
#include <string.h>

#include "base/om.h"
#include "store/store.h"

struct preset {
    const char *name;
    struct store_synth_spec spec;
};

#define TINY(arch_, ff_, hkv_, hd_, tied_, bias_, rope_, eps_)                                    \
    {STORE_ARCH_##arch_, 128, 2, 4, hkv_, ff_, 512, 256, hd_, tied_, bias_, rope_, eps_,           \
     STORE_FTYPE_F32, 42, 0, NULL}

static const struct preset g_presets[] = {
    {"tinyllama-1.1b",
     {STORE_ARCH_LLAMA, 2048, 22, 32, 4, 5632, 32000, 2048, 0, 0, 0, 10000.0f, 1e-5f,
      STORE_FTYPE_Q4_K_M, 42, 0, "TinyLlama-1.1B-shape (synthetic)"}},
    {"qwen2.5-0.5b",
     {STORE_ARCH_QWEN2, 896, 24, 14, 2, 4864, 151936, 32768, 0, 1, 1, 1000000.0f, 1e-6f,
      STORE_FTYPE_Q4_K_M, 42, 0, "Qwen2.5-0.5B-shape (synthetic)"}},
    {"tiny-llama", TINY(LLAMA, 256, 2, 0, 0, 0, 10000.0f, 1e-5f)},
    {"tiny-qwen2", TINY(QWEN2, 256, 2, 0, 1, 1, 1000000.0f, 1e-6f)},
    {"tiny-qwen3", TINY(QWEN3, 256, 2, 64, 1, 0, 1000000.0f, 1e-6f)},
    {"tiny-phi3", TINY(PHI3, 256, 4, 0, 0, 0, 10000.0f, 1e-5f)},
    {"tiny-gemma2", TINY(GEMMA2, 256, 2, 32, 1, 0, 10000.0f, 1e-6f)},
    {"tiny-gemma3", TINY(GEMMA3, 256, 2, 32, 1, 0, 1000000.0f, 1e-6f)},
    {"tiny-bert", TINY(BERT, 256, 4, 0, 1, 0, 10000.0f, 1e-12f)},
    {"tiny-nomic-bert", TINY(NOMIC_BERT, 256, 4, 0, 1, 0, 1000.0f, 1e-12f)},
};

static const char *const g_names[] = {
    "tinyllama-1.1b", "qwen2.5-0.5b", "tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-phi3",
    "tiny-gemma2", "tiny-gemma3", "tiny-bert", "tiny-nomic-bert", NULL,
};

const char *const *store_synth_preset_names(void)
{
    return g_names;
}

int store_synth_preset(const char *name, struct store_synth_spec *spec)
{
    for (size_t i = 0; name && i < OM_ARRAY_LEN(g_presets); i++)
        if (!strcmp(name, g_presets[i].name)) {
            *spec = g_presets[i].spec;
            if (!spec->name)
                spec->name = g_presets[i].name;
            return 0;
        }
    return OM_ENOTFOUND;
}

void store_synth_defaults(enum store_arch arch, struct store_synth_spec *spec)
{
    char name[64] = "tiny-";
    const char *an = store_arch_name(arch);
    strncat(name, an ? an : "llama", sizeof(name) - 6);
    if (store_synth_preset(name, spec))
        store_synth_preset("tiny-llama", spec);
}
