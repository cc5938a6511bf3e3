// Access to ../shared/reference for the tests: the <model>/<image> folders listed in index.json, string fields
// of a folder's meta.json, and the models' TFLite files. Minimal parsers: these files are produced by the
// reference tool in a fixed, simple layout.
#pragma once
#include <string>
#include <vector>

#include "nn/file_util.h"
#include "tests/test_util.h"

namespace ec::test {

// {"model": ["image", ...], ...} -> {"model/image", ...}
inline std::vector<std::string> reference_folders() {
    std::vector<uint8_t> bytes = read_file_bytes(shared_path("reference/index.json"), 1 << 20);
    std::string text(bytes.begin(), bytes.end());
    std::vector<std::string> folders;
    std::string model;
    int depth = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '[') ++depth;
        else if (c == ']') --depth;
        else if (c == '"') {
            size_t end = text.find('"', i + 1);
            REQUIRE_MESSAGE(end != std::string::npos, "index.json: unterminated string");
            std::string s = text.substr(i + 1, end - i - 1);
            i = end;
            if (depth > 0) {
                REQUIRE_MESSAGE(!model.empty(), "index.json: image '" << s << "' outside a model");
                folders.push_back(model + "/" + s);
            } else {
                model = s;
            }
        }
    }
    return folders;
}

// The value of a top-level "key": "string" or "key": number of reference/<folder>/meta.json, as text.
inline std::string reference_meta(const std::string& folder, const std::string& key) {
    std::vector<uint8_t> bytes = read_file_bytes(shared_path("reference/" + folder + "/meta.json"), 1 << 20);
    std::string text(bytes.begin(), bytes.end());
    size_t k = text.find("\"" + key + "\"");
    REQUIRE_MESSAGE(k != std::string::npos, folder << "/meta.json has no '" << key << "'");
    size_t v = text.find_first_not_of(" :", k + key.size() + 2);
    REQUIRE(v != std::string::npos);
    if (text[v] == '"') return text.substr(v + 1, text.find('"', v + 1) - v - 1);
    return text.substr(v, text.find_first_of(",\n}", v) - v);
}

inline std::string folder_model(const std::string& folder) { return folder.substr(0, folder.find('/')); }

}  // namespace ec::test
