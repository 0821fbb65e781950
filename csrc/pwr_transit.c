/*
 * pwr_transit.c - array kernels of the inter-area transit combination
 * (draft sec. 2.1.9: "the reachability vector advertised by ABR1 also
 * contains the reachability vector of ABR2"; sec. 2.2), replacing the
 * numpy code of paths.transit (issue 10: numpy kept ABR agents above
 * 40 MiB).
 *
 * Invariants (see pwr_transit.h for each function's contract):
 *  - No allocation, no global state: every buffer is the caller's and
 *    comes with its length; an index read from a buffer is checked
 *    against the length it indexes before it is used. Safe to call from
 *    several threads at once with distinct output and workspace buffers.
 *  - Bit-for-bit the reference's figures: double additions in the
 *    reference's order (FLT_EVAL_METHOD 0: no excess precision, checked
 *    below), the reference's operand on ties of a minimum, round-half-even
 *    to integers (round_even), integer sums that cannot overflow or
 *    saturate exactly.
 *  - Deterministic order: the k smallest sums come off a binary heap keyed
 *    by (sum, i, j), a total order, so the (sum, i, j) order of the
 *    reference heap walk is reproduced exactly; entries are then sorted by
 *    a stable merge sort (ties keep walk order).
 *  - Hot loops (the walk, the sort, the saturation) touch only the
 *    caller's workspace; none of them allocates.
 */
#include "pwr_transit.h"

#include <float.h>
#include <math.h>

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD > 0
#error "pwr_transit.c needs FLT_EVAL_METHOD 0 (SSE2 doubles): sums must round as the reference's"
#endif

#define FM ((double)FLT_MAX)      /* metric.FLT_MAX: the wire's float32 range */
#define DM 4294967295.0           /* the wire's 32-bit delay field */
#define JM 65535.0                /* the wire's 16-bit jitter field (JITTER_MAX) */
#define I64_LO (-9223372036854775808.0)
#define I64_HI 9223372036854775808.0
#define TWO52 4503599627370496.0
#define TWO40 ((int64_t)1 << 40)
#define TWO32 ((int64_t)1 << 32)

/* x rounded half-even to an integer (Python's round(), numpy's rint in the
 * default rounding mode) into *out; 0 when that is not an int64 (also for
 * an infinite x). Adding and subtracting 2^52 rounds |x| < 2^52 to an
 * integer in the current (round-to-nearest-even) mode; larger doubles are
 * integers already. */
static int round_even(double x, int64_t *out)
{
    double r;
    double a = x < 0 ? -x : x;
    if (a >= TWO52) {
        r = x;
    } else {
        double t = (a + TWO52) - TWO52;
        r = x < 0 ? -t : t;
    }
    if (!(r >= I64_LO && r < I64_HI))
        return 0;
    *out = (int64_t)r;
    return 1;
}

int pwr_tr_vec_check(pwr_tr_vec *v)
{
    if (!v)
        return PWR_TR_EINVAL;
    v->fit = 0;
    int32_t n = v->n, ne = v->ne;
    if (n < 0 || ne < 0 || (n > 0 && (!v->gstart || !v->gpos || !v->rank || !v->pwr || !v->bw || !v->jitter || !v->te || !v->hops ||
                                      !v->admin || !v->delay)))
        return PWR_TR_EINVAL;
    if (n == 0)
        return ne == 0 ? (v->fit = 1) : PWR_TR_EINVAL;
    if (v->gstart[0] != 0 || v->gstart[ne] != n)
        return PWR_TR_EINVAL;
    for (int32_t g = 0; g < ne; g++)
        if (v->gstart[g + 1] < v->gstart[g])
            return PWR_TR_EINVAL;
    for (int32_t t = 0; t < n; t++)
        if (v->gpos[t] < 0 || v->gpos[t] >= n)
            return PWR_TR_EINVAL;
    for (int32_t p = 0; p < n; p++) {
        if (!isfinite(v->pwr[p]) || isnan(v->bw[p]) || !isfinite(v->jitter[p]))
            return 0;
        if (v->te[p] < 0 || v->te[p] >= TWO32 || v->hops[p] < 0 || v->hops[p] >= TWO32 || v->admin[p] < 0 || v->admin[p] >= TWO32 ||
            v->delay[p] < 0 || v->delay[p] >= TWO32)
            return 0;
    }
    for (int32_t g = 0; g < ne; g++) /* each endpoint's entries ascending by PWR */
        for (int32_t t = v->gstart[g] + 1; t < v->gstart[g + 1]; t++)
            if (v->pwr[v->gpos[t]] < v->pwr[v->gpos[t - 1]])
                return 0;
    v->fit = 1;
    return 1;
}

