/* cluster/cxfer: private layout shared by cxfer.c (transfers over curl
 * multi, scheduling, the public call) and cxfer_state.c (the partial file,
 * the state file of finished chunks, the sha256 checks).
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
/* sha256 of the partial against the digest: 0, OM_EFORMAT on mismatch (err
 * names both digests), other codes for I/O. */
int cxfer_files_verify(struct cxfer_files *f, char *err, size_t errlen);
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

#endif
