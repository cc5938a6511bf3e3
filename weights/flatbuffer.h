// A tiny, bounds-checked FlatBuffers reader: just enough to walk a TFLite file without the FlatBuffers library.
//
// Every read is checked against the buffer: each offset, length and vtable entry is validated before use, all
// position arithmetic is done in 64 bits (no overflow for any 32-bit input), and tables nest at most
// kMaxFlatbufferDepth deep. A malformed buffer throws ec::Error("<what>: ...") naming the byte position; it
// never reads outside [data, data + size). The reader does not copy: strings and vectors are read on demand.
//
// Wire format (little-endian): a table at p starts with int32 soffset, its vtable is at p - soffset; the vtable
// holds uint16 vtable_size, uint16 table_size, then one uint16 per field id (offset inside the table, 0 = absent).
// Reference fields hold a uint32 offset relative to the field's own position. A vector is uint32 length + items.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ec::fb {

constexpr int kMaxFlatbufferDepth = 32;  // nesting of tables inside tables; TFLite needs 5

// The byte range being read and its name for error messages. Must outlive every Table and Vector made from it.
struct Buffer {
    const uint8_t* data = nullptr;
    size_t size = 0;
    std::string what;  // e.g. the file name

    [[noreturn]] void fail(const std::string& problem, uint64_t pos) const;
    // Throws unless [pos, pos + len) lies inside the buffer.
    void check(uint64_t pos, uint64_t len, const char* item) const;
};

class Vector;

// One table. A default-constructed Table is "absent": every field reads as its default.
class Table {
public:
    Table() = default;
    bool present() const { return buf_ != nullptr; }
    uint64_t position() const { return pos_; }

    bool has(int field) const { return field_pos(field) != 0; }
    // Absolute byte position of a field's inline value, 0 if absent (for tools and tests that patch files).
    uint64_t field_position(int field) const { return field_pos(field); }
    uint8_t u8(int field, uint8_t def) const;
    int8_t i8(int field, int8_t def) const { return int8_t(u8(field, uint8_t(def))); }
    bool boolean(int field, bool def) const { return u8(field, def ? 1 : 0) != 0; }
    int32_t i32(int field, int32_t def) const;
    uint32_t u32(int field, uint32_t def) const;
    uint64_t u64(int field, uint64_t def) const;
    float f32(int field, float def) const;

    Table table(int field) const;          // absent Table if the field is absent
    Vector vector(int field) const;        // empty Vector if absent
    std::string string(int field) const;   // "" if absent; at most max_len bytes, else an error
    std::string string(int field, size_t max_len) const;

private:
    friend Table root_table(const Buffer& buf);
    friend class Vector;
    Table(const Buffer* buf, uint64_t pos, int depth);
    uint64_t field_pos(int field) const;          // absolute position of the field, 0 if absent
    uint64_t deref(uint64_t ref_pos) const;       // follows the uint32 relative offset stored at ref_pos

    const Buffer* buf_ = nullptr;
    uint64_t pos_ = 0;
    uint64_t vtable_ = 0;
    uint32_t vtable_size_ = 0;
    int depth_ = 0;
};

// A vector of scalars, tables or strings. A default-constructed Vector is empty.
class Vector {
public:
    Vector() = default;
    uint32_t size() const { return count_; }
    uint64_t data_position() const { return pos_ + 4; }

    uint8_t u8(uint32_t i) const;
    int32_t i32(uint32_t i) const;
    int64_t i64(uint32_t i) const;
    float f32(uint32_t i) const;
    Table table(uint32_t i) const;
    std::string string(uint32_t i, size_t max_len) const;

    // Whole-vector reads; each refuses a vector longer than max_count.
    std::vector<int32_t> i32s(uint32_t max_count) const;
    std::vector<int64_t> i64s(uint32_t max_count) const;
    std::vector<float> f32s(uint32_t max_count) const;

private:
    friend class Table;
    Vector(const Buffer* buf, uint64_t pos, int depth);
    uint64_t item(uint32_t i, uint32_t item_size) const;  // position of item i, checked

    const Buffer* buf_ = nullptr;
    uint64_t pos_ = 0;
    uint32_t count_ = 0;
    int depth_ = 0;
};

// The root table: the uint32 at byte 0 is its offset.
Table root_table(const Buffer& buf);
// The 4-byte file identifier at bytes 4..8 ("" if the buffer is shorter than 8 bytes).
std::string file_identifier(const Buffer& buf);

}  // namespace ec::fb
