/* cli: `pull`, `push` and `create` — the streaming verbs with progress
 * bars. create parses the Modelfile locally (store_modelfile_parse), and
 * when FROM (or DRAFT) names an existing local path (absolute, ~, or
 * relative to the Modelfile's directory) it hashes the file(s), uploads the
 * blobs the server lacks (HEAD then POST /api/blobs/<digest>, streamed from
 * disk) and sends {"files": {name: digest}} instead of "from", as Ollama's
 * CreateHandler does. */
#include "base/om.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/client_fmt.h"
#include "store/models.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODELFILE_MAX (16u << 20)

/* ---- progress of pull/push/create -------------------------------------------- */

struct xfer {
    struct cli_progress *p;
    const char *verb; /* "pulling" / "pushing" / NULL for create */
    char status[256];
};

static int on_progress(json_t *obj, void *ud)
{
    struct xfer *x = ud;
    const char *st = json_string_value(json_object_get(obj, "status"));
    const char *dg = json_string_value(json_object_get(obj, "digest"));
    int64_t total = json_integer_value(json_object_get(obj, "total"));
    int64_t done = json_integer_value(json_object_get(obj, "completed"));
    if (dg && *dg) {
        /* pull skips the first 0% update of a layer (Ollama does too) */
        if (x->verb && !strcmp(x->verb, "pulling") && done == 0)
            return 0;
        char msg[256];
        const char *hex = !strncmp(dg, "sha256:", 7) ? dg + 7 : dg;
        if (x->verb && !strcmp(x->verb, "pulling"))
            snprintf(msg, sizeof msg, "pulling %.12s:", hex);
        else if (st && *st)
            snprintf(msg, sizeof msg, "%s", st);
        else
            snprintf(msg, sizeof msg, "%s %.12s...", x->verb ? x->verb : "pulling", hex);
        cli_progress_bar(x->p, dg, msg, total, done);
    } else if (st && strcmp(st, x->status)) {
        snprintf(x->status, sizeof x->status, "%s", st);
        cli_progress_spinner(x->p, st);
    }
    return 0;
}

static int run_stream(struct cli_client *c, const char *path, json_t *req, const char *verb)
{
    struct xfer x = {.p = cli_progress_new(), .verb = verb};
    cli_client_sigint_begin();
    int rc = cli_client_stream(c, path, req, on_progress, &x);
    cli_client_sigint_end();
    cli_progress_stop(x.p);
    return rc;
}

int cli_client_pull(struct cli_client *c, const char *model, int insecure)
{
    json_t *req = json_pack("{s:s}", "model", model);
    if (insecure)
        json_object_set_new(req, "insecure", json_true());
    int rc = run_stream(c, "/api/pull", req, "pulling");
    json_decref(req);
    return rc;
}

int cli_cmd_pull(int argc, char **argv)
{
    int insecure = 0;
    const struct cli_opt opts[] = {{"--insecure", NULL, CLI_FLAG, &insecure, 0, 0}};
    char *pos[2];
    int np;
    if (cli_client_args(argc, argv, opts, 1, pos, 2, &np))
        return 2;
    if (np != 1) {
        fprintf(stderr, "Error: \"ollamamax pull\" accepts 1 arg(s), received %d\n", np);
        return 2;
    }
    struct cli_client c;
    if (cli_client_init(&c) || cli_client_pull(&c, pos[0], insecure))
        return cli_client_fail(&c);
    return 0;
}

/* Where a pushed model can be found, as PushHandler prints it: the fully
 * qualified name (model.ParseName with Ollama's defaults), or for
 * ollama.com the web address of the shortest name without ":latest". */
