/*
 * pwr_ksp.h - k power-shortest loopless paths (Yen/Lawler) with CSPF
 * constraints, for the per-area TE database of pyfrr-pwr.
 *
 * Plain C99, no Python.h: this ABI is what the cffi binding calls and what
 * an FRR daemon could link directly.
 *
 * Invariants (the caller relies on these; the implementation keeps them):
 *  - A pwr_graph's topology is fixed by pwr_graph_new(); arc attributes
 *    change only through pwr_graph_set_weights()/pwr_graph_set_arc(), which
 *    must not run while a query on the same graph runs (the caller
 *    serialises; the Python binding holds a writer lock). Any number of
 *    threads may query one graph at once, each with its own pwr_ws.
 *  - Arc weights and delays are finite and >= 0 (checked at build time):
 *    Dijkstra/A* and label dominance are exact only then.
 *  - Paths are sequences of arcs, so parallel arcs between two nodes give
 *    distinct paths (draft sec. 2.1.1, links L1-L3 join A and D).
 *  - Paths are node-simple (loopless).
 *  - Costs are summed in double precision, in path order from the source.
 *  - Ties are canonical: the k paths returned are the first k feasible
 *    simple paths in the order (cost, hop count, steps), where steps
 *    compares two paths step by step from the source and the first
 *    differing step decides: the one to the lower node index, or between
 *    parallel arcs to one node the lower arc id (the caller's numbering).
 *    For a graph without parallel arcs that is the lexicographically
 *    smaller node sequence. Which of several equal-cost paths comes out,
 *    and which a cut at k keeps, depends on the graph and the query only,
 *    never on the search's internals (heap or bucket order). Costs are
 *    compared as computed (double sums); the order is exact whenever those
 *    sums are (e.g. integer or binary-fraction weights, where ties come
 *    from); two paths whose real costs are equal but whose sums round
 *    apart compare by the rounded sums, as they always did. With hop,
 *    delay or jitter bounds the same rule holds among the feasible paths.
 *  - A query never allocates per spur search and never clears O(n) memory
 *    per spur: the workspace is generation-stamped. Buffers grow
 *    geometrically only when a query needs more room than any before it.
 */
#ifndef PWR_KSP_H
#define PWR_KSP_H

#include <stddef.h>
#include <stdint.h>

/* Return codes of the KSP functions (lib.PWR_* in Python). */
#define PWR_OK 0
#define PWR_EINVAL (-1) /* invalid argument (a bad arc: see pwr_graph_new) */
#define PWR_ENOMEM (-2) /* out of memory */

typedef struct pwr_graph pwr_graph;
typedef struct pwr_ws pwr_ws;

/* CSPF constraints, applied inside the search as pruned arcs/nodes. */
typedef struct {
    double min_bw;          /* arcs with bw < min_bw are pruned; <= 0: off */
    uint32_t include_any;   /* arc admin group must share a bit; 0: off */
    uint32_t include_all;   /* arc admin group must hold all bits; 0: off */
    uint32_t exclude;       /* arc admin group must share no bit; 0: off */
    int32_t max_hops;       /* < 0: off */
    double max_delay;       /* summed arc delay bound; < 0: off */
    const int32_t *excl_nodes; /* node indices, may be NULL */
    int32_t n_excl_nodes;
    const int32_t *excl_arcs;  /* arc ids as given to pwr_graph_new */
    int32_t n_excl_arcs;
    double max_jitter;      /* summed arc delay variation bound; < 0: off
                               (moot until pwr_graph_set_jitter/_set_arc
                               gave some arc a jitter > 0) */
} pwr_constraints;

/*
 * Build a graph of n nodes and m arcs; arc i runs tail[i] -> head[i].
 * bw, admin and delay may be NULL (then +inf, 0 and 0). On failure returns
 * NULL and sets *err to PWR_EINVAL (with *bad_arc the offending arc, or -1)
 * or PWR_ENOMEM.
 */
pwr_graph *pwr_graph_new(int32_t n, int32_t m, const int32_t *tail,
                         const int32_t *head, const double *weight,
                         const double *bw, const uint32_t *admin,
                         const double *delay, int *err, int32_t *bad_arc);
void pwr_graph_free(pwr_graph *g);
int32_t pwr_graph_nodes(const pwr_graph *g);
int32_t pwr_graph_arcs(const pwr_graph *g);

/*
 * In-place updates, O(m) for all weights, O(1) for one arc; the arc ids are
 * the caller's (as given to pwr_graph_new). Values are checked as there
 * (weight and delay finite and >= 0, bw not NaN); on PWR_EINVAL nothing was
 * changed and *bad_arc names the offending arc.
 */
int pwr_graph_set_weights(pwr_graph *g, const double *weight,
                          int32_t *bad_arc);
#define PWR_SET_WEIGHT 1u
#define PWR_SET_BW 2u
#define PWR_SET_ADMIN 4u
#define PWR_SET_DELAY 8u
#define PWR_SET_JITTER 16u
/* Set the attributes of arc `arc` selected by `fields` (PWR_SET_* bits). */
int pwr_graph_set_arc(pwr_graph *g, int32_t arc, unsigned fields,
                      double weight, double bw, uint32_t admin, double delay,
                      double jitter);
/* Per-arc delay variation (RFC 7471 sec. 4.3; 0 until set), finite and
 * >= 0, for pwr_constraints.max_jitter. */
int pwr_graph_set_jitter(pwr_graph *g, const double *jitter,
                         int32_t *bad_arc);

pwr_ws *pwr_ws_new(const pwr_graph *g);
void pwr_ws_free(pwr_ws *ws);

