#include "io/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "nn/file_util.h"

namespace ec {
namespace {

// Header text quoted in an error message: at most 40 bytes, control characters shown as '?', so that a hostile
// header cannot split the one-line message.
std::string quoted(const std::string& text) {
    std::string q = text.substr(0, 40);
    for (char& c : q)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return q + (text.size() > 40 ? "..." : "");
}

// Returns the value text of 'key' in the header dict, e.g. "'<f4'" or "(1, 7, 7)".
std::string dict_value(const std::string& header, const std::string& key) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) throw Error("npy: header has no '" + key + "' field");
    size_t colon = header.find(':', k);
    if (colon == std::string::npos) throw Error("npy: malformed header");
    size_t start = colon + 1;
    while (start < header.size() && header[start] == ' ') ++start;
    if (start >= header.size()) throw Error("npy: malformed header");
    size_t end;
    if (header[start] == '(') {
        end = header.find(')', start);
        if (end == std::string::npos) throw Error("npy: malformed shape");
        ++end;
    } else if (header[start] == '\'') {
        end = header.find('\'', start + 1);
        if (end == std::string::npos) throw Error("npy: malformed dtype");
        ++end;
    } else {
        end = header.find_first_of(",}", start);
        if (end == std::string::npos) throw Error("npy: malformed header");
    }
    return header.substr(start, end - start);
}

std::vector<int64_t> parse_shape(const std::string& text) {
    std::vector<int64_t> shape;
    size_t i = 1;  // after '('
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
        if (i >= text.size() || text[i] == ')') break;
        if (text[i] < '0' || text[i] > '9') throw Error("npy: bad shape " + quoted(text));
        int64_t v = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            v = v * 10 + (text[i] - '0');
            if (v > kMaxTensorElements) throw Error("npy: dimension too large in shape " + quoted(text));
            ++i;
        }
        shape.push_back(v);
        if (shape.size() > 8) throw Error("npy: rank above 8 in shape " + quoted(text));
    }
    return shape;
}

}  // namespace

NpyArray parse_npy(const uint8_t* bytes, size_t size) {
    static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 10 || std::memcmp(bytes, magic, 6) != 0) throw Error("npy: not a .npy file (bad magic)");
    int major = bytes[6];
    size_t header_len, header_start;
    if (major == 1) {
        header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8;
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) throw Error("npy: truncated header");
        header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8 | size_t(bytes[10]) << 16 | size_t(bytes[11]) << 24;
        header_start = 12;
    } else {
        throw Error("npy: unsupported format version " + std::to_string(major));
    }
    if (header_len > size - header_start) throw Error("npy: truncated header");
    std::string header(reinterpret_cast<const char*>(bytes + header_start), header_len);
    NpyArray a;
    std::string descr = dict_value(header, "descr");
    if (descr.size() < 2 || descr.front() != '\'' || descr.back() != '\'')
        throw Error("npy: descr " + quoted(descr) + " is not a quoted dtype string");
    a.dtype = descr.substr(1, descr.size() - 2);
    if (dict_value(header, "fortran_order") != "False") throw Error("npy: Fortran-order arrays are not supported");
    a.shape = parse_shape(dict_value(header, "shape"));
    int64_t count = 1;
    for (int64_t d : a.shape) {
        count *= d;
        if (count > kMaxTensorElements) throw Error("npy: array has more than 2^30 elements");
    }
    size_t elem;
    if (a.dtype == "<f4" || a.dtype == "<i4") elem = 4;
    else if (a.dtype == "<f8" || a.dtype == "<i8") elem = 8;
    else if (a.dtype == "|u1" || a.dtype == "<u1" || a.dtype == "|b1") elem = 1;
    else throw Error("npy: unsupported dtype '" + quoted(a.dtype) + "' (float32, float64, uint8, int32, int64 are read)");
    size_t payload = header_start + header_len;
    if (size - payload < size_t(count) * elem)
        throw Error("npy: truncated data (" + std::to_string(size - payload) + " bytes for " +
                    std::to_string(count) + " elements of " + std::to_string(elem) + " bytes)");
    const uint8_t* p = bytes + payload;
    a.data.resize(size_t(count));
    for (int64_t i = 0; i < count; ++i) {
        const uint8_t* e = p + i * elem;
        if (a.dtype == "<f4") { float v; std::memcpy(&v, e, 4); a.data[i] = v; }
        else if (a.dtype == "<f8") { double v; std::memcpy(&v, e, 8); a.data[i] = float(v); }
        else if (a.dtype == "<i4") { int32_t v; std::memcpy(&v, e, 4); a.data[i] = float(v); }
        else if (a.dtype == "<i8") { int64_t v; std::memcpy(&v, e, 8); a.data[i] = float(v); }
        else a.data[i] = float(e[0]);
    }
    return a;
}

NpyArray read_npy(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path, kMaxNpyBytes);
    try {
        return parse_npy(bytes.data(), bytes.size());
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

Tensor read_npy_tensor(const std::string& path) {
    NpyArray a = read_npy(path);
    if (a.shape.size() > size_t(kMaxRank)) throw Error(path + ": npy array of rank " + std::to_string(a.shape.size()) + ", at most 4 supported");
    Shape s;
    s.rank = int(a.shape.size());
    for (int i = 0; i < s.rank; ++i) s.dim[i] = int(a.shape[i]);
    return Tensor(s, std::move(a.data));
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    std::string dims;
    int64_t count = 1;
    for (int64_t d : shape) { dims += std::to_string(d) + ", "; count *= d; }
    if (shape.size() > 1) dims.resize(dims.size() - 2);          // "(a, b)"
    else if (shape.size() == 1) dims.resize(dims.size() - 1);    // "(a,)"
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');  // pad so the data starts 64-byte aligned
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += char(1);
    bytes += char(0);
    bytes += char(header.size() & 0xff);
    bytes += char(header.size() >> 8);
    bytes += header;
    bytes.append(reinterpret_cast<const char*>(data), size_t(count) * sizeof(float));
    write_file_atomic(path, bytes);
}

void write_npy(const std::string& path, const Tensor& t) {
    std::vector<int64_t> shape(t.shape.dim, t.shape.dim + t.shape.rank);
    write_npy(path, t.ptr(), shape);
}

}  // namespace ec