/* The parts are bounded above; a result longer than out is cut, which only
 * shortens a message. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
static void push_destination(const char *name, char *out, size_t n)
{
    char host[256] = "registry.ollama.ai", ns[256] = "library", model[256] = "", tag[128] = "latest";
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name);
    char *at = strchr(buf, '@');
    if (at)
        *at = 0;
    char *slash = strrchr(buf, '/'), *colon = strrchr(buf, ':');
    if (colon && (!slash || colon > slash)) {
        *colon = 0;
        snprintf(tag, sizeof tag, "%.127s", colon + 1);
    }
    char *parts[3];
    int np = 0;
    for (char *s = buf, *e; np < 3; s = e + 1) {
        parts[np++] = s;
        e = strchr(s, '/');
        if (!e)
            break;
        *e = 0;
    }
    snprintf(model, sizeof model, "%.255s", parts[np - 1]);
    if (np >= 2)
        snprintf(ns, sizeof ns, "%.255s", parts[np - 2]);
    if (np == 3)
        snprintf(host, sizeof host, "%.255s", parts[0]);
    size_t hl = strlen(host);
    int ollama = (hl > 10 && !strcmp(host + hl - 10, ".ollama.ai")) ||
                 (hl > 11 && !strcmp(host + hl - 11, ".ollama.com"));
    if (!ollama) {
        snprintf(out, n, "%s/%s/%s:%s", host, ns, model, tag);
        return;
    }
    char shortest[520];
    if (!strcmp(ns, "library"))
        snprintf(shortest, sizeof shortest, "%.255s", model);
    else
        snprintf(shortest, sizeof shortest, "%.255s/%.255s", ns, model);
    if (strcmp(tag, "latest"))
        snprintf(out, n, "https://ollama.com/%s:%s", shortest, tag);
    else
        snprintf(out, n, "https://ollama.com/%s", shortest);
}
#pragma GCC diagnostic pop

int cli_cmd_push(int argc, char **argv)
{
    int insecure = 0;
    const struct cli_opt opts[] = {{"--insecure", NULL, CLI_FLAG, &insecure, 0, 0}};
    char *pos[2];
    int np;
    if (cli_client_args(argc, argv, opts, 1, pos, 2, &np))
        return 2;
    if (np != 1) {
        fprintf(stderr, "Error: \"ollamamax push\" accepts 1 arg(s), received %d\n", np);
        return 2;
    }
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    json_t *req = json_pack("{s:s}", "model", pos[0]);
    if (insecure)
        json_object_set_new(req, "insecure", json_true());
    int rc = run_stream(&c, "/api/push", req, "pushing");
    json_decref(req);
    if (rc) {
        char low[sizeof c.err];
        size_t i = 0;
        for (; c.err[i] && i + 1 < sizeof low; i++)
            low[i] = (char)(c.err[i] >= 'A' && c.err[i] <= 'Z' ? c.err[i] + 32 : c.err[i]);
        low[i] = 0;
        if (strstr(low, "access denied") || strstr(low, "unauthorized"))
            snprintf(c.err, sizeof c.err,
                     "you are not authorized to push to this namespace, create the model under "
                     "a namespace you own");
        return cli_client_fail(&c);
    }
    char dest[600];
    push_destination(pos[0], dest, sizeof dest);
    printf("\nYou can find your model at:\n\n\t%s\n", dest);
    return 0;
}

/* ---- create ---------------------------------------------------------------------- */

