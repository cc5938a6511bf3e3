#include "cam/eval/eval_inputs.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>

#include "io/image.h"
#include "io/text_io.h"
#include "nn/file_util.h"

namespace ec {

namespace {

// The absolute path with links resolved; "" when the file does not exist.
std::string resolved_path(const std::string& path) {
    char r[PATH_MAX];
    return realpath(path.c_str(), r) ? std::string(r) : std::string();
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
    const std::string ra = resolved_path(a);
    return !ra.empty() && ra == resolved_path(b);
}

std::string find_mask(const std::string& input, const std::vector<std::string>& mask_files) {
    const std::string s = file_stem(input);
    std::vector<std::string> wanted = {s, s + "_mask"};
    const size_t us = s.find_last_of('_');
    if (us != std::string::npos && us > 0 && us + 1 < s.size() &&
        s.find_first_not_of("0123456789", us + 1) == std::string::npos)
        wanted.push_back(s.substr(0, us) + "_mask" + s.substr(us));
    for (size_t w = 0; w < wanted.size(); ++w)
        for (const std::string& f : mask_files)
            if (file_stem(f) == wanted[w] && !(w == 0 && same_file(f, input))) return f;
    return "";
}

InputsWithMasks pair_inputs_with_masks(const std::vector<std::string>& inputs, const std::vector<std::string>& mask_files) {
    std::vector<std::string> masks(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) masks[i] = find_mask(inputs[i], mask_files);
    // Each mask resolved once, not once per input (1400 inputs took minutes of realpath calls).
    std::set<std::string> resolved_masks;
    for (const std::string& m : masks)
        if (!m.empty()) resolved_masks.insert(resolved_path(m));
    InputsWithMasks kept;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const std::string resolved = resolved_path(inputs[i]);
        if (resolved.empty() || !resolved_masks.count(resolved)) {
            kept.inputs.push_back(inputs[i]);
            kept.masks.push_back(masks[i]);
        }
    }
    return kept;
}

Mask load_mask(const std::string& path) {
    const ImageU8 img = decode_image(path);
    Mask m{img.height, img.width, std::vector<uint8_t>(size_t(int64_t(img.width) * img.height))};
    for (size_t p = 0; p < m.inside.size(); ++p)
        m.inside[p] = img.rgb[3 * p] || img.rgb[3 * p + 1] || img.rgb[3 * p + 2];
    return m;
}

GroundTruth read_ground_truth(const std::string& path) {
    const CsvTable t = read_csv(path);
    auto has = [&](const char* name) { return std::find(t.header.begin(), t.header.end(), name) != t.header.end(); };
    if (!has("file")) throw Error(path + ": no column 'file' (the labels CSV needs file and imagenet_index or class_index)");
    if (!has("imagenet_index") && !has("class_index"))
        throw Error(path + ": no column 'imagenet_index' or 'class_index' (the class of each file)");
    GroundTruth truth;
    truth.imagenet = has("imagenet_index");
    const char* index_name = truth.imagenet ? "imagenet_index" : "class_index";
    const long max_index = truth.imagenet ? 999 : (1L << 24);  // output indices: any model size, bounded
    const size_t file = t.column("file"), index = t.column(index_name);
    for (size_t i = 0; i < t.rows.size(); ++i) {
        const std::string& v = t.rows[i][index];
        const std::string where = path + ": row " + std::to_string(i + 1) + ": ";
        char* end = nullptr;
        const long k = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || k < 0 || k > max_index)
            throw Error(where + index_name + " '" + v + "' is not in 0.." + std::to_string(max_index));
        const std::string name = file_name(t.rows[i][file]);
        auto [it, added] = truth.classes.emplace(name, int(k));
        if (!added && it->second != int(k))
            throw Error(where + "'" + name + "' is listed twice with different classes (" + std::to_string(it->second) +
                        " and " + std::to_string(k) + "); files are matched by name without the folder");
    }
    return truth;
}

int ground_truth_class(const GroundTruth& truth, const std::string& input, int outputs, const std::string& labels_path) {
    if (truth.imagenet && outputs != 1000 && outputs != 1001)
        throw Error(labels_path + " gives ImageNet classes (imagenet_index), but the model has " + std::to_string(outputs) +
                    " outputs (expected 1000, or 1001 with background; a class_index column gives output indices)");
    auto it = truth.classes.find(file_name(input));
    if (it == truth.classes.end()) throw Error(input + ": not listed in " + labels_path);
    if (truth.imagenet) return it->second + (outputs == 1001 ? 1 : 0);
    if (it->second >= outputs)
        throw Error(input + ": class_index " + std::to_string(it->second) + " in " + labels_path + " is out of range: the model has " +
                    std::to_string(outputs) + " outputs");
    return it->second;
}

}  // namespace ec
