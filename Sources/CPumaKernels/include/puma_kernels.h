// Hot kernels in C: AES-128-CTR (the PRG behind PRSS and the weight shares), ring and float
// matrix products, and checkpoint-dtype conversions. Each has an AVX-512 path chosen at run time
// and a portable path; `puma_set_kernel_level(0)` forces the portable one (for tests).
#ifndef PUMA_KERNELS_H
#define PUMA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the vector paths (AVX-512, AES-NI, VAES) may be used and the processor has them, else 0.
int puma_kernel_level(void);

/// Caps the kernel level: 0 forces the portable paths everywhere, 1 allows the vector ones.
void puma_set_kernel_level(int level);

// MARK: AES

/// AES-128 round keys: 11 × 16 bytes.
typedef struct { uint8_t bytes[176]; } puma_aes128_schedule;

/// Expands a 16-byte key into its round keys.
void puma_aes128_expand(const uint8_t key[16], puma_aes128_schedule *schedule);

/// AES-128-CTR keystream (NIST SP 800-38A): encrypts `blocks` successive counter blocks starting at
/// `counter` (a 128-bit big-endian integer, advanced in place) into `out` (16 × blocks bytes).
void puma_aes128_ctr(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks);

/// The same keystream from the counter block (hi, lo) — seekable: any block can be produced alone.
void puma_aes128_ctr_at(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks);

/// The portable path alone, so tests can check it against the same vectors on any machine.
void puma_aes128_ctr_portable(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks);

/// 2 with VAES (4 blocks per instruction), 1 with AES-NI, 0 on the portable path.
int puma_aes_hardware(void);

/// Words [offset, offset + count) of the stream numbered `stream`: word w is half (w mod 2) of the
/// keystream block with counter (stream, w / 2). Any range can be drawn in any order.
void puma_prg_words(const puma_aes128_schedule *schedule, uint64_t stream, uint64_t offset, uint64_t *out, size_t count);

// MARK: Matrix products (row-major, leading dimensions in elements)

/// C[m×n] += A[m×k] · B[n×k]ᵀ mod 2^64 (B holds one row of length k per output column).
void puma_ring_gemm_nt(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t m, size_t n, size_t k);

/// C[m×n] += A[m×k] · B[k×n] mod 2^64.
void puma_ring_gemm_nn(const uint64_t *a, size_t lda, const uint64_t *b, size_t ldb, uint64_t *c, size_t ldc,
                       size_t m, size_t n, size_t k);

/// C[m×n] += A[m×k] · B[n×k]ᵀ in Float32.
void puma_float_gemm_nt(const float *a, size_t lda, const float *b, size_t ldb, float *c, size_t ldc,
                        size_t m, size_t n, size_t k);

// MARK: Conversions of checkpoint data

/// Element types of checkpoint tensors: the plain ones (safetensors and GGUF), and llama.cpp's block
/// formats (GGUF), whose elements come in blocks of 32 or 256 sharing their scales.
typedef enum {
    PUMA_F32 = 0, PUMA_F16 = 1, PUMA_BF16 = 2,
    PUMA_Q8_0 = 3, PUMA_Q4_0 = 4, PUMA_Q4_1 = 5, PUMA_Q4_K = 6, PUMA_Q5_K = 7, PUMA_Q6_K = 8
} puma_dtype;

/// Elements per block of `dtype`: 1 for F32, F16 and BF16, 32 for Q8_0, Q4_0 and Q4_1, 256 for the K types.
size_t puma_dtype_block_elements(puma_dtype dtype);

/// Bytes per block of `dtype`.
size_t puma_dtype_block_bytes(puma_dtype dtype);

/// Dequantizes `blocks` whole blocks at `src` to Float32 (blocks × block-elements values), equal element
/// for element to the `gguf` Python package's `dequantize` (and so to ggml's). Any dtype.
void puma_dequantize(const void *src, puma_dtype dtype, size_t blocks, float *out);

/// The functions below take the plain dtypes only (F32, F16, BF16); block formats go through
/// `puma_dequantize` first.

/// Widens `count` little-endian elements of `dtype` to Float32.
void puma_to_float(const void *src, puma_dtype dtype, size_t count, float *out);

/// Fixed-point encodes `count` elements: round(x · 2^f) (halves away from zero), saturated to
/// [−2^62, 2^62 − 1], NaN ↦ 0 — exactly `FixedPoint.encode`.
void puma_encode_fixed(const void *src, puma_dtype dtype, size_t count, int fractional_bits, uint64_t *out);

/// out = encode(src) − a − b element-wise (mod 2^64): the third share component of `count` elements
/// whose other two are a and b, in one pass.
void puma_encode_fixed_minus(const void *src, puma_dtype dtype, size_t count, int fractional_bits, const uint64_t *a,
                             const uint64_t *b, uint64_t *out);

/// out = round(src[i]·scale[i]) − a − b element-wise (a, b may be NULL): per-element scales, e.g. a
/// Float32 weight times 2^f (at most 29 significant bits, so the product is exact in double).
void puma_encode_fixed_scaled_minus(const void *src, puma_dtype dtype, size_t count, const double *scale, const uint64_t *a,
                                    const uint64_t *b, uint64_t *out);

/// Asks for `bytes` at `p` to be brought into cache (L2) ahead of use; no effect on results.
void puma_prefetch(const void *p, size_t bytes);

/// Index of the first element that is NaN, ±Inf or of magnitude ≥ 2^16 (more than fixed point can
/// carry through a product with activations), or −1 when every element is in range.
ptrdiff_t puma_first_out_of_range(const void *src, puma_dtype dtype, size_t count);

/// Synthetic weights: `count` binary16 values ≈ N(0, deviation²) (Irwin–Hall sum of four 16-bit
/// uniforms) from words [offset, offset + count) of the seekable AES-CTR stream `stream`.
void puma_random_normal_f16(const puma_aes128_schedule *schedule, uint64_t stream, uint64_t offset, size_t count,
                            float deviation, uint16_t *out);

#ifdef __cplusplus
}
#endif

#endif
