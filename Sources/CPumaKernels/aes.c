#include "puma_kernels.h"

#include <string.h>

static const uint8_t sbox[256] = {
    0x63,0x7c,0x77,0x7b,0xf2,0x6b,0x6f,0xc5,0x30,0x01,0x67,0x2b,0xfe,0xd7,0xab,0x76,
    0xca,0x82,0xc9,0x7d,0xfa,0x59,0x47,0xf0,0xad,0xd4,0xa2,0xaf,0x9c,0xa4,0x72,0xc0,
    0xb7,0xfd,0x93,0x26,0x36,0x3f,0xf7,0xcc,0x34,0xa5,0xe5,0xf1,0x71,0xd8,0x31,0x15,
    0x04,0xc7,0x23,0xc3,0x18,0x96,0x05,0x9a,0x07,0x12,0x80,0xe2,0xeb,0x27,0xb2,0x75,
    0x09,0x83,0x2c,0x1a,0x1b,0x6e,0x5a,0xa0,0x52,0x3b,0xd6,0xb3,0x29,0xe3,0x2f,0x84,
    0x53,0xd1,0x00,0xed,0x20,0xfc,0xb1,0x5b,0x6a,0xcb,0xbe,0x39,0x4a,0x4c,0x58,0xcf,
    0xd0,0xef,0xaa,0xfb,0x43,0x4d,0x33,0x85,0x45,0xf9,0x02,0x7f,0x50,0x3c,0x9f,0xa8,
    0x51,0xa3,0x40,0x8f,0x92,0x9d,0x38,0xf5,0xbc,0xb6,0xda,0x21,0x10,0xff,0xf3,0xd2,
    0xcd,0x0c,0x13,0xec,0x5f,0x97,0x44,0x17,0xc4,0xa7,0x7e,0x3d,0x64,0x5d,0x19,0x73,
    0x60,0x81,0x4f,0xdc,0x22,0x2a,0x90,0x88,0x46,0xee,0xb8,0x14,0xde,0x5e,0x0b,0xdb,
    0xe0,0x32,0x3a,0x0a,0x49,0x06,0x24,0x5c,0xc2,0xd3,0xac,0x62,0x91,0x95,0xe4,0x79,
    0xe7,0xc8,0x37,0x6d,0x8d,0xd5,0x4e,0xa9,0x6c,0x56,0xf4,0xea,0x65,0x7a,0xae,0x08,
    0xba,0x78,0x25,0x2e,0x1c,0xa6,0xb4,0xc6,0xe8,0xdd,0x74,0x1f,0x4b,0xbd,0x8b,0x8a,
    0x70,0x3e,0xb5,0x66,0x48,0x03,0xf6,0x0e,0x61,0x35,0x57,0xb9,0x86,0xc1,0x1d,0x9e,
    0xe1,0xf8,0x98,0x11,0x69,0xd9,0x8e,0x94,0x9b,0x1e,0x87,0xe9,0xce,0x55,0x28,0xdf,
    0x8c,0xa1,0x89,0x0d,0xbf,0xe6,0x42,0x68,0x41,0x99,0x2d,0x0f,0xb0,0x54,0xbb,0x16,
};

/* The schedule is computed portably so both paths share it (FIPS-197 §5.2). */
void puma_aes128_expand(const uint8_t key[16], puma_aes128_schedule *schedule) {
    static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
    uint8_t *w = schedule->bytes;
    memcpy(w, key, 16);
    for (int i = 4; i < 44; ++i) {
        uint8_t t[4];
        memcpy(t, w + 4 * (i - 1), 4);
        if (i % 4 == 0) {
            uint8_t first = t[0];
            t[0] = (uint8_t)(sbox[t[1]] ^ rcon[i / 4 - 1]);
            t[1] = sbox[t[2]];
            t[2] = sbox[t[3]];
            t[3] = sbox[first];
        }
        for (int j = 0; j < 4; ++j) w[4 * i + j] = (uint8_t)(w[4 * (i - 4) + j] ^ t[j]);
    }
}

static void increment(uint8_t counter[16]) {
    for (int i = 15; i >= 0; --i) {
        if (++counter[i] != 0) break;
    }
}

static uint8_t xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b)); }

static void encrypt_block_portable(const uint8_t *rk, const uint8_t in[16], uint8_t out[16]) {
    uint8_t s[16];
    for (int i = 0; i < 16; ++i) s[i] = in[i] ^ rk[i];
    for (int round = 1; round <= 10; ++round) {
        uint8_t t[16];
        /* SubBytes + ShiftRows (state is column-major: byte r + 4c). */
        for (int c = 0; c < 4; ++c)
            for (int r = 0; r < 4; ++r) t[r + 4 * c] = sbox[s[r + 4 * ((c + r) % 4)]];
        if (round < 10) { /* MixColumns */
            for (int c = 0; c < 4; ++c) {
                uint8_t *col = t + 4 * c;
                uint8_t a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3], all = a0 ^ a1 ^ a2 ^ a3;
                col[0] ^= all ^ xtime(a0 ^ a1);
                col[1] ^= all ^ xtime(a1 ^ a2);
                col[2] ^= all ^ xtime(a2 ^ a3);
                col[3] ^= all ^ xtime(a3 ^ a0);
            }
        }
        for (int i = 0; i < 16; ++i) s[i] = t[i] ^ rk[16 * round + i];
    }
    memcpy(out, s, 16);
}

void puma_aes128_ctr_portable(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks) {
    for (size_t b = 0; b < blocks; ++b) {
        encrypt_block_portable(schedule->bytes, counter, out + 16 * b);
        increment(counter);
    }
}

