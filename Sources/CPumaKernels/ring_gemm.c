#include "puma_kernels.h"

/* Wrapping 64-bit arithmetic: unsigned overflow is defined in C, which is exactly Z_2^64. */
void puma_ring_gemm(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t m, size_t k, size_t n,
                    int bTransposed, size_t rowBegin, size_t rowEnd) {
    (void)m;
    if (bTransposed) {
        for (size_t i = rowBegin; i < rowEnd; ++i) {
            const uint64_t *ai = a + i * k;
            for (size_t j = 0; j < n; ++j) {
                const uint64_t *bj = b + j * k;
                uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                size_t p = 0;
                for (; p + 4 <= k; p += 4) {
                    s0 += ai[p] * bj[p];
                    s1 += ai[p + 1] * bj[p + 1];
                    s2 += ai[p + 2] * bj[p + 2];
                    s3 += ai[p + 3] * bj[p + 3];
                }
                for (; p < k; ++p) s0 += ai[p] * bj[p];
                c[i * n + j] += s0 + s1 + s2 + s3;
            }
        }
    } else {
        for (size_t i = rowBegin; i < rowEnd; ++i) {
            uint64_t *ci = c + i * n;
            const uint64_t *ai = a + i * k;
            for (size_t p = 0; p < k; ++p) {
                const uint64_t aip = ai[p];
                const uint64_t *bp = b + p * n;
                for (size_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
            }
        }
    }
}
