#include "weights/labels.h"

#include "nn/error.h"
#include "nn/file_util.h"

namespace ec {
namespace {

std::string where(const std::string& name, size_t line) { return name + ":" + std::to_string(line) + ": "; }

}  // namespace

std::vector<std::string> parse_labels(const std::string& text, const std::string& name) {
    if (int64_t(text.size()) > kMaxTextFileBytes)
        throw Error(name + ": " + std::to_string(text.size()) + " bytes exceeds the limit for a label file");
    std::vector<std::string> labels;
    size_t pos = utf8_bom_length(text), line = 1;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();  // last line without a newline
        std::string label = text.substr(pos, end - pos);
        if (!label.empty() && label.back() == '\r') label.pop_back();
        if (label.find('\0') != std::string::npos) throw Error(where(name, line) + "NUL byte: not a text file");
        if (label.size() > kMaxLabelBytes)
            throw Error(where(name, line) + "label of " + std::to_string(label.size()) + " bytes exceeds the limit of " +
                        std::to_string(kMaxLabelBytes));
        if (labels.size() >= size_t(kMaxLabels))
            throw Error(name + ": more than " + std::to_string(kMaxLabels) + " labels");
        labels.push_back(std::move(label));
        pos = end + 1;
        ++line;
    }
    if (labels.empty()) throw Error(name + ": no labels (empty file)");
    return labels;
}

std::vector<std::string> read_labels(const std::string& path) { return parse_labels(read_text_file(path), path); }

}  // namespace ec
