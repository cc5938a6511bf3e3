#include "cam/eval/eval_inputs.h"

#include <climits>
#include <cstdlib>

#include "io/image.h"
#include "io/text_io.h"

namespace ec {

namespace {

std::string base_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "dir/bird_mask.png" -> "bird_mask" (the CLI's file_stem, which cam/ cannot include).
std::string file_stem(const std::string& path) {
    const std::string name = base_name(path);
    const size_t dot = name.find_last_of('.');
    return (dot == std::string::npos || dot == 0) ? name : name.substr(0, dot);
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a.c_str(), ra) && realpath(b.c_str(), rb) && std::string(ra) == std::string(rb);
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
    InputsWithMasks kept;
    for (size_t i = 0; i < inputs.size(); ++i) {
        bool is_mask = false;
        for (const std::string& m : masks) is_mask = is_mask || (!m.empty() && same_file(m, inputs[i]));
        if (!is_mask) {
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

std::map<std::string, int> read_ground_truth(const std::string& path) {
    const CsvTable t = read_csv(path);
    const size_t file = t.column("file"), index = t.column("imagenet_index");
    std::map<std::string, int> truth;
    for (size_t i = 0; i < t.rows.size(); ++i) {
        const std::string& v = t.rows[i][index];
        char* end = nullptr;
        long k = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || k < 0 || k > 999)
            throw Error(path + ": row " + std::to_string(i + 1) + ": imagenet_index '" + v + "' is not in 0..999");
        truth[t.rows[i][file]] = int(k);
    }
    return truth;
}

int ground_truth_class(const std::map<std::string, int>& truth, const std::string& input, int outputs,
                       const std::string& labels_path) {
    if (outputs != 1000 && outputs != 1001)
        throw Error(labels_path + " gives ImageNet classes, but the model has " + std::to_string(outputs) +
                    " outputs (expected 1000, or 1001 with background)");
    auto it = truth.find(base_name(input));
    if (it == truth.end()) throw Error(input + ": not listed in " + labels_path);
    return it->second + (outputs == 1001 ? 1 : 0);
}

}  // namespace ec
