#include "puma_kernels.h"
#include "half.h"

#include <math.h>
#include <string.h>

static float element(const void *src, puma_dtype dtype, size_t i) {
    const uint8_t *p = (const uint8_t *)src;
    uint32_t bits;
    uint16_t h;
    switch (dtype) {
    case PUMA_F32: memcpy(&bits, p + 4 * i, 4); break;
    case PUMA_F16: memcpy(&h, p + 2 * i, 2); return half_to_float(h);
    default: memcpy(&h, p + 2 * i, 2); bits = (uint32_t)h << 16; break;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* x·2^f is exact in double; adding ±0.5 is exact below 2^52 and beyond that x·2^f is already an
 * even integer, so truncation rounds halves away from zero like Swift's `rounded()`. */
static uint64_t encode_one(double x, double scale) {
    const double bound = 4611686018427387904.0; /* 2^62 */
    double y = x * scale;
    if (isnan(y)) return 0;
    y = trunc(y + copysign(0.5, y));
    if (y >= bound) return UINT64_C(0x3FFFFFFFFFFFFFFF);
    if (y <= -bound) return UINT64_C(0xC000000000000000);
    return (uint64_t)(int64_t)y;
}

static void to_float_portable(const void *src, puma_dtype dtype, size_t count, float *out) {
    for (size_t i = 0; i < count; ++i) out[i] = element(src, dtype, i);
}

static void encode_portable(const void *src, puma_dtype dtype, size_t count, int f, const uint64_t *a, const uint64_t *b,
                            uint64_t *out) {
    const double scale = ldexp(1.0, f);
    for (size_t i = 0; i < count; ++i) out[i] = encode_one(element(src, dtype, i), scale) - (a ? a[i] + b[i] : 0);
}

/* Per-element scales: x·scale[i] is exact in double when the scale has at most 29 significant bits
 * (a Float32 weight times 2^f: 24), so rounding is as in `encode_one`. */
static void encode_scaled_portable(const void *src, puma_dtype dtype, size_t count, const double *scale, const uint64_t *a,
                                   const uint64_t *b, uint64_t *out) {
    for (size_t i = 0; i < count; ++i) out[i] = encode_one(element(src, dtype, i), scale[i]) - (a ? a[i] + b[i] : 0);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,f16c")))

/* 16 elements of `dtype` at `p` → Float32 (masked for the tail). */
AVX512 static inline __m512 load16(const void *p, puma_dtype dtype, __mmask16 mask) {
    switch (dtype) {
    case PUMA_F32: return _mm512_maskz_loadu_ps(mask, p);
    case PUMA_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
    default: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p)), 16));
    }
}

AVX512 static void to_float_avx512(const void *src, puma_dtype dtype, size_t count, float *out) {
    const size_t size = dtype == PUMA_F32 ? 4 : 2;
    for (size_t i = 0; i < count; i += 16) {
        const __mmask16 mask = count - i >= 16 ? 0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        _mm512_mask_storeu_ps(out + i, mask, load16((const uint8_t *)src + size * i, dtype, mask));
    }
}

AVX512 static inline __m512i encode8(__m512d x, __m512d scale) {
    const __m512d bound = _mm512_set1_pd(4611686018427387904.0), half = _mm512_set1_pd(0.5);
    const __m512d signBit = _mm512_set1_pd(-0.0);
    __m512d y = _mm512_mul_pd(x, scale);
    const __mmask8 nan = _mm512_cmp_pd_mask(y, y, _CMP_UNORD_Q);
    y = _mm512_add_pd(y, _mm512_or_pd(half, _mm512_and_pd(y, signBit)));
    y = _mm512_roundscale_pd(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask8 high = _mm512_cmp_pd_mask(y, bound, _CMP_GE_OQ);
    const __mmask8 low = _mm512_cmp_pd_mask(y, _mm512_sub_pd(_mm512_setzero_pd(), bound), _CMP_LE_OQ);
    __m512i v = _mm512_cvttpd_epi64(y);
    v = _mm512_mask_mov_epi64(v, high, _mm512_set1_epi64(4611686018427387903LL));
    v = _mm512_mask_mov_epi64(v, low, _mm512_set1_epi64(-4611686018427387904LL));
    return _mm512_mask_mov_epi64(v, nan, _mm512_setzero_si512());
}

/* F16 and BF16 carry at most 11 significant bits, so in Float32 y = x·2^f is exact, y ± 0.5 is
 * exact below 2^23, and from 2^23 on y is already an integer: halves round away from zero exactly
 * as in double precision, at twice the width. Saturation at ±2^62 as in `encode_one`. */
AVX512 static inline void encode16_half(__m512 x, __m512 scale, uint64_t *out, __mmask16 mask, const uint64_t *a, const uint64_t *b) {
    const __m512 bound = _mm512_set1_ps(4611686018427387904.0f), big = _mm512_set1_ps(8388608.0f);
    const __m512 half = _mm512_set1_ps(0.5f), signBit = _mm512_set1_ps(-0.0f);
    __m512 y = _mm512_mul_ps(x, scale);
    const __mmask16 nan = _mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q);
    const __m512 magnitude = _mm512_andnot_ps(signBit, y);
    const __mmask16 fractional = _mm512_cmp_ps_mask(magnitude, big, _CMP_LT_OQ);
    const __m512 rounded = _mm512_roundscale_ps(_mm512_add_ps(y, _mm512_or_ps(half, _mm512_and_ps(y, signBit))),
                                                _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    y = _mm512_mask_mov_ps(y, fractional, rounded);
    const __mmask16 high = _mm512_cmp_ps_mask(y, bound, _CMP_GE_OQ) & ~nan;
    const __mmask16 low = _mm512_cmp_ps_mask(y, _mm512_sub_ps(_mm512_setzero_ps(), bound), _CMP_LE_OQ) & ~nan;
    for (int h = 0; h < 2; ++h) {
        const __mmask8 m = (__mmask8)(mask >> (8 * h));
        const __m256 part = h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1)) : _mm512_castps512_ps256(y);
        __m512i v = _mm512_cvttps_epi64(part);
        v = _mm512_mask_mov_epi64(v, (__mmask8)(high >> (8 * h)), _mm512_set1_epi64(4611686018427387903LL));
        v = _mm512_mask_mov_epi64(v, (__mmask8)(low >> (8 * h)), _mm512_set1_epi64(-4611686018427387904LL));
        v = _mm512_mask_mov_epi64(v, (__mmask8)(nan >> (8 * h)), _mm512_setzero_si512());
        if (a) {
            v = _mm512_sub_epi64(v, _mm512_maskz_loadu_epi64(m, a + 8 * h));
            v = _mm512_sub_epi64(v, _mm512_maskz_loadu_epi64(m, b + 8 * h));
        }
        _mm512_mask_storeu_epi64(out + 8 * h, m, v);
    }
}

