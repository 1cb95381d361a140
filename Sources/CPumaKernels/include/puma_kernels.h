// Hot kernels in C: AES-128 (the PRG behind PRSS) and the wrapping UInt64 matrix product.
#ifndef PUMA_KERNELS_H
#define PUMA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// AES-128 round keys: 11 × 16 bytes.
typedef struct { uint8_t bytes[176]; } puma_aes128_schedule;

/// Expands a 16-byte key into its round keys.
void puma_aes128_expand(const uint8_t key[16], puma_aes128_schedule *schedule);

/// AES-128-CTR keystream (NIST SP 800-38A): encrypts `blocks` successive counter blocks starting at
/// `counter` (a 128-bit big-endian integer, advanced in place) into `out` (16 × blocks bytes).
/// Uses AES-NI when the processor has it, a portable implementation otherwise.
void puma_aes128_ctr(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks);

/// The portable path alone, so tests can check it against the same vectors on any machine.
void puma_aes128_ctr_portable(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks);

/// 1 when the AES-NI path is in use.
int puma_aes_hardware(void);

/// C[m×n] += A[m×k] · B (mod 2^64), rows [rowBegin, rowEnd) only. B is [k×n] row-major, or
/// [n×k] when `bTransposed` is non-zero. Row ranges let callers split the work across threads.
void puma_ring_gemm(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t m, size_t k, size_t n,
                    int bTransposed, size_t rowBegin, size_t rowEnd);

#ifdef __cplusplus
}
#endif

#endif
