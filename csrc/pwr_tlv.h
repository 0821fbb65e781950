/*
 * pwr_tlv.h - IEEE-754 float32 fields and RFC 3630 TLV framing for PWR LSAs.
 *
 * Plain C99, no Python.h.
 *
 * Invariants:
 *  - Every function is given a buffer and its length and never reads or
 *    writes outside it; a short buffer is an error code, never a read.
 *  - Floats on the wire are IEEE-754 binary32, big-endian (network order),
 *    as RFC 3630 sec. 2.5.6 and draft sec. 2.1.9 use for bandwidths and the
 *    PWR ratios.
 *  - Packing policy (PWR ratios and bandwidths are magnitudes):
 *      NaN                      -> PWR_F32_ENAN (never sent)
 *      negative (< 0)           -> PWR_F32_ENEG; -0.0 is sent as +0.0
 *      > FLT_MAX, incl. +inf    -> PWR_F32_ERANGE, or FLT_MAX when the
 *                                  PWR_F32_SATURATE flag is given (C's
 *                                  double-to-float conversion is undefined
 *                                  out of range, so this is checked first)
 *      (0, FLT_MIN)             -> rounded to nearest by IEEE gradual
 *                                  underflow: a subnormal, or +0.0 below
 *                                  half the smallest subnormal
 *  - On an error return the contents of out are unspecified.
 *  - This policy binds every path a float takes: pyfrr_pwr/proto/wire.py
 *    packs single values with Python's struct under the same rules, and
 *    tests/test_wire.py checks that both paths agree value for value.
 *  - Doubles are IEEE-754 binary64 with the byte order of uint64_t (true of
 *    every platform FRR runs on); the fast path relies on it.
 *  - Unpacking converts exactly (every binary32 is a double). With
 *    PWR_F32_STRICT it reports the first NaN, infinity or negative value.
 *  - TLV framing: Type(2) Length(2) Value, Length excludes padding, the
 *    value is padded to a multiple of 4 octets (RFC 3630 sec. 2.3.2). The
 *    walker requires the padding to be inside the buffer.
 */
#ifndef PWR_TLV_H
#define PWR_TLV_H

#include <stddef.h>
#include <stdint.h>

/* Return codes of pwr_f32_pack / pwr_f32_unpack. Python reads them as
 * lib.PWR_F32_* (pyfrr_pwr/_build_core.py declares them), never as
 * retyped integers. */
#define PWR_F32_OK 0
#define PWR_F32_ENAN (-1)   /* a NaN */
#define PWR_F32_ENEG (-2)   /* a value < 0 (-0.0 is not negative) */
#define PWR_F32_ERANGE (-3) /* pack: > FLT_MAX or +inf, without SATURATE */
#define PWR_F32_ESPACE (-4) /* out too short, or in_len not a multiple of 4 */
#define PWR_F32_EINF (-5)   /* unpack, STRICT: +inf (-inf is ENEG) */

#define PWR_F32_SATURATE 1u
#define PWR_F32_STRICT 2u

/* Pack n doubles as big-endian binary32 into out (out_len >= 4n).
 * On error *bad is the index of the offending value (bad may be NULL). */
int pwr_f32_pack(const double *in, size_t n, uint8_t *out, size_t out_len,
                 unsigned flags, size_t *bad);
/* Unpack in_len / 4 values (in_len must be a multiple of 4 and out_n large
 * enough). bad may be NULL. */
int pwr_f32_unpack(const uint8_t *in, size_t in_len, double *out,
                   size_t out_n, unsigned flags, size_t *bad);

/* Return codes of pwr_tlv_walk (a count >= 0 on success), lib.PWR_TLV_*. */
#define PWR_TLV_OK 0
#define PWR_TLV_ETRUNC_HDR (-1) /* fewer than 4 octets left for a header */
#define PWR_TLV_ETRUNC_VAL (-2) /* value runs past the buffer */
#define PWR_TLV_ETRUNC_PAD (-3) /* value fits, its padding does not */
#define PWR_TLV_ETOOMANY (-4)   /* more TLVs than out can hold */

typedef struct {
    uint16_t type;
    uint16_t length;    /* value length, without padding */
    uint32_t value_off; /* offset of the value from buf */
} pwr_tlv;

/*
 * Walk the TLVs in buf[0, len). Stores at most max_out entries in out,
 * returns the count (>= 0) or a PWR_TLV_E* code with *err_off the offset
 * of the TLV at fault.
 */
int pwr_tlv_walk(const uint8_t *buf, size_t len, pwr_tlv *out,
                 size_t max_out, size_t *err_off);

#endif
