#include "nn/file_util.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/tensor.h"

namespace ec {

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) throw Error(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory");
    if (int64_t(st.st_size) > max_bytes)
        throw Error(path + ": file is " + std::to_string(st.st_size) + " bytes, above the limit of " +
                    std::to_string(max_bytes));
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error(path + ": " + std::strerror(errno));
    std::vector<uint8_t> bytes(size_t(st.st_size));
    size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    if (got != bytes.size()) throw Error(path + ": read error");
    return bytes;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
    static std::atomic<unsigned> counter{0};  // distinct temporary names for concurrent writers in one process
    std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(path + ": write failed");
    }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    write_file_atomic(path, bytes.data(), bytes.size());
}

std::string read_text_file(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path, kMaxTextFileBytes);
    return std::string(bytes.begin(), bytes.end());
}

std::string file_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string file_stem(const std::string& path) {
    const std::string name = file_name(path);
    const size_t dot = name.find_last_of('.');
    return (dot == std::string::npos || dot == 0) ? name : name.substr(0, dot);
}

size_t utf8_bom_length(const std::string& text) { return text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0; }

}  // namespace ec
