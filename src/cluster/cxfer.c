/* cluster/cxfer: fetching a blob from peers (contract in cxfer.h): checks
 * the arguments, opens or resumes the fetch's files (cxfer_state.c), runs the
 * chunk transfers (cxfer_run.c), verifies the sha256 and renames.
 *
 * On a sha256 mismatch the first attempt is kept aside (-xfer.prev) and
 * every chunk is fetched again, each from another peer than the first time
 * where there is one. If the second attempt verifies, the chunks that differ
 * name the peers that served bad bytes (logged). If it does not, the chunks
 * that differ between the attempts are the suspects: for each peer q that
 * served some of them the second time, the file is tried with q's chunks
 * taken from the first attempt instead (q lied, the others did not); the
 * first that verifies is committed and q is named. Otherwise the fetch fails
 * and nothing is kept. */
#include "cluster/cxfer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/om.h"
#include "store/models.h"

/* ---- the call ---- */

static bool addr_ok(const char *a)
{
    size_t n = strnlen(a, sizeof ((struct cxfer_peer *)0)->api_addr);
    if (n == 0 || n >= sizeof ((struct cxfer_peer *)0)->api_addr)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_' || c == '%'))
            return false;
    }
    return true;
}

static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return false;
    return true;
}

/* The chunks whose bytes differ between the previous attempt (prev) and the
 * partial, as a malloc'd list; *n gets their number (-1 on a read error). */
static int *diff_chunks(struct cxfer_job *x, int *n)
{
    unsigned char *h1 = NULL, *h2 = NULL;
    *n = -1;
    if (cxfer_files_chunk_hashes(&x->f, x->f.pfd, &h1) != 0 ||
        cxfer_files_chunk_hashes(&x->f, x->f.fd, &h2) != 0) {
        free(h1);
        free(h2);
        return NULL;
    }
    int *d = om_xmalloc((size_t)x->f.nchunks * sizeof *d + 1);
    *n = 0;
    for (int c = 0; c < x->f.nchunks; c++)
        if (memcmp(h1 + (size_t)c * 32, h2 + (size_t)c * 32, 32) != 0)
            d[(*n)++] = c;
    free(h1);
    free(h2);
    return d;
}

static void name_peers(const struct cxfer_job *x, const int16_t *by, const int *d, int nd, char *out,
                       size_t cap)
{
    bool named[CXFER_MAX_PEERS] = {0};
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < nd && n < cap; i++) {
        int p = by[d[i]];
        if (p < 0 || named[p])
            continue;
        named[p] = true;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", x->peers[p].addr);
    }
}

/* Both attempts failed: for each peer q that served a differing chunk in the
 * second attempt, try the file with those chunks taken from the first attempt
 * instead (q lied, the others did not). 0 when one verifies (committed). */
static int find_liar(struct cxfer_job *x, const int *d, int nd, char *err, size_t errlen)
{
    bool tried[CXFER_MAX_PEERS] = {0};
    for (int i = 0; i < nd; i++) {
        int q = x->cpeer[d[i]];
        if (q < 0 || tried[q])
            continue;
        tried[q] = true;
        int rc = 0;
        for (int k = 0; k < nd && !rc; k++)
            if (x->cpeer[d[k]] == q)
                rc = cxfer_files_swap(&x->f, d[k]);
        if (!rc && cxfer_files_verify(&x->f, true, NULL, 0) == 0) {
            om_log(OM_LOG_ERROR, "cluster",
                   "blob %s: peer %s served bytes that do not match the digest; the blob was "
                   "assembled from the other peers", x->f.digest, x->peers[q].addr);
            return cxfer_files_commit(&x->f, err, errlen);
        }
        for (int k = 0; k < nd && !rc; k++) /* swap back */
            if (x->cpeer[d[k]] == q)
                rc = cxfer_files_swap(&x->f, d[k]);
        if (rc)
            return om_err(err, errlen, rc, "blob %s: %s", x->f.digest, om_strerror(rc));
    }
    return OM_EFORMAT;
}

static int fetch(struct cxfer_job *x, char *err, size_t errlen)
{
    uint64_t t0 = om_time_ns();
    int rc = cxfer_run_chunks(x, err, errlen);
    if (rc)
        return rc;
    uint64_t t1 = om_time_ns();
    rc = cxfer_files_verify(&x->f, false, err, errlen);
    if (rc != OM_EFORMAT) {
        if (!rc)
            rc = cxfer_files_commit(&x->f, err, errlen);
        if (!rc)
            om_log(OM_LOG_INFO, "cluster",
                   "blob %s: %" PRId64 " bytes (%" PRId64 " on the wire) in %.2f s, of which "
                   "%.2f s for the rest of the sha256 check and the rename", x->f.digest,
                   x->f.size - x->prog.resumed, x->prog.wire_bytes, (om_time_ns() - t0) / 1e9,
                   (om_time_ns() - t1) / 1e9);
        return rc;
    }

    /* a mismatch: keep the first attempt as prev and fetch every chunk again,
     * each from another peer than the first time where there is one */
    om_log(OM_LOG_WARN, "cluster", "%s; fetching it again from other peers", err);
    int16_t *p1 = om_xmalloc((size_t)x->f.nchunks * sizeof *p1 + 1);
    memcpy(p1, x->cpeer, (size_t)x->f.nchunks * sizeof *p1);
    memcpy(x->avoid, p1, (size_t)x->f.nchunks * sizeof *p1);
    for (int c = 0; c < x->f.nchunks; c++)
        x->cpeer[c] = -1;
    x->done_bytes = 0;
    rc = cxfer_files_keep_prev(&x->f, err, errlen);
    if (!rc)
        rc = cxfer_run_chunks(x, err, errlen);
    if (!rc)
        rc = cxfer_files_verify(&x->f, false, err, errlen);
    int nd = -1;
    int *d = rc == 0 || rc == OM_EFORMAT ? diff_chunks(x, &nd) : NULL;
    char who[600] = "";
    if (rc == 0) {
        name_peers(x, p1, d, nd, who, sizeof who);
        om_log(OM_LOG_ERROR, "cluster",
               "blob %s: %d chunk(s) of the first attempt did not match the second, verified "
               "one; they came from: %s", x->f.digest, nd, who[0] ? who : "an earlier run");
        rc = cxfer_files_commit(&x->f, err, errlen);
    } else if (rc == OM_EFORMAT) {
        rc = nd > 0 ? find_liar(x, d, nd, err, errlen) : OM_EFORMAT;
        if (rc == OM_EFORMAT) {
            cxfer_files_discard(&x->f);
            name_peers(x, x->cpeer, d, OM_MAX(nd, 0), who, sizeof who);
            om_err(err, errlen, OM_EFORMAT,
                   "blob %s: sha256 mismatch after a second fetch from other peers (%d "
                   "chunk(s) differed between attempts%s%s)", x->f.digest, OM_MAX(nd, 0),
                   who[0] ? "; peers: " : "", who);
        }
    }
    free(d);
    free(p1);
    return rc;
}

