/*
 * pwr_ksp.c - Yen's k shortest loopless paths with Lawler's restriction,
 * A* spur searches and CSPF pruning (see pwr_ksp.h for the contract).
 *
 * How a query runs, and why:
 *  1. One reverse Dijkstra from the destination over the arcs the
 *     constraints allow gives pot[v] = exact distance v -> dst. It reads off
 *     the first path (no resource bound) and is an admissible, consistent A*
 *     potential for every spur search: blocking arcs and nodes only makes
 *     true distances longer. Its queue is a bucket queue of width wmin / 2
 *     (Dinitz: a bucket's keys are all final, so it settles in any order),
 *     or the radix heap when a zero weight or a weight ratio over ~8000
 *     rules buckets out; its tree (succ) is canonical either way: equal
 *     distance -> fewer hops -> lower internal arc id (see ties below). With a hop, delay or jitter bound, one more
 *     reverse search per bound gives min hops / delay / jitter to dst, used
 *     to prune labels whose best completion already breaks the bound.
 *  2. Yen: for the last path found, deviate at each spur node from its
 *     deviation index on (Lawler), block the root's nodes and the next arc
 *     of every found path sharing the root, and search a spur path. The
 *     found paths form a prefix tree (trie_add): the arcs to block at a
 *     spur are the children of the root's tree node, so an iteration walks
 *     the last path down the tree once instead of comparing it with every
 *     found path (that comparison was a third of area50's K=128 query).
 *  3. The candidate set is kept sorted and bounded to k - |found|: a path
 *     worse than k - |found| others can never be output. A spur whose lower
 *     bound (root cost + pot[spur]) exceeds the worst candidate still needed
 *     is skipped, and a spur search stops once its frontier passes it.
 *     Candidates are inserted by binary search (one search also finds a
 *     duplicate). Each spur search stops early at a "yellow" node (Feng's
 *     node classification, see yellow()): one whose reverse-tree path to
 *     dst avoids the root, so the tree completes the spur path exactly; the
 *     classification of a found path's nodes is kept for all its spurs
 *     (their roots are nested). Root nodes are blocked once per iteration
 *     and grown spur by spur, for the bounds; the spur node itself is
 *     expanded without a heap round trip. Spur searches are postponed (Al
 *     Zoobi, Coudert and Nisse): each spur gets the sidetrack bound root
 *     cost + min over its allowed first arcs of w + pot[head] (Yen blocks
 *     the found paths' next arcs, usually the cheapest first arc, so this
 *     is far tighter than root + pot[spur]) and waits in a heap; before
 *     the best candidate is output, every waiting spur whose bound does not
 *     exceed its cost is searched. Most spurs never are: at K=8, 8 of 24
 *     on area50, 7 of 254 on the 30x30 grid.
 *  4. Without hop/delay bounds a spur search is A* over nodes. With them it
 *     is a label-setting search over (cost, delay, jitter, hops) with
 *     dominance (jitter: summed delay variation, RFC 7471 sec. 4.3), the
 *     exact resource-constrained shortest path: a cheaper label can reach a
 *     node with more delay, so one label per node would lose feasible paths.
 *     Labels are never unlinked from their node's list, which is what keeps
 *     label paths loopless: a label that closes a cycle is dominated by its
 *     own ancestor at that node (same or lower cost and delay, fewer hops).
 *  5. Ties (the order of pwr_ksp.h): internal arc ids are sorted by (tail,
 *     head, caller's id), so between arcs leaving one node the lower id is
 *     the lower step, and "steps" is the lexicographic order of internal
 *     arc sequences from one source. Yen with Lawler's partition outputs
 *     the first k paths of any total order whose spur searches return the
 *     least path of their subset in that order; the order is prefix-
 *     compatible (a common root adds the same cost, hops and steps), so
 *     each search only has to break its own ties canonically: the tree
 *     does (above), A* labels are (cost, hops, prefix) with prefixes
 *     compared by walking both pred chains back to where they meet (ties
 *     only, so random weights never pay for it), offers by (cost, total
 *     hops, arcs), and labels dominate only when they come first in that
 *     order too. The heap pops by (key, hops, id), so a label's tight
 *     predecessors pop before it and its label is final when it pops.
 *  6. Results stay in ws (caller's arc ids, cost, source per path) until its
 *     next query; pwr_result_flat copies all of them in one call into flat
 *     arrays (offsets, arcs, node indices, costs), so a binding builds its
 *     objects without one call per path, and pwr_ksp_flat runs the queries
 *     and lays their results out flat in ws in one call (the binding's one
 *     call per query or batch: the GIL is released around all of it), or
 *     with PWR_FLAT_INTO in the caller's buffer behind a header holding the
 *     sizes and the costs, so the binding reads no pointer or field back
 *     (each such read was ~1 k instructions of cffi on a ~40 k query).
 *
 * Where the time goes (callgrind, bench graphs, K=8): on BA-2000 a query
 * was 1.36 M instructions with the radix heap (reverse search ~89%, rx_pop
 * ~240 instructions a pop); with the bucket queue and +inf-filled
 * distances it is 0.48 M, the reverse search ~0.34 M of it (~12 k arc
 * relaxations at ~16 instructions, ~3.2 k pushes and pops at ~20). Bounding
 * it by dist(src, dst) would not help the bench's far pairs: 1984 of 2000
 * nodes (all of waxman1000, 898 of 900 on the grid) lie within that radius
 * of dst. area50 K=8: 43 k instructions (was 51 k). With the shared-root
 * list (step 2), K=8/32/128: area50 38.1 k / 142 k / 912 k (were 38.7 k /
 * 151 k / 1042 k), BA-2000 463 k / 1047 k / 4541 k (were 473 k / 1106 k /
 * 5001 k). With the prefix tree, binary candidate inserts, per-iteration
 * classification and the spur node off the heap (step 3), K=8/32/128:
 * area50 35.9 k / 116 k / 465 k (were 39.0 k / 146 k / 950 k), BA-2000
 * 463 k / 990 k / 3837 k (were 463 k / 1047 k / 4541 k). What remains on area50 at K=32 and K=128 is
 * ~55% spur searches (~750 instructions each at K=8, ~390 arcs scanned a
 * query, 60% of them rejected as blocked), ~30% Yen's own bookkeeping
 * (spur loop, tree walks, candidate slots, results), at K=32 ~10% the
 * reverse search (~11.7 k, ~13 instructions an arc); on BA-2000 the
 * reverse search still dominates at K=8. A plain Dijkstra with a 64-bit
 * open-set mask for graphs of <= 64 nodes cost more there (39.7 k at
 * area50 K=8): its open set is most of that dense graph. The bucket-queue
 * search as its own function (no longer sharing reverse_search's
 * registers), walking arcs by pointer, without a live-entry count and
 * with the +inf fill by memcpy: BA-2000 K=8 420 k (was 464 k), area50
 * 36.2 k (37.5 k), the ABR bench's 200 queries 13.7 M (14.0 M). Hoisting
 * ws's block counters out of the spur loop, or specialising spur_astar on
 * filtering, cost more: the spills grew. Postponed spur searches (step
 * 3), K=8/32/128: area50 31.9 k / 99.6 k / 401 k (were 36.5 k / 117 k /
 * 466 k), BA-2000 391 k / 726 k / 2.27 M (420 k / 948 k / 3.80 M), the
 * 30x30 grid 233 k / 571 k / 1.95 M (316 k / 854 k / 3.26 M), waxman1000
 * 183 k / 329 k / 0.91 M (216 k / 466 k / 1.33 M).
 */
#include "pwr_ksp.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INF HUGE_VAL
#define HEAP_D 4 /* heap arity: fewer levels per pop than a binary heap */

struct rev_arc {
    double w;
    int32_t tail, arc; /* arc: internal id */
};

struct pwr_graph {
    int32_t n, m;
    /* internal arc ids are CSR positions, sorted by (tail, head, caller's
     * id): between two arcs leaving one node, the lower internal id is the
     * lower head index, then the lower caller id (the tie-break order) */
    int32_t *out_start; /* n + 1 */
    int32_t *head, *tail;
    double *w, *bw, *delay;
    double *jit; /* delay variation (RFC 7471 sec. 4.3), 0 unless set */
    int has_jit; /* some arc's jitter was ever set > 0 (then bounds apply) */
    uint32_t *admin;
    int32_t *orig;     /* internal -> caller's arc id */
    int32_t *pos;      /* caller's arc id -> internal */
    int32_t *in_start; /* n + 1, reverse CSR */
    int32_t *in_arc;
    int32_t *in_pos;   /* internal arc -> its reverse CSR position */
    /* reverse CSR copies of tail/weight/arc in one record, so the reverse
     * searches (run once per destination over the whole graph) read one
     * cache line per few arcs; delay stays apart (hop/delay bounds only) */
    struct rev_arc *in_e;
    double *in_delay, *in_jit;
    /* bounds on the arc weights (exact after build and set_weights, only
     * widened by set_arc), for the reverse search's bucket width */
    double wmin, wmax;
};

typedef struct {
    double key;
    int32_t hops, id; /* ordered by (key, hops, id): see heap_less */
} heap_ent;

typedef struct {
    int32_t id, next;
} bq_ent;

typedef struct {
    uint64_t key; /* bits of a double >= 0 */
    int32_t id, next;
} rx_ent;

typedef struct {
    int32_t off, len, src; /* src: the path's first node (len may be 0) */
    double cost;
} res_path;

typedef struct {
    int32_t first, count;
} res_query;

enum { REV_W = 0, REV_HOPS = 1, REV_DELAY = 2, REV_JIT = 3, REV_N = 4 };

struct pend_ent; /* a postponed spur search (see yen) */

