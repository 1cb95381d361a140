// C facade over sentencepiece::SentencePieceProcessor (Debian libsentencepiece-dev).
// Swift's C++ interop cannot import SentencePieceProcessor, so Swift talks to this header only.
#ifndef PUMA_SPM_SHIM_H
#define PUMA_SPM_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opaque handle to a loaded SentencePiece model.
typedef struct spm_handle spm_handle;

/// Loads `tokenizer.model` from `path`. Returns NULL on failure and writes a NUL-terminated
/// message (at most `error_capacity` bytes) into `error`.
spm_handle *spm_load(const char *path, char *error, size_t error_capacity);
/// Loads a serialized SentencePiece ModelProto (`length` bytes at `data`), as `spm_load` does a file.
spm_handle *spm_load_serialized(const char *data, size_t length, char *error, size_t error_capacity);
void spm_free(spm_handle *handle);

int32_t spm_piece_count(const spm_handle *handle);
int32_t spm_bos_id(const spm_handle *handle);
int32_t spm_eos_id(const spm_handle *handle);
int32_t spm_unk_id(const spm_handle *handle);
int spm_is_byte(const spm_handle *handle, int32_t id);
/// The piece's score (0 out of range).
float spm_score(const spm_handle *handle, int32_t id);
/// The piece's type as GGUF numbers it: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte; 0 out of range.
int spm_piece_type(const spm_handle *handle, int32_t id);

/// Encodes `length` bytes of UTF-8 `text`. On success returns 0 and a malloc'ed array in `*ids`
/// (free with spm_free_buffer) of `*count` ids; on failure returns -1.
int spm_encode(const spm_handle *handle, const char *text, size_t length, int32_t **ids, size_t *count);

/// Decodes `count` ids. On success returns 0 and a malloc'ed UTF-8 buffer in `*text` of `*length`
/// bytes (free with spm_free_buffer); returns -1 for an id outside the vocabulary or another error.
int spm_decode(const spm_handle *handle, const int32_t *ids, size_t count, char **text, size_t *length);

/// The piece string of `id` as a malloc'ed buffer (free with spm_free_buffer); -1 when out of range.
int spm_id_to_piece(const spm_handle *handle, int32_t id, char **text, size_t *length);

void spm_free_buffer(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