int cxfer_fetch(struct store_root *store, const char *digest, int64_t size,
                const struct cxfer_peer *peers, int n_peers, const struct cxfer_opts *o,
                char *err, size_t errlen)
{
    struct cxfer_opts opts = o ? *o : (struct cxfer_opts){0};
    char canon[72], path[4200];
    if (!store || !digest || store_digest_canon(digest, canon) != 0 ||
        store_blob_path(store, canon, path, sizeof path) != 0)
        return om_err(err, errlen, OM_EINVAL, "invalid digest \"%.80s\"", digest ? digest : "");
    if (size < 0 || size > CXFER_MAX_SIZE)
        return om_err(err, errlen, OM_EINVAL, "blob %s: invalid size %" PRId64, canon, size);
    if (opts.token && !token_ok(opts.token))
        return om_err(err, errlen, OM_EINVAL, "invalid cluster token");
    if (n_peers < 0 || (n_peers > 0 && !peers))
        return om_err(err, errlen, OM_EINVAL, "invalid peer list");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size)
        return 0;
    if (n_peers == 0)
        return om_err(err, errlen, OM_ENOTFOUND, "blob %s: no peer to fetch it from", canon);
    n_peers = OM_MIN(n_peers, CXFER_MAX_PEERS);
    for (int p = 0; p < n_peers; p++)
        if (!addr_ok(peers[p].api_addr))
            return om_err(err, errlen, OM_EINVAL, "invalid peer address \"%.80s\"",
                          peers[p].api_addr);
    if (opts.max_parallel <= 0)
        opts.max_parallel = 4;
    opts.max_parallel = OM_MIN(opts.max_parallel, 64);
    if (opts.connect_timeout_ms <= 0)
        opts.connect_timeout_ms = 5000;
    if (opts.stall_timeout_ms <= 0)
        opts.stall_timeout_ms = 30000;
    if (opts.first_byte_timeout_ms <= 0)
        opts.first_byte_timeout_ms = 300000;

    struct cxfer_job *x = om_xcalloc(1, sizeof *x);
    x->o = opts;
    x->npeers = n_peers;
    for (int p = 0; p < n_peers; p++) {
        snprintf(x->peers[p].addr, sizeof x->peers[p].addr, "%s", peers[p].api_addr);
        snprintf(x->peers[p].url, sizeof x->peers[p].url, "http://%s/api/cluster/blob/%s",
                 peers[p].api_addr, canon);
    }
    struct cxfer_files *f = &x->f;
    memcpy(f->digest, canon, sizeof canon);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->part, sizeof f->part, "%s-xfer", path);
    snprintf(f->state, sizeof f->state, "%s-xfer.state", path);
    snprintf(f->prev, sizeof f->prev, "%s-xfer.prev", path);
    f->size = size;
    int rc = cxfer_files_open(f, (int64_t)opts.chunk, &x->prog.resumed, err, errlen);
    if (!rc && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size) {
        cxfer_files_discard(f); /* finished by someone else meanwhile */
        cxfer_files_close(f);
        free(x);
        return 0;
    }
    if (!rc) {
        x->prog.total = size;
        x->done_bytes = x->prog.resumed;
        x->xf = om_xcalloc((size_t)opts.max_parallel, sizeof *x->xf);
        x->cpeer = om_xmalloc((size_t)f->nchunks * sizeof *x->cpeer + 1);
        x->avoid = om_xmalloc((size_t)f->nchunks * sizeof *x->avoid + 1);
        for (int c = 0; c < f->nchunks; c++)
            x->cpeer[c] = x->avoid[c] = -1;
        x->m = curl_multi_init();
        rc = x->m ? fetch(x, err, errlen) : om_err(err, errlen, OM_EIO, "curl_multi_init failed");
        if (x->m)
            curl_multi_cleanup(x->m);
    }
    if (rc && rc != OM_ECANCELED && rc != OM_EBUSY && f->sfd >= 0 && x->done_bytes == 0)
        cxfer_files_discard(f); /* nothing to resume from: leave no litter */
    if (rc == 0) {
        x->prog.done = size;
        x->prog.peers_used = 0;
        for (int p = 0; p < x->npeers; p++)
            x->prog.peers_used += x->prog.bytes_from_peer[p] > 0;
        if (opts.progress)
            opts.progress(opts.user, &x->prog);
    }
    cxfer_files_close(f);
    free(x->xf);
    free(x->cpeer);
    free(x->avoid);
    free(x);
    return rc;
}