struct pwr_ws {
    int32_t n, m;
    /* reverse searches, one stamped array per metric */
    double *rev[REV_N];
    uint32_t *rev_stamp[REV_N];
    uint32_t rev_gen[REV_N];
    int32_t *succ;
    int32_t *rhops; /* hops of v's tree path to dst (REV_W), for ties */
    /* forward search */
    double *dist;
    int32_t *pred;
    int32_t *fhops; /* hops of the spur search's label at v */
    int32_t *cmpa, *cmpb; /* scratch for comparing two offers (ties) */
    uint32_t *seen;
    uint32_t gen;
    /* per-iteration node classification (see yellow): cls[v] is the least
     * index on the last found path of a node on v's reverse-tree path (v
     * included, dst not: the path's length if none), valid where
     * cls_stamp[v] == cgen; ppos[v] is v's index on that path where
     * ppos_stamp[v] == cgen; walk is the climb's scratch stack */
    int32_t *cls, *ppos;
    uint32_t *cls_stamp, *ppos_stamp;
    uint32_t cgen;
    int32_t *walk;
    /* per-spur blocks and per-query exclusions */
    uint32_t *nblock, *ablock;
    uint32_t bgen; /* ablock: per spur */
    uint32_t ngen; /* nblock: per Yen iteration, grown spur by spur */
    uint32_t *nexcl, *aexcl;
    uint32_t xgen;
    int filtering; /* this query has arc filters or excluded nodes */
    int use_jit;   /* a jitter bound that some arc's jitter can break */
    /* lazy binary heap (label searches) */
    heap_ent *heap;
    size_t heap_n, heap_cap;
    /* radix heap for the reverse searches, which settle (nearly) the whole
     * graph and whose keys only grow (Dijkstra from one source with arc
     * weights >= 0): entries live in one pool, linked per bucket; bucket b
     * holds keys whose highest bit differing from the last popped key is
     * b - 1 (keys compared as the bit patterns of non-negative doubles,
     * which order like the values). It cost 3-4x fewer instructions than
     * the indexed binary heap with decrease-key it replaced. */
    rx_ent *rx;
    size_t rx_used, rx_cap;
    int32_t rx_head[65];
    uint64_t rx_mask; /* bit b - 1 set: bucket b (1..64) may be non-empty */
    uint64_t rx_last;
    size_t rx_live;
    /* bucket queue for the REV_W search (see reverse_w): bq_cap circular
     * buckets (a power of two >= 64), all empty (head -1, bit clear)
     * between searches; entries from a pool of m + 1 */
    int32_t *bq_head;
    uint64_t *bq_bits;
    size_t bq_cap;
    bq_ent *bq;
    size_t bq_pool;
    /* labels for resource-constrained spur searches */
    int32_t *lab_node, *lab_pred, *lab_arc, *lab_next, *lab_hops;
    double *lab_g, *lab_d, *lab_j;
    uint8_t *lab_dead;
    int32_t *lab_head; /* per node, valid where seen[v] == gen */
    size_t lab_n, lab_cap;
    /* path slots: (k + 1) slots of stride = max(n, 1) arcs each */
    size_t stride;
    int32_t slots, *slot_arcs, *slot_len, *slot_dev, *free_slot, nfree;
    double *slot_cost;
    int32_t *found, *cand;
    /* the found paths' prefix tree (one query): node 0 is the empty
     * prefix, a node's children (t_child, then t_next) are the arcs (t_arc)
     * that found paths take after its prefix, which are the arcs Yen
     * blocks at a spur with that root; at most 1 + k * stride nodes (k
     * paths of < stride arcs). t_path[i] is the node of the last found
     * path's first i arcs (per Yen iteration). */
    int32_t *t_child, *t_next, *t_arc, *t_path, t_n;
    int32_t nfound, ncand;
    /* postponed spur searches (one query): pend[] in creation order, and
     * a binary min-heap of their indices by (lower bound, index) */
    struct pend_ent *pend;
    size_t pend_n, pend_cap;
    int32_t *pheap;
    size_t pheap_n, pheap_cap;
    int32_t cls_path; /* the found path (slot) cls/ppos classify for, or -1 */
    /* results */
    int32_t *res_arcs;
    size_t res_arcs_n, res_arcs_cap;
    res_path *res_paths;
    size_t res_paths_n, res_paths_cap;
    res_query *res_q;
    size_t res_q_cap;
    int32_t res_nq;
    /* pwr_ksp_flat's output (see pwr_ksp.h), grown geometrically */
    int32_t *flat_counts, *flat;
    double *flat_costs;
    size_t flat_counts_cap, flat_cap, flat_costs_cap;
};

/* ---------- small helpers ---------- */

static void *xcalloc(size_t n, size_t sz) { return calloc(n ? n : 1, sz); }

static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    size_t nc;
    void *np;
    if (need <= *cap)
        return PWR_OK;
    nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    np = realloc(*p, nc * sz);
    if (!np)
        return PWR_ENOMEM;
    *p = np;
    *cap = nc;
    return PWR_OK;
}

/* Next generation stamp for one or two stamp arrays (a of alen, b of blen);
 * on wrap-around both are cleared once, so a stale stamp never matches. */
static uint32_t next_gen2(uint32_t *gen, uint32_t *a, size_t alen,
                          uint32_t *b, size_t blen)
{
    if (++*gen == 0) {
        memset(a, 0, alen * sizeof *a);
        if (b)
            memset(b, 0, blen * sizeof *b);
        *gen = 1;
    }
    return *gen;
}

static uint32_t next_gen(uint32_t *gen, uint32_t *a, size_t len)
{
    return next_gen2(gen, a, len, NULL, 0);
}

/* ---------- heap ---------- */

/* Order of the spur searches' heap: by key, then fewer hops, so that of
 * two entries with one key a label's tight predecessor (one hop fewer)
 * always pops first and a node's label is final when it pops (exact
 * arithmetic); then by id, so the order is fixed. */
static int heap_less(const heap_ent *a, const heap_ent *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    if (a->hops != b->hops)
        return a->hops < b->hops;
    return a->id < b->id;
}

/* Index of the least of the (up to HEAP_D) children of i in h[0..n). */
static size_t min_child(const heap_ent *h, size_t i, size_t n)
{
    size_t c = HEAP_D * i + 1, end = c + HEAP_D, s = c, j;
    if (end > n)
        end = n;
    for (j = c + 1; j < end; j++)
        if (heap_less(&h[j], &h[s]))
            s = j;
    return s;
}

static int heap_push(pwr_ws *ws, double key, int32_t hops, int32_t id)
{
    size_t i;
    heap_ent e;
    if (ws->heap_n == ws->heap_cap &&
        grow((void **)&ws->heap, &ws->heap_cap, ws->heap_n + 1,
             sizeof(heap_ent)) != PWR_OK)
        return PWR_ENOMEM;
    e.key = key;
    e.hops = hops;
    e.id = id;
    i = ws->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / HEAP_D;
        if (!heap_less(&e, &ws->heap[p]))
            break;
        ws->heap[i] = ws->heap[p];
        i = p;
    }
    ws->heap[i] = e;
    return PWR_OK;
}

static heap_ent heap_pop(pwr_ws *ws)
{
    heap_ent top = ws->heap[0], last = ws->heap[--ws->heap_n];
    size_t i = 0, n = ws->heap_n;
    if (n == 0)
        return top;
    while (HEAP_D * i + 1 < n) {
        size_t s = min_child(ws->heap, i, n);
        if (!heap_less(&ws->heap[s], &last))
            break;
        ws->heap[i] = ws->heap[s];
        i = s;
    }
    ws->heap[i] = last;
    return top;
}

/* ---------- radix heap (reverse searches; see pwr_ws) ---------- */

