/* CLI tests for `ollamamax synth` and `ollamamax quantize`: exit statuses,
 * messages on stderr, progress lines, and that failures write nothing. Runs
 * the built binary (OM_BINARY). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/om_types.h"
#include "format/gguf.h"
#include "store/store_tmpdir.h"

static char g_out[1 << 16];

static int setup(void **state)
{
    (void)state;
    return tmpdir_make("cli_store");
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove();
    return 0;
}

/* Runs `OM_BINARY args` with stderr captured into g_out; returns the exit status. */
static int run(const char *fmt, ...)
{
    char args[1024], cmd[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", OM_BINARY, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(g_out, 1, sizeof(g_out) - 1, p);
    g_out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void need_binary(void)
{
    if (access(OM_BINARY, X_OK)) {
        fprintf(stderr, "SKIPPED: %s is not built\n", OM_BINARY);
        skip();
    }
}

static int exists(const char *name)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    return access(p, F_OK) == 0;
}

static void test_synth_cli(void **state)
{
    (void)state;
    need_binary();
    assert_int_equal(run("synth --arch qwen2 --n-embd 256 --n-ff 512 --type q8_0 --seed 3 "
                         "-o %s/a.gguf", g_dir), 0);
    assert_non_null(strstr(g_out, "token_embd.weight")); /* progress lines */
    assert_non_null(strstr(g_out, "wrote"));
    char p[400];
    snprintf(p, sizeof(p), "%s/a.gguf", g_dir);
    gguf_file *f;
    char err[256];
    assert_int_equal(gguf_open(p, &f, err, sizeof(err)), 0);
    uint32_t v;
    assert_int_equal(gguf_get_u32(f, "qwen2.embedding_length", &v), 0);
    assert_int_equal(v, 256);
    assert_int_equal(gguf_get_u32(f, "general.file_type", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(gguf_find_tensor(f, "blk.0.ffn_up.weight")->type, OM_TYPE_Q8_0);
    gguf_close(f);

    assert_int_equal(run("synth --arch mamba -o %s/x.gguf", g_dir), 2);
    assert_non_null(strstr(g_out, "unknown architecture"));
    assert_int_equal(run("synth --preset tiny-qwen2 --arch llama -o %s/x.gguf", g_dir), 2);
    assert_non_null(strstr(g_out, "not llama"));
    assert_int_equal(run("synth --arch llama"), 2);
    assert_int_equal(run("synth --arch llama --n-embd abc -o %s/x.gguf", g_dir), 2);
    assert_int_equal(run("synth --arch llama --type q9_9 -o %s/x.gguf", g_dir), 2);
    assert_non_null(strstr(g_out, "unknown quantization type"));
    assert_int_equal(run("synth --arch llama --n-head 3 -o %s/x.gguf", g_dir), 1);
    assert_non_null(strstr(g_out, "Error: synth:"));
    assert_false(exists("x.gguf"));
}

static void test_quantize_cli(void **state)
{
    (void)state;
    need_binary();
    assert_int_equal(run("synth --arch llama --n-embd 256 -q -o %s/in.gguf", g_dir), 0);
    assert_int_equal(run("quantize %s/in.gguf %s/q.gguf q4_K_M -t 2", g_dir, g_dir), 0);
    assert_non_null(strstr(g_out, "blk.1.attn_v.weight"));
    assert_non_null(strstr(g_out, "q6_K"));
    assert_non_null(strstr(g_out, "quantized"));
    assert_true(exists("q.gguf"));

    assert_int_equal(run("quantize %s/in.gguf %s/x.gguf q9_9", g_dir, g_dir), 2);
    assert_non_null(strstr(g_out, "unknown quantization type \"q9_9\""));
    assert_int_equal(run("quantize %s/missing.gguf %s/x.gguf q8_0", g_dir, g_dir), 1);
    assert_non_null(strstr(g_out, "missing.gguf"));
    assert_int_equal(run("quantize %s/q.gguf %s/x.gguf q8_0", g_dir, g_dir), 1);
    assert_non_null(strstr(g_out, "already quantized"));
    assert_int_equal(run("quantize %s/in.gguf", g_dir), 2);
    assert_int_equal(run("quantize %s/in.gguf %s/x.gguf q8_0 -t zero", g_dir, g_dir), 2);
    assert_false(exists("x.gguf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_cli),
        cmocka_unit_test(test_quantize_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
