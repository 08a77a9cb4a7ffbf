/* api/api_peer: the serving side of blob transfer between cluster nodes,
 * GET /api/cluster/blob/:digest (the client is cluster/cxfer.h).
 *
 * Answers:
 *   200  the whole blob (no Range), or 206 with Content-Range for
 *        "Range: bytes=a-b" / "bytes=a-" / "bytes=-n";
 *   416  {"error":"invalid range"} with Content-Range: bytes * /size for an
 *        unsatisfiable, malformed or multi-part range;
 *   400  invalid digest; 404 {"error":"blob not found"} when absent;
 *   410  {"error":"blob failed verification"}: the blob's sha256 did not match
 *        its name; it was renamed away (blobs/.sha256-<hex>-corrupt-<time>-<inode>, kept
 *        for inspection, logged) so the reconciler fetches it again;
 *   503  too many transfers at once (see API_PEER_MAX_STREAMS).
 * With "Accept-Encoding: zstd" the body is zstd-compressed (Content-Encoding:
 * zstd) when a compressed sample of the range shows that it pays (quantized
 * weights usually do not: then they go raw). HEAD answers the headers with an
 * empty body and X-Blob-Size, without reading the blob.
 *
 * The sha256 of a blob is checked before it is served for the first time;
 * the verified (device, inode, size, mtime) of each blob path is cached so the
 * check runs once per file version. Concurrent first requests share one check.
 *
 * Threads: the handler returns at once; each transfer runs on its own detached
 * thread (at most API_PEER_MAX_STREAMS at once) that reads the file in 1 MiB
 * pieces and streams them with http_stream_write (waiting while the client is
 * slow), so a blob is never held in memory. A transfer ends promptly when the
 * client goes away or the server stops (http_server_stop's on_gone). */
#ifndef API_PEER_H
#define API_PEER_H

#include <stdatomic.h>
#include <stdint.h>

#include "http/http.h"

struct store_root;

#define API_PEER_MAX_STREAMS 32 /* each may queue up to ~9 MiB for a slow reader */

/* Counters of one server (or the process-wide ones of api_peer_blob). */
struct api_peer_stats {
    _Atomic int64_t requests;     /* blob requests answered (any status) */
    _Atomic int64_t body_bytes;   /* body bytes handed to the HTTP layer (wire bytes) */
    _Atomic int64_t blob_bytes;   /* blob bytes those bodies carried (before compression) */
    _Atomic int64_t compressed;   /* responses sent zstd-compressed */
    _Atomic int64_t verify_fail;  /* blobs that failed their sha256 check */
};

/* Answers GET (or HEAD) /api/cluster/blob/:digest for a peer from store. The
 * caller has already checked the cluster token. req is answered exactly once
 * (now or later from the transfer thread); store is borrowed and must outlive
 * the transfer (keep it open until the HTTP server is stopped). Counts into the
 * process-wide stats (api_peer_stats_global). */
void api_peer_blob(http_req *req, struct store_root *store, const char *digest);
/* api_peer_blob counting into stats as well (borrowed; must outlive the
 * transfer; may be NULL). */
void api_peer_blob_ex(http_req *req, struct store_root *store, const char *digest,
                      struct api_peer_stats *stats);
/* The process-wide counters (never NULL). */
struct api_peer_stats *api_peer_stats_global(void);
/* Transfers running now (threads alive), process-wide. */
int api_peer_active(void);
/* Waits until no transfer thread is alive (call after http_server_stop, before
 * closing the stores they read). 0, or OM_ETIMEDOUT after timeout_ms. */
int api_peer_drain(int timeout_ms);

#endif