static uint64_t key_bits(double d)
{
    uint64_t u;
    d += 0.0; /* -0.0 -> +0.0, so every key's sign bit is clear */
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_key(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int rx_bucket(uint64_t k, uint64_t last)
{
    uint64_t x = k ^ last;
    int b = 0;
    if (!x)
        return 0;
#if defined(__GNUC__)
    b = 64 - __builtin_clzll(x);
#else
    while (x) {
        b++;
        x >>= 1;
    }
#endif
    return b;
}

static void rx_reset(pwr_ws *ws)
{
    int b;
    for (b = 0; b < 65; b++)
        ws->rx_head[b] = -1;
    ws->rx_used = ws->rx_live = 0;
    ws->rx_last = ws->rx_mask = 0;
}

/* Push (key, id); key must be >= the last popped key (monotone). */
static int rx_push(pwr_ws *ws, double key, int32_t id)
{
    uint64_t k = key_bits(key);
    int b;
    rx_ent *e;
    if (ws->rx_used == ws->rx_cap &&
        grow((void **)&ws->rx, &ws->rx_cap, ws->rx_used + 1, sizeof(rx_ent)))
        return PWR_ENOMEM;
    b = rx_bucket(k, ws->rx_last);
    e = &ws->rx[ws->rx_used];
    e->key = k;
    e->id = id;
    e->next = ws->rx_head[b];
    ws->rx_head[b] = (int32_t)ws->rx_used++;
    ws->rx_live++;
    if (b)
        ws->rx_mask |= (uint64_t)1 << (b - 1);
    return PWR_OK;
}

/* Pop a least entry; rx_live must be > 0. Ties pop in a fixed order. */
static int32_t rx_pop(pwr_ws *ws, double *key)
{
    int32_t i;
    rx_ent *rx = ws->rx;
    if (ws->rx_head[0] < 0) {
        int b = 1;
        uint64_t mn, mask = ws->rx_mask;
#if defined(__GNUC__)
        b = 1 + __builtin_ctzll(mask);
#else
        while (!(mask & 1)) {
            b++;
            mask >>= 1;
        }
#endif
        i = ws->rx_head[b];
        mn = rx[i].key;
        for (i = rx[i].next; i >= 0; i = rx[i].next)
            if (rx[i].key < mn)
                mn = rx[i].key;
        ws->rx_last = mn;
        i = ws->rx_head[b];
        ws->rx_head[b] = -1;
        ws->rx_mask &= ~((uint64_t)1 << (b - 1));
        while (i >= 0) { /* every entry moves to a lower bucket */
            int32_t nx = rx[i].next;
            int bb = rx_bucket(rx[i].key, mn);
            rx[i].next = ws->rx_head[bb];
            ws->rx_head[bb] = i;
            if (bb)
                ws->rx_mask |= (uint64_t)1 << (bb - 1);
            i = nx;
        }
    }
    i = ws->rx_head[0];
    ws->rx_head[0] = rx[i].next;
    ws->rx_live--;
    *key = bits_key(rx[i].key);
    return rx[i].id;
}

/* ---------- graph ---------- */

static void weight_bounds(pwr_graph *g)
{
    int32_t a;
    g->wmin = g->m ? INF : 0.0;
    g->wmax = 0.0;
    for (a = 0; a < g->m; a++) {
        if (g->w[a] < g->wmin)
            g->wmin = g->w[a];
        if (g->w[a] > g->wmax)
            g->wmax = g->w[a];
    }
}

pwr_graph *pwr_graph_new(int32_t n, int32_t m, const int32_t *tail,
                         const int32_t *head, const double *weight,
                         const double *bw, const uint32_t *admin,
                         const double *delay, int *err, int32_t *bad_arc)
{
    pwr_graph *g;
    int32_t i, j, *fill = NULL;
    *err = PWR_OK;
    *bad_arc = -1;
    if (n < 0 || m < 0 || (m > 0 && (!tail || !head || !weight))) {
        *err = PWR_EINVAL;
        return NULL;
    }
    for (i = 0; i < m; i++) {
        if (tail[i] < 0 || tail[i] >= n || head[i] < 0 || head[i] >= n ||
            !(weight[i] >= 0.0 && weight[i] < INF) ||
            (delay && !(delay[i] >= 0.0 && delay[i] < INF)) ||
            (bw && bw[i] != bw[i])) {
            *err = PWR_EINVAL;
            *bad_arc = i;
            return NULL;
        }
    }
    g = calloc(1, sizeof *g);
    if (!g) {
        *err = PWR_ENOMEM;
        return NULL;
    }
    g->n = n;
    g->m = m;
    g->out_start = xcalloc((size_t)n + 1, sizeof(int32_t));
    g->in_start = xcalloc((size_t)n + 1, sizeof(int32_t));
    g->head = xcalloc((size_t)m, sizeof(int32_t));
    g->tail = xcalloc((size_t)m, sizeof(int32_t));
    g->in_arc = xcalloc((size_t)m, sizeof(int32_t));
    g->in_pos = xcalloc((size_t)m, sizeof(int32_t));
    g->in_e = xcalloc((size_t)m, sizeof(struct rev_arc));
    g->in_delay = xcalloc((size_t)m, sizeof(double));
    g->in_jit = xcalloc((size_t)m, sizeof(double));
    g->jit = xcalloc((size_t)m, sizeof(double));
    g->orig = xcalloc((size_t)m, sizeof(int32_t));
    g->pos = xcalloc((size_t)m, sizeof(int32_t));
    g->w = xcalloc((size_t)m, sizeof(double));
    g->bw = xcalloc((size_t)m, sizeof(double));
    g->delay = xcalloc((size_t)m, sizeof(double));
    g->admin = xcalloc((size_t)m, sizeof(uint32_t));
    fill = xcalloc((size_t)n + 1, sizeof(int32_t));
    if (!g->out_start || !g->in_start || !g->head || !g->tail || !g->in_arc ||
        !g->in_pos ||
        !g->in_e || !g->in_delay || !g->in_jit || !g->jit ||
        !g->orig || !g->pos || !g->w || !g->bw || !g->delay || !g->admin ||
        !fill) {
        free(fill);
        pwr_graph_free(g);
        *err = PWR_ENOMEM;
        return NULL;
    }
    /* counting sort by tail, stable in the caller's arc order */
    for (i = 0; i < m; i++) {
        g->out_start[tail[i] + 1]++;
        g->in_start[head[i] + 1]++;
    }
    for (i = 0; i < n; i++) {
        g->out_start[i + 1] += g->out_start[i];
        g->in_start[i + 1] += g->in_start[i];
    }
    /* two stable counting sorts, by head then by tail: internal order is
     * (tail, head, caller's id); byh borrows in_arc until it is built */
    memcpy(fill, g->in_start, (size_t)n * sizeof(int32_t));
    for (i = 0; i < m; i++)
        g->in_arc[fill[head[i]]++] = i;
    memcpy(fill, g->out_start, (size_t)n * sizeof(int32_t));
    for (j = 0; j < m; j++) {
        int32_t e = g->in_arc[j], a = fill[tail[e]]++;
        g->tail[a] = tail[e];
        g->head[a] = head[e];
        g->w[a] = weight[e];
        g->bw[a] = bw ? bw[e] : INF;
        g->delay[a] = delay ? delay[e] : 0.0;
        g->admin[a] = admin ? admin[e] : 0u;
        g->orig[a] = e;
        g->pos[e] = a;
    }
    weight_bounds(g);
    memcpy(fill, g->in_start, (size_t)n * sizeof(int32_t));
    for (i = 0; i < m; i++) /* internal order, so reverse CSR is stable */
        g->in_arc[fill[g->head[i]]++] = i;
    for (i = 0; i < m; i++) {
        g->in_pos[g->in_arc[i]] = i;
        g->in_e[i].tail = g->tail[g->in_arc[i]];
        g->in_e[i].arc = g->in_arc[i];
        g->in_e[i].w = g->w[g->in_arc[i]];
        g->in_delay[i] = g->delay[g->in_arc[i]];
    }
    free(fill);
    return g;
}

void pwr_graph_free(pwr_graph *g)
{
    if (!g)
        return;
    free(g->out_start);
    free(g->in_start);
    free(g->head);
    free(g->tail);
    free(g->in_arc);
    free(g->in_pos);
    free(g->in_e);
    free(g->in_delay);
    free(g->in_jit);
    free(g->jit);
    free(g->orig);
    free(g->pos);
    free(g->w);
    free(g->bw);
    free(g->delay);
    free(g->admin);
    free(g);
}

int pwr_graph_set_weights(pwr_graph *g, const double *weight,
                          int32_t *bad_arc)
{
    int32_t i;
    *bad_arc = -1;
    if (!g || (g->m > 0 && !weight))
        return PWR_EINVAL;
    for (i = 0; i < g->m; i++)
        if (!(weight[i] >= 0.0 && weight[i] < INF)) {
            *bad_arc = i;
            return PWR_EINVAL;
        }
    for (i = 0; i < g->m; i++)
        g->w[g->pos[i]] = weight[i];
    for (i = 0; i < g->m; i++)
        g->in_e[i].w = g->w[g->in_arc[i]];
    weight_bounds(g);
    return PWR_OK;
}

int pwr_graph_set_jitter(pwr_graph *g, const double *jitter,
                         int32_t *bad_arc)
{
    int32_t i;
    *bad_arc = -1;
    if (!g || (g->m > 0 && !jitter))
        return PWR_EINVAL;
    for (i = 0; i < g->m; i++)
        if (!(jitter[i] >= 0.0 && jitter[i] < INF)) {
            *bad_arc = i;
            return PWR_EINVAL;
        }
    for (i = 0; i < g->m; i++) {
        g->jit[g->pos[i]] = jitter[i];
        g->has_jit |= jitter[i] > 0.0;
    }
    for (i = 0; i < g->m; i++)
        g->in_jit[i] = g->jit[g->in_arc[i]];
    return PWR_OK;
}

int pwr_graph_set_arc(pwr_graph *g, int32_t arc, unsigned fields,
                      double weight, double bw, uint32_t admin, double delay,
                      double jitter)
{
    int32_t a;
    if (!g || arc < 0 || arc >= g->m ||
        ((fields & PWR_SET_WEIGHT) && !(weight >= 0.0 && weight < INF)) ||
        ((fields & PWR_SET_DELAY) && !(delay >= 0.0 && delay < INF)) ||
        ((fields & PWR_SET_JITTER) && !(jitter >= 0.0 && jitter < INF)) ||
        ((fields & PWR_SET_BW) && bw != bw))
        return PWR_EINVAL;
    a = g->pos[arc];
    if (fields & PWR_SET_WEIGHT) {
        g->w[a] = weight;
        g->in_e[g->in_pos[a]].w = weight;
        if (weight < g->wmin) /* O(1): the bounds only widen here */
            g->wmin = weight;
        if (weight > g->wmax)
            g->wmax = weight;
    }
    if (fields & PWR_SET_BW)
        g->bw[a] = bw;
    if (fields & PWR_SET_ADMIN)
        g->admin[a] = admin;
    if (fields & PWR_SET_DELAY) {
        g->delay[a] = delay;
        g->in_delay[g->in_pos[a]] = delay;
    }
    if (fields & PWR_SET_JITTER) {
        g->jit[a] = jitter;
        g->in_jit[g->in_pos[a]] = jitter;
        g->has_jit |= jitter > 0.0;
    }
    return PWR_OK;
}

int32_t pwr_graph_nodes(const pwr_graph *g) { return g->n; }
int32_t pwr_graph_arcs(const pwr_graph *g) { return g->m; }

/* ---------- workspace ---------- */

pwr_ws *pwr_ws_new(const pwr_graph *g)
{
    pwr_ws *ws = calloc(1, sizeof *ws);
    size_t n = (size_t)g->n, m = (size_t)g->m;
    int r, ok = 1;
    if (!ws)
        return NULL;
    ws->n = g->n;
    ws->m = g->m;
    ws->stride = n > 0 ? n : 1;
    for (r = 0; r < REV_N; r++) {
        ws->rev[r] = xcalloc(n, sizeof(double));
        ws->rev_stamp[r] = xcalloc(n, sizeof(uint32_t));
        ok = ok && ws->rev[r] && ws->rev_stamp[r];
    }
    ws->succ = xcalloc(n, sizeof(int32_t));
    ws->rhops = xcalloc(n, sizeof(int32_t));
    ws->dist = xcalloc(n, sizeof(double));
    ws->pred = xcalloc(n, sizeof(int32_t));
    ws->fhops = xcalloc(n, sizeof(int32_t));
    ws->cmpa = xcalloc(n, sizeof(int32_t));
    ws->cmpb = xcalloc(n, sizeof(int32_t));
    ws->bq_pool = m + 1;
    ws->bq = xcalloc(m + 1, sizeof(bq_ent));
    ok = ok && ws->rhops && ws->fhops && ws->cmpa && ws->cmpb && ws->bq;
    ws->seen = xcalloc(n, sizeof(uint32_t));
    ws->lab_head = xcalloc(n, sizeof(int32_t));
    ws->cls = xcalloc(n, sizeof(int32_t));
    ws->cls_stamp = xcalloc(n, sizeof(uint32_t));
    ws->ppos = xcalloc(n, sizeof(int32_t));
    ws->ppos_stamp = xcalloc(n, sizeof(uint32_t));
    ok = ok && ws->ppos && ws->ppos_stamp;
    ws->walk = xcalloc(n, sizeof(int32_t));
    ok = ok && ws->cls && ws->cls_stamp && ws->walk;
    ws->nblock = xcalloc(n, sizeof(uint32_t));
    ws->nexcl = xcalloc(n, sizeof(uint32_t));
    ws->ablock = xcalloc(m, sizeof(uint32_t));
    ws->aexcl = xcalloc(m, sizeof(uint32_t));
    ok = ok && ws->succ && ws->dist && ws->pred && ws->seen && ws->lab_head &&
         ws->nblock && ws->nexcl && ws->ablock && ws->aexcl;
    ok = ok && grow((void **)&ws->heap, &ws->heap_cap, n + m + 1,
                    sizeof(heap_ent)) == PWR_OK;
    ok = ok && grow((void **)&ws->rx, &ws->rx_cap, n + m + 1,
                    sizeof(rx_ent)) == PWR_OK;
    if (!ok) {
        pwr_ws_free(ws);
        return NULL;
    }
    return ws;
}

static void free_labels(pwr_ws *ws)
{
    free(ws->lab_node);
    free(ws->lab_pred);
    free(ws->lab_arc);
    free(ws->lab_next);
    free(ws->lab_hops);
    free(ws->lab_g);
    free(ws->lab_d);
    free(ws->lab_j);
    free(ws->lab_dead);
}

static void free_slots(pwr_ws *ws)
{
    free(ws->slot_arcs);
    free(ws->slot_len);
    free(ws->slot_dev);
    free(ws->slot_cost);
    free(ws->free_slot);
    free(ws->found);
    free(ws->cand);
    free(ws->t_child);
    free(ws->t_next);
    free(ws->t_arc);
    free(ws->t_path);
}

void pwr_ws_free(pwr_ws *ws)
{
    int r;
    if (!ws)
        return;
    for (r = 0; r < REV_N; r++) {
        free(ws->rev[r]);
        free(ws->rev_stamp[r]);
    }
    free(ws->succ);
    free(ws->rhops);
    free(ws->dist);
    free(ws->pred);
    free(ws->fhops);
    free(ws->cmpa);
    free(ws->cmpb);
    free(ws->bq);
    free(ws->bq_head);
    free(ws->bq_bits);
    free(ws->seen);
    free(ws->lab_head);
    free(ws->cls);
    free(ws->cls_stamp);
    free(ws->ppos);
    free(ws->ppos_stamp);
    free(ws->walk);
    free(ws->nblock);
    free(ws->nexcl);
    free(ws->ablock);
    free(ws->aexcl);
    free(ws->heap);
    free(ws->rx);
    free(ws->pend);
    free(ws->pheap);
    free_labels(ws);
    free_slots(ws);
    free(ws->res_arcs);
    free(ws->res_paths);
    free(ws->res_q);
    free(ws->flat_counts);
    free(ws->flat);
    free(ws->flat_costs);
    free(ws);
}

/* (k + 1) slots: k found-or-candidate paths plus the one being built. */
static int reserve_slots(pwr_ws *ws, int32_t k)
{
    size_t s = (size_t)k + 1, n = (size_t)(ws->n > 0 ? ws->n : 1);
    int32_t i;
    if ((int32_t)s <= ws->slots)
        goto reset;
    free_slots(ws);
    ws->slots = 0;
    ws->slot_arcs = malloc(s * n * sizeof(int32_t));
    ws->slot_len = malloc(s * sizeof(int32_t));
    ws->slot_dev = malloc(s * sizeof(int32_t));
    ws->slot_cost = malloc(s * sizeof(double));
    ws->free_slot = malloc(s * sizeof(int32_t));
    ws->found = malloc(s * sizeof(int32_t));
    ws->cand = malloc(s * sizeof(int32_t));
    ws->t_child = malloc((s * n + 1) * sizeof(int32_t));
    ws->t_next = malloc((s * n + 1) * sizeof(int32_t));
    ws->t_arc = malloc((s * n + 1) * sizeof(int32_t));
    ws->t_path = malloc((n + 1) * sizeof(int32_t));
    if (!ws->slot_arcs || !ws->slot_len || !ws->slot_dev || !ws->slot_cost ||
        !ws->free_slot || !ws->found || !ws->cand || !ws->t_child ||
        !ws->t_next || !ws->t_arc || !ws->t_path) {
        free_slots(ws);
        ws->slot_arcs = NULL;
        ws->slot_len = ws->slot_dev = ws->free_slot = NULL;
        ws->found = ws->cand = NULL;
        ws->t_child = ws->t_next = ws->t_arc = ws->t_path = NULL;
        ws->slot_cost = NULL;
        return PWR_ENOMEM;
    }
    ws->slots = (int32_t)s;
reset:
    ws->t_n = 1; /* the empty prefix, no children yet */
    ws->t_child[0] = -1;
    ws->nfree = 0;
    for (i = (int32_t)s - 1; i >= 0; i--)
        ws->free_slot[ws->nfree++] = i;
    ws->nfound = ws->ncand = 0;
    return PWR_OK;
}

static int32_t *slot(pwr_ws *ws, int32_t s)
{
    return ws->slot_arcs + (size_t)s * ws->stride;
}

/* The child of prefix-tree node x by arc a, or -1. */
static int32_t trie_child(const pwr_ws *ws, int32_t x, int32_t a)
{
    int32_t c;
    for (c = ws->t_child[x]; c >= 0 && ws->t_arc[c] != a; c = ws->t_next[c])
        ;
    return c;
}

/* Add found path slot s to the prefix tree (at most its length in new
 * nodes: the bound in pwr_ws holds). */
static void trie_add(pwr_ws *ws, int32_t s)
{
    const int32_t *a = slot(ws, s);
    int32_t len = ws->slot_len[s], x = 0, d;
    for (d = 0; d < len; d++) {
        int32_t c = trie_child(ws, x, a[d]);
        if (c < 0) {
            c = ws->t_n++;
            ws->t_arc[c] = a[d];
            ws->t_child[c] = -1;
            ws->t_next[c] = ws->t_child[x];
            ws->t_child[x] = c;
        }
        x = c;
    }
}

/* ---------- constraint checks ---------- */

static int arc_ok(const pwr_graph *g, const pwr_ws *ws,
                  const pwr_constraints *c, int32_t a)
{
    uint32_t ag = g->admin[a];
    if (c->min_bw > 0.0 && !(g->bw[a] >= c->min_bw))
        return 0;
    if (ag & c->exclude)
        return 0;
    if (c->include_any && !(ag & c->include_any))
        return 0;
    if ((ag & c->include_all) != c->include_all)
        return 0;
    return ws->aexcl[a] != ws->xgen;
}

/* REV_W is filled with +inf before each search (it settles nearly the
 * whole graph anyway, and then its hot loops need no stamp test); the
 * bound metrics are stamped. */
static double rev_val(const pwr_ws *ws, int r, int32_t v)
{
    if (r == REV_W)
        return ws->rev[REV_W][v];
    return ws->rev_stamp[r][v] == ws->rev_gen[r] ? ws->rev[r][v] : INF;
}

/* The bucket queue's width and ring size for g's weights, or 0 when it
 * does not apply (a zero or unbounded weight ratio: the radix heap then).
 * Buckets are wmin / 2 wide, so relaxing any arc from a key in bucket b
 * lands in bucket b + 1 or later even after rounding (keys stay below
 * 2^40 buckets, where a double's error is far below a bucket); live keys
 * span at most wmax / width + 2 buckets, which the ring covers. Allocates
 * only when a graph needs a larger ring than any before (not per search). */
#define BQ_MAX_SLOTS 16384
static int bq_setup(const pwr_graph *g, pwr_ws *ws, double *inv,
                    uint64_t *mask)
{
    double iv, span;
    size_t c = 64, i;
    if (!(g->wmin > 0.0) || !(g->wmax < INF))
        return 0;
    iv = 2.0 / g->wmin;
    span = g->wmax * iv + 3.0;
    if (!(span <= (double)BQ_MAX_SLOTS) ||
        !((double)g->n * (g->wmax * iv + 1.0) < 0x1p40))
        return 0;
    while ((double)c < span)
        c *= 2;
    if (c > ws->bq_cap) {
        int32_t *h = realloc(ws->bq_head, c * sizeof(int32_t));
        uint64_t *b;
        if (!h)
            return 0;
        ws->bq_head = h;
        b = realloc(ws->bq_bits, (c / 64) * sizeof(uint64_t));
        if (!b)
            return 0;
        ws->bq_bits = b;
        for (i = 0; i < c; i++)
            h[i] = -1;
        memset(b, 0, (c / 64) * sizeof(uint64_t));
        ws->bq_cap = c;
    }
    *inv = iv;
    *mask = (uint64_t)c - 1;
    return 1;
}

static int ctz64(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_ctzll(x);
#else
    int b = 0;
    while (!(x & 1)) {
        b++;
        x >>= 1;
    }
    return b;
#endif
}

/*
 * REV_W with a bucket queue (Dinitz): every key in the lowest non-empty
 * bucket is final, since any arc adds more than a bucket's width, so a
 * bucket is settled in any order and nodes are never compared by key. A
 * node's entry is stale once its value moved to a lower bucket. Per node
 * the search keeps (dist, hops, succ) and breaks ties canonically: equal
 * dist -> fewer hops -> the lower internal arc id (lower head index, then
 * lower caller id), so tree paths are the first of their cost and hops in
 * the tie-break order whatever the settling order. Hops and succ of a node
 * are final when its bucket is reached (its tight successors lie in lower
 * buckets). filt is a constant at each call (specialised by inlining).
 */
static
#if defined(__GNUC__)
    __attribute__((always_inline))
#endif
    inline void
    reverse_w_bq(const pwr_graph *g, pwr_ws *ws, const pwr_constraints *c,
                 int32_t dst, double inv, uint64_t mask, int filt)
{
    double *val = ws->rev[REV_W];
    int32_t *succ = ws->succ, *hops = ws->rhops, *head = ws->bq_head;
    uint64_t *bits = ws->bq_bits;
    bq_ent *pool = ws->bq, *top = pool + 1; /* top: the next free entry */
    const int32_t *in_start = g->in_start;
    const struct rev_arc *in_e = g->in_e;
    int64_t cur = 0;
    pool[0].id = dst;
    pool[0].next = -1;
    head[0] = 0;
    bits[0] |= 1;
    for (;;) {
        uint64_t s = (uint64_t)cur & mask, word = s >> 6, w, slot;
        int32_t e;
        w = bits[word] & (~(uint64_t)0 << (s & 63));
        if (!w) { /* no live-entry count in the hot loop: the ring is
                   * empty when one lap finds no bit (then all is settled) */
            uint64_t lap = (mask >> 6) + 1, wmask = mask >> 6;
            do {
                word = (word + 1) & wmask;
                w = bits[word];
            } while (!w && --lap);
            if (!w)
                return;
        }
        slot = (word << 6) | (uint64_t)ctz64(w);
        cur += (int64_t)((slot - s) & mask);
        e = head[slot];
        head[slot] = -1;
        bits[word] &= ~((uint64_t)1 << (slot & 63));
        while (e >= 0) {
            int32_t v = pool[e].id, hv;
            double key = val[v];
            const struct rev_arc *ra, *end;
            e = pool[e].next;
            if ((int64_t)(key * inv) != cur)
                continue; /* stale: v was improved into a lower bucket */
            hv = hops[v] + 1;
            end = in_e + in_start[v + 1];
            for (ra = in_e + in_start[v]; ra < end; ra++) {
                int32_t u = ra->tail;
                double d = key + ra->w, old;
                if (filt && (ws->nexcl[u] == ws->xgen ||
                             !arc_ok(g, ws, c, ra->arc)))
                    continue;
                old = val[u];
                if (!(d <= old))
                    continue; /* the common case: one test */
                if (d < old) { /* +inf where not reached */
                    uint64_t b = (uint64_t)(int64_t)(d * inv) & mask;
                    val[u] = d;
                    succ[u] = ra->arc;
                    hops[u] = hv;
                    top->id = u;
                    top->next = head[b];
                    head[b] = (int32_t)(top - pool);
                    top++;
                    bits[b >> 6] |= (uint64_t)1 << (b & 63);
                } else if (hv < hops[u] ||
                           (hv == hops[u] && ra->arc < succ[u])) {
                    hops[u] = hv; /* u lies in a later bucket: not settled */
                    succ[u] = ra->arc;
                }
            }
        }
    }
}

/* The two specialisations, each its own function: inlined into
 * reverse_search they shared its registers with the radix-heap path and
 * spilled the loop's pointers to the stack (~15% of the search). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void reverse_w_bq_all(const pwr_graph *g, pwr_ws *ws, int32_t dst,
                             double inv, uint64_t mask)
{
    reverse_w_bq(g, ws, NULL, dst, inv, mask, 0);
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void reverse_w_bq_filt(const pwr_graph *g, pwr_ws *ws,
                              const pwr_constraints *c, int32_t dst,
                              double inv, uint64_t mask)
{
    reverse_w_bq(g, ws, c, dst, inv, mask, 1);
}

/* Reverse Dijkstra from dst over allowed arcs and non-excluded nodes.
 * REV_W takes the bucket queue when the weights allow it (see bq_setup),
 * else, like the other metrics, the radix heap: a popped entry is current
 * iff its key equals the node's value (values only fall, and each fall
 * pushes one entry), so stale entries are skipped; there REV_W's ties are
 * broken as in reverse_w_bq, and a node whose hops fall at an equal value
 * (zero-weight arcs) is pushed again so its tree predecessors follow. */
static int reverse_search(const pwr_graph *g, pwr_ws *ws,
                          const pwr_constraints *c, int32_t dst, int r)
{
    uint32_t gen = next_gen(&ws->rev_gen[r], ws->rev_stamp[r], (size_t)ws->n);
    double *val = ws->rev[r];
    uint32_t *st = ws->rev_stamp[r];
    double inv;
    uint64_t mask;
    if (r == REV_W && ws->n > 0) {
        /* +inf everywhere by doubling copies (memcpy's vector loop): half
         * the instructions of a store per node on BA-2000 */
        size_t have = 1, n = (size_t)ws->n;
        val[0] = INF;
        while (have < n) {
            size_t more = have < n - have ? have : n - have;
            memcpy(val + have, val, more * sizeof *val);
            have += more;
        }
    }
    if (ws->nexcl[dst] == ws->xgen)
        return PWR_OK;
    st[dst] = gen;
    val[dst] = 0.0;
    if (r == REV_W) {
        ws->succ[dst] = -1;
        ws->rhops[dst] = 0;
        if ((size_t)g->m + 1 <= ws->bq_pool && bq_setup(g, ws, &inv, &mask)) {
            if (ws->filtering)
                reverse_w_bq_filt(g, ws, c, dst, inv, mask);
            else
                reverse_w_bq_all(g, ws, dst, inv, mask);
            return PWR_OK;
        }
    }
    rx_reset(ws);
    if (rx_push(ws, 0.0, dst))
        return PWR_ENOMEM;
    while (ws->rx_live) {
        double key;
        int32_t v = rx_pop(ws, &key), i;
        if (key != val[v])
            continue;
        for (i = g->in_start[v]; i < g->in_start[v + 1]; i++) {
            const struct rev_arc *ra = &g->in_e[i];
            int32_t u = ra->tail;
            double d;
            if (ws->filtering && (ws->nexcl[u] == ws->xgen ||
                                  !arc_ok(g, ws, c, ra->arc)))
                continue;
            d = key + (r == REV_W      ? ra->w
                       : r == REV_HOPS ? 1.0
                       : r == REV_DELAY ? g->in_delay[i]
                                        : g->in_jit[i]);
            if (st[u] != gen || d < val[u]) {
                st[u] = gen;
                val[u] = d;
                if (r == REV_W) {
                    ws->succ[u] = ra->arc;
                    ws->rhops[u] = ws->rhops[v] + 1;
                }
                if (rx_push(ws, d, u))
                    return PWR_ENOMEM;
            } else if (r == REV_W && d == val[u]) {
                int32_t hv = ws->rhops[v] + 1;
                if (hv < ws->rhops[u] ||
                    (hv == ws->rhops[u] && ra->arc < ws->succ[u])) {
                    int again = hv < ws->rhops[u];
                    ws->rhops[u] = hv;
                    ws->succ[u] = ra->arc;
                    if (again && rx_push(ws, d, u))
                        return PWR_ENOMEM;
                }
            }
        }
    }
    return PWR_OK;
}

/* ---------- spur searches ---------- */

typedef struct {
    double cost, delay, jit;
    int32_t hops;
} root_res;

/* A root node of this spur. Excluded nodes need no test here: the
 * reverse searches never reach them (nor anything when dst is excluded),
 * so their potential is +inf and the spur searches skip them for that. */
static int blocked(const pwr_ws *ws, int32_t v)
{
    return ws->nblock[v] == ws->ngen;
}

/*
 * Node classification (after Feng 2014): v is "yellow" for the spur at
 * index si of the last found path P when its path to dst in the reverse
 * shortest-path tree (succ) avoids every root node and the spur node, i.e.
 * P[0..si]; that tree path is then a feasible, cheapest completion of cost
 * pot[v] (arc filters and excluded nodes were applied to the tree; the
 * blocked arcs all leave the spur node). The roots of one Yen iteration
 * are nested (spur si's are P[0..si-1]), so what is classified is the
 * least index on P of a node on v's tree path, cls[v], once per iteration
 * for all its spurs: yellow iff cls[v] > si. Climbs the tree to dst or a
 * classified node and labels what it climbed. Only for nodes with a
 * finite potential (settled by the reverse search).
 */
static int yellow(const pwr_graph *g, pwr_ws *ws, int32_t v, int32_t si,
                  int32_t dst)
{
    int32_t x = v, n = 0, res = INT32_MAX;
    const uint32_t cg = ws->cgen;
    for (;;) {
        if (x == dst)
            break;
        if (ws->cls_stamp[x] == cg) {
            res = ws->cls[x];
            break;
        }
        ws->walk[n++] = x; /* a tree path has < n nodes: n stays < ws->n */
        x = g->head[ws->succ[x]];
    }
    while (n) {
        x = ws->walk[--n];
        if (ws->ppos_stamp[x] == cg && ws->ppos[x] < res)
            res = ws->ppos[x];
        ws->cls_stamp[x] = cg;
        ws->cls[x] = res;
    }
    return res > si;
}

/*
 * Is spur..tail(a) + a before spur..tail(b) + b in the tie-break order?
 * Both prefixes end at one node with one cost and hop count; their pred
 * chains (a tree rooted at the spur) are walked back in step to where they
 * meet, and the first arcs after that node decide (both leave it, so
 * internal ids order them by head, then caller id). Ties only.
 */
static int fwd_lex_less(const pwr_graph *g, const pwr_ws *ws, int32_t a,
                        int32_t b)
{
    int32_t x = g->tail[a], y = g->tail[b], steps = ws->n;
    while (x != y) {
        if (--steps < 0)
            return 0;
        a = ws->pred[x];
        b = ws->pred[y];
        if (a < 0 || b < 0)
            return 0; /* chains of unequal length: keep what is there */
        x = g->tail[a];
        y = g->tail[b];
    }
    return a < b;
}

/* The spur path offered at h: spur -> h along pred, then h -> dst along the
 * tree, into buf (room arcs); returns its arc count, or -1 if it would not
 * fit. */
static int32_t offer_arcs(const pwr_graph *g, const pwr_ws *ws, int32_t h,
                          int32_t spur, int32_t dst, int32_t *buf,
                          int32_t room)
{
    int32_t v, p = 0, len;
    for (v = h; v != spur; v = g->tail[ws->pred[v]])
        p++;
    len = p;
    for (v = h; v != dst; v = g->head[ws->succ[v]])
        len++;
    if (len > room)
        return -1;
    len = p;
    for (v = h; v != spur; v = g->tail[ws->pred[v]])
        buf[--p] = ws->pred[v];
    for (v = h; v != dst; v = g->head[ws->succ[v]])
        buf[len++] = ws->succ[v];
    return len;
}

/* Is the offer at h before the offer at o (equal cost and hops)? Ties only. */
static int offer_less(const pwr_graph *g, pwr_ws *ws, int32_t h, int32_t o,
                      int32_t spur, int32_t dst)
{
    int32_t la = offer_arcs(g, ws, h, spur, dst, ws->cmpa, ws->n),
            lb = offer_arcs(g, ws, o, spur, dst, ws->cmpb, ws->n), i;
    for (i = 0; i < la && i < lb; i++)
        if (ws->cmpa[i] != ws->cmpb[i])
            return ws->cmpa[i] < ws->cmpb[i];
    return la < lb;
}

/*
 * A* from spur to dst. Writes the spur arcs at out[0..] and returns their
 * count, or -1 if no path with cost <= bound exists, or a PWR_E* code
 * (< -1). Nodes are re-opened if reached more cheaply, so rounding in the
 * potential can never cost optimality.
 *
 * A reached yellow node h (see yellow()) is never pushed: it offers the
 * complete path g(h) + pot[h], and the search stops once the frontier
 * passes the best such offer. That is exact: pot is exact for yellow
 * nodes and a lower bound elsewhere, and A* pops in non-decreasing f. The
 * result is simple: expanded nodes are never yellow, and a tree path that
 * met an expanded node w would make w yellow (its tree path is a suffix).
 * On a 58-hop grid path this ends most spur searches a hop or two from
 * the spur instead of walking to dst.
 *
 * Ties (see pwr_ksp.h): a label is (cost, hops, prefix), compared in that
 * order, the prefix by fwd_lex_less; offers by (cost, total hops, arcs).
 * The canonical spur path's prefix up to its first yellow node is that
 * node's best label and its rest the node's tree path (the tree is
 * canonical too), so it is among the offers. A label that only gets an
 * earlier prefix keeps its heap entry: with (f, hops) order it has not
 * popped yet, and its successors read the prefix through pred.
 */
static int32_t spur_astar(const pwr_graph *g, pwr_ws *ws,
                          const pwr_constraints *c, int32_t spur, int32_t si,
                          int32_t dst, root_res root, double bound,
                          int32_t *out, int32_t room, double *cost)
{
    uint32_t gen = next_gen(&ws->gen, ws->seen, (size_t)ws->n);
    int32_t len, best = -1, best_h = 0, i, first;
    double best_f = INF, sum;
    const double *pot = ws->rev[REV_W]; /* +inf: no path to dst */
    double *dist = ws->dist;
    int32_t *pred = ws->pred, *fh = ws->fhops;
    uint32_t *seen = ws->seen;
    ws->heap_n = 0;
    seen[spur] = gen;
    dist[spur] = root.cost;
    pred[spur] = -1;
    fh[spur] = 0;
    /* the spur node is expanded first without a trip through the heap:
     * it would be the only entry, popped at once */
    if (root.cost + pot[spur] > bound)
        return -1;
    for (first = 1; first || ws->heap_n; first = 0) {
        int32_t u = spur, a, end, nh;
        double du;
        if (!first) {
            heap_ent e = heap_pop(ws);
            u = e.id;
            du = dist[u];
            if (e.key > best_f)
                break;
            if (e.key > bound)
                return -1;
            if (e.key > du + pot[u] || e.hops != fh[u])
                continue; /* stale entry */
        }
        du = dist[u];
        nh = fh[u] + 1;
        end = g->out_start[u + 1];
        for (a = g->out_start[u]; a < end; a++) {
            int32_t h = g->head[a];
            double nd, ph, nf;
            if (ws->ablock[a] == ws->bgen || blocked(ws, h) ||
                (ws->filtering && !arc_ok(g, ws, c, a)))
                continue;
            ph = pot[h];
            if (ph == INF)
                continue; /* no path to dst */
            nd = du + g->w[a];
            nf = nd + ph;
            if (nf > best_f)
                continue; /* cannot reach the offer in hand */
            if (seen[h] == gen) {
                if (nd > dist[h])
                    continue;
                if (nd == dist[h]) {
                    if (nh > fh[h])
                        continue;
                    if (nh == fh[h]) {
                        if (pred[h] == a || !fwd_lex_less(g, ws, a, pred[h]))
                            continue;
                        pred[h] = a; /* an earlier prefix, same entry */
                        /* h was classified when first reached */
                        if (ws->cls[h] > si &&
                            (h == best ||
                             (nf == best_f && nh + ws->rhops[h] == best_h &&
                              offer_less(g, ws, h, best, spur, dst)))) {
                            best = h;
                        }
                        continue;
                    }
                }
            }
            seen[h] = gen;
            dist[h] = nd;
            pred[h] = a;
            fh[h] = nh;
            if (yellow(g, ws, h, si, dst)) {
                int32_t th = nh + ws->rhops[h];
                if (nf < best_f ||
                    (nf == best_f &&
                     (th < best_h ||
                      (th == best_h &&
                       (h == best || offer_less(g, ws, h, best, spur, dst)))))) {
                    best_f = nf;
                    best_h = th;
                    best = h;
                }
            } else if (heap_push(ws, nf, nh, h)) {
                return PWR_ENOMEM;
            }
        }
    }
    if (best < 0 || best_f > bound)
        return -1;
    len = offer_arcs(g, ws, best, spur, dst, out, room);
    if (len < 0)
        return PWR_EINVAL;
    /* the cost summed in path order from the source, as everywhere */
    sum = root.cost;
    for (i = 0; i < len; i++)
        sum += g->w[out[i]];
    *cost = sum;
    return len;
}

static int new_label(pwr_ws *ws, int32_t node, int32_t pred, int32_t arc,
                     double gcost, double d, double j, int32_t hops,
                     int32_t *id)
{
    size_t need = ws->lab_n + 1, cap = ws->lab_cap;
    if (need > ws->lab_cap) {
        size_t c2 = cap;
        if (grow((void **)&ws->lab_node, &c2, need, sizeof(int32_t)) ||
            (c2 = cap, grow((void **)&ws->lab_pred, &c2, need, sizeof(int32_t))) ||
            (c2 = cap, grow((void **)&ws->lab_arc, &c2, need, sizeof(int32_t))) ||
            (c2 = cap, grow((void **)&ws->lab_next, &c2, need, sizeof(int32_t))) ||
            (c2 = cap, grow((void **)&ws->lab_hops, &c2, need, sizeof(int32_t))) ||
            (c2 = cap, grow((void **)&ws->lab_g, &c2, need, sizeof(double))) ||
            (c2 = cap, grow((void **)&ws->lab_d, &c2, need, sizeof(double))) ||
            (c2 = cap, grow((void **)&ws->lab_j, &c2, need, sizeof(double))) ||
            (c2 = cap, grow((void **)&ws->lab_dead, &c2, need, sizeof(uint8_t))))
            return PWR_ENOMEM;
        ws->lab_cap = c2;
    }
    *id = (int32_t)ws->lab_n++;
    ws->lab_node[*id] = node;
    ws->lab_pred[*id] = pred;
    ws->lab_arc[*id] = arc;
    ws->lab_g[*id] = gcost;
    ws->lab_d[*id] = d;
    ws->lab_j[*id] = j;
    ws->lab_hops[*id] = hops;
    ws->lab_dead[*id] = 0;
    if (ws->seen[node] != ws->gen) {
        ws->seen[node] = ws->gen;
        ws->lab_head[node] = -1;
    }
    ws->lab_next[*id] = ws->lab_head[node];
    ws->lab_head[node] = *id;
    return PWR_OK;
}

/* Is label x's prefix, extended by arc ax, before label y's extended by ay?
 * (Labels at one node with equal cost and hops: the chains are walked back
 * in step to their common label, as in fwd_lex_less.) Ties only. */
static int lab_less(const pwr_ws *ws, int32_t x, int32_t ax, int32_t y,
                    int32_t ay)
{
    size_t steps = ws->lab_n;
    while (x != y) {
        if (x < 0 || y < 0 || steps-- == 0)
            return 0;
        ax = ws->lab_arc[x];
        ay = ws->lab_arc[y];
        x = ws->lab_pred[x];
        y = ws->lab_pred[y];
    }
    return ax < ay;
}

/* Label m (at the node of a new label (ng, nd, nj, hops) = L + arc a) is at
 * least as good in every resource and comes first in (cost, hops, prefix):
 * then it dominates the new label (see the top: dominance keeps the
 * canonical path, as ties need). */
static int lab_dominates(const pwr_ws *ws, int32_t m, double ng, double nd,
                         double nj, int32_t hops, int32_t L, int32_t a)
{
    if (!(ws->lab_g[m] <= ng && ws->lab_d[m] <= nd && ws->lab_j[m] <= nj &&
          ws->lab_hops[m] <= hops))
        return 0;
    return ws->lab_g[m] < ng || ws->lab_hops[m] < hops ||
           !lab_less(ws, L, a, ws->lab_pred[m], ws->lab_arc[m]);
}

/* The new label L + a dominates label m (the converse of lab_dominates). */
static int lab_dominated(const pwr_ws *ws, int32_t m, double ng, double nd,
                         double nj, int32_t hops, int32_t L, int32_t a)
{
    if (!(ng <= ws->lab_g[m] && nd <= ws->lab_d[m] && nj <= ws->lab_j[m] &&
          hops <= ws->lab_hops[m]))
        return 0;
    return ng < ws->lab_g[m] || hops < ws->lab_hops[m] ||
           lab_less(ws, L, a, ws->lab_pred[m], ws->lab_arc[m]);
}

/* Resource-constrained spur search: exact under hop and delay bounds. The
 * first label popped at dst has the least cost, then the fewest hops (heap
 * order); every other label at dst with that cost and hops has been pushed
 * by then and pops next, and the earliest prefix among them is taken. */
static int32_t spur_labels(const pwr_graph *g, pwr_ws *ws,
                           const pwr_constraints *c, int32_t spur,
                           int32_t dst, root_res root, double bound,
                           int32_t *out, int32_t room, double *cost)
{
    int32_t id, len, l, p;
    next_gen(&ws->gen, ws->seen, (size_t)ws->n);
    ws->heap_n = 0;
    ws->lab_n = 0;
    if (new_label(ws, spur, -1, -1, root.cost, root.delay, root.jit,
                  root.hops, &id) ||
        heap_push(ws, root.cost + rev_val(ws, REV_W, spur), root.hops, id))
        return PWR_ENOMEM;
    while (ws->heap_n) {
        heap_ent e = heap_pop(ws);
        int32_t L = e.id, u = ws->lab_node[L], a;
        if (e.key > bound)
            return -1;
        if (ws->lab_dead[L])
            continue;
        if (u == dst) {
            while (ws->heap_n && ws->heap[0].key == e.key &&
                   ws->heap[0].hops == e.hops) {
                int32_t M = heap_pop(ws).id;
                if (!ws->lab_dead[M] && ws->lab_node[M] == dst &&
                    ws->lab_g[M] == ws->lab_g[L] &&
                    ws->lab_hops[M] == ws->lab_hops[L] &&
                    lab_less(ws, ws->lab_pred[M], ws->lab_arc[M],
                             ws->lab_pred[L], ws->lab_arc[L]))
                    L = M;
            }
            *cost = ws->lab_g[L];
            for (len = 0, l = L; ws->lab_pred[l] >= 0; l = ws->lab_pred[l])
                len++;
            if (len > room)
                return PWR_EINVAL;
            p = len;
            for (l = L; ws->lab_pred[l] >= 0; l = ws->lab_pred[l])
                out[--p] = ws->lab_arc[l];
            return len;
        }
        for (a = g->out_start[u]; a < g->out_start[u + 1]; a++) {
            int32_t h = g->head[a], hops = ws->lab_hops[L] + 1, m, dom = 0;
            double ng = ws->lab_g[L] + g->w[a], nd = ws->lab_d[L] + g->delay[a];
            double nj = ws->lab_j[L] + g->jit[a];
            double ph;
            if (ws->ablock[a] == ws->bgen || blocked(ws, h) ||
                (ws->filtering && !arc_ok(g, ws, c, a)))
                continue;
            ph = rev_val(ws, REV_W, h);
            if (ph == INF)
                continue;
            if (c->max_hops >= 0 &&
                (double)hops + rev_val(ws, REV_HOPS, h) > (double)c->max_hops)
                continue;
            if (c->max_delay >= 0.0 &&
                nd + rev_val(ws, REV_DELAY, h) > c->max_delay)
                continue;
            if (ws->use_jit && nj + rev_val(ws, REV_JIT, h) > c->max_jitter)
                continue;
            if (ws->seen[h] == ws->gen) {
                for (m = ws->lab_head[h]; m >= 0; m = ws->lab_next[m]) {
                    if (lab_dominates(ws, m, ng, nd, nj, hops, L, a)) {
                        dom = 1;
                        break;
                    }
                }
                if (dom)
                    continue;
                for (m = ws->lab_head[h]; m >= 0; m = ws->lab_next[m])
                    if (lab_dominated(ws, m, ng, nd, nj, hops, L, a))
                        ws->lab_dead[m] = 1; /* kept in the list: see top */
            }
            if (new_label(ws, h, L, a, ng, nd, nj, hops, &id) ||
                heap_push(ws, ng + ph, hops, id))
                return PWR_ENOMEM;
        }
    }
    return -1;
}

/* ---------- Yen ---------- */

static int path_less(pwr_ws *ws, int32_t a, int32_t b)
{
    int32_t i, la = ws->slot_len[a], lb = ws->slot_len[b];
    const int32_t *pa = slot(ws, a), *pb = slot(ws, b);
    if (ws->slot_cost[a] != ws->slot_cost[b])
        return ws->slot_cost[a] < ws->slot_cost[b];
    if (la != lb)
        return la < lb;
    for (i = 0; i < la; i++)
        if (pa[i] != pb[i])
            return pa[i] < pb[i];
    return 0;
}

/* Insert slot s into the sorted candidate set bounded to `limit`.
 * path_less is a total order in which only paths of one cost and arc
 * sequence are equal, so one binary search finds both a duplicate (dropped) and the
 * place: the first candidate not before s. */
static void cand_insert(pwr_ws *ws, int32_t s, int32_t limit)
{
    int32_t lo = 0, hi = ws->ncand;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (path_less(ws, ws->cand[mid], s))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ws->ncand && !path_less(ws, s, ws->cand[lo])) {
        ws->free_slot[ws->nfree++] = s; /* equal to cand[lo] */
        return;
    }
    if (ws->ncand >= limit) {
        if (lo >= ws->ncand) { /* not before the worst */
            ws->free_slot[ws->nfree++] = s;
            return;
        }
        ws->free_slot[ws->nfree++] = ws->cand[--ws->ncand];
    }
    memmove(ws->cand + lo + 1, ws->cand + lo,
            (size_t)(ws->ncand - lo) * sizeof(int32_t));
    ws->cand[lo] = s;
    ws->ncand++;
}

static int32_t path_node(const pwr_graph *g, const int32_t *arcs, int32_t src,
                         int32_t i)
{
    return i == 0 ? src : g->head[arcs[i - 1]];
}

static int store_results(const pwr_graph *g, pwr_ws *ws, int32_t src)
{
    int32_t f;
    for (f = 0; f < ws->nfound; f++) {
        int32_t s = ws->found[f], len = ws->slot_len[s], i;
        const int32_t *arcs = slot(ws, s);
        res_path *rp;
        if (grow((void **)&ws->res_arcs, &ws->res_arcs_cap,
                 ws->res_arcs_n + (size_t)len, sizeof(int32_t)) ||
            grow((void **)&ws->res_paths, &ws->res_paths_cap,
                 ws->res_paths_n + 1, sizeof(res_path)))
            return PWR_ENOMEM;
        rp = &ws->res_paths[ws->res_paths_n++];
        rp->off = (int32_t)ws->res_arcs_n;
        rp->len = len;
        rp->src = src;
        rp->cost = ws->slot_cost[s];
        for (i = 0; i < len; i++)
            ws->res_arcs[ws->res_arcs_n++] = g->orig[arcs[i]];
    }
    return PWR_OK;
}

static int has_resource_bounds(const pwr_ws *ws, const pwr_constraints *c)
{
    return c->max_hops >= 0 || c->max_delay >= 0.0 || ws->use_jit;
}

/* si: the spur's index on the last found path (see yellow) */
static int32_t spur_search(const pwr_graph *g, pwr_ws *ws,
                           const pwr_constraints *c, int32_t spur, int32_t si,
                           int32_t dst, root_res root, double bound,
                           int32_t *out, int32_t room, double *cost)
{
    if (has_resource_bounds(ws, c))
        return spur_labels(g, ws, c, spur, dst, root, bound, out, room, cost);
    return spur_astar(g, ws, c, spur, si, dst, root, bound, out, room, cost);
}

/* A spur search postponed until its lower bound could beat the best
 * candidate (see yen): the spur at index si of found path `path`, whose
 * root ends at prefix-tree node tnode. */
struct pend_ent {
    double lb;
    root_res root;
    int32_t path, si, tnode;
};

static int pend_less(const pwr_ws *ws, int32_t a, int32_t b)
{
    double la = ws->pend[a].lb, lb = ws->pend[b].lb;
    return la < lb || (la == lb && a < b);
}

static int pend_push(pwr_ws *ws, double lb, root_res root, int32_t path,
                     int32_t si, int32_t tnode)
{
    size_t i;
    int32_t id;
    if (grow((void **)&ws->pend, &ws->pend_cap, ws->pend_n + 1,
             sizeof(struct pend_ent)) ||
        grow((void **)&ws->pheap, &ws->pheap_cap, ws->pheap_n + 1,
             sizeof(int32_t)))
        return PWR_ENOMEM;
    id = (int32_t)ws->pend_n++;
    ws->pend[id].lb = lb;
    ws->pend[id].root = root;
    ws->pend[id].path = path;
    ws->pend[id].si = si;
    ws->pend[id].tnode = tnode;
    for (i = ws->pheap_n++; i > 0; i = (i - 1) / 2) {
        int32_t up = ws->pheap[(i - 1) / 2];
        if (!pend_less(ws, id, up))
            break;
        ws->pheap[i] = up;
    }
    ws->pheap[i] = id;
    return PWR_OK;
}

static void pend_pop(pwr_ws *ws)
{
    size_t n = --ws->pheap_n, i = 0;
    int32_t last = ws->pheap[n];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pend_less(ws, ws->pheap[c + 1], ws->pheap[c]))
            c++;
        if (!pend_less(ws, ws->pheap[c], last))
            break;
        ws->pheap[i] = ws->pheap[c];
        i = c;
    }
    if (n)
        ws->pheap[i] = last;
}

