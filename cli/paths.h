// File-system helpers of the CLI: creating output folders, checking they are writable, listing image folders
// (file stems: nn/file_util.h).
#pragma once
#include <string>
#include <vector>

#include "nn/file_util.h"

namespace ec::cli {

// Creates `dir` and its parents (like mkdir -p), then checks a file can be created in it.
// Throws Error("DIR: cannot create/write ...") otherwise.
void ensure_writable_dir(const std::string& dir);
// The image files of a folder (.jpg .jpeg .png .bmp .gif .tga, any case), sorted; a file path is kept as is.
std::vector<std::string> expand_inputs(const std::vector<std::string>& paths);

}  // namespace ec::cli