/* sha256 of a file, streamed: "sha256:<hex>" into out[72]. */
static int file_digest(const char *path, char *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return om_err(err, errlen, -errno, "open %s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t bufn = 1u << 20, k;
    unsigned char *buf = om_xmalloc(bufn);
    while ((k = fread(buf, 1, bufn, f)) > 0)
        EVP_DigestUpdate(md, buf, k);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    if (bad)
        return om_err(err, errlen, OM_EIO, "read %s failed", path);
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", h[i]);
    return 0;
}

/* expandPath: absolute stays, "~" / "~/x" from $HOME, else relative to dir.
 * Returns 0 with the path in out (PATH_MAX), or -1 when it cannot be formed. */
static int expand_path(const char *arg, const char *dir, char *out)
{
    int w;
    if (arg[0] == '/')
        w = snprintf(out, PATH_MAX, "%s", arg);
    else if (arg[0] == '~' && (arg[1] == 0 || arg[1] == '/')) {
        const char *home = getenv("HOME");
        if (!home)
            return -1;
        w = snprintf(out, PATH_MAX, "%s%s", home, arg + 1);
    } else
        w = snprintf(out, PATH_MAX, "%s/%s", dir, arg);
    return w < 0 || w >= PATH_MAX ? -1 : 0;
}

struct upload_view {
    struct cli_progress *p;
    char digest[80];
};

static void on_upload(uint64_t sent, uint64_t total, void *ud)
{
    struct upload_view *u = ud;
    char msg[160];
    snprintf(msg, sizeof msg, "copying file %s %d%%", u->digest,
             total ? (int)(100 * sent / total) : 100);
    cli_progress_spinner_msg(u->p, msg);
}

/* Uploads `path` unless the server has the blob already. */
static int ensure_blob(struct cli_client *c, struct cli_progress *p, const char *path,
                       const char *digest)
{
    char url[128];
    snprintf(url, sizeof url, "/api/blobs/%s", digest);
    int st = cli_client_head(c, url);
    if (st < 0)
        return st;
    if (st == 200)
        return 0;
    struct upload_view u = {.p = p};
    snprintf(u.digest, sizeof u.digest, "%s", digest);
    char msg[160];
    snprintf(msg, sizeof msg, "copying file %s 0%%", digest);
    cli_progress_spinner(p, msg);
    int rc = cli_client_upload(c, url, path, on_upload, &u);
    snprintf(msg, sizeof msg, "copying file %s 100%%", digest);
    cli_progress_spinner_msg(p, msg);
    cli_progress_spinner_stop(p);
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* The model files of a directory (filesForModel, GGUF and safetensors
 * layouts, top level only). Returns the glob; gl_pathc == 0 = none. */
static void model_dir_files(const char *dir, glob_t *g)
{
    static const char *const weights[] = {"model*.safetensors", "consolidated*.safetensors",
                                          "*.gguf"};
    char pat[PATH_MAX + 64];
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < OM_ARRAY_LEN(weights) && !g->gl_pathc; i++) {
        snprintf(pat, sizeof pat, "%s/%s", dir, weights[i]);
        globfree(g);
        memset(g, 0, sizeof *g);
        glob(pat, 0, NULL, g);
    }
    if (!g->gl_pathc)
        return;
    static const char *const extra[] = {"*.json", "chat_template.jinja", "tokenizer.model"};
    for (size_t i = 0; i < OM_ARRAY_LEN(extra); i++) {
        snprintf(pat, sizeof pat, "%s/%s", dir, extra[i]);
        glob(pat, GLOB_APPEND, NULL, g);
    }
}

/* Turns req[key] (a path that exists) into req[files_key] = {name: digest}
 * after uploading; leaves a model name alone. Returns 0 or a negative code
 * with c->err set. */
static int resolve_files(struct cli_client *c, struct cli_progress *p, json_t *req,
                         const char *key, const char *files_key, const char *mf_dir)
{
    const char *arg = json_string_value(json_object_get(req, key));
    char path[PATH_MAX];
    struct stat st;
    if (!arg || expand_path(arg, mf_dir, path) || stat(path, &st))
        return 0; /* not a local path: a model name */
    glob_t g = {0};
    const char *one[1] = {path};
    const char *const *list = one;
    size_t n = 1, root_len = 0;
    if (is_dir(path)) {
        model_dir_files(path, &g);
        if (!g.gl_pathc) {
            globfree(&g);
            return om_err(c->err, sizeof c->err, OM_ENOTFOUND, "no Modelfile or safetensors files found");
        }
        list = (const char *const *)g.gl_pathv;
        n = g.gl_pathc;
        root_len = strlen(path) + 1;
    }
    json_t *files = json_object();
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char digest[80];
        char real[PATH_MAX];
        const char *f = realpath(list[i], real) ? real : list[i];
        rc = file_digest(f, digest, c->err, sizeof c->err);
        if (!rc)
            rc = ensure_blob(c, p, f, digest);
        if (!rc) {
            const char *name = root_len ? list[i] + root_len : strrchr(list[i], '/');
            name = name ? (name[0] == '/' ? name + 1 : name) : list[i];
            json_object_set_new(files, name, json_string(digest));
        }
    }
    globfree(&g);
    if (!rc) {
        json_object_del(req, key);
        json_object_set_new(req, files_key, files);
    } else {
        json_decref(files);
    }
    return rc;
}

