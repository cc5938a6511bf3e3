// A model's label file: one label per line, line i naming output i. Part of the model (the converter stores
// the labels in the .ecw file), so it lives with the weights.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ec {

constexpr int kMaxLabels = 100000;        // lines in a label file
constexpr size_t kMaxLabelBytes = 4096;   // one label

// One label per line; a trailing '\r' (CRLF files) and a leading UTF-8 byte order mark are removed. A final
// newline does not add an empty label; empty lines inside the file are kept (label indices are positions).
// Throws Error("PATH:LINE: ...") for a NUL byte, an over-long line, too many lines, or no labels at all.
std::vector<std::string> read_labels(const std::string& path);
std::vector<std::string> parse_labels(const std::string& text, const std::string& name);

}  // namespace ec