/*
 * The sidetrack bound of a spur (Al Zoobi, Coudert and Nisse's postponed
 * node classification): root cost + the least w(a) + pot[head(a)] over the
 * arcs a the spur search may take first. Every path of the spur's subset
 * starts with one of them, and pot is a lower bound on the rest, so no
 * path of the subset is cheaper. The arc Yen blocks (the found paths' next
 * arcs) is usually the cheapest one, which is why this bound is so much
 * tighter than root cost + pot[spur]. +inf: the subset is empty.
 */
static double sidetrack_bound(const pwr_graph *g, const pwr_ws *ws,
                              const pwr_constraints *c, int32_t spur,
                              double root_cost)
{
    const double *pot = ws->rev[REV_W];
    double best = INF;
    int32_t a, end = g->out_start[spur + 1];
    for (a = g->out_start[spur]; a < end; a++) {
        int32_t h = g->head[a];
        double f;
        if (ws->ablock[a] == ws->bgen || blocked(ws, h) || h == spur ||
            (ws->filtering && !arc_ok(g, ws, c, a)))
            continue;
        f = g->w[a] + pot[h];
        if (f < best)
            best = f;
    }
    return root_cost + best;
}

/* Run the postponed spur search e: block its root's nodes and the arcs
 * below its prefix-tree node, as Yen would have when it was made (Lawler's
 * subsets are disjoint, so no path found since then has that root: the
 * node has the same children), and insert what it finds. */
