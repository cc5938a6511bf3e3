// Bounds-checked FlatBuffers reading (see flatbuffer.h). All positions are uint64_t, so `pos + len` cannot
// overflow for 32-bit offsets and lengths; every multi-byte value is read with memcpy (no alignment assumed).
#include "weights/flatbuffer.h"

#include <cstring>

#include "nn/tensor.h"

namespace ec::fb {

namespace {

template <typename T>
T load(const Buffer& b, uint64_t pos, const char* item) {
    b.check(pos, sizeof(T), item);
    T v;
    std::memcpy(&v, b.data + pos, sizeof(T));  // little-endian host assumed (see weights/format.h)
    return v;
}

}  // namespace

void Buffer::fail(const std::string& problem, uint64_t pos) const {
    throw Error(what + ": corrupt flatbuffer: " + problem + " at byte " + std::to_string(pos) + " (file size " +
                std::to_string(size) + ")");
}

void Buffer::check(uint64_t pos, uint64_t len, const char* item) const {
    if (pos > size || len > size - pos) fail(std::string(item) + " of " + std::to_string(len) + " bytes out of range", pos);
}

// ---- Table ----

Table::Table(const Buffer* buf, uint64_t pos, int depth) : buf_(buf), pos_(pos), depth_(depth) {
    if (depth > kMaxFlatbufferDepth) buf->fail("tables nested deeper than " + std::to_string(kMaxFlatbufferDepth), pos);
    const int64_t soffset = load<int32_t>(*buf, pos, "table");
    const int64_t vtable = int64_t(pos) - soffset;  // both fit easily in int64
    if (vtable < 0) buf->fail("vtable before the start of the buffer", pos);
    vtable_ = uint64_t(vtable);
    vtable_size_ = load<uint16_t>(*buf, vtable_, "vtable");
    const uint16_t table_size = load<uint16_t>(*buf, vtable_ + 2, "vtable");
    if (vtable_size_ < 4 || vtable_size_ % 2) buf->fail("vtable size " + std::to_string(vtable_size_) + " is invalid", vtable_);
    buf->check(vtable_, vtable_size_, "vtable");
    if (table_size < 4) buf->fail("table size " + std::to_string(table_size) + " is invalid", pos);
    buf->check(pos, table_size, "table");
    // Every field entry must point inside the table; checked once here so the accessors only check sizes.
    for (uint32_t e = 4; e < vtable_size_; e += 2) {
        uint16_t off = load<uint16_t>(*buf, vtable_ + e, "vtable");
        if (off != 0 && (off < 4 || off >= table_size))
            buf->fail("field " + std::to_string((e - 4) / 2) + " offset " + std::to_string(off) + " outside its table", pos);
    }
}

uint64_t Table::field_pos(int field) const {
    if (!buf_ || field < 0) return 0;
    const uint64_t entry = 4 + 2 * uint64_t(field);
    if (entry + 2 > vtable_size_) return 0;  // a field id beyond the vtable's end is absent
    const uint16_t off = load<uint16_t>(*buf_, vtable_ + entry, "vtable");
    return off ? pos_ + off : 0;
}

uint64_t Table::deref(uint64_t ref_pos) const {
    const uint32_t rel = load<uint32_t>(*buf_, ref_pos, "offset");
    const uint64_t target = ref_pos + rel;
    buf_->check(target, 4, "referenced object");
    return target;
}

uint8_t Table::u8(int field, uint8_t def) const {
    uint64_t p = field_pos(field);
    return p ? load<uint8_t>(*buf_, p, "field") : def;
}
int32_t Table::i32(int field, int32_t def) const {
    uint64_t p = field_pos(field);
    return p ? load<int32_t>(*buf_, p, "field") : def;
}
uint32_t Table::u32(int field, uint32_t def) const {
    uint64_t p = field_pos(field);
    return p ? load<uint32_t>(*buf_, p, "field") : def;
}
uint64_t Table::u64(int field, uint64_t def) const {
    uint64_t p = field_pos(field);
    return p ? load<uint64_t>(*buf_, p, "field") : def;
}
float Table::f32(int field, float def) const {
    uint64_t p = field_pos(field);
    return p ? load<float>(*buf_, p, "field") : def;
}

Table Table::table(int field) const {
    uint64_t p = field_pos(field);
    return p ? Table(buf_, deref(p), depth_ + 1) : Table();
}

Vector Table::vector(int field) const {
    uint64_t p = field_pos(field);
    return p ? Vector(buf_, deref(p), depth_ + 1) : Vector();
}

std::string Table::string(int field) const { return string(field, 1 << 20); }

std::string Table::string(int field, size_t max_len) const {
    uint64_t p = field_pos(field);
    if (!p) return "";
    Vector bytes(buf_, deref(p), depth_ + 1);
    if (bytes.size() > max_len)
        buf_->fail("string of " + std::to_string(bytes.size()) + " bytes (limit " + std::to_string(max_len) + ")", p);
    buf_->check(bytes.data_position(), bytes.size(), "string");
    return std::string(reinterpret_cast<const char*>(buf_->data + bytes.data_position()), bytes.size());
}

// ---- Vector ----

Vector::Vector(const Buffer* buf, uint64_t pos, int depth) : buf_(buf), pos_(pos), depth_(depth) {
    if (depth > kMaxFlatbufferDepth) buf->fail("objects nested deeper than " + std::to_string(kMaxFlatbufferDepth), pos);
    count_ = load<uint32_t>(*buf, pos, "vector length");
    // Every item is at least one byte, so a length beyond the remaining bytes is corrupt; checking it here
    // keeps callers from reserving memory for a hostile count.
    buf->check(pos + 4, count_, "vector");
}

uint64_t Vector::item(uint32_t i, uint32_t item_size) const {
    if (i >= count_) buf_->fail("vector index " + std::to_string(i) + " beyond length " + std::to_string(count_), pos_);
    const uint64_t p = pos_ + 4 + uint64_t(i) * item_size;
    buf_->check(p, item_size, "vector item");
    return p;
}

uint8_t Vector::u8(uint32_t i) const { return load<uint8_t>(*buf_, item(i, 1), "vector item"); }
int32_t Vector::i32(uint32_t i) const { return load<int32_t>(*buf_, item(i, 4), "vector item"); }
int64_t Vector::i64(uint32_t i) const { return load<int64_t>(*buf_, item(i, 8), "vector item"); }
float Vector::f32(uint32_t i) const { return load<float>(*buf_, item(i, 4), "vector item"); }

Table Vector::table(uint32_t i) const {
    const uint64_t p = item(i, 4);
    const uint64_t target = p + load<uint32_t>(*buf_, p, "offset");
    return Table(buf_, target, depth_ + 1);
}

std::string Vector::string(uint32_t i, size_t max_len) const {
    const uint64_t p = item(i, 4);
    Vector bytes(buf_, p + load<uint32_t>(*buf_, p, "offset"), depth_ + 1);
    if (bytes.size() > max_len)
        buf_->fail("string of " + std::to_string(bytes.size()) + " bytes (limit " + std::to_string(max_len) + ")", p);
    return std::string(reinterpret_cast<const char*>(buf_->data + bytes.data_position()), bytes.size());
}

namespace {

template <typename T>
std::vector<T> read_all(const Buffer* buf, uint64_t pos, uint32_t count, uint32_t max_count) {
    if (count > max_count)
        buf->fail("vector of " + std::to_string(count) + " items (limit " + std::to_string(max_count) + ")", pos);
    buf->check(pos + 4, uint64_t(count) * sizeof(T), "vector");
    std::vector<T> out(count);
    if (count) std::memcpy(out.data(), buf->data + pos + 4, size_t(count) * sizeof(T));
    return out;
}

}  // namespace

std::vector<int32_t> Vector::i32s(uint32_t max_count) const {
    return buf_ ? read_all<int32_t>(buf_, pos_, count_, max_count) : std::vector<int32_t>();
}
std::vector<int64_t> Vector::i64s(uint32_t max_count) const {
    return buf_ ? read_all<int64_t>(buf_, pos_, count_, max_count) : std::vector<int64_t>();
}
std::vector<float> Vector::f32s(uint32_t max_count) const {
    return buf_ ? read_all<float>(buf_, pos_, count_, max_count) : std::vector<float>();
}

// ---- Root ----

Table root_table(const Buffer& buf) {
    const uint32_t root = load<uint32_t>(buf, 0, "root offset");
    return Table(&buf, root, 0);
}

std::string file_identifier(const Buffer& buf) {
    if (buf.size < 8) return "";
    return std::string(reinterpret_cast<const char*>(buf.data + 4), 4);
}

}  // namespace ec::fb
