/*
 * pwr_tlv.c - see pwr_tlv.h for the invariants and the float policy.
 * Bytes are assembled with shifts, so the code is endian-independent and
 * has no unaligned or type-punned loads; memcpy moves float <-> uint32.
 */
#include "pwr_tlv.h"

#include <float.h>
#include <math.h>
#include <string.h>

int pwr_f32_pack(const double *in, size_t n, uint8_t *out, size_t out_len,
                 unsigned flags, size_t *bad)
{
    size_t i;
    *bad = 0;
    if (n > out_len / 4)
        return PWR_F32_ESPACE;
    for (i = 0; i < n; i++) {
        double v = in[i];
        float f;
        uint32_t u;
        if (v != v) {
            *bad = i;
            return PWR_F32_ENAN;
        }
        if (v < 0.0) {
            *bad = i;
            return PWR_F32_ENEG;
        }
        if (v > FLT_MAX) {
            if (!(flags & PWR_F32_SATURATE)) {
                *bad = i;
                return PWR_F32_ERANGE;
            }
            v = FLT_MAX;
        }
        f = (float)v + 0.0f; /* + 0.0f turns -0.0 into +0.0 */
        memcpy(&u, &f, 4);
        out[4 * i] = (uint8_t)(u >> 24);
        out[4 * i + 1] = (uint8_t)(u >> 16);
        out[4 * i + 2] = (uint8_t)(u >> 8);
        out[4 * i + 3] = (uint8_t)u;
    }
    return PWR_F32_OK;
}

int pwr_f32_unpack(const uint8_t *in, size_t in_len, double *out,
                   size_t out_n, unsigned flags, size_t *bad)
{
    size_t i, n = in_len / 4;
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
