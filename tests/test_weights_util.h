// Helpers shared by the weights tests (test_tflite*.cpp, test_weights*.cpp, test_classify*.cpp): the imported
// reference models (cached per test binary), the reference's top-5, 64-byte aligned byte buffers, temporary
// folders and running the built CLI.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/npy.h"
#include "nn/file_util.h"
#include "tests/reference_data.h"
#include "weights/model.h"

namespace ec::test {

inline const char* const kModelNames[] = {"mobilenet_v2_1.0_224_quant", "tf2_mobilenet_v2_1.0_224_ptq",
                                          "mobilenet_v1_0.75_192_quant"};

inline std::string model_tflite(const std::string& name) { return shared_path("models/" + name + ".tflite"); }
inline std::string labels_path() { return shared_path("models/imagenet_labels.txt"); }

// Importing takes ~0.1 s per model; each is imported once per test binary.
inline const Model& imported_model(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Model>> cache;
    auto& slot = cache[name];
    if (!slot) slot = std::make_unique<Model>(import_tflite(model_tflite(name), labels_path()));
    return *slot;
}

// The reference's preprocessed input of `image` for `model` (reference/<model>/<image>/input.npy).
inline Tensor reference_input(const std::string& model, const std::string& image = "cat") {
    return read_npy_tensor(shared_path("reference/" + model + "/" + image + "/input.npy"));
}

// The logit indices of meta.json's "top5" list, best first.
inline std::vector<int> reference_top5(const std::string& folder) {
    std::vector<uint8_t> bytes = read_file_bytes(shared_path("reference/" + folder + "/meta.json"), 1 << 20);
    std::string text(bytes.begin(), bytes.end());
    std::vector<int> idx;
    size_t p = text.find("\"top5\"");
    REQUIRE_MESSAGE(p != std::string::npos, folder << "/meta.json has no top5");
    while ((p = text.find("\"index\":", p)) != std::string::npos && idx.size() < 5) {
        p += 8;
        idx.push_back(std::atoi(text.c_str() + p));
    }
    REQUIRE(idx.size() == 5);
    return idx;
}

// Bytes at a 64-byte aligned address (what the .ecw parser requires of memory it points parameters into).
struct AlignedBytes {
    std::vector<uint8_t> storage;
    size_t shift = 0, size = 0;
    explicit AlignedBytes(const std::string& bytes) : storage(bytes.size() + 64), size(bytes.size()) {
        shift = (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
        std::memcpy(data(), bytes.data(), bytes.size());
    }
    uint8_t* data() { return storage.data() + shift; }
};

// A fresh temporary folder, removed (with its files) at the end of the scope.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/entropycam-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

inline std::string read_text(const std::string& path) {
    std::vector<uint8_t> b = read_file_bytes(path, 64 << 20);
    return std::string(b.begin(), b.end());
}

struct CliResult {
    int exit_code = -1;
    std::string out, err;
};

// Runs the built CLI (path in env ENTROPYCAM_CLI, set by `make test`) with a shell-quoted argument string,
// optionally with extra environment assignments ("A=b "), capturing stdout, stderr and the exit code.
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
    const char* cli = std::getenv("ENTROPYCAM_CLI");
    REQUIRE_MESSAGE(cli != nullptr, "ENTROPYCAM_CLI is not set: run the tests through `make test`");
    TempDir tmp;
    const std::string cmd = env + "'" + std::string(cli) + "' " + args + " >'" + tmp.path + "/out' 2>'" + tmp.path + "/err'";
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(tmp.path + "/out");
    r.err = read_text(tmp.path + "/err");
    return r;
}

}  // namespace ec::test
