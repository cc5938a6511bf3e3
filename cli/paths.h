// File-system helpers of the CLI: file stems, creating output folders, checking they are writable.
#pragma once
#include <string>
#include <vector>

namespace ec::cli {

// "dir/n01443537_goldfish.JPEG" -> "n01443537_goldfish"
std::string file_stem(const std::string& path);
// Creates `dir` and its parents (like mkdir -p), then checks a file can be created in it.
// Throws Error("DIR: cannot create/write ...") otherwise.
void ensure_writable_dir(const std::string& dir);
// The image files of a folder (.jpg .jpeg .png .bmp .gif .tga, any case), sorted; a file path is kept as is.
std::vector<std::string> expand_inputs(const std::vector<std::string>& paths);

}  // namespace ec::cli
