// libFuzzer target: the TFLite reader (weights/tflite.h parse_tflite) and the importer built on it
// (import_tflite_memory). A model that imports must also survive the .ecw round trip (serialize_model, then
// parse_model gives the same graph size) and run (fuzz_util.h).
#include <cstdlib>
#include <memory>

#include "tests/fuzz/fuzz_util.h"
#include "weights/format.h"
#include "weights/tflite_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ec;
    try {
        tflite::parse_tflite(data, size, "fuzz.tflite");
        Model m = import_tflite_memory(data, size, "fuzz.tflite", "fuzz", {});
        std::string ecw_bytes;
        try {
            ecw_bytes = ecw::serialize_model(m);
        } catch (const Error& e) {
            fuzz::check_one_line(e);  // beyond the .ecw limits: refused at convert time, fine
        }
        if (!ecw_bytes.empty()) {
            // A converted model must load again (64-byte aligned, as parse_model requires).
            std::unique_ptr<uint8_t, decltype(&std::free)> copy(
                static_cast<uint8_t*>(std::aligned_alloc(64, (ecw_bytes.size() + 63) / 64 * 64)), &std::free);
            std::memcpy(copy.get(), ecw_bytes.data(), ecw_bytes.size());
            Model back = ecw::parse_model(copy.get(), ecw_bytes.size(), nullptr, "roundtrip.ecw");
            if (back.graph.tensors.size() != m.graph.tensors.size()) std::abort();
        }
        fuzz::run_model(m);
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