static int via_off_ok(int32_t nb, const int32_t *via_off, int32_t nvia)
{
    if (nb < 0 || nvia < 0 || (nb > 0 && !via_off))
        return 0;
    if (nb == 0)
        return 1;
    if (via_off[0] < 0)
        return 0;
    for (int32_t b = 0; b < nb; b++)
        if (via_off[b + 1] < via_off[b])
            return 0;
    return via_off[nb] <= nvia;
}

/* item b's entries at most: per endpoint min(k, nv * count) */
static int64_t item_entries(const pwr_tr_vec *v, int32_t nv, int32_t k)
{
    if (v->fit != 1 || nv <= 0)
        return 0;
    int64_t m = 0;
    for (int32_t g = 0; g < v->ne; g++) {
        int64_t c = (int64_t)nv * (v->gstart[g + 1] - v->gstart[g]);
        m += c < k ? c : k;
    }
    return m;
}

/* output entries in all, the most of one item, and the heap's capacity */
static int sizes(int32_t nb, const pwr_tr_vec *const *vecs, const int32_t *via_off, int32_t nvia, int32_t k, int64_t *total, int64_t *mx,
                 int64_t *heap)
{
    if (k < 1 || (nb > 0 && !vecs) || !via_off_ok(nb, via_off, nvia))
        return PWR_TR_EINVAL;
    int64_t tot = 0, most = 0;
    for (int32_t b = 0; b < nb; b++) {
        if (!vecs[b])
            return PWR_TR_EINVAL;
        int64_t m = item_entries(vecs[b], via_off[b + 1] - via_off[b], k);
        tot += m;
        if (m > most)
            most = m;
    }
    *total = tot;
    *mx = most;
    *heap = (most < k ? most : k) + 1; /* after t pops the heap holds at most t + 1 */
    return PWR_TR_OK;
}

int pwr_tr_combine_size(int32_t nb, const pwr_tr_vec *const *vecs, const int32_t *via_off, int32_t nvia, int32_t k, int64_t *total,
                        int64_t *nd, int64_t *ni)
{
    int64_t mx, heap;
    if (!total || !nd || !ni)
        return PWR_TR_EINVAL;
    int rc = sizes(nb, vecs, via_off, nvia, k, total, &mx, &heap);
    if (rc != PWR_TR_OK)
        return rc;
    *nd = mx + heap;         /* keys; the heap's sums */
    *ni = 6 * mx + 2 * heap; /* via, pos, row, rank, idx, tmp; the heap's i and j */
    return PWR_TR_OK;
}

/* -- the heap walk: (sum, i, j) in a binary min-heap ------------------- */

typedef struct {
    double *s;
    int32_t *i, *j;
    int64_t len, cap;
} heap_t;

static int heap_less(const heap_t *h, int64_t a, int64_t b)
{
    /* sums are never NaN here (finite figures: at worst +-inf) */
    if (h->s[a] != h->s[b])
        return h->s[a] < h->s[b];
    if (h->i[a] != h->i[b])
        return h->i[a] < h->i[b];
    return h->j[a] < h->j[b];
}

static void heap_swap(heap_t *h, int64_t a, int64_t b)
{
    double s = h->s[a];
    int32_t i = h->i[a], j = h->j[a];
    h->s[a] = h->s[b];
    h->i[a] = h->i[b];
    h->j[a] = h->j[b];
    h->s[b] = s;
    h->i[b] = i;
    h->j[b] = j;
}

