/* cluster/cxfer: private layout shared by cxfer.c (the public call, the
 * sha256 check and the mismatch handling), cxfer_run.c (the chunk transfers
 * over curl multi, scheduling over the peers) and cxfer_state.c (the partial
 * file, the state file of finished chunks, the sha256 of files and chunks).
 *
 * State file blobs/sha256-<hex>-xfer.state, text:
 *   "omxfer 1 sha256:<hex> <size> <chunk>\n"   header
 *   "<index>\n"                                one line per finished chunk
 * A line is appended only after the chunk's bytes were written to
 * blobs/sha256-<hex>-xfer and fdatasync'd, so a state file never claims bytes
 * that are not on disk; a torn last line (crash) is ignored. A state file
 * whose header does not match the blob, or with any bad line, is discarded
 * with its partial (the fetch starts afresh). */
#ifndef CLUSTER_CXFER_INT_H
#define CLUSTER_CXFER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "cluster/cxfer.h"

#define CXFER_MAX_CHUNKS (1 << 20)
#define CXFER_MAX_SIZE ((int64_t)1 << 42)
#define CXFER_STATE_MAX ((size_t)16 << 20)

enum { CH_TODO = 0, CH_BUSY = 1, CH_DONE = 2 };

/* One fetch's files and chunk table (cxfer_state.c). */
struct cxfer_files {
    char digest[72];
    char path[4200];  /* final blob path */
    char part[4300];  /* <path>-xfer */
    char state[4300]; /* <path>-xfer.state */
    char prev[4300];  /* <path>-xfer.prev: the first attempt after a mismatch */
    int64_t size, chunk;
    int nchunks;
    uint8_t *cstate;  /* CH_* per chunk */
    int fd;           /* partial, O_RDWR */
    int sfd;          /* state file, O_APPEND, flock'ed */
    int pfd;          /* prev, or -1 */
    int *pending;     /* chunks done in memory, not yet recorded */
    int npending;
    EVP_MD_CTX *md;   /* sha256 of chunks [0, hashed), read back as they finish */
    int hashed;       /* -1: the running hash is unusable (read error) */
};

static inline int64_t cxfer_chunk_len(const struct cxfer_files *f, int c)
{
    int64_t off = (int64_t)c * f->chunk;
    return f->size - off < f->chunk ? f->size - off : f->chunk;
}

/* Locks the state file (OM_EBUSY when another fetch holds it), then resumes
 * from it when it matches (digest, size) with a partial of the right size, or
 * starts afresh with want_chunk. Fills f (path, part, state, prev, digest and
 * size must be set by the caller); *resumed gets the bytes already finished.
 * Call cxfer_files_close whatever the result. */
int cxfer_files_open(struct cxfer_files *f, int64_t want_chunk, int64_t *resumed, char *err,
                     size_t errlen);
/* Marks chunk c finished in memory; cxfer_files_flush records it. */
void cxfer_files_done(struct cxfer_files *f, int c);
/* fdatasync's the partial, then appends the pending chunk lines. */
int cxfer_files_flush(struct cxfer_files *f, char *err, size_t errlen);
/* Empties the partial and the state (every chunk to do again). */
int cxfer_files_reset(struct cxfer_files *f, char *err, size_t errlen);
/* Feeds up to max finished chunks that follow the hashed prefix into the
 * running sha256 (so the check at the end has little left to read). */
void cxfer_files_hash_advance(struct cxfer_files *f, int max);
/* sha256 of the partial against the digest (the running hash completed, or
 * with full the whole file read again): 0, OM_EFORMAT on mismatch (err names
 * both digests), other codes for I/O. */
int cxfer_files_verify(struct cxfer_files *f, bool full, char *err, size_t errlen);
/* sha256 of every chunk of the file fd (f->fd or f->pfd) into *out
 * (nchunks * 32 bytes, malloc'd). */
int cxfer_files_chunk_hashes(const struct cxfer_files *f, int fd, unsigned char **out);
/* Keeps the partial of a failed attempt as prev and starts an empty partial
 * and state (every chunk to do again). */
int cxfer_files_keep_prev(struct cxfer_files *f, char *err, size_t errlen);
/* Swaps the bytes of chunk c between the partial and prev. */
int cxfer_files_swap(struct cxfer_files *f, int c);
/* Closes and removes prev. */
void cxfer_files_drop_prev(struct cxfer_files *f);
/* Renames the verified partial to its blob name (or drops it when the blob
 * appeared meanwhile), removes the state file. */
int cxfer_files_commit(struct cxfer_files *f, char *err, size_t errlen);
/* Removes the partial, prev and the state file (a corrupt download). */
void cxfer_files_discard(struct cxfer_files *f);
/* Closes the files (unlocks) and frees the tables; keeps what is on disk. */
void cxfer_files_close(struct cxfer_files *f);

/* ---- transfers (cxfer_run.c) ---- */

struct cxfer_job;

/* A peer as one fetch sees it. */
struct cxfer_pst {
    char addr[256];
    char url[512];
    bool dead, notfound;   /* notfound: it answered 404 or 410 */
    int active, busy;
    int64_t paused_until;
    char why[200];
};

/* One chunk asked from one peer (a slot of cxfer_job.xf; h == NULL: free). */
struct cxfer_tx {
    struct cxfer_job *x;
    int chunk, peer;
    int64_t off, len, got, wire, wire_max;
    int64_t last_ns;   /* start, then the last header or body bytes */
    CURL *h;
    struct curl_slist *hl;
    bool checked, zstd, zend, failed;
    char crange[128], cenc[64];
    ZSTD_DCtx *dz;
    char why[200];
    int status;
};

/* One fetch: its files, peers, options (defaults filled in) and slots. */
struct cxfer_job {
    struct cxfer_files f;
    struct cxfer_pst peers[CXFER_MAX_PEERS];
    int npeers;
    struct cxfer_opts o;
    CURLM *m;
    struct cxfer_tx *xf;   /* o.max_parallel slots; h == NULL when free */
    int nactive;
    int ntodo, scan_from; /* chunks to do; none below scan_from */
    int16_t *cpeer;    /* peer that served each chunk in this attempt (-1: none) */
    int16_t *avoid;    /* peer to avoid per chunk (-1: none) */
    struct cxfer_progress prog;
    int64_t done_bytes; /* finished chunks */
    char zbuf[1 << 16];
};

/* Fetches every chunk still to do (CH_TODO) from the live peers, recording
 * finished ones; returns 0 when all are in and recorded, OM_ECANCELED,
 * OM_ENOTFOUND / OM_EIO when every peer was dropped (err lists why), or a
 * local file error. Progress goes to x->o.progress on the way. */
int cxfer_run_chunks(struct cxfer_job *x, char *err, size_t errlen);

#endif