static int resolve_pend(const pwr_graph *g, pwr_ws *ws,
                        const pwr_constraints *c, const struct pend_ent *e,
                        int32_t src, int32_t dst, int32_t limit)
{
    int32_t P = e->path, si = e->si, i, t, sl, tc, n = ws->n;
    const int32_t *parcs = slot(ws, P);
    int32_t spur = path_node(g, parcs, src, si);
    double bound = INF, cost;
    if (ws->ncand >= limit)
        bound = ws->slot_cost[ws->cand[ws->ncand - 1]];
    next_gen(&ws->ngen, ws->nblock, (size_t)n);
    for (i = 0; i < si; i++)
        ws->nblock[path_node(g, parcs, src, i)] = ws->ngen;
    next_gen(&ws->bgen, ws->ablock, (size_t)ws->m);
    for (tc = ws->t_child[e->tnode]; tc >= 0; tc = ws->t_next[tc])
        ws->ablock[ws->t_arc[tc]] = ws->bgen;
    if (ws->cls_path != P) { /* P's node indices for the classification */
        int32_t plen = ws->slot_len[P];
        next_gen2(&ws->cgen, ws->cls_stamp, (size_t)n, ws->ppos_stamp,
                  (size_t)n);
        for (i = 0; i < plen; i++) {
            int32_t v = path_node(g, parcs, src, i);
            ws->ppos_stamp[v] = ws->cgen;
            ws->ppos[v] = i;
        }
        ws->cls_path = P;
    }
    t = ws->free_slot[--ws->nfree];
    sl = spur_search(g, ws, c, spur, si, dst, e->root, bound,
                     slot(ws, t) + si, n - si, &cost);
    if (sl < -1)
        return sl;
    if (sl < 0) {
        ws->free_slot[ws->nfree++] = t;
        return PWR_OK;
    }
    memcpy(slot(ws, t), parcs, (size_t)si * sizeof(int32_t));
    ws->slot_len[t] = si + sl;
    ws->slot_cost[t] = cost;
    ws->slot_dev[t] = si;
    cand_insert(ws, t, limit);
    return PWR_OK;
}