AVX512 static void encode_avx512(const void *src, puma_dtype dtype, size_t count, int f, const uint64_t *a, const uint64_t *b,
                                 uint64_t *out) {
    const size_t size = dtype == PUMA_F32 ? 4 : 2;
    const __m512d scale = _mm512_set1_pd(ldexp(1.0, f));
    const __m512 scaleSingle = _mm512_set1_ps(ldexpf(1.0f, f));
    for (size_t i = 0; i < count; i += 16) {
        const size_t left = count - i;
        const __mmask16 mask = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 x = load16((const uint8_t *)src + size * i, dtype, mask);
        if (dtype != PUMA_F32) {
            encode16_half(x, scaleSingle, out + i, mask, a ? a + i : NULL, b ? b + i : NULL);
            continue;
        }
        __m512i lo = encode8(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), scale);
        __m512i hi = encode8(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))), scale);
        if (a) {
            lo = _mm512_sub_epi64(_mm512_sub_epi64(lo, _mm512_maskz_loadu_epi64((__mmask8)mask, a + i)), _mm512_maskz_loadu_epi64((__mmask8)mask, b + i));
            hi = _mm512_sub_epi64(_mm512_sub_epi64(hi, _mm512_maskz_loadu_epi64((__mmask8)(mask >> 8), a + i + 8)),
                                  _mm512_maskz_loadu_epi64((__mmask8)(mask >> 8), b + i + 8));
        }
        _mm512_mask_storeu_epi64(out + i, (__mmask8)mask, lo);
        _mm512_mask_storeu_epi64(out + i + 8, (__mmask8)(mask >> 8), hi);
    }
}

AVX512 static void encode_scaled_avx512(const void *src, puma_dtype dtype, size_t count, const double *scale, const uint64_t *a,
                                        const uint64_t *b, uint64_t *out) {
    const size_t size = dtype == PUMA_F32 ? 4 : 2;
    for (size_t i = 0; i < count; i += 16) {
        const size_t left = count - i;
        const __mmask16 mask = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 x = load16((const uint8_t *)src + size * i, dtype, mask);
        for (int h = 0; h < 2; ++h) {
            const __mmask8 m = (__mmask8)(mask >> (8 * h));
            const __m256 part = h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)) : _mm512_castps512_ps256(x);
            __m512i v = encode8(_mm512_cvtps_pd(part), _mm512_maskz_loadu_pd(m, scale + i + 8 * h));
            if (a) v = _mm512_sub_epi64(_mm512_sub_epi64(v, _mm512_maskz_loadu_epi64(m, a + i + 8 * h)), _mm512_maskz_loadu_epi64(m, b + i + 8 * h));
            _mm512_mask_storeu_epi64(out + i + 8 * h, m, v);
        }
    }
}
#endif

void puma_encode_fixed_scaled_minus(const void *src, puma_dtype dtype, size_t count, const double *scale, const uint64_t *a,
                                    const uint64_t *b, uint64_t *out) {
#if defined(__x86_64__)
    if (puma_kernel_level() && __builtin_cpu_supports("f16c")) { encode_scaled_avx512(src, dtype, count, scale, a, b, out); return; }
#endif
    encode_scaled_portable(src, dtype, count, scale, a, b, out);
}