/* Big-endian 128-bit counter ↔ (hi, lo). */
static void load_counter(const uint8_t c[16], uint64_t *hi, uint64_t *lo) {
    *hi = 0; *lo = 0;
    for (int i = 0; i < 8; ++i) { *hi = (*hi << 8) | c[i]; *lo = (*lo << 8) | c[8 + i]; }
}

static void store_counter(uint8_t c[16], uint64_t hi, uint64_t lo) {
    for (int i = 7; i >= 0; --i) { c[i] = (uint8_t)hi; hi >>= 8; c[8 + i] = (uint8_t)lo; lo >>= 8; }
}

static void ctr_at_portable(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks) {
    uint8_t counter[16];
    store_counter(counter, hi, lo);
    puma_aes128_ctr_portable(schedule, counter, out, blocks);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("aes,sse4.1")))
static void ctr_aesni(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks) {
    __m128i rk[11];
    for (int i = 0; i < 11; ++i) rk[i] = _mm_loadu_si128((const __m128i *)(schedule->bytes + 16 * i));
    const __m128i reverse = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t b = 0;
    for (; b + 8 <= blocks; b += 8) {
        __m128i x[8];
        for (int j = 0; j < 8; ++j) {
            /* Lane (lo, hi) little-endian, byte-reversed = the big-endian block (hi, lo). */
            x[j] = _mm_xor_si128(_mm_shuffle_epi8(_mm_set_epi64x((long long)hi, (long long)lo), reverse), rk[0]);
            if (++lo == 0) ++hi;
        }
        for (int r = 1; r < 10; ++r)
            for (int j = 0; j < 8; ++j) x[j] = _mm_aesenc_si128(x[j], rk[r]);
        for (int j = 0; j < 8; ++j)
            _mm_storeu_si128((__m128i *)(out + 16 * (b + j)), _mm_aesenclast_si128(x[j], rk[10]));
    }
    for (; b < blocks; ++b) {
        __m128i x = _mm_xor_si128(_mm_shuffle_epi8(_mm_set_epi64x((long long)hi, (long long)lo), reverse), rk[0]);
        if (++lo == 0) ++hi;
        for (int r = 1; r < 10; ++r) x = _mm_aesenc_si128(x, rk[r]);
        _mm_storeu_si128((__m128i *)(out + 16 * b), _mm_aesenclast_si128(x, rk[10]));
    }
}

/* VAES: four blocks per 512-bit register, eight registers in flight (32 blocks per step). */
__attribute__((target("avx512f,avx512bw,vaes,aes,sse4.1")))
static void ctr_vaes(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks) {
    __m512i rk[11];
    for (int i = 0; i < 11; ++i) rk[i] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(schedule->bytes + 16 * i)));
    const __m512i reverse = _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i step = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
    size_t b = 0;
    /* Vector counters need no carry into hi inside a step of 32 blocks. */
    while (b + 32 <= blocks && lo <= UINT64_MAX - 32) {
        __m512i ctr = _mm512_set_epi64((long long)hi, (long long)(lo + 3), (long long)hi, (long long)(lo + 2),
                                       (long long)hi, (long long)(lo + 1), (long long)hi, (long long)lo);
        __m512i x[8];
        for (int j = 0; j < 8; ++j) {
            x[j] = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, reverse), rk[0]);
            ctr = _mm512_add_epi64(ctr, step);
        }
        for (int r = 1; r < 10; ++r)
            for (int j = 0; j < 8; ++j) x[j] = _mm512_aesenc_epi128(x[j], rk[r]);
        for (int j = 0; j < 8; ++j)
            _mm512_storeu_si512((void *)(out + 16 * (b + 4 * j)), _mm512_aesenclast_epi128(x[j], rk[10]));
        b += 32;
        lo += 32;
    }
    if (b < blocks) ctr_aesni(schedule, hi, lo, out + 16 * b, blocks - b);
}

static int aesni_available(void) { return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1"); }
static int vaes_available(void) {
    return aesni_available() && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

int puma_aes_hardware(void) {
    if (puma_kernel_level() < 1) return 0;
    return vaes_available() ? 2 : aesni_available();
}

void puma_aes128_ctr_at(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks) {
    switch (puma_aes_hardware()) {
    case 2: ctr_vaes(schedule, hi, lo, out, blocks); break;
    case 1: ctr_aesni(schedule, hi, lo, out, blocks); break;
    default: ctr_at_portable(schedule, hi, lo, out, blocks);
    }
}
#else
int puma_aes_hardware(void) { return 0; }

void puma_aes128_ctr_at(const puma_aes128_schedule *schedule, uint64_t hi, uint64_t lo, uint8_t *out, size_t blocks) {
    ctr_at_portable(schedule, hi, lo, out, blocks);
}
#endif

void puma_aes128_ctr(const puma_aes128_schedule *schedule, uint8_t counter[16], uint8_t *out, size_t blocks) {
    uint64_t hi, lo;
    load_counter(counter, &hi, &lo);
    puma_aes128_ctr_at(schedule, hi, lo, out, blocks);
    uint64_t next = lo + blocks;
    if (next < lo) ++hi;
    store_counter(counter, hi, next);
}

void puma_prg_words(const puma_aes128_schedule *schedule, uint64_t stream, uint64_t offset, uint64_t *out, size_t count) {
    if (count == 0) return;
    uint64_t block = offset / 2;
    if (offset % 2) {
        uint64_t pair[2];
        puma_aes128_ctr_at(schedule, stream, block++, (uint8_t *)pair, 1);
        *out++ = pair[1];
        --count;
    }
    size_t whole = count / 2;
    if (whole) puma_aes128_ctr_at(schedule, stream, block, (uint8_t *)out, whole);
    if (count % 2) {
        uint64_t pair[2];
        puma_aes128_ctr_at(schedule, stream, block + whole, (uint8_t *)pair, 1);
        out[count - 1] = pair[0];
    }
}