/* Yen's loop for one (src, dst); reverse data for dst must be current. */
static int yen(const pwr_graph *g, pwr_ws *ws, int32_t src, int32_t dst,
               int32_t k, const pwr_constraints *c)
{
    int32_t s, len, it, n = ws->n;
    double cost;
    root_res none = {0.0, 0.0, 0.0, 0};
    int rc = reserve_slots(ws, k);
    if (rc)
        return rc;
    ws->pend_n = ws->pheap_n = 0;
    ws->cls_path = -1;
    if (k <= 0 || ws->nexcl[src] == ws->xgen ||
        rev_val(ws, REV_W, src) == INF)
        return PWR_OK;
    /* first path */
    s = ws->free_slot[--ws->nfree];
    next_gen(&ws->ngen, ws->nblock, (size_t)n);
    next_gen(&ws->bgen, ws->ablock, (size_t)ws->m);
    if (!has_resource_bounds(ws, c)) {
        int32_t v = src;
        len = 0;
        cost = 0.0;
        while (v != dst && len < n) {
            int32_t a = ws->succ[v];
            slot(ws, s)[len++] = a;
            cost += g->w[a];
            v = g->head[a];
        }
    } else {
        len = spur_search(g, ws, c, src, 0, dst, none, INF, slot(ws, s), n,
                          &cost);
        if (len < -1)
            return len;
        if (len < 0)
            return PWR_OK;
    }
    ws->slot_len[s] = len;
    ws->slot_cost[s] = cost;
    ws->slot_dev[s] = 0;
    ws->found[ws->nfound++] = s;
    trie_add(ws, s);

    for (it = 1; it < k; it++) {
        int32_t P = ws->found[ws->nfound - 1], plen = ws->slot_len[P], i, x;
        const int32_t *parcs = slot(ws, P);
        root_res root = none;
        int32_t limit = k - ws->nfound, dev = ws->slot_dev[P], tc;
        /* P's prefixes in the prefix tree (P is in it): the found paths
         * sharing P's first i arcs are those below t_path[i], and their
         * next arcs, the ones spur i blocks, its children */
        for (i = 0, x = 0; i < plen; i++) {
            ws->t_path[i] = x;
            x = trie_child(ws, x, parcs[i]);
        }
        /* root nodes are blocked once per iteration, one more per spur,
         * for the spurs' bounds; resolve_pend blocks again for a search */
        next_gen(&ws->ngen, ws->nblock, (size_t)n);
        for (i = 0; i < ws->slot_dev[P]; i++) {
            ws->nblock[path_node(g, parcs, src, i)] = ws->ngen;
            root.cost += g->w[parcs[i]];
            root.delay += g->delay[parcs[i]];
            root.jit += g->jit[parcs[i]];
            root.hops++;
        }
        /* every spur is postponed with its sidetrack bound, and searched
         * only once that bound could beat the best candidate (below): at
         * K=8 that is 8 of 24 spurs on the bench's area50, 7 of 254 on the
         * 30x30 grid */
        for (i = dev; i < plen; i++) {
            int32_t spur = path_node(g, parcs, src, i);
            double lb = root.cost + rev_val(ws, REV_W, spur);
            double bound = INF;
            if (ws->ncand >= limit) {
                bound = ws->slot_cost[ws->cand[ws->ncand - 1]];
                if (lb > bound)
                    goto advance;
            }
            if ((c->max_hops >= 0 &&
                 (double)root.hops + rev_val(ws, REV_HOPS, spur) >
                     (double)c->max_hops) ||
                (c->max_delay >= 0.0 &&
                 root.delay + rev_val(ws, REV_DELAY, spur) > c->max_delay) ||
                (ws->use_jit &&
                 root.jit + rev_val(ws, REV_JIT, spur) > c->max_jitter))
                goto advance;
            next_gen(&ws->bgen, ws->ablock, (size_t)ws->m);
            for (tc = ws->t_child[ws->t_path[i]]; tc >= 0; tc = ws->t_next[tc])
                ws->ablock[ws->t_arc[tc]] = ws->bgen;
            lb = sidetrack_bound(g, ws, c, spur, root.cost);
            if (lb < INF && lb <= bound &&
                pend_push(ws, lb, root, P, i, ws->t_path[i]))
                return PWR_ENOMEM;
        advance:
            ws->nblock[spur] = ws->ngen;
            root.cost += g->w[parcs[i]];
            root.delay += g->delay[parcs[i]];
            root.jit += g->jit[parcs[i]];
            root.hops++;
        }
        /* Before the best candidate is output, every postponed spur whose
         * bound does not exceed its cost is searched (an equal cost may
         * still come first in the tie order); a bound above the worst
         * candidate still needed rules out that spur and all after it. */
        while (ws->pheap_n) {
            const struct pend_ent *e = &ws->pend[ws->pheap[0]];
            if (ws->ncand > 0 && e->lb > ws->slot_cost[ws->cand[0]])
                break;
            if (ws->ncand >= limit &&
                e->lb > ws->slot_cost[ws->cand[ws->ncand - 1]]) {
                ws->pheap_n = 0;
                break;
            }
            pend_pop(ws);
            rc = resolve_pend(g, ws, c, e, src, dst, limit);
            if (rc)
                return rc;
        }
        if (ws->ncand == 0)
            break;
        ws->found[ws->nfound++] = ws->cand[0];
        trie_add(ws, ws->cand[0]);
        memmove(ws->cand, ws->cand + 1, (size_t)(--ws->ncand) * sizeof(int32_t));
    }
    return PWR_OK;
}