static int heap_push(heap_t *h, double s, int32_t i, int32_t j)
{
    if (h->len >= h->cap)
        return 0;
    int64_t c = h->len++;
    h->s[c] = s;
    h->i[c] = i;
    h->j[c] = j;
    while (c > 0) {
        int64_t p = (c - 1) / 2;
        if (!heap_less(h, c, p))
            break;
        heap_swap(h, c, p);
        c = p;
    }
    return 1;
}

static void heap_pop(heap_t *h, double *s, int32_t *i, int32_t *j)
{
    *s = h->s[0];
    *i = h->i[0];
    *j = h->j[0];
    h->len--;
    if (h->len == 0)
        return;
    h->s[0] = h->s[h->len];
    h->i[0] = h->i[h->len];
    h->j[0] = h->j[h->len];
    int64_t c = 0;
    for (;;) {
        int64_t l = 2 * c + 1, r = l + 1, m = c;
        if (l < h->len && heap_less(h, l, m))
            m = l;
        if (r < h->len && heap_less(h, r, m))
            m = r;
        if (m == c)
            break;
        heap_swap(h, c, m);
        c = m;
    }
}

/* -- stable merge sort of indices by (key, rank) ------------------------ */

/* a strictly before b: key (NaN last, NaNs equal), then rank */
static int before(const double *key, const int32_t *rank, int32_t a, int32_t b)
{
    double ka = key[a], kb = key[b];
    int na = ka != ka, nb = kb != kb;
    if (na || nb) {
        if (!(na && nb))
            return nb;
    } else if (ka != kb) {
        return ka < kb;
    }
    return rank[a] < rank[b];
}

/* idx[0..n) sorted stably by (key, rank) through tmp[0..n); both hold n */
static void merge_sort(int32_t n, const double *key, const int32_t *rank, int32_t *idx, int32_t *tmp)
{
    int32_t *src = idx, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = before(key, rank, src[b], src[a]) ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        int32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        for (int32_t t = 0; t < n; t++)
            idx[t] = src[t];
}

/* -- the combination ----------------------------------------------------- */

static int vias_fit(const pwr_tr_vias *V, int32_t a, int32_t nv)
{
    for (int32_t t = a; t < a + nv; t++) {
        if (!isfinite(V->pwr[t]) || isnan(V->bw[t]) || !isfinite(V->delay[t]) || !isfinite(V->jitter[t]))
            return 0;
        if (V->te[t] < 0 || V->te[t] >= TWO40 || V->hops[t] < 0 || V->admin[t] < 0)
            return 0;
        if (t > a && V->pwr[t] < V->pwr[t - 1]) /* sorted ascending, as _k_smallest_sums needs */
            return 0;
    }
    return 1;
}

