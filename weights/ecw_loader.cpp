// Loading an .ecw file (layout in weights/FORMAT.md): mmap read-only, validate every field, rebuild the graph
// through the nn/graph.h build functions with the parameters pointing into the mapping (no copy).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "weights/labels.h"
#include "weights/format.h"

namespace ec {
namespace ecw {

namespace {

// Sequential, bounds-checked reading of the graph section.
struct Reader {
    const uint8_t* data;
    uint64_t end;  // one past the last readable byte
    uint64_t pos;
    const std::string& what;

    [[noreturn]] void fail(const std::string& problem) const {
        throw Error(what + ": corrupt weight file: " + problem + " (graph section byte " + std::to_string(pos) + ")");
    }
    template <typename T>
    T get() {
        if (end - pos < sizeof(T)) fail("the graph section ends early");
        T v;
        std::memcpy(&v, data + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    uint8_t u8() { return get<uint8_t>(); }
    uint32_t u32() { return get<uint32_t>(); }
    int i32() { return get<int32_t>(); }
    uint32_t count(uint32_t limit, const char* item) {
        uint32_t n = u32();
        if (n > limit) fail(std::to_string(n) + " " + item + " (limit " + std::to_string(limit) + ")");
        return n;
    }
    std::string str(const char* item) {
        uint32_t n = u32();
        if (n > kMaxStringBytes) fail(std::string(item) + " of " + std::to_string(n) + " bytes (limit " + std::to_string(kMaxStringBytes) + ")");
        if (end - pos < n) fail("the graph section ends inside a " + std::string(item));
        std::string s(reinterpret_cast<const char*>(data + pos), n);
        for (char c : s)
            if (c == '\0' || c == '\n' || c == '\r') fail(std::string(item) + " holds a control character");
        pos += n;
        return s;
    }
    Shape shape(const char* item) {
        int rank = u8();
        if (rank < 1 || rank > kMaxRank) fail(std::string(item) + " has rank " + std::to_string(rank));
        Shape s;
        s.rank = rank;
        for (int d = 0; d < rank; ++d) {
            s.dim[d] = i32();
            if (s.dim[d] < 1) fail(std::string(item) + " has a dimension " + std::to_string(s.dim[d]));
        }
        if (s.numel() > kMaxTensorElements) fail(std::string(item) + " " + s.str() + " is too large");
        return s;
    }
    int in_range(int lo, int hi, const char* item) {
        int v = i32();
        if (v < lo || v > hi) fail(std::string(item) + " " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return v;
    }
};

struct Header {
    uint64_t file_size, graph_offset, graph_size, data_offset, data_size;
};

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

Header read_header(const uint8_t* data, size_t size, const std::string& what) {
    if (size >= 8 && std::memcmp(data + 4, "TFL3", 4) == 0)
        throw Error(what + ": is a TFLite model, not an .ecw weight file (convert it with `entropycam convert`)");
    if (size == 0 || std::memcmp(data, kMagic, std::min<size_t>(size, 8)) != 0)
        throw Error(what + ": not an entropycam weight file (bad magic)");
    if (size < kHeaderBytes) throw Error(what + ": truncated weight file (" + std::to_string(size) + " bytes, the header needs 64)");
    const uint32_t version = load<uint32_t>(data + 8);
    if (version != kVersion)
        throw Error(what + ": unsupported .ecw version " + std::to_string(version) + " (this build reads version " + std::to_string(kVersion) + ")");
    if (load<uint32_t>(data + 12) != kHeaderBytes) throw Error(what + ": corrupt weight file: header size is not 64");
    Header h{load<uint64_t>(data + 16), load<uint64_t>(data + 24), load<uint64_t>(data + 32), load<uint64_t>(data + 40),
             load<uint64_t>(data + 48)};
    if (h.file_size != size)
        throw Error(what + ": " + std::string(size < h.file_size ? "truncated" : "corrupt") + " weight file: " +
                    std::to_string(size) + " bytes, the header says " + std::to_string(h.file_size));
    if (load<uint64_t>(data + 56) != 0) throw Error(what + ": corrupt weight file: reserved header field is not zero");
    // Sections: header | graph | zero padding | data == the whole file. Checked without overflow (all <= size).
    if (h.graph_offset != kHeaderBytes || h.graph_size > size - kHeaderBytes || h.data_offset % kDataAlignment ||
        h.data_offset < kHeaderBytes + h.graph_size || h.data_offset > size || h.data_size != size - h.data_offset)
        throw Error(what + ": corrupt weight file: section offsets and sizes are inconsistent");
    return h;
}

// Explicit padding: top, bottom, left, right (FORMAT.md), each in [0, kMaxPadding].
Padding read_padding(Reader& r) {
    Padding p;
    p.kind = Padding::Explicit;
    p.top = r.in_range(0, kMaxPadding, "padding"); p.bottom = r.in_range(0, kMaxPadding, "padding");
    p.left = r.in_range(0, kMaxPadding, "padding"); p.right = r.in_range(0, kMaxPadding, "padding");
    return p;
}

// The attribute record of one AttrKind (FORMAT.md's table; ecw_writer.cpp's write_attrs is its inverse).
NodeAttrs read_attrs(Reader& r, const Graph& g, AttrKind kind, const std::vector<int>& params, const std::string& where) {
    NodeAttrs a;
    switch (kind) {
        case AttrKind::None: break;
        case AttrKind::Conv: {
            Conv2DOptions& c = a.conv;
            c.stride_h = r.in_range(1, kMaxWindow, "stride"); c.stride_w = r.in_range(1, kMaxWindow, "stride");
            c.dilation_h = r.in_range(1, kMaxWindow, "dilation"); c.dilation_w = r.in_range(1, kMaxWindow, "dilation");
            c.groups = r.in_range(1, int(kMaxTensorElements), "groups");
            c.padding = read_padding(r);
            const Shape f = g.params[size_t(params[0])].shape;
            if (f.rank == 4 && (f[0] > kMaxWindow || f[1] > kMaxWindow)) r.fail(where + " has a kernel larger than " + std::to_string(kMaxWindow));
            break;
        }
        case AttrKind::Pool: {
            PoolOptions& p = a.pool;
            p.kernel_h = r.in_range(1, kMaxWindow, "kernel"); p.kernel_w = r.in_range(1, kMaxWindow, "kernel");
            p.stride_h = r.in_range(1, kMaxWindow, "stride"); p.stride_w = r.in_range(1, kMaxWindow, "stride");
            p.padding = read_padding(r);
            break;
        }
        case AttrKind::Pad: {
            const Padding p = read_padding(r);
            a.pad_top = p.top; a.pad_bottom = p.bottom; a.pad_left = p.left; a.pad_right = p.right;
            break;
        }
        case AttrKind::Shape: a.shape = r.shape("reshape target"); break;
    }
    return a;
}

// Reads one node record (after its record byte) and rebuilds it through add_node; returns its output tensor id.
// The counts each kind takes, its attributes and its shape rule all come from its row of the op table.
int read_node(Reader& r, Graph& g) {
    const uint8_t code = r.u8();
    const OpDef* def = find_op_by_file_code(code);
    if (!def) r.fail("unknown node kind " + std::to_string(int(code)));
    const std::string name = r.str("tensor name");
    const std::string where = std::string("node '") + name + "' (" + def->name + ")";
    std::vector<int> inputs(r.count(kMaxNodeInputs, "node inputs"));
    for (int& t : inputs) {
        uint32_t id = r.u32();
        if (id >= g.tensors.size()) r.fail(where + " reads tensor " + std::to_string(id) + " before it exists");
        t = int(id);
    }
    std::vector<int> params(r.count(kMaxParamSlots, "node parameters"));
    for (int& p : params) {
        int id = r.i32();
        if (id < -1 || id >= int(g.params.size())) r.fail(where + " uses parameter " + std::to_string(id));
        p = id;
    }
    if (inputs.size() < size_t(def->min_inputs) || inputs.size() > size_t(def->max_inputs) ||
        params.size() != size_t(def->param_slots))
        r.fail(where + " has the wrong number of inputs or parameters");
    for (size_t i = 0; i < size_t(def->required_params); ++i)
        if (params[i] < 0) r.fail(where + " lacks a required parameter");

    const NodeAttrs attrs = read_attrs(r, g, def->attrs, params, where);
    const int out = add_node(g, def->kind, name, std::move(inputs), std::move(params), attrs);
    const Shape stored = r.shape("output shape");
    if (stored != g.tensors[size_t(out)].shape)
        r.fail(where + " rebuilds to " + g.tensors[size_t(out)].shape.str() + " but the file says " + stored.str());
    return out;
}

}  // namespace

Model parse_model(const uint8_t* data, size_t size, std::shared_ptr<const void> backing, const std::string& what) {
    if (reinterpret_cast<uintptr_t>(data) % kDataAlignment) throw Error(what + ": weight data is not 64-byte aligned in memory");
    if (int64_t(size) > kMaxFileBytes) throw Error(what + ": weight file is larger than the limit of " + std::to_string(kMaxFileBytes) + " bytes");
    const Header h = read_header(data, size, what);
    Reader r{data, h.graph_offset + h.graph_size, h.graph_offset, what};
    Model m;
    try {
        m.name = r.str("model name");
        m.source = r.str("model source");
        const uint32_t in_h = r.u32(), in_w = r.u32();
        m.preprocessing.height = int(in_h > uint32_t(kMaxImageSide) ? 0 : in_h);
        m.preprocessing.width = int(in_w > uint32_t(kMaxImageSide) ? 0 : in_w);
        m.preprocessing.scale = r.get<double>();
        m.preprocessing.offset = r.get<float>();
        if (m.preprocessing.height < 1 || m.preprocessing.width < 1) r.fail("input size is outside [1, " + std::to_string(kMaxImageSide) + "]");
        if (!std::isfinite(m.preprocessing.scale) || m.preprocessing.scale <= 0 || !std::isfinite(m.preprocessing.offset))
            r.fail("preprocessing scale or offset is not a finite number (scale must be positive)");
        const std::string logits_name = r.str("logits name");
        m.labels.resize(r.count(kMaxLabels, "labels"));
        for (std::string& l : m.labels) l = r.str("label");

        Graph& g = m.graph;
        const uint32_t num_params = r.count(kMaxParams, "parameters");
        for (uint32_t i = 0; i < num_params; ++i) {
            std::string name = r.str("parameter name");
            Shape s = r.shape("parameter shape");
            const uint64_t offset = r.get<uint64_t>();
            const uint64_t bytes = uint64_t(s.numel()) * sizeof(float);  // <= 4 GiB: no overflow
            if (offset % kDataAlignment || offset > h.data_size || bytes > h.data_size - offset)
                r.fail("parameter '" + name + "' lies outside the data section or is not 64-byte aligned");
            add_param_external(g, name, s, reinterpret_cast<const float*>(data + h.data_offset + offset));
        }

        const uint32_t num_tensors = r.count(kMaxTensors, "tensors");
        int64_t activation_floats = 0;
        for (uint32_t t = 0; t < num_tensors; ++t) {
            const uint8_t kind = r.u8();
            int id;
            if (kind == kRecordInput) {
                if (g.inputs.size() >= kMaxInputs) r.fail("more than " + std::to_string(kMaxInputs) + " graph inputs");
                std::string name = r.str("tensor name");
                id = add_input(g, name, r.shape("input shape"));
            } else if (kind == kRecordNode) {
                id = read_node(r, g);
            } else {
                r.fail("unknown tensor record kind " + std::to_string(kind));
            }
            if (id != int(t)) r.fail("tensor record " + std::to_string(t) + " did not rebuild as tensor " + std::to_string(t));
            activation_floats += g.tensors[size_t(id)].shape.numel();
            if (activation_floats > kMaxActivationFloats) r.fail("the activations need more than " + std::to_string(kMaxActivationFloats) + " floats");
        }
        if (r.pos != r.end) r.fail("unexpected bytes after the last tensor");

        // The model contract: the first input is the image, the logits are [1, classes] with one label each.
        if (g.inputs.empty()) r.fail("the graph has no input");
        const Shape in = g.tensors[size_t(g.inputs[0])].shape;
        if (in != Shape{1, m.preprocessing.height, m.preprocessing.width, 3})
            r.fail("the first input " + in.str() + " does not match the preprocessing size " +
                   std::to_string(m.preprocessing.height) + "x" + std::to_string(m.preprocessing.width));
        m.logits = g.find_tensor(logits_name);
        if (m.logits < 0) r.fail("the logits tensor '" + logits_name + "' does not exist");
        const Shape ls = g.tensors[size_t(m.logits)].shape;
        if (ls.rank != 2) r.fail("the logits " + ls.str() + " are not [1, classes]");
        if (!m.labels.empty() && int64_t(m.labels.size()) != ls[1])
            r.fail(std::to_string(m.labels.size()) + " labels for " + std::to_string(ls[1]) + " classes");
    } catch (const Error& e) {
        // Build-function errors name the node but not the file; prefix the file once.
        const std::string msg = e.what();
        if (msg.compare(0, what.size(), what) == 0) throw;
        throw Error(what + ": corrupt weight file: " + msg);
    }
    m.graph.backing = std::move(backing);
    return m;
}

}  // namespace ecw

Model load_model(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    const int64_t size = int64_t(st.st_size);
    if (size > ecw::kMaxFileBytes) {
        ::close(fd);
        throw Error(path + ": weight file is larger than the limit of " + std::to_string(ecw::kMaxFileBytes) + " bytes");
    }
    if (size < int64_t(ecw::kHeaderBytes)) {  // too short to map usefully: read it so the error says why
        alignas(64) uint8_t head[ecw::kHeaderBytes];
        const ssize_t got = ::pread(fd, head, size_t(size), 0);
        ::close(fd);
        if (got != ssize_t(size)) throw Error(path + ": read error");
        ecw::parse_model(head, size_t(size), nullptr, path);  // always throws for fewer than 64 bytes
        throw Error(path + ": truncated weight file");
    }
    // MAP_PRIVATE + PROT_READ: the parameters are read-only views of the file; pages load on first use.
    void* p = ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw Error(path + ": cannot map the file (" + std::strerror(errno) + ")");
    const size_t length = size_t(size);
    std::shared_ptr<const void> backing(p, [length](const void* q) { ::munmap(const_cast<void*>(q), length); });
    return ecw::parse_model(static_cast<const uint8_t*>(p), length, backing, path);
}

}  // namespace ec