/* ---------- batch entry points ---------- */

static int begin_query(const pwr_graph *g, pwr_ws *ws,
                       const pwr_constraints *c, int32_t nq)
{
    int32_t i;
    if (!c || c->n_excl_nodes < 0 || c->n_excl_arcs < 0 ||
        (c->n_excl_nodes && !c->excl_nodes) ||
        (c->n_excl_arcs && !c->excl_arcs) || nq < 0)
        return PWR_EINVAL;
    next_gen2(&ws->xgen, ws->nexcl, (size_t)ws->n, ws->aexcl, (size_t)ws->m);
    for (i = 0; i < c->n_excl_nodes; i++) {
        if (c->excl_nodes[i] < 0 || c->excl_nodes[i] >= g->n)
            return PWR_EINVAL;
        ws->nexcl[c->excl_nodes[i]] = ws->xgen;
    }
    for (i = 0; i < c->n_excl_arcs; i++) {
        if (c->excl_arcs[i] < 0 || c->excl_arcs[i] >= g->m)
            return PWR_EINVAL;
        ws->aexcl[g->pos[c->excl_arcs[i]]] = ws->xgen;
    }
    /* with no jitter anywhere a jitter bound >= 0 holds for every path */
    ws->use_jit = c->max_jitter >= 0.0 && g->has_jit;
    ws->filtering = c->min_bw > 0.0 || c->include_any || c->include_all ||
                    c->exclude || c->n_excl_nodes || c->n_excl_arcs;
    ws->res_arcs_n = ws->res_paths_n = 0;
    ws->res_nq = 0;
    if (grow((void **)&ws->res_q, &ws->res_q_cap, (size_t)nq + 1,
             sizeof(res_query)))
        return PWR_ENOMEM;
    return PWR_OK;
}

static int prepare_dst(const pwr_graph *g, pwr_ws *ws,
                       const pwr_constraints *c, int32_t dst)
{
    int rc = reverse_search(g, ws, c, dst, REV_W);
    if (!rc && c->max_hops >= 0)
        rc = reverse_search(g, ws, c, dst, REV_HOPS);
    if (!rc && c->max_delay >= 0.0)
        rc = reverse_search(g, ws, c, dst, REV_DELAY);
    if (!rc && ws->use_jit)
        rc = reverse_search(g, ws, c, dst, REV_JIT);
    return rc;
}

int pwr_ksp_batch(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                  const int32_t *dsts, int32_t nq, int32_t k,
                  const pwr_constraints *c)
{
    int32_t q, last_dst = -1;
    int rc;
    if (!g || !ws || ws->n != g->n || ws->m != g->m || k < 0 ||
        (nq > 0 && (!srcs || !dsts)))
        return PWR_EINVAL;
    for (q = 0; q < nq; q++)
        if (srcs[q] < 0 || srcs[q] >= g->n || dsts[q] < 0 ||
            dsts[q] >= g->n)
            return PWR_EINVAL;
    rc = begin_query(g, ws, c, nq);
    if (rc)
        return rc;
    for (q = 0; q < nq; q++) {
        if (dsts[q] != last_dst) {
            rc = prepare_dst(g, ws, c, dsts[q]);
            if (rc)
                return rc;
            last_dst = dsts[q];
        }
        ws->res_q[q].first = (int32_t)ws->res_paths_n;
        ws->nfound = ws->ncand = 0;
        rc = yen(g, ws, srcs[q], dsts[q], k, c);
        if (!rc)
            rc = store_results(g, ws, srcs[q]);
        if (rc)
            return rc;
        ws->res_q[q].count = (int32_t)ws->res_paths_n - ws->res_q[q].first;
        ws->res_nq = q + 1;
    }
    return (int)ws->res_paths_n;
}

