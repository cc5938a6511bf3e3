#include "cli/paths.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/tensor.h"

namespace ec::cli {

void ensure_writable_dir(const std::string& dir) {
    if (dir.empty()) throw Error("output folder name is empty");
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i < dir.size() && dir[i] != '/') continue;
        std::string part = dir.substr(0, i);
        struct stat st;
        if (stat(part.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) throw Error(part + ": exists and is not a folder");
            continue;
        }
        if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
            throw Error(part + ": cannot create the output folder (" + std::strerror(errno) + ")");
    }
    std::string probe = dir + "/.entropycam-write-test." + std::to_string(getpid());
    FILE* f = std::fopen(probe.c_str(), "wb");
    if (!f) throw Error(dir + ": output folder is not writable (" + std::strerror(errno) + ")");
    std::fclose(f);
    std::remove(probe.c_str());
}

namespace {

bool is_image_name(const std::string& name) {
    size_t dot = name.find_last_of('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "gif" || ext == "tga";
}

}  // namespace

std::vector<std::string> expand_inputs(const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (const std::string& p : paths) {
        struct stat st;
        if (stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            out.push_back(p);  // a missing file is reported by whoever opens it, with its name
            continue;
        }
        DIR* d = opendir(p.c_str());
        if (!d) throw Error(p + ": cannot list the folder (" + std::strerror(errno) + ")");
        std::vector<std::string> files;
        while (dirent* e = readdir(d))
            if (is_image_name(e->d_name)) files.push_back(p + (p.back() == '/' ? "" : "/") + e->d_name);
        closedir(d);
        std::sort(files.begin(), files.end());
        out.insert(out.end(), files.begin(), files.end());
    }
    return out;
}

}  // namespace ec::cli
