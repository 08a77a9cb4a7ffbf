/* route: the gateway's routing strategies (docs/cluster.md "Routing") as pure
 * functions — no I/O, no globals, no locks. The caller (the gateway) builds
 * one route_node per member from the replicated state and the latest
 * inventory reports, keeps one route_state per gateway (under its own lock),
 * and gets back the order in which to try the nodes: usable candidates first
 * (best first), then the rest (the failover order).
 *
 * Candidates: up, not drained nodes that hold the model (all its blobs); when
 * no such node exists, the up, not drained nodes placed to hold it.
 *
 * Strategies:
 *   least_loaded     loaded first, then (active + queued) / parallel, then
 *                    more free RAM, then id (deterministic)
 *   round_robin      the candidates (in id order) rotated by a counter
 *   prefix_affinity  consistent hashing with bounded load: ROUTE_VPOINTS
 *                    points per node id on a 64-bit ring; walk clockwise
 *                    from the request's prefix hash; a node whose load
 *                    (active + queued) exceeds ceil(1.25 x average) + 1 is
 *                    skipped; a candidate that reports holding the prefix
 *                    (has_prefix) and is not overloaded goes first
 *   latency          unmeasured nodes first, then the lowest time-to-first-
 *                    token EWMA; equals (within 1 ms) rotate round robin */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ROUTE_VPOINTS 64          /* virtual points per node on the ring */
#define ROUTE_PREFIX_BYTES 1024   /* bytes of prompt text hashed for affinity */
#define ROUTE_MAX_NODES 256       /* route_order refuses more */
#define ROUTE_EWMA_ALPHA 0.3      /* weight of a new time-to-first-token sample */

enum route_strategy { ROUTE_LEAST_LOADED, ROUTE_ROUND_ROBIN, ROUTE_PREFIX_AFFINITY, ROUTE_LATENCY };

/* "least_loaded", "round_robin", "prefix_affinity", "latency" (exact, as in
 * the `routing` setting). Returns 0 and sets *out, or OM_EINVAL (*out kept). */
int route_strategy_parse(const char *s, enum route_strategy *out);
/* The setting's name for s; "least_loaded" for an unknown value. Static. */
const char *route_strategy_name(enum route_strategy s);

struct route_node {
    char id[17];           /* 16 lower-case hex digits, NUL-terminated */
    bool up, drained;
    bool loaded;           /* the model is loaded there */
    bool holds;            /* has all its blobs */
    bool placed;           /* is placed to hold it */
    int active, queued, parallel;
    int64_t ram_free;
    double ttft_ewma_ms;   /* < 0 = not measured */
    bool has_prefix;       /* its reported prefix hashes contain this request's prefix hash */
};

/* One per gateway; zero-initialise. The caller serialises route_order calls
 * that share it. */
struct route_state {
    uint64_t rr_counter;
};

/* Orders nodes[0..n) for one request into out_idx[0..n) (indexes into
 * nodes): the usable candidates (see above) best first, then every other
 * node (up and undrained non-candidates first, then the rest) as the
 * failover order. Returns how many leading entries are usable (0 when none;
 * out_idx still lists every node), or OM_EINVAL for bad arguments (n < 0,
 * n > ROUTE_MAX_NODES, NULL pointers with n > 0). prefix_hash is the
 * request's route_prefix_hash (0 = none: prefix_affinity then orders as
 * least_loaded). round_robin and latency advance st->rr_counter; st may be
 * NULL (counter 0, nothing advanced). Nothing is allocated. */
int route_order(enum route_strategy s, const struct route_node *nodes, int n, uint64_t prefix_hash,
                struct route_state *st, int *out_idx);

/* 64-bit hash (FNV-1a, then a final avalanche) of the first
 * min(len, ROUTE_PREFIX_BYTES) bytes of text: the prompt text the model sees
 * (rendered template, or the raw prompt). Never 0 (0 means "none"); the
 * same on every node and every build. text may be NULL when len is 0. */
uint64_t route_prefix_hash(const char *text, size_t len);

/* The request's routing key for prefix_affinity, from the request body alone
 * (the gateway has not rendered the template; the serving node sets the same
 * value as sched_model.prefix_hash, from the same body, so that its reported
 * prefixes match). route_prefix_hash of the first ROUTE_PREFIX_BYTES of:
 *   chat ("messages", also OpenAI chat): "role\ncontent\n" of each message up
 *     to and including the first "user" message (string content, or the
 *     "text" of content parts), so that every turn of a conversation keeps
 *     the key of its first turn;
 *   OpenAI responses ("input" array of messages, "instructions"): the same,
 *     with the instructions as a leading system message; "input" string: as
 *     a user message;
 *   generate with "context" (token ids of the previous turn): "ctx:" and its
 *     first 64 ids in decimal;
 *   generate / completions ("prompt" string): "system\n" system "\n" (when
 *     given), then the prompt.
 * Returns 0 when the body has none of these (no affinity). body is
 * borrowed; the walk stops once the bytes are gathered. */
uint64_t route_body_prefix_hash(const json_t *body);

/* Exponentially weighted time to first token: sample_ms when prev < 0 (not
 * measured yet), else prev + ROUTE_EWMA_ALPHA * (sample_ms - prev). A
 * negative or non-finite sample returns prev unchanged. */
double route_ewma(double prev, double sample_ms);

#endif