int pwr_ksp_one_to_many(const pwr_graph *g, pwr_ws *ws, int32_t src,
                        const int32_t *dsts, int32_t nq, int32_t k,
                        const pwr_constraints *c)
{
    int32_t q;
    int rc;
    int32_t *srcs;
    if (nq < 0)
        return PWR_EINVAL;
    /* one small array per batch call, not per query or spur */
    srcs = xcalloc((size_t)nq, sizeof(int32_t));
    if (!srcs)
        return PWR_ENOMEM;
    for (q = 0; q < nq; q++)
        srcs[q] = src;
    rc = pwr_ksp_batch(g, ws, srcs, dsts, nq, k, c);
    free(srcs);
    return rc;
}

int pwr_ksp_many_to_one(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                        int32_t nq, int32_t dst, int32_t k,
                        const pwr_constraints *c)
{
    int32_t q;
    int rc;
    int32_t *dsts;
    if (nq < 0)
        return PWR_EINVAL;
    dsts = xcalloc((size_t)nq, sizeof(int32_t));
    if (!dsts)
        return PWR_ENOMEM;
    for (q = 0; q < nq; q++)
        dsts[q] = dst;
    rc = pwr_ksp_batch(g, ws, srcs, dsts, nq, k, c);
    free(dsts);
    return rc;
}

int32_t pwr_result_query(const pwr_ws *ws, int32_t q, int32_t *first)
{
    *first = 0;
    if (q < 0 || q >= ws->res_nq)
        return PWR_EINVAL;
    *first = ws->res_q[q].first;
    return ws->res_q[q].count;
}

double pwr_result_path(const pwr_ws *ws, int32_t p, int32_t *len,
                       const int32_t **arcs)
{
    const res_path *rp;
    *len = 0;
    *arcs = NULL;
    if (p < 0 || (size_t)p >= ws->res_paths_n)
        return NAN;
    rp = &ws->res_paths[p];
    *len = rp->len;
    *arcs = ws->res_arcs + rp->off;
    return rp->cost;
}

int32_t pwr_result_copy(const pwr_ws *ws, int32_t first, int32_t count,
                        int32_t *lens, double *costs, int32_t *out,
                        int32_t cap)
{
    int32_t p, need = 0, o = 0;
    if (first < 0 || count < 0 || (size_t)first + (size_t)count > ws->res_paths_n)
        return PWR_EINVAL;
    for (p = first; p < first + count; p++)
        need += ws->res_paths[p].len;
    if (need > cap)
        return need;
    for (p = first; p < first + count; p++) {
        const res_path *rp = &ws->res_paths[p];
        lens[p - first] = rp->len;
        costs[p - first] = rp->cost;
        memcpy(out + o, ws->res_arcs + rp->off,
               (size_t)rp->len * sizeof(int32_t));
        o += rp->len;
    }
    return need;
}

int pwr_result_costs(const pwr_ws *ws, int32_t first, int32_t count,
                     double *costs)
{
    int32_t p;
    if (first < 0 || count < 0 ||
        (size_t)first + (size_t)count > ws->res_paths_n || (count && !costs))
        return PWR_EINVAL;
    for (p = 0; p < count; p++)
        costs[p] = ws->res_paths[first + p].cost;
    return PWR_OK;
}

int pwr_result_counts(const pwr_ws *ws, int32_t nq, int32_t *counts)
{
    int32_t q;
    if (nq < 0 || nq > ws->res_nq || (nq && !counts))
        return PWR_EINVAL;
    for (q = 0; q < nq; q++)
        counts[q] = ws->res_q[q].count;
    return PWR_OK;
}

int32_t pwr_result_flat(const pwr_graph *g, const pwr_ws *ws, int32_t first,
                        int32_t count, int32_t *off, double *costs,
                        int32_t *arcs, int32_t *nodes, int32_t cap)
{
    int32_t p, need = 0, o = 0;
    if (!g || !ws || g->n != ws->n || g->m != ws->m || first < 0 ||
        count < 0 || (size_t)first + (size_t)count > ws->res_paths_n)
        return PWR_EINVAL;
    for (p = first; p < first + count; p++) {
        if (ws->res_paths[p].len > INT32_MAX - 1 - need)
            return PWR_EINVAL; /* the total would not fit an int32_t */
        need += ws->res_paths[p].len;
    }
    if (need > cap || !off || !costs || !arcs || !nodes)
        return need;
    /* nodes of path i start at off[i] + i: one more node than arcs each */
    for (p = first; p < first + count; p++) {
        const res_path *rp = &ws->res_paths[p];
        const int32_t *ra = ws->res_arcs + rp->off;
        int32_t i, *nd = nodes + o + (p - first);
        off[p - first] = o;
        costs[p - first] = rp->cost;
        nd[0] = rp->src;
        for (i = 0; i < rp->len; i++) {
            arcs[o + i] = ra[i];
            nd[i + 1] = g->head[g->pos[ra[i]]];
        }
        o += rp->len;
    }
    off[count] = o;
    return need;
}

/* The paths of the last query from off on: off[np + 1], noff[np + 1],
 * arcs[na], nodes[na + np] (the layout of pwr_ksp_flat in pwr_ksp.h); the
 * caller has checked that 3 * np + 2 * na + 2 entries fit there. */
static void lay_out_paths(const pwr_graph *g, const pwr_ws *ws, int32_t *off)
{
    size_t np = ws->res_paths_n, na = ws->res_arcs_n, p, o = 0;
    int32_t *noff = off + np + 1, *arcs = noff + np + 1, *nodes = arcs + na;
    /* res_arcs holds the paths' arcs back to back in path order */
    if (na)
        memcpy(arcs, ws->res_arcs, na * sizeof(int32_t));
    for (p = 0; p < np; p++) {
        const res_path *rp = &ws->res_paths[p];
        const int32_t *ra = ws->res_arcs + rp->off;
        int32_t i, *nd = nodes + o + p;
        off[p] = (int32_t)o;
        noff[p] = (int32_t)(o + p);
        nd[0] = rp->src;
        for (i = 0; i < rp->len; i++)
            nd[i + 1] = g->head[g->pos[ra[i]]];
        o += (size_t)rp->len;
    }
    off[np] = (int32_t)o;
    noff[np] = (int32_t)(o + np);
}

/* Lay the last query's results out flat (see pwr_ksp_flat in pwr_ksp.h). */
static int flat_fill(const pwr_graph *g, pwr_ws *ws, int32_t nq,
                     unsigned what, pwr_flat *out)
{
    size_t np = ws->res_paths_n, na = ws->res_arcs_n, p, q;
    /* every count and offset must fit an int32_t */
    if (np > (size_t)(INT32_MAX - 2) / 3 ||
        na > ((size_t)INT32_MAX - 2 - 3 * np) / 2)
        return PWR_ENOMEM;
    if (grow((void **)&ws->flat_counts, &ws->flat_counts_cap,
             (size_t)nq + 1, sizeof(int32_t)) ||
        grow((void **)&ws->flat_costs, &ws->flat_costs_cap, np + 1,
             sizeof(double)))
        return PWR_ENOMEM;
    for (q = 0; q < (size_t)nq; q++)
        ws->flat_counts[q] = ws->res_q[q].count;
    for (p = 0; p < np; p++)
        ws->flat_costs[p] = ws->res_paths[p].cost;
    out->counts = ws->flat_counts;
    out->costs = ws->flat_costs;
    out->npaths = (int32_t)np;
    out->narcs = (int32_t)na;
    if (!(what & PWR_FLAT_PATHS))
        return (int)np;
    if (grow((void **)&ws->flat, &ws->flat_cap, 3 * np + 2 * na + 2,
             sizeof(int32_t)))
        return PWR_ENOMEM;
    lay_out_paths(g, ws, ws->flat);
    out->flat = ws->flat;
    out->flat_len = (int32_t)(3 * np + 2 * na + 2);
    return (int)np;
}

/* The same layout in the caller's buffer buf of cap entries, after a
 * header and the costs (see PWR_FLAT_INTO in pwr_ksp.h); writes only the
 * header when the layout does not fit. */
static int flat_into(const pwr_graph *g, pwr_ws *ws, int32_t nq,
                     unsigned what, int32_t *buf, int32_t cap, pwr_flat *out)
{
    size_t np = ws->res_paths_n, na = ws->res_arcs_n, p, q, need;
    int32_t *counts;
    int paths = (what & PWR_FLAT_PATHS) != 0;
    /* every count and offset must fit an int32_t (np, na and nq are
     * bounded by memory, so the sum cannot wrap a size_t) */
    need = 4 + 2 * np + (size_t)nq + (paths ? 3 * np + 2 * na + 2 : 0);
    if (need > (size_t)INT32_MAX)
        return PWR_ENOMEM;
    buf[0] = (int32_t)need;
    buf[1] = (int32_t)np;
    buf[2] = (int32_t)na;
    buf[3] = nq;
    out->npaths = (int32_t)np;
    out->narcs = (int32_t)na;
    if (need > (size_t)cap)
        return (int)np;
    for (p = 0; p < np; p++) /* bytes, so no double is stored misaligned */
        memcpy(buf + 4 + 2 * p, &ws->res_paths[p].cost, sizeof(double));
    counts = buf + 4 + 2 * np;
    for (q = 0; q < (size_t)nq; q++)
        counts[q] = ws->res_q[q].count;
    if (!paths)
        return (int)np;
    lay_out_paths(g, ws, counts + nq);
    return (int)np;
}

/* Search (or, with PWR_FLAT_AGAIN, keep the last query's results, whose
 * query count it sets in *nq): what pwr_ksp_flat lays out next. */
static int flat_search(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                       const int32_t *dsts, int32_t *nq, int32_t k,
                       const pwr_constraints *c, unsigned what)
{
    if (what & PWR_FLAT_AGAIN) {
        if (!g || !ws || ws->n != g->n || ws->m != g->m)
            return PWR_EINVAL;
        *nq = ws->res_nq;
        return PWR_OK;
    }
    return pwr_ksp_batch(g, ws, srcs, dsts, *nq, k, c);
}

int pwr_ksp_flat(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                 const int32_t *dsts, int32_t nq, int32_t k,
                 const pwr_constraints *c, unsigned what, pwr_flat *out)
{
    int rc;
    if (!out)
        return PWR_EINVAL;
    if (what & PWR_FLAT_INTO) {
        /* the caller's buffer: writable by contract (pwr_ksp.h) */
        int32_t *buf = (int32_t *)(uintptr_t)out->flat, cap = out->flat_len;
        out->npaths = out->narcs = 0;
        out->counts = NULL;
        out->costs = NULL;
        if (!buf || cap < 4)
            return PWR_EINVAL;
        buf[0] = buf[1] = buf[2] = buf[3] = 0;
        rc = flat_search(g, ws, srcs, dsts, &nq, k, c, what);
        if (rc < 0)
            return rc;
        rc = flat_into(g, ws, nq, what, buf, cap, out);
        if (rc < 0) {
            buf[0] = buf[1] = buf[2] = buf[3] = 0;
            out->npaths = out->narcs = 0;
        }
        return rc;
    }
    memset(out, 0, sizeof *out);
    rc = flat_search(g, ws, srcs, dsts, &nq, k, c, what);
    if (rc < 0)
        return rc;
    rc = flat_fill(g, ws, nq, what, out);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int pwr_ksp_flat1(const pwr_graph *g, pwr_ws *ws, int32_t src, int32_t dst,
                  int32_t k, const pwr_constraints *c, unsigned what,
                  pwr_flat *out)
{
    return pwr_ksp_flat(g, ws, &src, &dst, 1, k, c, what, out);
}
