/*
 * check_core.c - drives the C core on random inputs so that the test suite
 * can run it under AddressSanitizer and UndefinedBehaviorSanitizer.
 * Every buffer handed to the core is malloc'ed at its exact size, so any
 * read past it is reported. Exits non-zero on a failed check.
 * Usage: check_core [iterations] [seed]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pwr_ksp.h"
#include "pwr_tlv.h"

static unsigned long long rng_state;
static unsigned rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33);
}

#define CHECK(c, ...)                                                         \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "check failed at %s:%d: ", __FILE__, __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* pwr_result_flat, every buffer at its exact size, against
 * pwr_result_path one path at a time; a short cap writes nothing. */
static void check_flat(const pwr_graph *g, const pwr_ws *ws, int32_t total,
                       const int32_t *tail, const int32_t *head)
{
    int32_t need = pwr_result_flat(g, ws, 0, total, NULL, NULL, NULL, NULL, -1);
    int32_t *off, *arcs, *nodes, p, i;
    double *costs;
    CHECK(need >= 0, "flat sizing failed %d", need);
    CHECK(pwr_result_flat(g, ws, 0, total + 1, NULL, NULL, NULL, NULL, -1) ==
              PWR_EINVAL, "range past the results accepted");
    off = malloc(sizeof(int32_t) * (size_t)(total + 1));
    costs = malloc(sizeof(double) * (size_t)(total ? total : 1));
    arcs = malloc(sizeof(int32_t) * (size_t)(need ? need : 1));
    nodes = malloc(sizeof(int32_t) * (size_t)(need + total ? need + total : 1));
    off[0] = -7;
    if (need > 0)
        CHECK(pwr_result_flat(g, ws, 0, total, off, costs, arcs, nodes,
                              need - 1) == need && off[0] == -7,
              "flat wrote past a short cap");
    CHECK(pwr_result_flat(g, ws, 0, total, off, costs, arcs, nodes, need) ==
              need, "flat fill failed");
    CHECK(off[total] == need, "last offset %d != %d", off[total], need);
    for (p = 0; p < total; p++) {
        int32_t len;
        const int32_t *pa;
        double cost = pwr_result_path(ws, p, &len, &pa);
        CHECK(off[p + 1] - off[p] == len && cost == costs[p], "flat path %d", p);
        for (i = 0; i < len; i++) {
            CHECK(arcs[off[p] + i] == pa[i], "flat arc");
            CHECK(nodes[off[p] + p + i] == tail[pa[i]] &&
                      nodes[off[p] + p + i + 1] == head[pa[i]],
                  "flat nodes are not the arcs' ends");
        }
    }
    free(off);
    free(costs);
    free(arcs);
    free(nodes);
}

/* pwr_ksp_flat on a second workspace against the batch's results in ws,
 * read path by path: counts, costs, the offsets, arcs and nodes of the
 * flat layout (pwr_ksp.h); costs only leaves flat NULL. */
static void check_ksp_flat(const pwr_graph *g, const pwr_ws *ws,
                           const int32_t *srcs, const int32_t *dsts,
                           int32_t nq, int32_t k, const pwr_constraints *c,
                           int32_t total, const int32_t *tail,
                           const int32_t *head)
{
    pwr_ws *ws2 = pwr_ws_new(g);
    pwr_flat f;
    int32_t q, p, i, np, na = 0;
    const int32_t *off, *noff, *arcs, *nodes;
    CHECK(ws2 != NULL, "ws alloc failed");
    CHECK(pwr_ksp_flat(g, ws2, srcs, dsts, nq, k, c, 0, &f) == total &&
              f.npaths == total && f.flat == NULL && f.flat_len == 0,
          "costs-only flat");
    for (p = 0; p < total; p++) {
        int32_t len;
        const int32_t *pa;
        CHECK(f.costs[p] == pwr_result_path(ws, p, &len, &pa), "flat cost");
        na += len;
    }
    CHECK(pwr_ksp_flat(g, ws2, srcs, dsts, nq, k, c, PWR_FLAT_PATHS, &f) ==
              total, "flat query");
    np = f.npaths;
    CHECK(np == total && f.narcs == na && f.flat_len == 3 * np + 2 * na + 2,
          "flat sizes");
    off = f.flat;
    noff = off + np + 1;
    arcs = noff + np + 1;
    nodes = arcs + na;
    for (q = 0; q < nq; q++) {
        int32_t first;
        CHECK(f.counts[q] == pwr_result_query(ws, q, &first), "flat count");
    }
    CHECK(off[0] == 0 && noff[0] == 0 && off[np] == na && noff[np] == na + np,
          "flat ends");
    for (p = 0; p < np; p++) {
        int32_t len;
        const int32_t *pa;
        double cost = pwr_result_path(ws, p, &len, &pa);
        CHECK(f.costs[p] == cost && off[p + 1] - off[p] == len &&
                  noff[p] == off[p] + p && noff[p + 1] - noff[p] == len + 1,
              "flat path %d", p);
        for (i = 0; i < len; i++) {
            CHECK(arcs[off[p] + i] == pa[i], "flat arc");
            CHECK(nodes[noff[p] + i] == tail[pa[i]] &&
                      nodes[noff[p] + i + 1] == head[pa[i]],
                  "flat nodes are not the arcs' ends");
        }
    }
    CHECK(pwr_ksp_flat(g, ws2, srcs, dsts, nq, k, c, 0, NULL) == PWR_EINVAL,
          "no output struct accepted");
    CHECK(pwr_ksp_flat(g, ws2, srcs, dsts, nq, -1, c, 0, &f) == PWR_EINVAL &&
              f.npaths == 0 && f.costs == NULL,
          "a failed query leaves results");
    np = pwr_ksp_flat1(g, ws2, srcs[0], dsts[0], k, c, PWR_FLAT_PATHS, &f);
    CHECK(np == f.npaths && np == f.counts[0] && np == pwr_result_query(ws, 0, &q),
          "flat1");
    pwr_ws_free(ws2);
}

