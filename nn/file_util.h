// Whole-file reading with a size limit, and atomic writing (temporary name + rename) so that an interrupted
// run never leaves a half-written output file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ec {

constexpr int64_t kMaxTextFileBytes = int64_t(64) << 20;  // a label or CSV file

// Throws Error("PATH: ...") if the file is missing, unreadable, or larger than max_bytes.
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes);
// A text file (labels, CSV) as a string, at most kMaxTextFileBytes.
std::string read_text_file(const std::string& path);
// Length of a UTF-8 byte order mark at the start of text (editors on Windows add it): 3 or 0.
size_t utf8_bom_length(const std::string& text);

// "dir/bird_mask.png" -> "bird_mask.png" (the part after the last '/').
std::string file_name(const std::string& path);
// "dir/bird_mask.png" -> "bird_mask" (file_name without its last extension; a leading dot is kept: ".hidden").
std::string file_stem(const std::string& path);
// Writes to PATH.tmp.<pid>.<n> in the same directory, then renames over PATH. Throws Error on failure.
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace ec
