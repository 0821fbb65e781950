/*
 * pwr_transit.h - array kernels of the inter-area transit combination
 * (draft sec. 2.1.9, 2.2) for pyfrr-pwr's paths.transit.
 *
 * Plain C99, no Python.h, no allocation: every buffer is the caller's
 * (cffi ffi.new / the array module), its length given in the call or in
 * a struct field, and no function reads or writes past a length it was
 * given. Index values read from the caller's buffers (arc indices, group
 * offsets, positions) are checked against those lengths before use; a bad
 * one fails the call with PWR_TR_EINVAL.
 *
 * Invariants (paths.transit relies on these; tests/test_transit_kernel.py
 * checks them against the numpy implementation they replace):
 *  - Results are the reference's to the bit. Sums are IEEE double
 *    additions in the reference's order (no reassociation, no FMA: there
 *    is no multiplication of figures), minima keep the reference's operand
 *    on ties ("a < b ? a : b" or its mirror, as noted where used), and
 *    rounding to an integer is round-half-even (Python round(), numpy
 *    rint) in the default rounding mode.
 *  - Where the array form could differ from the scalar reference (an
 *    unsorted or non-finite figure, a result outside int64), a function
 *    says so (status PWR_TR_SCALAR, or 0 from the check functions) instead
 *    of guessing; the caller then runs the scalar reference.
 *  - Deterministic: ties are broken by position, never by the sort's
 *    internals (stable merge sorts, a heap keyed by (sum, i, j)).
 */
#ifndef PWR_TRANSIT_H
#define PWR_TRANSIT_H

#include <stddef.h>
#include <stdint.h>

#define PWR_TR_OK 0
#define PWR_TR_EINVAL (-1) /* a length, offset or index out of range */
#define PWR_TR_ESPACE (-3) /* an output or workspace buffer too small */

/* per-item status of pwr_tr_combine */
#define PWR_TR_ARRAY 0  /* combined here */
#define PWR_TR_SCALAR 1 /* the array form does not apply: run the reference */
#define PWR_TR_SUMS 2   /* as SCALAR: a sum among the k smallest is not finite (numpy's
                           form then ran the whole batch scalar; paths.transit does too,
                           so signed zeros of the minima come out as they did) */

/*
 * One learnt reachability vector's entries (n of them, "positions" 0..n-1
 * in vector order), grouped by endpoint: group g (0..ne-1, endpoints in
 * first-appearance order) holds positions gpos[gstart[g] .. gstart[g+1]),
 * in vector order; rank[g] is the endpoint's place in sorted endpoint
 * order. The figures are by position. ``fit`` is written by
 * pwr_tr_vec_check only; pwr_tr_combine combines a vector only when it is
 * 1 (a zeroed struct is never combined).
 */
typedef struct {
    int32_t n, ne;
    const int32_t *gstart; /* ne + 1 */
    const int32_t *gpos;   /* n */
    const int32_t *rank;   /* ne */
    const double *pwr, *bw, *jitter;          /* n */
    const int64_t *te, *hops, *admin, *delay; /* n */
    int32_t fit;
} pwr_tr_vec;

/*
 * Check a vector's structure (gstart runs 0..n ascending, gpos a
 * permutation's worth of in-range positions) and whether the array form
 * applies: PWR figures finite and ascending within each endpoint's group,
 * bandwidths not NaN, jitters finite, the integer figures in [0, 2^32).
 * Sets v->fit and returns 1 (fit) or 0 (not: take the scalar path), or
 * PWR_TR_EINVAL (malformed; fit is 0).
 */
int pwr_tr_vec_check(pwr_tr_vec *v);

/* Our aggregates to the ABRs, all items' concatenated (n in all). */
typedef struct {
    int32_t n;
    const double *pwr, *bw, *delay, *jitter;
    const int64_t *te, *hops, *admin;
} pwr_tr_vias;

/* Output entries, cap of each. row is the entry's endpoint as a global
 * row: item b's group g is row (sum of ne of items before b) + g. */
typedef struct {
    int64_t cap;
    int32_t *row;
    double *pwr, *bw;
    int64_t *te, *hops, *admin, *delay, *jitter;
} pwr_tr_out;

/* Workspace: nd doubles and ni int32s (see pwr_tr_combine_size). */
typedef struct {
    double *d;
    int64_t nd;
    int32_t *i;
    int64_t ni;
} pwr_tr_ws;

