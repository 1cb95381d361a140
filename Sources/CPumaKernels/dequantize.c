/* Dequantization of llama.cpp's block formats (GGUF tensors) to Float32, element for element equal to
 * the reference `gguf` Python package (gguf-py `quants.py`, itself equal to ggml's `dequantize_row_*`):
 * the same products in the same order, in single precision, never fused. Each has an AVX-512 version
 * chosen at run time (16 elements per instruction). */
#include "puma_kernels.h"
#include "half.h"

#include <string.h>

#pragma clang fp contract(off)

/* The little-endian binary16 at `p`, widened. */
static float half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

size_t puma_dtype_block_elements(puma_dtype dtype) {
    switch (dtype) {
    case PUMA_F32: case PUMA_F16: case PUMA_BF16: return 1;
    case PUMA_Q8_0: case PUMA_Q4_0: case PUMA_Q4_1: return 32;
    case PUMA_Q4_K: case PUMA_Q5_K: case PUMA_Q6_K: return 256;
    }
    return 0;
}

size_t puma_dtype_block_bytes(puma_dtype dtype) {
    switch (dtype) {
    case PUMA_F32: return 4;
    case PUMA_F16: case PUMA_BF16: return 2;
    case PUMA_Q8_0: return 34;   /* f16 d, int8 q[32] */
    case PUMA_Q4_0: return 18;   /* f16 d, 4-bit q[32] */
    case PUMA_Q4_1: return 20;   /* f16 d, f16 m, 4-bit q[32] */
    case PUMA_Q4_K: return 144;  /* f16 d, f16 dmin, 6-bit scales and mins [8+8], 4-bit q[256] */
    case PUMA_Q5_K: return 176;  /* as Q4_K, plus the fifth bits qh[32] */
    case PUMA_Q6_K: return 210;  /* 4-bit ql[128], 2-bit qh[64], int8 scales[16], f16 d */
    }
    return 0;
}

/* The 6-bit scale and min of sub-block j (0…7) of a Q4_K/Q5_K block's 12 packed scale bytes. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void q8_0(const uint8_t *b, float *y) {
    const float d = half(b);
    for (int i = 0; i < 32; ++i) y[i] = (float)(int8_t)b[2 + i] * d;
}

static void q4_0(const uint8_t *b, float *y) {
    const float d = half(b);
    for (int i = 0; i < 16; ++i) {
        y[i] = d * (float)((int)(b[2 + i] & 0xF) - 8);
        y[i + 16] = d * (float)((int)(b[2 + i] >> 4) - 8);
    }
}

static void q4_1(const uint8_t *b, float *y) {
    const float d = half(b), m = half(b + 2);
    for (int i = 0; i < 16; ++i) {
        y[i] = d * (float)(b[4 + i] & 0xF) + m;
        y[i + 16] = d * (float)(b[4 + i] >> 4) + m;
    }
}

static void q4_k(const uint8_t *b, float *y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0; j < 8; j += 2, q += 32) {
        uint8_t sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        scale_min_k4(j + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (float)(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (float)(q[l] >> 4) - m2;
    }
}

static void q5_k(const uint8_t *b, float *y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    for (int j = 0; j < 8; j += 2, ql += 32) {
        uint8_t sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        scale_min_k4(j + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (float)((ql[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (float)((ql[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
    }
}

static void q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = half(b + 208);
    for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = (d * (float)sc[is + 0]) * (float)q1;
            y[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            y[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            y[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* AVX-512 versions of the commonest block formats: the same products, in the same order, one lane per
 * element (no fused multiply-add), so equal bit for bit to the portable ones. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/* 16 unsigned bytes → 16 floats. */
AVX512 static inline __m512 u8_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)); }

AVX512 static void q8_0_avx512(const uint8_t *b, float *y) {
    const __m512 d = _mm512_set1_ps(half(b));
    for (int i = 0; i < 32; i += 16) {
        const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2 + i))));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(q, d));
    }
}

AVX512 static void q4_0_avx512(const uint8_t *b, float *y) {
    const __m512 d = _mm512_set1_ps(half(b));
    const __m128i q = _mm_loadu_si128((const __m128i *)(b + 2)), nibble = _mm_set1_epi8(0x0F);
    const __m512i eight = _mm512_set1_epi32(8);
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(q, nibble)), eight));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), nibble)), eight));
    _mm512_storeu_ps(y, _mm512_mul_ps(d, lo));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, hi));
}

AVX512 static void q4_1_avx512(const uint8_t *b, float *y) {
    const __m512 d = _mm512_set1_ps(half(b)), m = _mm512_set1_ps(half(b + 2));
    const __m128i q = _mm_loadu_si128((const __m128i *)(b + 4)), nibble = _mm_set1_epi8(0x0F);
    _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(d, u8_ps(_mm_and_si128(q, nibble))), m));
    _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(d, u8_ps(_mm_and_si128(_mm_srli_epi16(q, 4), nibble))), m));
}

