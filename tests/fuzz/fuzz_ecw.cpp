// libFuzzer target: entropycam's .ecw weight-file loader (weights/format.h parse_model, what load_model runs
// on the mapped file). The bytes are copied to 64-byte aligned memory as a mapping would be. A model that
// loads must run (fuzz_util.h).
#include <cstdlib>
#include <memory>

#include "tests/fuzz/fuzz_util.h"
#include "weights/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ec;
    std::unique_ptr<uint8_t, decltype(&std::free)> copy(static_cast<uint8_t*>(std::aligned_alloc(64, (size + 64) / 64 * 64)),
                                                        &std::free);
    if (size) std::memcpy(copy.get(), data, size);
    try {
        Model m = ecw::parse_model(copy.get(), size, nullptr, "fuzz.ecw");
        fuzz::run_model(m);
    } catch (const Error& e) {
        fuzz::check_one_line(e);
    }
    return 0;
}