/*
 * Sizes for pwr_tr_combine of nb items (item b: vector vecs[b], vias
 * via_off[b] .. via_off[b+1]): *total output entries at most, and the
 * workspace's *nd doubles and *ni int32s. Returns PWR_TR_OK or
 * PWR_TR_EINVAL.
 */
int pwr_tr_combine_size(int32_t nb, const pwr_tr_vec *const *vecs,
                        const int32_t *via_off, int32_t nvia, int32_t k,
                        int64_t *total, int64_t *nd, int64_t *ni);

/*
 * The transit entries of every item (sec. 2.1.9): for each endpoint of
 * the vector, the min(k, nv * count) smallest sums via PWR + entry PWR in
 * (sum, i, j) order (the heap walk of paths.transit._k_smallest_sums;
 * i a via, j the endpoint's j-th entry), then the item's entries sorted
 * stably by (PWR saturated at FLT_MAX, endpoint rank), each saturated into
 * the wire's ranges as Aggregate.then and Aggregate.info do. Item b's
 * entries go to out[out_off[b] .. out_off[b+1]); status[b] says whether
 * it was combined (PWR_TR_ARRAY) or must take the scalar path
 * (PWR_TR_SCALAR: the vector is not fit, a via figure is not, or a rounded
 * figure is outside int64; PWR_TR_SUMS: a sum is not finite; then it has
 * no entries). k >= 1. Returns PWR_TR_OK,
 * PWR_TR_EINVAL or PWR_TR_ESPACE.
 */
int pwr_tr_combine(int32_t nb, const pwr_tr_vec *const *vecs,
                   const int32_t *via_off, const pwr_tr_vias *vias, int32_t k,
                   int32_t *status, int32_t *out_off, const pwr_tr_out *out,
                   const pwr_tr_ws *ws);

/*
 * Path aggregates (paths.transit._aggregates) of np paths over an arc
 * table of narc arcs: path p is arcs[off[p] .. off[p+1]) (off[0] = 0,
 * ascending, off[np] <= the arcs buffer's length, which is off[np]).
 * Sums start at 0.0 / 0 and add in path order; the bandwidth starts at
 * +inf and takes an arc's figure when it is smaller (Python's min(bw, b));
 * TE and admin sums wrap at 2^64 as numpy's int64 did (the caller keeps
 * the arc figures below 2^40, so they never do in practice).
 */
int pwr_tr_aggregates(int32_t np, const int32_t *off, const int32_t *arcs,
                      int32_t narc, const double *w, const double *bw,
                      const int64_t *te, const int64_t *admin,
                      const double *delay, const double *jitter,
                      double *o_pwr, double *o_bw, int64_t *o_te,
                      int64_t *o_admin, double *o_delay, double *o_jitter);

/*
 * The wire form of n aggregates (Aggregate.info, batched): PWR and
 * bandwidth saturated at FLT_MAX, TE metric at 2^32-1, hops at 2^16-1,
 * admin groups masked to 32 bits, delay and jitter min'ed with
 * 2^32-1 and 65535 and rounded half-even. Returns 1, or 0 when the array
 * form could differ from the reference (a NaN PWR or bandwidth, a
 * non-finite delay or jitter, an integer figure outside [0, 2^40), a
 * rounded figure outside int64): then nothing useful is written.
 */
int pwr_tr_wire(int32_t n, const double *pwr, const double *bw,
                const int64_t *te, const int64_t *hops, const int64_t *admin,
                const double *delay, const double *jitter, double *o_pwr,
                double *o_bw, int64_t *o_te, int64_t *o_hops,
                int64_t *o_admin, int64_t *o_delay, int64_t *o_jitter);

/*
 * A stable order of n keys grouped in parts (part p: keys
 * part_off[p] .. part_off[p+1], part_off[0] = 0, part_off[np] = n): the
 * indices 0..n-1 sorted by (key, part), ties in index order (numpy's
 * lexsort((part, key)); NaN sorts after everything, NaNs equal). idx and
 * tmp hold n each. Returns PWR_TR_OK or PWR_TR_EINVAL.
 */
int pwr_tr_order(int32_t n, const double *key, int32_t np,
                 const int32_t *part_off, int32_t *idx, int32_t *tmp,
                 int32_t *part_tmp);

#endif