int pwr_tr_combine(int32_t nb, const pwr_tr_vec *const *vecs, const int32_t *via_off, const pwr_tr_vias *V, int32_t k, int32_t *status,
                   int32_t *out_off, const pwr_tr_out *out, const pwr_tr_ws *ws)
{
    if (k < 1 || !V || !out || !ws || !out_off || (nb > 0 && (!vecs || !status)) || !via_off_ok(nb, via_off, V->n))
        return PWR_TR_EINVAL;
    if (V->n > 0 && (!V->pwr || !V->bw || !V->delay || !V->jitter || !V->te || !V->hops || !V->admin))
        return PWR_TR_EINVAL;
    int64_t total, imx, heap;
    int rc = sizes(nb, vecs, via_off, V->n, k, &total, &imx, &heap);
    if (rc != PWR_TR_OK)
        return rc;
    if (total > out->cap || total > INT32_MAX || imx + heap > ws->nd || 6 * imx + 2 * heap > ws->ni || !ws->d || !ws->i)
        return PWR_TR_ESPACE;
    if (total > 0 && (!out->row || !out->pwr || !out->bw || !out->te || !out->hops || !out->admin || !out->delay || !out->jitter))
        return PWR_TR_EINVAL;
    /* workspace: imx keys, then the heap's sums; six int32 arrays of imx
     * (via, pos, row, rank, idx, tmp), then the heap's i and j */
    double *key = ws->d;
    int32_t *s_via = ws->i, *s_pos = s_via + imx, *s_row = s_pos + imx, *s_rank = s_row + imx, *s_idx = s_rank + imx,
            *s_tmp = s_idx + imx;
    heap_t h = {ws->d + imx, s_tmp + imx, s_tmp + imx + heap, 0, heap};

    int64_t o = 0, rowbase = 0;
    for (int32_t b = 0; b < nb; b++) {
        const pwr_tr_vec *v = vecs[b];
        int32_t a = via_off[b], nv = via_off[b + 1] - a;
        int64_t base = rowbase;
        rowbase += v->ne; /* every item's groups are rows, combined or not */
        out_off[b] = (int32_t)o;
        status[b] = PWR_TR_SCALAR;
        if (v->fit != 1)
            continue;
        if (nv == 0 || v->n == 0) {
            status[b] = PWR_TR_ARRAY;
            continue;
        }
        if (!vias_fit(V, a, nv))
            continue;
        int32_t m = 0;
        int ok = 1;
        for (int32_t g = 0; g < v->ne && ok; g++) {
            int32_t s0 = v->gstart[g], c = v->gstart[g + 1] - s0;
            if (c == 0)
                continue;
            int64_t cnt = (int64_t)nv * c;
            if (cnt > k)
                cnt = k;
            const int32_t *gp = v->gpos + s0;
            h.len = 0;
            heap_push(&h, V->pwr[a] + v->pwr[gp[0]], 0, 0);
            for (int64_t t = 0; t < cnt; t++) {
                double s;
                int32_t i, j;
                if (h.len == 0)
                    return PWR_TR_EINVAL; /* cannot be: the walk reaches nv * c cells */
                heap_pop(&h, &s, &i, &j);
                if (!isfinite(s)) { /* the reference saturates; the array form would not be exact */
                    ok = 0;
                    status[b] = PWR_TR_SUMS;
                    break;
                }
                key[m] = s < FM ? s : FM; /* np.minimum(sums, FLT_MAX) */
                s_via[m] = a + i;
                s_pos[m] = gp[j];
                s_row[m] = g;
                s_rank[m] = v->rank[g];
                s_idx[m] = m;
                m++;
                /* the successors: right, and down from the first column;
                 * each cell has one parent, lexicographically before it */
                if (j + 1 < c && !heap_push(&h, V->pwr[a + i] + v->pwr[gp[j + 1]], i, j + 1))
                    return PWR_TR_ESPACE;
                if (j == 0 && i + 1 < nv && !heap_push(&h, V->pwr[a + i + 1] + v->pwr[gp[0]], i + 1, 0))
                    return PWR_TR_ESPACE;
            }
        }
        if (!ok)
            continue;
        merge_sort(m, key, s_rank, s_idx, s_tmp); /* stable: (PWR, endpoint rank), then walk order */
        for (int32_t t = 0; t < m && ok; t++) {
            int32_t x = s_idx[t], i = s_via[x], p = s_pos[x];
            int64_t q = o + t;
            double bw = v->bw[p] < V->bw[i] ? v->bw[p] : V->bw[i]; /* min(via, vector): a tie keeps the via's figure, as Aggregate.then */
            double d = V->delay[i] + (double)v->delay[p];
            double jt = V->jitter[i] + v->jitter[p];
            int64_t te = V->te[i] + v->te[p]; /* < 2^40 + 2^32 */
            int64_t hops = V->hops[i] > 0xFFFF - v->hops[p] ? 0xFFFF : V->hops[i] + v->hops[p];
            out->row[q] = (int32_t)(base + s_row[x]);
            out->pwr[q] = key[x];
            out->bw[q] = bw < FM ? bw : FM;
            out->te[q] = te < 0xFFFFFFFF ? te : 0xFFFFFFFF;
            out->hops[q] = hops < 0xFFFF ? hops : 0xFFFF;
            out->admin[q] = (V->admin[i] | v->admin[p]) & 0xFFFFFFFF;
            ok = round_even(d < DM ? d : DM, &out->delay[q]) && round_even(jt < JM ? jt : JM, &out->jitter[q]);
        }
        if (!ok)
            continue;
        status[b] = PWR_TR_ARRAY;
        o += m;
    }
    out_off[nb] = (int32_t)o;
    return PWR_TR_OK;
}