static char *read_file_bounded(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        om_err(err, errlen, OM_EIO, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, k;
    char *buf = om_xmalloc(cap);
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            if (cap >= MODELFILE_MAX) {
                free(buf);
                fclose(f);
                om_err(err, errlen, OM_ENOMEM, "%s is larger than %u MiB", path,
                       MODELFILE_MAX >> 20);
                return NULL;
            }
            cap *= 2;
            buf = om_xrealloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int cli_cmd_create(int argc, char **argv)
{
    const char *file = NULL, *quantize = NULL, *draft_q = NULL;
    int experimental = 0;
    const struct cli_opt opts[] = {
        {"--file", "-f", CLI_STR, &file, 0, 0},
        {"--quantize", "-q", CLI_STR, &quantize, 0, 0},
        {"--draft-quantize", NULL, CLI_STR, &draft_q, 0, 0},
        {"--experimental", NULL, CLI_FLAG, &experimental, 0, 0},
    };
    char *pos[2];
    int np;
    if (cli_client_args(argc, argv, opts, OM_ARRAY_LEN(opts), pos, 2, &np))
        return 2;
    if (np != 1) {
        fprintf(stderr, "Error: \"ollamamax create\" accepts 1 arg(s), received %d\n", np);
        return 2;
    }
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);

    /* the Modelfile: -f, else ./Modelfile, else "FROM ." */
    char mf_path[PATH_MAX] = "", mf_dir[PATH_MAX] = ".";
    const char *name = file ? file : "Modelfile";
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(name, &st)) {
        if (file) {
            fprintf(stderr, "Error: specified Modelfile wasn't found\n");
            return 1;
        }
        text = om_xstrdup("FROM .\n");
        len = strlen(text);
        if (!getcwd(mf_dir, sizeof mf_dir))
            strcpy(mf_dir, ".");
    } else {
        if (!realpath(name, mf_path))
            snprintf(mf_path, sizeof mf_path, "%s", name);
        text = read_file_bounded(mf_path, &len, c.err, sizeof c.err);
        if (!text)
            return cli_client_fail(&c);
        snprintf(mf_dir, sizeof mf_dir, "%s", mf_path);
        char *slash = strrchr(mf_dir, '/');
        if (slash)
            *(slash == mf_dir ? slash + 1 : slash) = 0;
        else
            strcpy(mf_dir, ".");
    }
    json_t *req = NULL;
    int rc = store_modelfile_parse(text, len, &req, c.err, sizeof c.err);
    free(text);
    if (rc)
        return cli_client_fail(&c);

    struct cli_progress *p = cli_progress_new();
    cli_progress_spinner(p, "gathering model components");
    rc = resolve_files(&c, p, req, "from", "files", mf_dir);
    if (!rc)
        rc = resolve_files(&c, p, req, "draft", "draft_files", mf_dir);
    cli_progress_spinner_stop(p);
    if (!rc && draft_q && *draft_q && !json_object_get(req, "draft_files")) {
        rc = om_err(c.err, sizeof c.err, OM_EINVAL, "--draft-quantize requires a DRAFT model");
    }
    if (rc) {
        cli_progress_stop(p);
        json_decref(req);
        return cli_client_fail(&c);
    }
    json_object_set_new(req, "model", json_string(pos[0]));
    if (quantize && *quantize)
        json_object_set_new(req, "quantize", json_string(quantize));
    if (draft_q && *draft_q)
        json_object_set_new(req, "draft_quantize", json_string(draft_q));
    (void)experimental;

    struct xfer x = {.p = p, .verb = NULL};
    snprintf(x.status, sizeof x.status, "gathering model components");
    cli_client_sigint_begin();
    rc = cli_client_stream(&c, "/api/create", req, on_progress, &x);
    cli_client_sigint_end();
    cli_progress_stop(p);
    json_decref(req);
    if (rc)
        return cli_client_fail(&c);
    return 0;
}