AVX512 static void q4_k_avx512(const uint8_t *b, float *y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    const __m128i nibble = _mm_set1_epi8(0x0F);
    for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
        uint8_t sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const __m512 d1 = _mm512_set1_ps(d * (float)sc), m1 = _mm512_set1_ps(dmin * (float)m);
        scale_min_k4(j + 1, scales, &sc, &m);
        const __m512 d2 = _mm512_set1_ps(d * (float)sc), m2 = _mm512_set1_ps(dmin * (float)m);
        for (int l = 0; l < 32; l += 16) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(q + l));
            _mm512_storeu_ps(y + l, _mm512_sub_ps(_mm512_mul_ps(d1, u8_ps(_mm_and_si128(v, nibble))), m1));
            _mm512_storeu_ps(y + 32 + l, _mm512_sub_ps(_mm512_mul_ps(d2, u8_ps(_mm_and_si128(_mm_srli_epi16(v, 4), nibble))), m2));
        }
    }
}

AVX512 static void q5_k_avx512(const uint8_t *b, float *y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    const __m128i nibble = _mm_set1_epi8(0x0F), one = _mm_set1_epi8(1);
    for (int j = 0; j < 8; j += 2, ql += 32, y += 64) {
        uint8_t sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const __m512 d1 = _mm512_set1_ps(d * (float)sc), m1 = _mm512_set1_ps(dmin * (float)m);
        scale_min_k4(j + 1, scales, &sc, &m);
        const __m512 d2 = _mm512_set1_ps(d * (float)sc), m2 = _mm512_set1_ps(dmin * (float)m);
        for (int l = 0; l < 32; l += 16) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(ql + l)), h = _mm_loadu_si128((const __m128i *)(qh + l));
            /* Bit j (j + 1) of qh is the fifth bit of the low (high) nibble's value: shift it to bit 4. */
            const __m128i h1 = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, j), one), 4);
            const __m128i h2 = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, j + 1), one), 4);
            _mm512_storeu_ps(y + l, _mm512_sub_ps(_mm512_mul_ps(d1, u8_ps(_mm_or_si128(_mm_and_si128(v, nibble), h1))), m1));
            _mm512_storeu_ps(y + 32 + l, _mm512_sub_ps(_mm512_mul_ps(d2, u8_ps(_mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 4), nibble), h2))), m2));
        }
    }
}

AVX512 static void q6_k_avx512(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = half(b + 208);
    const __m128i nibble = _mm_set1_epi8(0x0F), two = _mm_set1_epi8(3);
    const __m512i bias = _mm512_set1_epi32(32);
    for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l += 16) {
            const int is = l / 16;
            const __m128i a = _mm_loadu_si128((const __m128i *)(ql + l)), c = _mm_loadu_si128((const __m128i *)(ql + l + 32));
            const __m128i h = _mm_loadu_si128((const __m128i *)(qh + l));
            const __m128i parts[4] = {
                _mm_or_si128(_mm_and_si128(a, nibble), _mm_slli_epi16(_mm_and_si128(h, two), 4)),
                _mm_or_si128(_mm_and_si128(c, nibble), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 2), two), 4)),
                _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), nibble), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 4), two), 4)),
                _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), nibble), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 6), two), 4)),
            };
            for (int k = 0; k < 4; ++k) {
                const __m512 q = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(parts[k]), bias));
                _mm512_storeu_ps(y + 32 * k + l, _mm512_mul_ps(_mm512_set1_ps(d * (float)sc[is + 2 * k]), q));
            }
        }
    }
}
#endif

void puma_dequantize(const void *src, puma_dtype dtype, size_t blocks, float *out) {
    const uint8_t *p = (const uint8_t *)src;
    const size_t bytes = puma_dtype_block_bytes(dtype), elements = puma_dtype_block_elements(dtype);
    int vector = 0;
#if defined(__x86_64__)
    vector = puma_kernel_level() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#define PICK(f) (vector ? f##_avx512 : f)
#else
#define PICK(f) f
#endif
    void (*one)(const uint8_t *, float *) = NULL;
    switch (dtype) {
    case PUMA_F32: case PUMA_F16: case PUMA_BF16: puma_to_float(src, dtype, blocks, out); return;
    case PUMA_Q8_0: one = PICK(q8_0); break;
    case PUMA_Q4_0: one = PICK(q4_0); break;
    case PUMA_Q4_1: one = PICK(q4_1); break;
    case PUMA_Q4_K: one = PICK(q4_k); break;
    case PUMA_Q5_K: one = PICK(q5_k); break;
    case PUMA_Q6_K: one = PICK(q6_k); break;
    }
#undef PICK
    (void)vector;
    for (size_t i = 0; i < blocks; ++i) one(p + i * bytes, out + i * elements);
}