/* -- aggregates of paths ------------------------------------------------- */

int pwr_tr_aggregates(int32_t np, const int32_t *off, const int32_t *arcs, int32_t narc, const double *w, const double *bw,
                      const int64_t *te, const int64_t *admin, const double *delay, const double *jitter, double *o_pwr, double *o_bw,
                      int64_t *o_te, int64_t *o_admin, double *o_delay, double *o_jitter)
{
    if (np < 0 || narc < 0 || !off || off[0] != 0)
        return PWR_TR_EINVAL;
    for (int32_t p = 0; p < np; p++)
        if (off[p + 1] < off[p])
            return PWR_TR_EINVAL;
    int32_t len = off[np];
    if (len > 0 && !arcs)
        return PWR_TR_EINVAL;
    for (int32_t t = 0; t < len; t++)
        if (arcs[t] < 0 || arcs[t] >= narc)
            return PWR_TR_EINVAL;
    for (int32_t p = 0; p < np; p++) {
        double s = 0.0, b = INFINITY, d = 0.0, j = 0.0;
        uint64_t t64 = 0, ad = 0; /* wraps as numpy's int64 did, without C's signed overflow */
        for (int32_t t = off[p]; t < off[p + 1]; t++) {
            int32_t c = arcs[t];
            s += w[c];
            if (bw[c] < b)
                b = bw[c];
            t64 += (uint64_t)te[c];
            ad |= (uint64_t)admin[c];
            d += delay[c];
            j += jitter[c];
        }
        o_pwr[p] = s;
        o_bw[p] = b;
        o_te[p] = (int64_t)t64;
        o_admin[p] = (int64_t)ad;
        o_delay[p] = d;
        o_jitter[p] = j;
    }
    return PWR_TR_OK;
}

/* -- the wire form of aggregates ---------------------------------------- */

int pwr_tr_wire(int32_t n, const double *pwr, const double *bw, const int64_t *te, const int64_t *hops, const int64_t *admin,
                const double *delay, const double *jitter, double *o_pwr, double *o_bw, int64_t *o_te, int64_t *o_hops, int64_t *o_admin,
                int64_t *o_delay, int64_t *o_jitter)
{
    if (n < 0)
        return 0;
    for (int32_t t = 0; t < n; t++) {
        if (isnan(pwr[t]) || isnan(bw[t]) || !isfinite(delay[t]) || !isfinite(jitter[t]))
            return 0;
        if (te[t] < 0 || te[t] >= TWO40 || hops[t] < 0 || hops[t] >= TWO40 || admin[t] < 0 || admin[t] >= TWO40)
            return 0;
        o_pwr[t] = FM < pwr[t] ? FM : pwr[t]; /* np.where(FM < P, FM, P) */
        o_bw[t] = FM < bw[t] ? FM : bw[t];
        o_te[t] = te[t] < 0xFFFFFFFF ? te[t] : 0xFFFFFFFF;
        o_hops[t] = hops[t] < 0xFFFF ? hops[t] : 0xFFFF;
        o_admin[t] = admin[t] & 0xFFFFFFFF;
        if (!round_even(delay[t] < DM ? delay[t] : DM, &o_delay[t]) || !round_even(jitter[t] < JM ? jitter[t] : JM, &o_jitter[t]))
            return 0;
    }
    return 1;
}

/* -- the local vector's merge order -------------------------------------- */

int pwr_tr_order(int32_t n, const double *key, int32_t np, const int32_t *part_off, int32_t *idx, int32_t *tmp, int32_t *part_tmp)
{
    if (n < 0 || np < 0 || !part_off || part_off[0] != 0 || part_off[np] != n)
        return PWR_TR_EINVAL;
    for (int32_t p = 0; p < np; p++) {
        if (part_off[p + 1] < part_off[p])
            return PWR_TR_EINVAL;
        for (int32_t t = part_off[p]; t < part_off[p + 1]; t++)
            part_tmp[t] = p;
    }
    for (int32_t t = 0; t < n; t++)
        idx[t] = t;
    merge_sort(n, key, part_tmp, idx, tmp);
    return PWR_TR_OK;
}
