/*
 * pwr_tlv.c - see pwr_tlv.h for the invariants and the float policy.
 * Bytes are assembled with shifts, so the code is endian-independent and
 * has no unaligned or type-punned loads; memcpy moves float <-> uint32.
 */
#include "pwr_tlv.h"

#include <float.h>
#include <math.h>
#include <string.h>

static uint32_t to_be32(uint32_t u)
{
    /* the byte order of the stored uint32 must read as big-endian */
    const uint32_t one = 1;
    uint8_t little;
    memcpy(&little, &one, 1);
    if (!little)
        return u;
#if defined(__GNUC__)
    return __builtin_bswap32(u);
#else
    return (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
#endif
}

/* Slow path: find and classify the first value the policy rejects. */
static int f32_first_bad(const double *in, size_t n, unsigned flags,
                         size_t *bad)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double v = in[i];
        *bad = i;
        if (v != v)
            return PWR_F32_ENAN;
        if (v < 0.0)
            return PWR_F32_ENEG;
        if (v > FLT_MAX && !(flags & PWR_F32_SATURATE))
            return PWR_F32_ERANGE;
    }
    *bad = 0;
    return PWR_F32_OK;
}

static void store_be32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u = to_be32(u);
    memcpy(p, &u, 4);
}

int pwr_f32_pack(const double *in, size_t n, uint8_t *out, size_t out_len,
                 unsigned flags, size_t *bad)
{
    size_t i, ignored;
    uint64_t limit, odd = 0;
    double fmax = FLT_MAX;
    if (!bad)
        bad = &ignored;
    *bad = 0;
    if (n > out_len / 4)
        return PWR_F32_ESPACE;
    /* One branch-free pass. Non-negative doubles order like their bit
     * patterns read as integers, so "bits > bits(FLT_MAX)" flags every
     * value outside [+0, FLT_MAX]: negatives (sign bit), -0.0, values
     * over FLT_MAX, infinities and NaNs. Flagged values are converted as
     * +0 (never out of range, which would be undefined), then the rare
     * batch holding one takes the slow path below. */
    memcpy(&limit, &fmax, 8);
    for (i = 0; i < n; i++) {
        uint64_t b;
        double v;
        memcpy(&b, in + i, 8);
        odd |= (uint64_t)(b > limit);
        b = b > limit ? 0 : b;
        memcpy(&v, &b, 8);
        store_be32(out + 4 * i, (float)v);
    }
    if (!odd)
        return PWR_F32_OK;
    {
        int rc = f32_first_bad(in, n, flags, bad);
        if (rc)
            return rc; /* out is then unspecified */
    }
    for (i = 0; i < n; i++) /* left: -0.0 (already +0) and saturation */
        if (in[i] > FLT_MAX)
            store_be32(out + 4 * i, FLT_MAX);
    return PWR_F32_OK;
}

int pwr_f32_unpack(const uint8_t *in, size_t in_len, double *out,
                   size_t out_n, unsigned flags, size_t *bad)
{
    size_t i, n = in_len / 4, ignored;
    if (!bad)
        bad = &ignored;
    *bad = 0;
    if (in_len % 4 || n > out_n)
        return PWR_F32_ESPACE;
    for (i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[4 * i] << 24 | (uint32_t)in[4 * i + 1] << 16 |
                     (uint32_t)in[4 * i + 2] << 8 | (uint32_t)in[4 * i + 3];
        float f;
        memcpy(&f, &u, 4);
        out[i] = (double)f;
        if (flags & PWR_F32_STRICT) {
            if (f != f) {
                *bad = i;
                return PWR_F32_ENAN;
            }
            if (u >> 31 && f != 0.0f) {
                *bad = i;
                return PWR_F32_ENEG;
            }
            if (isinf(f)) {
                *bad = i;
                return PWR_F32_EINF;
            }
        }
    }
    return PWR_F32_OK;
}

int pwr_tlv_walk(const uint8_t *buf, size_t len, pwr_tlv *out,
                 size_t max_out, size_t *err_off)
{
    size_t off = 0, count = 0;
    *err_off = 0;
    while (off < len) {
        size_t vlen, padded;
        if (len - off < 4) {
            *err_off = off;
            return PWR_TLV_ETRUNC_HDR;
        }
        vlen = (size_t)buf[off + 2] << 8 | buf[off + 3];
        padded = (vlen + 3) & ~(size_t)3;
        if (vlen > len - off - 4) {
            *err_off = off;
            return PWR_TLV_ETRUNC_VAL;
        }
        if (padded > len - off - 4) {
            *err_off = off;
            return PWR_TLV_ETRUNC_PAD;
        }
        if (count >= max_out) {
            *err_off = off;
            return PWR_TLV_ETOOMANY;
        }
        out[count].type = (uint16_t)(buf[off] << 8 | buf[off + 1]);
        out[count].length = (uint16_t)vlen;
        out[count].value_off = (uint32_t)(off + 4);
        count++;
        off += 4 + padded;
    }
    return (int)count;
}
