// libFuzzer target: the .npy reader (io/npy.h parse_npy) and what reads .npy files from disk: read_npy_tensor
// and load_input (a uint8 image to resize, or a float input to check), through a temporary file.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "nn/file_util.h"
#include "io/image.h"
#include "io/npy.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

std::string temp_path() {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/entropycam-fuzz-npy-" + std::to_string(getpid()) + ".npy";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ec;
    bool parsed = false;
    try {
        NpyArray a = parse_npy(data, size);
        parsed = true;
        size_t count = 1;
        for (int64_t d : a.shape) count *= size_t(d);
        if (a.data.size() != count) std::abort();
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    static const std::string path = temp_path();
    write_file_atomic(path, data, size);
    try {
        Tensor t = read_npy_tensor(path);
        if (!parsed) std::abort();  // the file reader accepts exactly what the memory parser accepts
        (void)t;
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    try {
        Preprocessing pre;
        pre.width = 8;
        pre.height = 8;
        LoadedInput in = load_input(path, pre);
        if (in.input.shape != (Shape{1, 8, 8, 3})) std::abort();
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
