"""cffi out-of-line API-mode builder for the C core (csrc/).

The declarations below mirror csrc/pwr_ksp.h, csrc/pwr_tlv.h,
csrc/pwr_transit.h and csrc/pwr_watch.h; cffi
compiles a wrapper that includes those headers, so the C compiler checks
that the two agree. The return codes are declared ``#define NAME ...``: cffi
takes their values from the headers, and Python reads them as ``lib.NAME``
(``lib.PWR_F32_ENAN``, ``lib.PWR_TLV_ETRUNC_VAL``, ``lib.PWR_EINVAL``), so no
code is ever retyped as a bare integer. cffi releases the GIL around every call, which is what
lets several threads run KSP queries at once (draft sec. 2.3).
"""

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")

CDEF = """
#define PWR_OK ...
#define PWR_EINVAL ...
#define PWR_ENOMEM ...
typedef struct pwr_graph pwr_graph;
typedef struct pwr_ws pwr_ws;
typedef struct {
    double min_bw;
    uint32_t include_any;
    uint32_t include_all;
    uint32_t exclude;
    int32_t max_hops;
    double max_delay;
    const int32_t *excl_nodes;
    int32_t n_excl_nodes;
    const int32_t *excl_arcs;
    int32_t n_excl_arcs;
    double max_jitter;
} pwr_constraints;
pwr_graph *pwr_graph_new(int32_t n, int32_t m, const int32_t *tail,
                         const int32_t *head, const double *weight,
                         const double *bw, const uint32_t *admin,
                         const double *delay, int *err, int32_t *bad_arc);
void pwr_graph_free(pwr_graph *g);
int32_t pwr_graph_nodes(const pwr_graph *g);
int32_t pwr_graph_arcs(const pwr_graph *g);
int pwr_graph_set_weights(pwr_graph *g, const double *weight,
                          int32_t *bad_arc);
#define PWR_SET_WEIGHT ...
#define PWR_SET_BW ...
#define PWR_SET_ADMIN ...
#define PWR_SET_DELAY ...
#define PWR_SET_JITTER ...
int pwr_graph_set_arc(pwr_graph *g, int32_t arc, unsigned fields,
                      double weight, double bw, uint32_t admin, double delay,
                      double jitter);
int pwr_graph_set_jitter(pwr_graph *g, const double *jitter,
                         int32_t *bad_arc);
pwr_ws *pwr_ws_new(const pwr_graph *g);
void pwr_ws_free(pwr_ws *ws);
int pwr_ksp_batch(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                  const int32_t *dsts, int32_t nq, int32_t k,
                  const pwr_constraints *c);
int pwr_ksp_one_to_many(const pwr_graph *g, pwr_ws *ws, int32_t src,
                        const int32_t *dsts, int32_t nq, int32_t k,
                        const pwr_constraints *c);
int pwr_ksp_many_to_one(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                        int32_t nq, int32_t dst, int32_t k,
                        const pwr_constraints *c);
int32_t pwr_result_query(const pwr_ws *ws, int32_t q, int32_t *first);
double pwr_result_path(const pwr_ws *ws, int32_t p, int32_t *len,
                       const int32_t **arcs);
int32_t pwr_result_copy(const pwr_ws *ws, int32_t first, int32_t count,
                        int32_t *lens, double *costs, int32_t *out,
                        int32_t cap);
int pwr_result_counts(const pwr_ws *ws, int32_t nq, int32_t *counts);
int pwr_result_costs(const pwr_ws *ws, int32_t first, int32_t count,
                     double *costs);
int32_t pwr_result_flat(const pwr_graph *g, const pwr_ws *ws, int32_t first,
                        int32_t count, int32_t *off, double *costs,
                        int32_t *arcs, int32_t *nodes, int32_t cap);
#define PWR_FLAT_PATHS ...
#define PWR_FLAT_INTO ...
#define PWR_FLAT_AGAIN ...
typedef struct {
    int32_t npaths, narcs, flat_len;
    const int32_t *counts;
    const double *costs;
    const int32_t *flat;
} pwr_flat;
int pwr_ksp_flat(const pwr_graph *g, pwr_ws *ws, const int32_t *srcs,
                 const int32_t *dsts, int32_t nq, int32_t k,
                 const pwr_constraints *c, unsigned what, pwr_flat *out);
int pwr_ksp_flat1(const pwr_graph *g, pwr_ws *ws, int32_t src, int32_t dst,
                  int32_t k, const pwr_constraints *c, unsigned what,
                  pwr_flat *out);

#define PWR_F32_OK ...
#define PWR_F32_ENAN ...
#define PWR_F32_ENEG ...
#define PWR_F32_ERANGE ...
#define PWR_F32_ESPACE ...
#define PWR_F32_EINF ...
#define PWR_F32_SATURATE ...
#define PWR_F32_STRICT ...
int pwr_f32_pack(const double *in, size_t n, uint8_t *out, size_t out_len,
                 unsigned flags, size_t *bad);
int pwr_f32_unpack(const uint8_t *in, size_t in_len, double *out,
                   size_t out_n, unsigned flags, size_t *bad);
#define PWR_TLV_OK ...
#define PWR_TLV_ETRUNC_HDR ...
#define PWR_TLV_ETRUNC_VAL ...
#define PWR_TLV_ETRUNC_PAD ...
#define PWR_TLV_ETOOMANY ...
typedef struct {
    uint16_t type;
    uint16_t length;
    uint32_t value_off;
} pwr_tlv;
int pwr_tlv_walk(const uint8_t *buf, size_t len, pwr_tlv *out,
                 size_t max_out, size_t *err_off);
#define PWR_TR_OK ...
#define PWR_TR_EINVAL ...
#define PWR_TR_ESPACE ...
#define PWR_TR_ARRAY ...
#define PWR_TR_SCALAR ...
#define PWR_TR_SUMS ...
typedef struct {
    int32_t n, ne;
    const int32_t *gstart;
    const int32_t *gpos;
    const int32_t *rank;
    const double *pwr, *bw, *jitter;
    const int64_t *te, *hops, *admin, *delay;
    int32_t fit;
} pwr_tr_vec;
int pwr_tr_vec_check(pwr_tr_vec *v);
typedef struct {
    int32_t n;
    const double *pwr, *bw, *delay, *jitter;
    const int64_t *te, *hops, *admin;
} pwr_tr_vias;
typedef struct {
    int64_t cap;
    int32_t *row;
    double *pwr, *bw;
    int64_t *te, *hops, *admin, *delay, *jitter;
} pwr_tr_out;
typedef struct {
    double *d;
    int64_t nd;
    int32_t *i;
    int64_t ni;
} pwr_tr_ws;
int pwr_tr_combine_size(int32_t nb, const pwr_tr_vec *const *vecs,
                        const int32_t *via_off, int32_t nvia, int32_t k,
                        int64_t *total, int64_t *nd, int64_t *ni);
int pwr_tr_combine(int32_t nb, const pwr_tr_vec *const *vecs,
                   const int32_t *via_off, const pwr_tr_vias *vias, int32_t k,
                   int32_t *status, int32_t *out_off, const pwr_tr_out *out,
                   const pwr_tr_ws *ws);
int pwr_tr_aggregates(int32_t np, const int32_t *off, const int32_t *arcs,
                      int32_t narc, const double *w, const double *bw,
                      const int64_t *te, const int64_t *admin,
                      const double *delay, const double *jitter,
                      double *o_pwr, double *o_bw, int64_t *o_te,
                      int64_t *o_admin, double *o_delay, double *o_jitter);
int pwr_tr_wire(int32_t n, const double *pwr, const double *bw,
                const int64_t *te, const int64_t *hops, const int64_t *admin,
                const double *delay, const double *jitter, double *o_pwr,
                double *o_bw, int64_t *o_te, int64_t *o_hops,
                int64_t *o_admin, int64_t *o_delay, int64_t *o_jitter);
int pwr_tr_order(int32_t n, const double *key, int32_t np,
                 const int32_t *part_off, int32_t *idx, int32_t *tmp,
                 int32_t *part_tmp);
#define PWR_WATCH_OK ...
#define PWR_WATCH_EINVAL ...
#define PWR_WATCH_ENOMEM ...
#define PWR_WATCH_ETHREAD ...
#define PWR_WATCH_MIN_PERIOD_US ...
typedef struct pwr_watch pwr_watch;
pwr_watch *pwr_watch_new(int32_t n, const char *const *paths,
                         const double *periods, int efd, int *err);
void pwr_watch_free(pwr_watch *w);
uint64_t pwr_watch_rounds(pwr_watch *w);
double pwr_watch_confirmed(pwr_watch *w, int32_t i);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "pyfrr_pwr._core",
    '#include "pwr_ksp.h"\n#include "pwr_tlv.h"\n#include "pwr_transit.h"\n#include "pwr_watch.h"\n',
    sources=["csrc/pwr_ksp.c", "csrc/pwr_tlv.c", "csrc/pwr_transit.c", "csrc/pwr_watch.c"],
    include_dirs=["csrc"],
    extra_compile_args=["-std=c99", "-O2", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