/*
 * Batch queries. Each query q is (srcs[q], dsts[q]) with the same k and
 * constraints. Queries that share a destination and follow each other reuse
 * one reverse search (many sources to one target).
 * Returns the total number of paths stored in ws (>= 0) or a PWR_E* code.
 * Results stay in ws until its next query.
 */
int pwr_ksp_batch(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                  const int32_t *dsts, int32_t nq, int32_t k,
                  const pwr_constraints *c);

/* One source to many targets / many sources to one target. */
int pwr_ksp_one_to_many(const pwr_graph *g, pwr_ws *ws, int32_t src,
                        const int32_t *dsts, int32_t nq, int32_t k,
                        const pwr_constraints *c);
int pwr_ksp_many_to_one(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                        int32_t nq, int32_t dst, int32_t k,
                        const pwr_constraints *c);

/* Result access after a query: paths of query q are first..first+count-1. */
int32_t pwr_result_query(const pwr_ws *ws, int32_t q, int32_t *first);
/* Path p: its cost, its arc count, and a pointer to its arc ids (valid
 * until the next query on ws). */
double pwr_result_path(const pwr_ws *ws, int32_t p, int32_t *len,
                       const int32_t **arcs);
/* Copy all arcs of paths [first, first+count) into out (capacity cap);
 * returns the number of arcs needed (copies only if it fits). */
int32_t pwr_result_copy(const pwr_ws *ws, int32_t first, int32_t count,
                        int32_t *lens, double *costs, int32_t *out,
                        int32_t cap);

/* Path counts of queries 0..nq-1 into counts; PWR_OK or PWR_EINVAL when
 * nq exceeds the last query's. */
int pwr_result_counts(const pwr_ws *ws, int32_t nq, int32_t *counts);
/* Costs only of paths [first, first+count) into costs; PWR_OK or
 * PWR_EINVAL for a range outside the results. */
int pwr_result_costs(const pwr_ws *ws, int32_t first, int32_t count,
                     double *costs);

/*
 * Flat results of paths [first, first+count) in one call, for binding
 * code that builds its own objects: off[0..count] (count + 1 entries) are
 * the offsets of each path's arcs in arcs[] (off[count] = the total), the
 * nodes of path i are nodes[off[i] + i .. off[i + 1] + i] (len + 1 node
 * indices, the source first; a source == destination path is one node),
 * costs[i] its cost. Capacities: off count + 1, costs count, arcs cap,
 * nodes cap + count. Returns the total arc count needed; writes only when
 * it is <= cap and every buffer is given (so a call with cap -1 sizes the
 * buffers), or PWR_EINVAL for a range outside the results or a graph that
 * is not ws's.
 */
int32_t pwr_result_flat(const pwr_graph *g, const pwr_ws *ws, int32_t first,
                        int32_t count, int32_t *off, double *costs,
                        int32_t *arcs, int32_t *nodes, int32_t cap);

/*
 * The binding's one call per query: run the batch exactly as
 * pwr_ksp_batch does, then lay the results out flat in ws (valid until the
 * next query on ws), so the caller copies them without a call per path
 * and the whole of it runs in one C call (the GIL released around it).
 * out->counts[q] is query q's path count (nq entries), out->costs[p] path
 * p's cost (npaths entries). With PWR_FLAT_PATHS also out->flat, flat_len
 * int32 entries: off[npaths + 1] (path p's arcs are arcs[off[p] ..
 * off[p + 1]), off[npaths] = narcs), noff[npaths + 1] (its node indices
 * are nodes[noff[p] .. noff[p + 1]), the source first; noff[p] = off[p] +
 * p: one more node than arcs), arcs[narcs] (the caller's arc ids),
 * nodes[narcs + npaths]; flat_len = 3 npaths + 2 narcs + 2. Without it
 * out->flat is NULL and flat_len 0 (costs only). Returns npaths (>= 0) or
 * a PWR_E* code (then out holds zeros and NULLs). Buffers grow only when a
 * query needs more room than any before on ws.
 */
#define PWR_FLAT_PATHS 1u
/*
 * PWR_FLAT_INTO: lay the results out in the caller's buffer instead, so a
 * binding copies them with one slice of its own memory and reads no
 * pointer back. On entry out->flat is the caller's writable int32 buffer
 * (8-byte aligned) and out->flat_len its capacity in entries (>= 4); both
 * are left as given, out->counts and out->costs are NULL. Entries: [0]
 * need (the entries the layout takes), [1] npaths, [2] narcs, [3] nq;
 * from entry 4 the npaths costs (doubles, two entries each), then
 * counts[nq], then with PWR_FLAT_PATHS off, noff, arcs and nodes as
 * above; need = 4 + 2 npaths + nq (+ 3 npaths + 2 narcs + 2 with
 * PWR_FLAT_PATHS). When need > flat_len only the header is written (the
 * results stay in ws): grow the buffer and call again with PWR_FLAT_AGAIN,
 * which lays out the last query's results without running it again
 * (srcs, dsts, nq, k and c are then not read).
 */
#define PWR_FLAT_INTO 2u
#define PWR_FLAT_AGAIN 4u
typedef struct {
    int32_t npaths, narcs, flat_len;
    const int32_t *counts;
    const double *costs;
    const int32_t *flat;
} pwr_flat;
int pwr_ksp_flat(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                 const int32_t *dsts, int32_t nq, int32_t k,
                 const pwr_constraints *c, unsigned what, pwr_flat *out);
/* The same for one query src -> dst (no arrays to fill for one pair). */
int pwr_ksp_flat1(const pwr_graph *g, pwr_ws *ws, int32_t src, int32_t dst,
                  int32_t k, const pwr_constraints *c, unsigned what,
                  pwr_flat *out);

#endif
