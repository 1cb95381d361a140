#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct spm_handle {
    sentencepiece::SentencePieceProcessor processor;
};

static void write_error(char *error, size_t capacity, const std::string &message) {
    if (error == nullptr || capacity == 0) return;
    size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

static int copy_out(const std::string &s, char **text, size_t *length) {
    char *buffer = static_cast<char *>(std::malloc(s.size() + 1));
    if (buffer == nullptr) return -1;
    std::memcpy(buffer, s.data(), s.size());
    buffer[s.size()] = '\0';
    *text = buffer;
    *length = s.size();
    return 0;
}

// SentencePiece reports failures as a status or, for some inputs (e.g. a directory), by throwing:
// every path out of `load` is caught and turned into one plain message (the library's internal
// status text names source lines and protobuf calls, not the problem).
template <typename Loader>
static spm_handle *load(Loader loader, char *error, size_t error_capacity) {
    spm_handle *handle = nullptr;
    try {
        handle = new spm_handle();
        if (loader(handle->processor).ok()) return handle;
        write_error(error, error_capacity, "not a valid SentencePiece model");
    } catch (const std::bad_alloc &) {
        write_error(error, error_capacity, "out of memory");
    } catch (...) {
        write_error(error, error_capacity, "not a valid SentencePiece model");
    }
    delete handle;
    return nullptr;
}

extern "C" {

spm_handle *spm_load(const char *path, char *error, size_t error_capacity) {
    return load([&](sentencepiece::SentencePieceProcessor &p) { return p.Load(path); }, error, error_capacity);
}

spm_handle *spm_load_serialized(const char *data, size_t length, char *error, size_t error_capacity) {
    return load([&](sentencepiece::SentencePieceProcessor &p) { return p.LoadFromSerializedProto(absl::string_view(data, length)); },
                error, error_capacity);
}

void spm_free(spm_handle *handle) { delete handle; }

int32_t spm_piece_count(const spm_handle *h) { return h->processor.GetPieceSize(); }
int32_t spm_bos_id(const spm_handle *h) { return h->processor.bos_id(); }
int32_t spm_eos_id(const spm_handle *h) { return h->processor.eos_id(); }
int32_t spm_unk_id(const spm_handle *h) { return h->processor.unk_id(); }

static bool in_range(const spm_handle *h, int32_t id) {
    return id >= 0 && id < h->processor.GetPieceSize();
}

int spm_is_byte(const spm_handle *h, int32_t id) { return in_range(h, id) && h->processor.IsByte(id); }

float spm_score(const spm_handle *h, int32_t id) { return in_range(h, id) ? h->processor.GetScore(id) : 0; }

int spm_piece_type(const spm_handle *h, int32_t id) {
    if (!in_range(h, id)) return 0;
    if (h->processor.IsUnknown(id)) return 2;
    if (h->processor.IsControl(id)) return 3;
    if (h->processor.IsUnused(id)) return 5;
    if (h->processor.IsByte(id)) return 6;
    return 1;
}

int spm_encode(const spm_handle *h, const char *text, size_t length, int32_t **ids, size_t *count) try {
    std::vector<int> out;
    const auto status = h->processor.Encode(std::string(text, length), &out);
    if (!status.ok()) return -1;
    int32_t *buffer = static_cast<int32_t *>(std::malloc(sizeof(int32_t) * (out.size() + 1)));
    if (buffer == nullptr) return -1;
    for (size_t i = 0; i < out.size(); ++i) buffer[i] = out[i];
    *ids = buffer;
    *count = out.size();
    return 0;
} catch (...) {
    return -1;
}

int spm_decode(const spm_handle *h, const int32_t *ids, size_t count, char **text, size_t *length) try {
    std::vector<int> in(count);
    for (size_t i = 0; i < count; ++i) {
        if (!in_range(h, ids[i])) return -1;
        in[i] = ids[i];
    }
    std::string out;
    const auto status = h->processor.Decode(in, &out);
    if (!status.ok()) return -1;
    return copy_out(out, text, length);
} catch (...) {
    return -1;
}

int spm_id_to_piece(const spm_handle *h, int32_t id, char **text, size_t *length) try {
    if (!in_range(h, id)) return -1;
    return copy_out(h->processor.IdToPiece(id), text, length);
} catch (...) {
    return -1;
}

void spm_free_buffer(void *buffer) { std::free(buffer); }

}
