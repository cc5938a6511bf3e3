#include "nn/packed_filters.h"

#include <mutex>
#include <string>
#include <vector>

#include "nn/error.h"
#include "nn/gemm.h"

namespace ec {

struct PackedFilterCache {
    struct Entry {
        const float* source = nullptr;  // what it was packed from
        uint64_t version = 0;
        FloatBuffer data;
    };
    std::mutex mutex;
    std::vector<Entry> entries[2];  // by FilterUse, then parameter id
};

std::shared_ptr<PackedFilterCache> new_packed_filter_cache() { return std::make_shared<PackedFilterCache>(); }

const float* packed_pointwise_filter(const Graph& g, int param, int64_t in_c, int64_t out_c, FilterUse use) {
    const Param& p = g.params.at(size_t(param));
    if (p.shape.numel() != in_c * out_c)
        throw Error("parameter '" + p.name + "' is not a " + std::to_string(in_c) + " x " + std::to_string(out_c) +
                    " pointwise filter");
    PackedFilterCache* cache = g.packed_filters.cache.get();
    const bool transpose = use == FilterUse::InputGradient;
    const int64_t k = transpose ? out_c : in_c, n = transpose ? in_c : out_c;  // B is k x n
    const int64_t floats = gemm_packed_b_floats(k, n);
    // Narrow filters (n well under the panel width) would grow by the panels' zero padding: read them as stored.
    if (!cache || floats == 0 || floats > 2 * k * n) return nullptr;
    std::lock_guard<std::mutex> lock(cache->mutex);
    std::vector<PackedFilterCache::Entry>& entries = cache->entries[transpose ? 1 : 0];
    if (entries.size() < g.params.size()) entries.resize(g.params.size());
    PackedFilterCache::Entry& e = entries[size_t(param)];
    if (e.source != p.data() || e.version != p.version || int64_t(e.data.size()) != floats) {
        e.data.resize(size_t(floats));
        gemm_pack_b(e.data.data(), GemmInput{p.data(), in_c, out_c, out_c, transpose});
        e.source = p.data(), e.version = p.version;
    }
    return e.data.data();
}

GemmInput pointwise_filter_operand(const float* filter, const float* packed, int64_t in_c, int64_t out_c,
                                   FilterUse use) {
    const bool transpose = use == FilterUse::InputGradient;
    if (!packed) return GemmInput{filter, in_c, out_c, out_c, transpose};
    const int64_t k = transpose ? out_c : in_c, n = transpose ? in_c : out_c;
    return GemmInput{packed, k, n, n, false, true};
}

GemmInput pointwise_filter_operand(const Graph& g, const Node& conv, FilterUse use) {
    const int64_t in_c = conv.conv.in_c, out_c = conv.conv.out_c;
    return pointwise_filter_operand(g.params[size_t(conv.params[0])].data(),
                                    packed_pointwise_filter(g, conv.params[0], in_c, out_c, use), in_c, out_c, use);
}

}  // namespace ec