void puma_to_float(const void *src, puma_dtype dtype, size_t count, float *out) {
#if defined(__x86_64__)
    if (puma_kernel_level() && __builtin_cpu_supports("f16c")) { to_float_avx512(src, dtype, count, out); return; }
#endif
    to_float_portable(src, dtype, count, out);
}

static void encode(const void *src, puma_dtype dtype, size_t count, int f, const uint64_t *a, const uint64_t *b, uint64_t *out) {
#if defined(__x86_64__)
    if (puma_kernel_level() && __builtin_cpu_supports("f16c")) { encode_avx512(src, dtype, count, f, a, b, out); return; }
#endif
    encode_portable(src, dtype, count, f, a, b, out);
}

void puma_encode_fixed(const void *src, puma_dtype dtype, size_t count, int fractional_bits, uint64_t *out) {
    encode(src, dtype, count, fractional_bits, NULL, NULL, out);
}

void puma_encode_fixed_minus(const void *src, puma_dtype dtype, size_t count, int fractional_bits, const uint64_t *a,
                             const uint64_t *b, uint64_t *out) {
    encode(src, dtype, count, fractional_bits, a, b, out);
}

/* Float32 → binary16, round to nearest even (overflow → infinity, NaN stays NaN). */
static uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t magnitude = x & 0x7FFFFFFF;
    if (magnitude > 0x7F800000) return (uint16_t)(sign | 0x7E00);
    if (magnitude >= 0x477FF000) return (uint16_t)(sign | 0x7C00); /* rounds beyond 65504 */
    if (magnitude < 0x38800000) {                                  /* below 2^-14: subnormal or zero */
        if (magnitude < 0x33000000) return (uint16_t)sign;         /* below half the smallest subnormal */
        const uint32_t mantissa = (magnitude & 0x7FFFFF) | 0x800000;
        const int shift = 126 - (int)(magnitude >> 23);            /* 2^-24 units */
        const uint32_t remainder = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        uint32_t result = mantissa >> shift;
        if (remainder > halfway || (remainder == halfway && (result & 1))) ++result;
        return (uint16_t)(sign | result);
    }
    uint32_t h = ((magnitude - 0x38000000) >> 13);
    const uint32_t remainder = magnitude & 0x1FFF;
    if (remainder > 0x1000 || (remainder == 0x1000 && (h & 1))) ++h;
    return (uint16_t)(sign | h);
}

void puma_random_normal_f16(const puma_aes128_schedule *schedule, uint64_t stream, uint64_t offset, size_t count,
                            float deviation, uint16_t *out) {
    uint64_t words[256];
    /* Irwin–Hall: the sum of four 16-bit uniforms on [0, 1), centred and scaled to unit variance. */
    const float scale = deviation * 1.7320508f / 65536.0f; /* σ · √(12/4) per 16-bit unit */
    for (size_t done = 0; done < count; done += 256) {
        const size_t n = count - done < 256 ? count - done : 256;
        puma_prg_words(schedule, stream, offset + done, words, n);
        for (size_t i = 0; i < n; ++i) {
            const uint64_t w = words[i];
            const float sum = (float)(w & 0xFFFF) + (float)((w >> 16) & 0xFFFF) + (float)((w >> 32) & 0xFFFF) + (float)(w >> 48);
            out[done + i] = float_to_half((sum - 2.0f * 65535.0f) * scale);
        }
    }
}

void puma_prefetch(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 2);
    if (bytes) __builtin_prefetch(c + bytes - 1, 0, 2);
}

/* Magnitude codes of 65536.0 (2^16) in each format: a value is out of range when its bits without
   the sign are at least this (NaN and ±Inf included, as their exponents are all ones). */
#define LIMIT_F32 0x47800000u
#define LIMIT_BF16 0x4780u
#define LIMIT_F16 0x7c00u /* F16's largest finite value, 65504, is below 2^16: only Inf/NaN fail */

static int block_out_of_range(const void *src, puma_dtype dtype, size_t begin, size_t end) {
    unsigned bad = 0;
    if (dtype == PUMA_F32) {
        const uint32_t *p = (const uint32_t *)src;
        for (size_t i = begin; i < end; i++) bad |= (p[i] & 0x7fffffffu) >= LIMIT_F32;
    } else {
        const uint16_t *p = (const uint16_t *)src;
        const uint16_t limit = dtype == PUMA_F16 ? LIMIT_F16 : LIMIT_BF16;
        for (size_t i = begin; i < end; i++) bad |= (uint16_t)(p[i] & 0x7fffu) >= limit;
    }
    return bad != 0;
}

ptrdiff_t puma_first_out_of_range(const void *src, puma_dtype dtype, size_t count) {
    const size_t block = 4096;
    for (size_t begin = 0; begin < count; begin += block) {
        size_t end = begin + block < count ? begin + block : count;
        if (!block_out_of_range(src, dtype, begin, end)) continue;
        for (size_t i = begin; i < end; i++)
            if (block_out_of_range(src, dtype, i, i + 1)) return (ptrdiff_t)i;
    }
    return -1;
}
