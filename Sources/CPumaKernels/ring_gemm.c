#include "puma_kernels.h"

#include <stdatomic.h>

/* Wrapping 64-bit arithmetic: unsigned overflow is defined in C, which is exactly Z_2^64. */

static atomic_int level_cap = 1;

void puma_set_kernel_level(int level) { atomic_store(&level_cap, level > 0 ? 1 : 0); }

static int avx512_available(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

int puma_kernel_level(void) { return atomic_load(&level_cap) && avx512_available() ? 1 : 0; }

/* MARK: Portable paths */

static void ring_nt_portable(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                             size_t m, size_t n, size_t k) {
    for (size_t i = 0; i < m; ++i) {
        const uint64_t *ai = a + i * lda;
        for (size_t j = 0; j < n; ++j) {
            const uint64_t *bj = b + j * ldb;
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                s0 += ai[p] * bj[p];
                s1 += ai[p + 1] * bj[p + 1];
                s2 += ai[p + 2] * bj[p + 2];
                s3 += ai[p + 3] * bj[p + 3];
            }
            for (; p < k; ++p) s0 += ai[p] * bj[p];
            c[i * ldc + j] += s0 + s1 + s2 + s3;
        }
    }
}

static void ring_nn_portable(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                             size_t m, size_t n, size_t k) {
    for (size_t i = 0; i < m; ++i) {
        uint64_t *ci = c + i * ldc;
        for (size_t p = 0; p < k; ++p) {
            const uint64_t aip = a[i * lda + p];
            const uint64_t *bp = b + p * ldb;
            for (size_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
        }
    }
}

static void float_nt_portable(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                              size_t m, size_t n, size_t k) {
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            const float *ai = a + i * lda, *bj = b + j * ldb;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                s0 += ai[p] * bj[p]; s1 += ai[p + 1] * bj[p + 1]; s2 += ai[p + 2] * bj[p + 2]; s3 += ai[p + 3] * bj[p + 3];
            }
            for (; p < k; ++p) s0 += ai[p] * bj[p];
            c[i * ldc + j] += (s0 + s1) + (s2 + s3);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
#define TILE AVX512 __attribute__((always_inline)) static inline

/* MARK: Ring A·Bᵀ — an MR×NR block of C as dot products along k, 8 lanes at a time: MR·NR
 * accumulators, MR + NR loads per MR·NR vpmullq. The k tail uses masked loads. */
TILE void ring_nt_tile(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t k, const int mr, const int nr) {
    __m512i acc[4][4];
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) acc[i][j] = _mm512_setzero_si512();
    size_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m512i av[4];
        for (int i = 0; i < mr; ++i) av[i] = _mm512_loadu_si512((const void *)(a + i * lda + p));
        for (int j = 0; j < nr; ++j) {
            const __m512i bv = _mm512_loadu_si512((const void *)(b + j * ldb + p));
            for (int i = 0; i < mr; ++i) acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_mullo_epi64(av[i], bv));
        }
    }
    if (p < k) {
        const __mmask8 mask = (__mmask8)((1u << (k - p)) - 1);
        __m512i av[4];
        for (int i = 0; i < mr; ++i) av[i] = _mm512_maskz_loadu_epi64(mask, a + i * lda + p);
        for (int j = 0; j < nr; ++j) {
            const __m512i bv = _mm512_maskz_loadu_epi64(mask, b + j * ldb + p);
            for (int i = 0; i < mr; ++i) acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_mullo_epi64(av[i], bv));
        }
    }
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) c[i * ldc + j] += (uint64_t)_mm512_reduce_add_epi64(acc[i][j]);
}

/* The A·Bᵀ driver around a tile kernel TILE(a, lda, b, ldb, c, ldc, k, mr, nr) on element type T:
 * rows of B outermost (4 at a time), all rows of A inside, so B — the large operand — streams from
 * memory once while A (a few activation rows) stays in cache. Every (mr, nr) ≤ (4, 4) is its own
 * fully unrolled instance. */
#define NT_COLUMNS(NAME, T, TILE, NR)                                                                \
    AVX512 static void NAME##_columns##NR(const T *a, size_t lda, const T *b, size_t ldb, T *c,     \
                                          size_t ldc, size_t m, size_t k) {                        \
        size_t i = 0;                                                                              \
        for (; i + 4 <= m; i += 4) TILE(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, 4, NR);     \
        switch (m - i) {                                                                           \
        case 3: TILE(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, 3, NR); break;                 \
        case 2: TILE(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, 2, NR); break;                 \
        case 1: TILE(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, 1, NR); break;                 \
        }                                                                                          \
    }