static int check_ksp(int iter)
{
    int32_t n = 2 + (int32_t)(rnd() % 12), m = (int32_t)(rnd() % 40), i, q;
    int32_t *tail = malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
    int32_t *head = malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
    double *w = malloc(sizeof(double) * (size_t)(m ? m : 1));
    double *bw = malloc(sizeof(double) * (size_t)(m ? m : 1));
    double *dl = malloc(sizeof(double) * (size_t)(m ? m : 1));
    uint32_t *ag = malloc(sizeof(uint32_t) * (size_t)(m ? m : 1));
    int err;
    int32_t bad, srcs[3], dsts[3], k = 1 + (int32_t)(rnd() % 20);
    int32_t xn[1], xa[1];
    pwr_constraints c;
    pwr_graph *g;
    pwr_ws *ws;
    int rc;
    for (i = 0; i < m; i++) {
        tail[i] = (int32_t)(rnd() % (unsigned)n);
        head[i] = (int32_t)(rnd() % (unsigned)n);
        w[i] = (double)(rnd() % 100) / 10.0;
        bw[i] = (double)(rnd() % 10);
        dl[i] = (double)(rnd() % 50);
        ag[i] = rnd() & 7u;
    }
    g = pwr_graph_new(n, m, tail, head, w, bw, ag, dl, &err, &bad);
    CHECK(g != NULL, "graph build failed: %d", err);
    ws = pwr_ws_new(g);
    CHECK(ws != NULL, "ws alloc failed");
    memset(&c, 0, sizeof c);
    c.max_hops = (rnd() % 3 == 0) ? (int32_t)(rnd() % 6) : -1;
    c.max_delay = (rnd() % 3 == 0) ? (double)(rnd() % 150) : -1.0;
    c.min_bw = (rnd() % 3 == 0) ? (double)(rnd() % 6) : 0.0;
    c.exclude = (rnd() % 4 == 0) ? 1u : 0u;
    c.include_any = (rnd() % 4 == 0) ? 6u : 0u;
    if (rnd() % 4 == 0) {
        xn[0] = (int32_t)(rnd() % (unsigned)n);
        c.excl_nodes = xn;
        c.n_excl_nodes = 1;
    }
    if (m && rnd() % 4 == 0) {
        xa[0] = (int32_t)(rnd() % (unsigned)m);
        c.excl_arcs = xa;
        c.n_excl_arcs = 1;
    }
    for (q = 0; q < 3; q++) {
        srcs[q] = (int32_t)(rnd() % (unsigned)n);
        dsts[q] = q ? dsts[0] : (int32_t)(rnd() % (unsigned)n);
    }
    rc = pwr_ksp_batch(g, ws, srcs, dsts, 3, k, &c);
    CHECK(rc >= 0, "iter %d: batch failed %d", iter, rc);
    check_flat(g, ws, rc, tail, head);
    check_ksp_flat(g, ws, srcs, dsts, 3, k, &c, rc, tail, head);
    for (q = 0; q < 3; q++) {
        int32_t first, count = pwr_result_query(ws, q, &first), p;
        double prev = -1.0;
        CHECK(count >= 0 && count <= k, "bad count %d", count);
        for (p = first; p < first + count; p++) {
            int32_t len, j, node = srcs[q], hops = 0;
            const int32_t *arcs;
            double cost = pwr_result_path(ws, p, &len, &arcs), sum = 0, dsum = 0;
            char *seen = calloc((size_t)n, 1);
            seen[node] = 1;
            for (j = 0; j < len; j++) {
                int32_t a = arcs[j];
                CHECK(a >= 0 && a < m, "arc out of range");
                CHECK(tail[a] == node, "path not connected");
                CHECK(c.min_bw <= 0 || bw[a] >= c.min_bw, "bw violated");
                CHECK(!(ag[a] & c.exclude), "exclude violated");
                CHECK(!c.include_any || (ag[a] & c.include_any), "include-any violated");
                CHECK(!c.n_excl_arcs || a != xa[0], "excluded arc used");
                node = head[a];
                CHECK(!seen[node], "path not simple");
                seen[node] = 1;
                sum += w[a];
                dsum += dl[a];
                hops++;
            }
            CHECK(!c.n_excl_nodes || !seen[xn[0]], "excluded node used");
            free(seen);
            CHECK(node == dsts[q], "path ends at %d, not %d", node, dsts[q]);
            CHECK(fabs(sum - cost) <= 1e-9 * (1 + sum), "cost %g != %g", cost, sum);
            CHECK(cost >= prev - 1e-12, "costs not sorted");
            CHECK(c.max_hops < 0 || hops <= c.max_hops, "hops violated");
            CHECK(c.max_delay < 0 || dsum <= c.max_delay, "delay violated");
            prev = cost;
        }
    }
    pwr_ws_free(ws);
    pwr_graph_free(g);
    free(tail);
    free(head);
    free(w);
    free(bw);
    free(dl);
    free(ag);
    return 0;
}

