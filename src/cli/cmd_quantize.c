/* cli: `ollamamax quantize IN.gguf OUT.gguf TYPE [-t THREADS]` — quantizes a
 * GGUF model with llama.cpp's rules (store_quantize_file). Progress goes to
 * stderr, one line per tensor; errors to stderr with exit status 1 (2 for
 * usage errors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_types.h"
#include "cli/cli_store.h"
#include "store/store.h"

static void quantize_usage(FILE *f)
{
    fprintf(f, "usage: ollamamax quantize IN.gguf OUT.gguf TYPE [-t THREADS] [-q]\n"
               "types: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_K_S q4_K_M q5_K_S q5_K_M q6_K\n");
}

struct qprog {
    int quiet;
    uint64_t in_total, out_total;
};

static int quantize_progress(const struct store_progress *p, void *ud)
{
    struct qprog *q = ud;
    q->in_total += p->bytes_in;
    q->out_total += p->bytes_out;
    if (!q->quiet)
        fprintf(stderr, "[%4lld/%4lld] %-40s %6s -> %-6s %9.2f MiB -> %9.2f MiB\n",
                (long long)p->i_tensor + 1, (long long)p->n_tensors, p->name,
                om_type_name(p->src_type), om_type_name(p->dst_type), p->bytes_in / 1048576.0,
                p->bytes_out / 1048576.0);
    return 0;
}

/* Strict positive integer parse; -1 on error. */
static int parse_threads(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v <= 1024) ? (int)v : -1;
}

int cli_cmd_quantize(int argc, char **argv)
{
    const char *pos[3];
    int n_pos = 0, n_threads = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            if (i + 1 >= argc || (n_threads = parse_threads(argv[++i])) < 0) {
                fprintf(stderr, "Error: -t needs a thread count (1..1024)\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            quantize_usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "Error: unknown option %s\n", argv[i]);
            quantize_usage(stderr);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            fprintf(stderr, "Error: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (n_pos != 3) {
        quantize_usage(stderr);
        return 2;
    }
    enum store_ftype ft;
    if (store_ftype_from_name(pos[2], &ft)) {
        fprintf(stderr, "Error: unknown quantization type \"%s\"\n", pos[2]);
        quantize_usage(stderr);
        return 2;
    }
    struct qprog q = {quiet, 0, 0};
    char err[512];
    uint64_t t0 = om_time_ns();
    int rc = store_quantize_file(pos[0], pos[1], ft, n_threads, quantize_progress, &q, err,
                                 sizeof(err));
    if (rc) {
        fprintf(stderr, "Error: quantize: %s\n", err);
        return 1;
    }
    fprintf(stderr, "quantized %s -> %s (%s): %.2f MiB -> %.2f MiB in %.1f s\n", pos[0], pos[1],
            store_ftype_name(ft), q.in_total / 1048576.0, q.out_total / 1048576.0,
            (om_time_ns() - t0) / 1e9);
    return 0;
}