#define NT_DRIVER(NAME, T, TILE)                                                                     \
    NT_COLUMNS(NAME, T, TILE, 1)                                                                     \
    NT_COLUMNS(NAME, T, TILE, 2)                                                                     \
    NT_COLUMNS(NAME, T, TILE, 3)                                                                     \
    NT_COLUMNS(NAME, T, TILE, 4)                                                                     \
    AVX512 static void NAME(const T *a, size_t lda, const T *b, size_t ldb, T *c, size_t ldc,       \
                            size_t m, size_t n, size_t k) {                                        \
        size_t j = 0;                                                                              \
        for (; j + 4 <= n; j += 4) NAME##_columns4(a, lda, b + j * ldb, ldb, c + j, ldc, m, k);    \
        switch (n - j) {                                                                           \
        case 3: NAME##_columns3(a, lda, b + j * ldb, ldb, c + j, ldc, m, k); break;                \
        case 2: NAME##_columns2(a, lda, b + j * ldb, ldb, c + j, ldc, m, k); break;                \
        case 1: NAME##_columns1(a, lda, b + j * ldb, ldb, c + j, ldc, m, k); break;                \
        }                                                                                          \
    }

NT_DRIVER(ring_nt_avx512, uint64_t, ring_nt_tile)

/* MARK: Ring A·B — MR rows of C × 32 columns (4 vectors) per tile: broadcast a[i][p], multiply the
 * row p of B; the column tail uses masked loads and stores. */
TILE void ring_nn_tile(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t k, size_t width, const int mr) {
    __mmask8 masks[4];
    for (int v = 0; v < 4; ++v) {
        size_t left = width > (size_t)(8 * v) ? width - 8 * v : 0;
        masks[v] = left >= 8 ? 0xFF : (__mmask8)((1u << left) - 1);
    }
    __m512i acc[4][4];
    for (int i = 0; i < mr; ++i)
        for (int v = 0; v < 4; ++v) acc[i][v] = _mm512_maskz_loadu_epi64(masks[v], c + i * ldc + 8 * v);
    for (size_t p = 0; p < k; ++p) {
        __m512i bv[4];
        for (int v = 0; v < 4; ++v) bv[v] = _mm512_maskz_loadu_epi64(masks[v], b + p * ldb + 8 * v);
        for (int i = 0; i < mr; ++i) {
            const __m512i av = _mm512_set1_epi64((long long)a[i * lda + p]);
            for (int v = 0; v < 4; ++v) acc[i][v] = _mm512_add_epi64(acc[i][v], _mm512_mullo_epi64(av, bv[v]));
        }
    }
    for (int i = 0; i < mr; ++i)
        for (int v = 0; v < 4; ++v) _mm512_mask_storeu_epi64(c + i * ldc + 8 * v, masks[v], acc[i][v]);
}

AVX512 static void ring_nn_avx512(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                                  size_t m, size_t n, size_t k) {
    for (size_t j = 0; j < n; j += 32) {
        const size_t width = n - j < 32 ? n - j : 32;
        size_t i = 0;
        for (; i + 4 <= m; i += 4) ring_nn_tile(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, k, width, 4);
        switch (m - i) {
        case 3: ring_nn_tile(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, k, width, 3); break;
        case 2: ring_nn_tile(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, k, width, 2); break;
        case 1: ring_nn_tile(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, k, width, 1); break;
        }
    }
}

/* MARK: Float A·Bᵀ — the same blocking as the ring kernel, 16 lanes and FMA. */
TILE void float_nt_tile(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                        size_t k, const int mr, const int nr) {
    __m512 acc[4][4];
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) acc[i][j] = _mm512_setzero_ps();
    size_t p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 av[4];
        for (int i = 0; i < mr; ++i) av[i] = _mm512_loadu_ps(a + i * lda + p);
        for (int j = 0; j < nr; ++j) {
            const __m512 bv = _mm512_loadu_ps(b + j * ldb + p);
            for (int i = 0; i < mr; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
        }
    }
    if (p < k) {
        const __mmask16 mask = (__mmask16)((1u << (k - p)) - 1);
        __m512 av[4];
        for (int i = 0; i < mr; ++i) av[i] = _mm512_maskz_loadu_ps(mask, a + i * lda + p);
        for (int j = 0; j < nr; ++j) {
            const __m512 bv = _mm512_maskz_loadu_ps(mask, b + j * ldb + p);
            for (int i = 0; i < mr; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
        }
    }
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) c[i * ldc + j] += _mm512_reduce_add_ps(acc[i][j]);
}

NT_DRIVER(float_nt_avx512, float, float_nt_tile)
#endif

void puma_ring_gemm_nt(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t m, size_t n, size_t k) {
#if defined(__x86_64__)
    if (puma_kernel_level()) { ring_nt_avx512(a, lda, b, ldb, c, ldc, m, n, k); return; }
#endif
    ring_nt_portable(a, lda, b, ldb, c, ldc, m, n, k);
}

void puma_ring_gemm_nn(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t m, size_t n, size_t k) {
#if defined(__x86_64__)
    if (puma_kernel_level()) { ring_nn_avx512(a, lda, b, ldb, c, ldc, m, n, k); return; }
#endif
    ring_nn_portable(a, lda, b, ldb, c, ldc, m, n, k);
}

void puma_float_gemm_nt(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                        size_t m, size_t n, size_t k) {
#if defined(__x86_64__)
    if (puma_kernel_level()) { float_nt_avx512(a, lda, b, ldb, c, ldc, m, n, k); return; }
#endif
    float_nt_portable(a, lda, b, ldb, c, ldc, m, n, k);
}