static void check_tlv(void)
{
    size_t len = rnd() % 64, i, err;
    uint8_t *buf = malloc(len ? len : 1);
    pwr_tlv *out;
    size_t max_out = rnd() % 20;
    int rc;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)((rnd() % 4 == 0) ? 0 : rnd());
    if (len >= 4 && rnd() % 2) { /* plausible lengths more often */
        buf[2] = 0;
        buf[3] = (uint8_t)(rnd() % (len - 3));
    }
    out = malloc(sizeof(pwr_tlv) * (max_out ? max_out : 1));
    rc = pwr_tlv_walk(buf, len, out, max_out, &err);
    CHECK(rc <= (int)max_out, "walker overflowed out");
    for (i = 0; rc > 0 && i < (size_t)rc; i++)
        CHECK(out[i].value_off + out[i].length <= len, "TLV value past buffer");
    if (rc < 0)
        CHECK(err < len || len == 0 || err == 0, "error offset past buffer");
    free(out);
    free(buf);
}

static void check_f32(void)
{
    size_t n = rnd() % 8, i, bad;
    double *in = malloc(sizeof(double) * (n ? n : 1));
    double *back = malloc(sizeof(double) * (n ? n : 1));
    uint8_t *b = malloc(4 * n + 1);
    static const double specials[] = {0.0, -0.0, 1e-45, 1e-40, 3.4028234663852886e38,
                                      3.5e38, HUGE_VAL, -1.0, 1.5};
    int rc;
    for (i = 0; i < n; i++)
        in[i] = (rnd() % 3 == 0) ? specials[rnd() % 9] : (double)rnd() / 7.0;
    rc = pwr_f32_pack(in, n, b, 4 * n, rnd() % 2 ? PWR_F32_SATURATE : 0, &bad);
    if (rc == PWR_F32_OK) {
        rc = pwr_f32_unpack(b, 4 * n, back, n, PWR_F32_STRICT, &bad);
        CHECK(rc == PWR_F32_OK, "strict unpack of packed values failed %d", rc);
        CHECK(pwr_f32_unpack(b, 4 * n, back, n, PWR_F32_STRICT, NULL) == PWR_F32_OK,
              "unpack without bad failed");
        for (i = 0; i < n; i++)
            CHECK(back[i] >= 0 && back[i] <= 3.4028234663852886e38, "bad round trip");
    } else {
        CHECK(bad < n, "bad index out of range");
    }
    CHECK(pwr_f32_pack(in, n, b, n ? 4 * n - 1 : 0, 0, &bad) ==
              (n ? PWR_F32_ESPACE : PWR_F32_OK),
          "short output not refused");
    free(in);
    free(back);
    free(b);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000, i;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    for (i = 0; i < iters; i++) {
        check_ksp(i);
        check_tlv();
        check_f32();
    }
    printf("check_core: %d iterations passed\n", iters);
    return 0;
}
