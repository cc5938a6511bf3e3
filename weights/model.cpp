// Finding a model by name (the folder `make weights` fills) and small helpers on Model.
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "weights/model.h"

namespace ec {

std::string weights_dir() {
    const char* env = std::getenv("ENTROPYCAM_WEIGHTS_DIR");
    return env && *env ? std::string(env) : std::string("build/weights");
}

// Where the code runs from: the shared library holding this function, or the executable it is linked into.
std::string installed_weights_dir() {
    Dl_info info;
    link_map* map = nullptr;
    std::string file;
    if (dladdr1(reinterpret_cast<void*>(&installed_weights_dir), &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) &&
        map && map->l_name && *map->l_name)
        file = map->l_name;
    if (file.empty()) {  // the main executable has an empty name in the link map
        char buf[4096];
        const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (n <= 0) return "";
        file.assign(buf, size_t(n));
    }
    const size_t bin = file.find_last_of('/');
    if (bin == std::string::npos) return "";
    const size_t prefix = file.find_last_of('/', bin == 0 ? 0 : bin - 1);
    if (prefix == std::string::npos) return "";
    return file.substr(0, prefix) + "/share/entropycam/weights";
}

std::vector<std::string> available_models() {
    std::vector<std::string> names;
    DIR* d = opendir(weights_dir().c_str());
    if (!d) return names;
    while (dirent* e = readdir(d)) {
        std::string f = e->d_name;
        if (f.size() > 4 && f.compare(f.size() - 4, 4, ".ecw") == 0) names.push_back(f.substr(0, f.size() - 4));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::string resolve_model(const std::string& name_or_path) {
    struct stat st;
    if (stat(name_or_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return name_or_path;
    // A bare name (no folder, no extension) is looked up in the weights folder.
    const bool bare = !name_or_path.empty() && name_or_path.find('/') == std::string::npos &&
                      name_or_path.size() < 200 && name_or_path.rfind(".ecw") == std::string::npos &&
                      name_or_path.rfind(".tflite") == std::string::npos;
    if (!bare) throw Error(name_or_path + ": model file not found");
    const std::string path = weights_dir() + "/" + name_or_path + ".ecw";
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
    const std::string installed = installed_weights_dir() + "/" + name_or_path + ".ecw";
    if (installed[0] == '/' && stat(installed.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return installed;
    std::string known;
    for (const std::string& n : available_models()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name_or_path + "': no " + path + " (" +
                (known.empty() ? "no models converted yet" : "available: " + known) +
                "); run `make weights` to convert the models, or give a path to an .ecw file");
}

std::string label_of(const Model& model, int index) {
    if (index >= 0 && size_t(index) < model.labels.size()) return model.labels[size_t(index)];
    return "class " + std::to_string(index);
}

}  // namespace ec
