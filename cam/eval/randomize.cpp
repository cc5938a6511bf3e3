#include "cam/eval/randomize.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "cam/eval/metrics_baselines.h"

namespace ec {

namespace {

std::string common_scope(const Graph& g) {
    std::string prefix = g.params[0].name;
    for (const Param& p : g.params) {
        size_t n = 0;
        while (n < prefix.size() && n < p.name.size() && prefix[n] == p.name[n]) ++n;
        prefix.resize(n);
    }
    const size_t slash = prefix.rfind('/');
    return slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
}

uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// The block key of each parameter (its name after the scope, cut at a '/'): first the first segment; then a
// group holding more than half of the parameters is taken for a scope, not a block (MobileNetV1 nests its
// layers in a second "MobilenetV1/") and split by its next segment where that segment is itself a scope,
// until no group can be split.
std::vector<std::string> block_keys(const Graph& g, const std::vector<int>& used, const std::string& scope) {
    std::vector<std::string> rest(g.params.size()), key(g.params.size());
    for (int p : used) {
        rest[size_t(p)] = g.params[size_t(p)].name.substr(scope.size());
        key[size_t(p)] = rest[size_t(p)].substr(0, rest[size_t(p)].find('/'));
    }
    for (bool split = true; split;) {
        split = false;
        std::map<std::string, std::vector<int>> groups;
        for (int p : used) groups[key[size_t(p)]].push_back(p);
        for (const auto& [k, members] : groups) {
            if (members.size() < 2 || members.size() * 2 <= used.size()) continue;
            for (int p : members) {
                const std::string& r = rest[size_t(p)];
                // Only a segment followed by more is a scope to split by ("Conv2d_0" in ".../Conv2d_0/bias"); a
                // last segment names the parameter itself, which stays in its group.
                const size_t end = r.size() > k.size() + 1 ? r.find('/', k.size() + 1) : std::string::npos;
                if (end == std::string::npos) continue;
                const std::string longer = r.substr(0, end);
                if (longer != key[size_t(p)]) { key[size_t(p)] = longer; split = true; }
            }
        }
    }
    return key;
}

}  // namespace

std::vector<ParamBlock> param_blocks(const Graph& g) {
    if (g.params.empty()) throw Error("the model has no parameters to randomise");
    std::vector<int> first_reader(g.params.size(), -1);
    for (size_t i = g.nodes.size(); i-- > 0;)
        for (int p : g.nodes[i].params)
            if (p >= 0) first_reader[size_t(p)] = int(i);
    std::vector<int> used;
    for (size_t p = 0; p < g.params.size(); ++p)
        if (first_reader[p] >= 0) used.push_back(int(p));
    if (used.empty()) throw Error("no node of the model reads a parameter: nothing to randomise");
    const std::vector<std::string> key = block_keys(g, used, common_scope(g));
    std::map<std::string, size_t> index;
    std::vector<ParamBlock> blocks;
    for (int p : used) {
        auto [it, added] = index.emplace(key[size_t(p)], blocks.size());
        if (added) blocks.push_back({key[size_t(p)], {}, first_reader[size_t(p)]});
        ParamBlock& b = blocks[it->second];
        b.params.push_back(p);
        b.first_node = std::min(b.first_node, first_reader[size_t(p)]);
    }
    // Show the last segment of a nested key ("MobilenetV1/Conv2d_0" -> "Conv2d_0") when that stays unique.
    std::map<std::string, int> short_count;
    for (const ParamBlock& b : blocks) ++short_count[b.name.substr(b.name.rfind('/') + 1)];
    for (ParamBlock& b : blocks) {
        const std::string short_name = b.name.substr(b.name.rfind('/') + 1);
        if (short_count[short_name] == 1) b.name = short_name;
    }
    std::stable_sort(blocks.begin(), blocks.end(),
                     [](const ParamBlock& a, const ParamBlock& b) { return a.first_node > b.first_node; });
    return blocks;
}

double gaussian_draw(uint64_t& state) {
    const double u1 = double((splitmix64(state) >> 11) + 1) * 0x1.0p-53;  // (0, 1]: log(u1) is finite
    const double u2 = double(splitmix64(state) >> 11) * 0x1.0p-53;        // [0, 1)
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::shared_ptr<const ReinitializedParams> reinitialize_params(const Graph& g, uint64_t seed) {
    auto out = std::make_shared<ReinitializedParams>();
    out->values.resize(g.params.size());
    for (size_t p = 0; p < g.params.size(); ++p) {
        const Param& param = g.params[p];
        const size_t n = size_t(param.shape.numel());
        const float* v = param.data();
        double sum = 0, ss = 0;
        for (size_t i = 0; i < n; ++i) sum += v[i];
        const double mean = n ? sum / double(n) : 0.0;
        for (size_t i = 0; i < n; ++i) ss += (v[i] - mean) * (v[i] - mean);
        const double sd = n ? std::sqrt(ss / double(n)) : 0.0;
        uint64_t state = seed ^ fnv1a64(param.name);
        std::vector<float>& r = out->values[p];
        r.resize(n);
        for (size_t i = 0; i < n; ++i) r[i] = float(mean + sd * gaussian_draw(state));
    }
    return out;
}

Graph graph_with_params(const Graph& g, const std::shared_ptr<const ReinitializedParams>& values,
                        const std::vector<int>& replace) {
    if (values->values.size() != g.params.size())
        throw Error("re-initialised parameters for another graph (" + std::to_string(values->values.size()) +
                    " parameters, the graph has " + std::to_string(g.params.size()) + ")");
    Graph copy = g;
    for (int p : replace) {
        Param& param = copy.params.at(size_t(p));
        param.owned.clear();
        param.owned.shrink_to_fit();
        param.external = values->values[size_t(p)].data();
    }
    // Both the original weights (still read by the untouched parameters) and the new values stay alive.
    using Both = std::pair<std::shared_ptr<const void>, std::shared_ptr<const ReinitializedParams>>;
    copy.backing = std::make_shared<const Both>(g.backing, values);
    return copy;
}

}  // namespace ec
