/* cluster/cxfer: fetching a blob from peer nodes (the reconciler's copy of a
 * model's layers), the client of GET /api/cluster/blob/:digest (api_peer.h).
 *
 * The blob is cut into fixed-size chunks; chunks are fetched with ranged GETs
 * (libcurl multi, several at once, spread over the peers: the least busy
 * live peer gets the next chunk) and written at their offsets into
 * blobs/sha256-<hex>-xfer, next to the blob. A small state file
 * blobs/sha256-<hex>-xfer.state records the finished chunks (a chunk is
 * recorded only after its bytes were written and fdatasync'd), so a later call
 * after a crash, a cancel or the death of every peer resumes with the missing
 * chunks only. The state file is locked (flock) while a fetch runs: a second
 * fetch of the same blob into the same store fails with OM_EBUSY.
 *
 * Nothing a peer says is trusted: the status must be 206 with a Content-Range
 * naming exactly the asked range and the expected total size, the body must
 * hold exactly the asked bytes (after zstd decoding when the peer answered
 * Content-Encoding: zstd), and the wire bytes of one chunk are bounded. A peer
 * that breaks a rule, answers 404/410/other errors, or cannot be reached is
 * dropped for the rest of the call and its chunks go to the others. When every
 * chunk is in, the whole file is sha256-checked and only then renamed to its
 * blob name; on a mismatch the partial is discarded and refetched once with
 * every chunk taken from another peer than the first time (when there is
 * one); chunks whose bytes differ between the two attempts name the peer that
 * served bad bytes (logged). A second mismatch fails with the digest in err.
 *
 * Thread safety: any number of cxfer_fetch calls may run at once on distinct
 * threads (each its own curl multi handle). Call curl_global_init() once at
 * program start (the server does). Ignore SIGPIPE process-wide.
 * cluster/ never includes api/ or http/ headers. */
#ifndef CLUSTER_CXFER_H
#define CLUSTER_CXFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_root; /* store/models.h */

#define CXFER_MAX_PEERS 16 /* peers beyond this many are ignored */

struct cxfer_peer {
    char api_addr[256]; /* "host:port" of a member's API ("[::1]:11434" for IPv6) */
};

struct cxfer_progress {
    int64_t total, done;  /* blob bytes; done counts finished chunks + bytes in flight */
    int peers_used;       /* peers that served at least one byte in this call */
    int64_t bytes_from_peer[CXFER_MAX_PEERS]; /* blob bytes per peer (index in peers[]) */
    int64_t wire_bytes;   /* body bytes received on the wire (compressed when zstd) */
    int64_t resumed;      /* bytes found already finished in the state file */
};

/* Called on the thread of cxfer_fetch, at most every ~50 ms and once at the
 * end (on success); p is valid during the call only. */
typedef void (*cxfer_progress_fn)(void *user, const struct cxfer_progress *p);

struct cxfer_opts {
    const char *token;       /* cluster token: Authorization: Bearer <token> (NULL: none) */
    size_t chunk;            /* chunk size in bytes; 0 = 8 MiB (a resumed fetch keeps the
                                size of its state file) */
    int max_parallel;        /* transfers at once over all peers; 0 = 4 */
    bool compress;           /* send Accept-Encoding: zstd */
    volatile int *cancel;    /* may be NULL; nonzero stops the fetch (OM_ECANCELED) */
    cxfer_progress_fn progress; /* may be NULL */
    void *user;
    int connect_timeout_ms;  /* 0 = 5000 */
    int stall_timeout_ms;    /* a transfer whose body stops for this long fails; 0 = 30000 */
    int first_byte_timeout_ms; /* the answer's headers must come within this; 0 = 300000
                                  (a peer checks a blob's sha256 before it first serves it) */
};

/* Fetches blob `digest` ("sha256:<hex>", any accepted spelling) of `size`
 * bytes into store from peers[0..n_peers) (at most CXFER_MAX_PEERS used).
 * o may be NULL (defaults). Returns 0 once the blob is under its final name
 * (at once when it is already there with that size), or:
 *   OM_EINVAL     bad digest, size, peer address or token;
 *   OM_ENOTFOUND  no peer had the blob (all answered 404/410);
 *   OM_EIO        every peer failed (err lists each peer's reason);
 *   OM_EFORMAT    the sha256 did not match twice (err names the digest);
 *   OM_ECANCELED  *o->cancel was set (finished chunks are kept for a resume);
 *   OM_EBUSY      another fetch of this blob into this store is running;
 *   -errno        local file errors.
 * err (may be NULL) says why. A failed call never leaves anything under the
 * blob's final name. */
int cxfer_fetch(struct store_root *store, const char *digest, int64_t size,
                const struct cxfer_peer *peers, int n_peers, const struct cxfer_opts *o,
                char *err, size_t errlen);

#endif
