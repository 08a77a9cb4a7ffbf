/* cli: `ollamamax synth` — writes a random model of a given family and shape
 * (store_synth). A preset gives the shape; --arch alone means "tiny-<arch>";
 * dimension flags override either. Progress on stderr; errors on stderr with
 * exit status 1 (2 for usage errors). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_types.h"
#include "cli/cli_store.h"
#include "store/store.h"

static void synth_usage(FILE *f)
{
    fprintf(f,
            "usage: ollamamax synth (--arch ARCH | --preset NAME) -o OUT.gguf [options]\n"
            "  --arch      llama qwen2 qwen3 phi3 gemma2 gemma3 bert nomic-bert\n"
            "  --preset    tinyllama-1.1b qwen2.5-0.5b tiny-<arch>\n"
            "  --type T    f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_K_S q4_K_M q5_K_S q5_K_M q6_K\n"
            "  --seed S    --name NAME   -t THREADS   -q (quiet)\n"
            "  --n-embd N --n-layer N --n-head N --n-head-kv N --n-ff N --n-vocab N\n"
            "  --n-ctx N --head-dim N --rope-base F --tied 0|1 --qkv-bias 0|1\n");
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return -1;
    *out = v;
    return 0;
}

struct sprog {
    int quiet;
    uint64_t total;
};

static int synth_progress(const struct store_progress *p, void *ud)
{
    struct sprog *s = ud;
    s->total += p->bytes_out;
    if (!s->quiet)
        fprintf(stderr, "[%4lld/%4lld] %-40s %-6s %9.2f MiB\n", (long long)p->i_tensor + 1,
                (long long)p->n_tensors, p->name, om_type_name(p->dst_type),
                p->bytes_out / 1048576.0);
    return 0;
}

int cli_cmd_synth(int argc, char **argv)
{
    const char *arch = NULL, *preset = NULL, *type = NULL, *out = NULL, *name = NULL;
    int quiet = 0;
    /* Overrides: index into this table of flags. */
    static const char *const dim_flags[] = {"--n-embd", "--n-layer", "--n-head", "--n-head-kv",
                                            "--n-ff", "--n-vocab", "--n-ctx", "--head-dim",
                                            "--seed", "--tied", "--qkv-bias", "-t"};
    enum { N_DIM = sizeof(dim_flags) / sizeof(dim_flags[0]) };
    int64_t dim_val[N_DIM];
    int dim_set[N_DIM] = {0};
    double rope = 0;
    int rope_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            synth_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "Error: %s needs a value\n", a);
            synth_usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--arch"))
            arch = v;
        else if (!strcmp(a, "--preset"))
            preset = v;
        else if (!strcmp(a, "--type"))
            type = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = v;
        else if (!strcmp(a, "--name"))
            name = v;
        else if (!strcmp(a, "--rope-base")) {
            char *end;
            rope = strtod(v, &end);
            if (!*v || *end || !(rope > 0)) {
                fprintf(stderr, "Error: --rope-base needs a positive number\n");
                return 2;
            }
            rope_set = 1;
        } else {
            int k = 0;
            while (k < N_DIM && strcmp(a, dim_flags[k]))
                k++;
            if (k == N_DIM) {
                fprintf(stderr, "Error: unknown option %s\n", a);
                synth_usage(stderr);
                return 2;
            }
            if (parse_i64(v, &dim_val[k])) {
                fprintf(stderr, "Error: %s needs a non-negative integer, got \"%s\"\n", a, v);
                return 2;
            }
            dim_set[k] = 1;
        }
    }
    if (!out || (!arch && !preset)) {
        fprintf(stderr, "Error: synth needs -o OUT.gguf and --arch or --preset\n");
        synth_usage(stderr);
        return 2;
    }
    struct store_synth_spec spec;
    if (preset) {
        if (store_synth_preset(preset, &spec)) {
            fprintf(stderr, "Error: unknown preset \"%s\"\n", preset);
            return 2;
        }
    }
    if (arch) {
        enum store_arch ar;
        if (store_arch_from_name(arch, &ar)) {
            fprintf(stderr, "Error: unknown architecture \"%s\"\n", arch);
            return 2;
        }
        if (preset && spec.arch != ar) {
            fprintf(stderr, "Error: preset %s is a %s model, not %s\n", preset,
                    store_arch_name(spec.arch), arch);
            return 2;
        }
        if (!preset)
            store_synth_defaults(ar, &spec);
    }
    int64_t *fields[] = {&spec.n_embd, &spec.n_layer, &spec.n_head, &spec.n_head_kv,
                         &spec.n_ff, &spec.n_vocab, &spec.n_ctx, &spec.head_dim};
    for (int k = 0; k < 8; k++)
        if (dim_set[k])
            *fields[k] = dim_val[k];
    if (dim_set[2] && !dim_set[3])
        spec.n_head_kv = spec.n_head;
    if (dim_set[8])
        spec.seed = (uint64_t)dim_val[8];
    if (dim_set[9])
        spec.tied_embd = dim_val[9] != 0;
    if (dim_set[10])
        spec.qkv_bias = dim_val[10] != 0;
    if (dim_set[11])
        spec.n_threads = (int)OM_MIN(dim_val[11], 1024);
    if (rope_set)
        spec.rope_base = (float)rope;
    if (name)
        spec.name = name;
    if (type && store_ftype_from_name(type, &spec.ftype)) {
        fprintf(stderr, "Error: unknown quantization type \"%s\"\n", type);
        return 2;
    }
    struct sprog sp = {quiet, 0};
    char err[512];
    uint64_t t0 = om_time_ns();
    int rc = store_synth(&spec, out, synth_progress, &sp, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "Error: synth: %s\n", err);
        return 1;
    }
    fprintf(stderr, "wrote %s: %s %s, %.2f MiB of tensors in %.1f s\n", out,
            store_arch_name(spec.arch), store_ftype_name(spec.ftype), sp.total / 1048576.0,
            (om_time_ns() - t0) / 1e9);
    return 0;
}
