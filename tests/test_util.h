// Helpers shared by the tests: where ../shared is, and comparisons that print the max difference.
#pragma once
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "nn/simd.h"
#include "nn/tensor.h"

namespace ec::test {

// n draws of N(0, scale^2) from rng: random weights and inputs for graph tests.
inline std::vector<float> random_values(int64_t n, std::mt19937& rng, float scale = 0.5f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = d(rng);
    return v;
}

// Whether the shared data folder named by ENTROPYCAM_SHARED (the Makefile sets it from SHARED) holds the
// models, images and reference outputs. A fresh clone has none of it.
// A tensor's values as a plain vector (for comparing with std::vector<float> in CHECKs).
inline std::vector<float> values_of(const ec::Tensor& t) { return std::vector<float>(t.data.begin(), t.data.end()); }
// The same floats bit for bit (== would take -0 for +0 and fail on NaN).
inline bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline bool shared_data_present() {
    const char* root = std::getenv("ENTROPYCAM_SHARED");
    struct stat st;
    return root && stat((std::string(root) + "/reference").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           stat((std::string(root) + "/models").c_str(), &st) == 0 && stat((std::string(root) + "/images").c_str(), &st) == 0;
}

// The number of test cases registered with `* test::needs_shared()` while the shared data is missing: each is
// skipped, and tests/main.cpp prints how many and why. Counted once per registration (static initialisation).
inline int& tests_skipped_for_shared() {
    static int n = 0;
    return n;
}
// The decorator of every test case that reads the shared data (directly or through the helpers below):
// TEST_CASE("name" * ec::test::needs_shared()). With the data present it skips nothing.
inline doctest::skip needs_shared() {
    const bool missing = !shared_data_present();
    tests_skipped_for_shared() += missing;
    return doctest::skip(missing);
}

// Path of a file under the shared data folder. Fails the test, naming the variable, when it is not set or the
// folder is missing (a test that reads it without `* needs_shared()`): never a silent skip.
inline std::string shared_path(const std::string& rel) {
    const char* root = std::getenv("ENTROPYCAM_SHARED");
    REQUIRE_MESSAGE(root != nullptr, "ENTROPYCAM_SHARED is not set: run the tests through `make test` or set it to the shared data folder");
    REQUIRE_MESSAGE(shared_data_present(), "the shared data folder " << std::string(root) << " is missing: mark this test case `* test::needs_shared()`");
    return std::string(root) + "/" + rel;
}

// Runs f, which must throw ec::Error whose message contains `fragment`.
template <class F>
void check_error_contains(F f, const std::string& fragment) {
    std::string message = "(no error thrown)";
    try {
        f();
    } catch (const Error& e) {
        message = e.what();
    }
    INFO("message: '" << message << "', expected to contain '" << fragment << "'");
    CHECK(message.find(fragment) != std::string::npos);
}

inline bool shared_file_exists(const std::string& rel) {
    FILE* f = std::fopen(shared_path(rel).c_str(), "rb");
    if (f) std::fclose(f);
    return f != nullptr;
}

inline float max_abs(const float* a, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i]));
    return m;
}

inline float max_abs_diff(const float* a, const float* b, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

// Checks |got - want| <= rel_tol * max|want| elementwise and prints the max difference either way.
inline void check_close_rel_max(const std::string& what, const float* got, const float* want, int64_t n, float rel_tol) {
    float scale = std::max(max_abs(want, n), 1e-30f);
    float diff = max_abs_diff(got, want, n);
    INFO(what << ": max |diff| = " << diff << ", max |ref| = " << scale << ", rel = " << diff / scale << " (tol " << rel_tol << ")");
    CHECK(diff <= rel_tol * scale);
}

// Values of the same images computed at different batch sizes (chunked runs, few-row products): equal bit for
// bit on SIMD builds, where every kernel sums each value in an order that depends on neither the batch size nor
// the thread count; within rel_tol of the largest on portable builds, whose Eigen products block by size.
inline void check_batch_independent(const std::string& what, const ec::FloatBuffer& got, const ec::FloatBuffer& want,
                                    float rel_tol = 1e-5f) {
    REQUIRE(got.size() == want.size());
#ifdef EC_SIMD
    (void)rel_tol;
    INFO(what);
    CHECK(got == want);
#else
    check_close_rel_max(what, got.data(), want.data(), int64_t(got.size()), rel_tol);
#endif
}

}  // namespace ec::test
