// nn/gemm.h: the tiled product against a naive triple loop, for every transpose combination, strided operands,
// accumulate and overwrite, and sizes that do and do not split into tiles.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nn/gemm.h"
#include "nn/tensor.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

TEST_CASE("gemm matches a naive product for every transpose combination") {
    ec::test::Rng rng(42);
    struct Size { int m, n, k; };
    // 1x1x1; odd sizes under the parallel threshold; tall (row tiles), wide (column tiles), and a GEMV row.
    // Then the edges of the SIMD kernel (AVX-512: 12 x 32 micro-tiles, inner blocks of 128, tiles of 192 x 256; AVX2:
    // 6 x 16, 256, 96 x 128): rows and columns one off the blocks, one-vector and masked column tails, several
    // inner blocks.
    for (Size s : {Size{1, 1, 1}, Size{7, 5, 3}, Size{301, 37, 19}, Size{5, 413, 29}, Size{1, 1001, 64}, Size{13, 33, 129},
                   Size{11, 31, 256}, Size{12, 16, 5}, Size{25, 17, 300}, Size{7, 15, 257}, Size{97, 129, 9}, Size{193, 257, 7}, Size{24, 48, 1},
                   Size{3, 960, 40}, Size{50, 3, 960}}) {
        for (int variant = 0; variant < 4; ++variant) {
            const bool ta = variant & 1, tb = variant & 2;
            INFO("m " << s.m << " n " << s.n << " k " << s.k << " transpose a " << ta << " b " << tb);
            // Stored shapes (with 3 floats of padding per row to exercise the strides).
            const int a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k, b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
            const auto a = ec::test::random_vector<float>(rng, size_t(a_rows) * (a_cols + 3));
            const auto b = ec::test::random_vector<float>(rng, size_t(b_rows) * (b_cols + 3));
            const int ldc = s.n + 2;
            const auto start = ec::test::random_vector<float>(rng, size_t(s.m) * ldc);
            auto out = start, sum = start;
            const ec::GemmInput ga{a.data(), a_rows, a_cols, a_cols + 3, ta}, gb{b.data(), b_rows, b_cols, b_cols + 3, tb};
            ec::gemm(out.data(), ldc, ga, gb, false);
            ec::gemm(sum.data(), ldc, ga, gb, true);
            std::vector<float> want(size_t(s.m) * s.n), got(want.size()), got_sum(want.size());
            for (int i = 0; i < s.m; ++i)
                for (int j = 0; j < s.n; ++j) {
                    double acc = 0;
                    for (int p = 0; p < s.k; ++p) {
                        const float av = ta ? a[size_t(p) * (a_cols + 3) + i] : a[size_t(i) * (a_cols + 3) + p];
                        const float bv = tb ? b[size_t(j) * (b_cols + 3) + p] : b[size_t(p) * (b_cols + 3) + j];
                        acc += double(av) * double(bv);
                    }
                    want[size_t(i) * s.n + j] = float(acc);
                    got[size_t(i) * s.n + j] = out[size_t(i) * ldc + j];
                    got_sum[size_t(i) * s.n + j] = sum[size_t(i) * ldc + j] - start[size_t(i) * ldc + j];
                }
            // Float sums of at most 64 products against a double sum: sqrt(64) * 2^-24 ~ 5e-7 of the scale.
            ec::test::check_close_rel_max("overwrite", got.data(), want.data(), int64_t(want.size()), 1e-5f);
            ec::test::check_close_rel_max("accumulate", got_sum.data(), want.data(), int64_t(want.size()), 1e-5f);
            // The padding columns of out are left alone.
            for (int i = 0; i < s.m; ++i) CHECK(out[size_t(i) * ldc + s.n] == start[size_t(i) * ldc + s.n]);
        }
    }
    std::vector<float> x(6);
    // An empty inner dimension gives zeros (or leaves an accumulated out alone).
    std::vector<float> out(6, 5.0f);
    ec::gemm(out.data(), 3, ec::GemmInput{x.data(), 2, 0, 1}, ec::GemmInput{x.data(), 0, 3, 3}, false);
    for (float v : out) CHECK(v == 0.0f);
    CHECK_THROWS_AS(ec::gemm(x.data(), 2, ec::GemmInput{x.data(), 2, 3, 3}, ec::GemmInput{x.data(), 2, 2, 2}, false),
                    ec::Error);
}

TEST_CASE("gemm epilogue: bias per column, clamp, accumulate, for every transpose combination") {
    ec::test::Rng rng(7);
    const int m = 29, n = 45, k = 140;
    for (int variant = 0; variant < 8; ++variant) {
        const bool ta = variant & 1, tb = variant & 2, acc = variant & 4;
        INFO("transpose a " << ta << " b " << tb << " accumulate " << acc);
        const auto a = ec::test::random_vector<float>(rng, size_t(m) * k);
        const auto b = ec::test::random_vector<float>(rng, size_t(k) * n);
        const auto bias = ec::test::random_vector<float>(rng, size_t(n));
        const auto start = ec::test::random_vector<float>(rng, size_t(m) * n);
        const ec::GemmInput ga{a.data(), ta ? k : m, ta ? m : k, ta ? m : k, ta};
        const ec::GemmInput gb{b.data(), tb ? n : k, tb ? k : n, tb ? k : n, tb};
        // lo/hi cut through the sums (scale sqrt(140) / 3 ~ 4), so both bounds bite.
        ec::GemmEpilogue ep;
        ep.accumulate = acc, ep.bias = bias.data(), ep.lo = -1.5f, ep.hi = 2.0f;
        auto out = start;
        ec::gemm(out.data(), n, ga, gb, ep);
        std::vector<float> want(out.size());
        int clamped = 0;
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                double sum = acc ? start[size_t(i) * n + j] : 0.0;
                for (int p = 0; p < k; ++p)
                    sum += double(ta ? a[size_t(p) * m + i] : a[size_t(i) * k + p]) *
                           double(tb ? b[size_t(j) * k + p] : b[size_t(p) * n + j]);
                sum += bias[size_t(j)];
                clamped += sum < ep.lo || sum > ep.hi;
                want[size_t(i) * n + j] = float(std::min(std::max(sum, double(ep.lo)), double(ep.hi)));
            }
        CHECK(clamped > m * n / 10);
        ec::test::check_close_rel_max("epilogue", out.data(), want.data(), int64_t(want.size()), 1e-5f);
    }
}

TEST_CASE("gemm: a product of few rows equals, bit for bit (SIMD builds), the same rows of a taller product") {
    // Few rows take their own path (B streamed by rows); the values must not depend on how many rows come along
    // (a batch-1 forward and the same image in a batch of 16 give the same logits).
    // Sparse A (explain's one-hot seeds: zero columns of A are skipped), too: 0, 1 or 3 nonzero columns.
    ec::test::Rng rng(11);
    for (int nonzero : {-1, 0, 1, 3})  // -1: dense
    for (int k : {40, 300, 1283})
        for (bool tb : {false, true}) {  // B as stored, or transposed (a fully connected layer's backward)
            const int n = 1001, tall = 16;
            auto a = ec::test::random_vector<float>(rng, size_t(tall) * k);
            if (nonzero >= 0) {  // the first 5 rows keep only columns 7, 7 + k/3, 7 + 2k/3 (of `nonzero`)
                for (int r = 0; r < 5; ++r)
                    for (int p = 0; p < k; ++p) {
                        bool keep = false;
                        for (int z = 0; z < nonzero; ++z) keep = keep || p == (7 + z * k / 3) % k;
                        if (!keep || (r == 2 && p == 7)) a[size_t(r) * k + p] = 0.0f;  // row 2 sparser still
                    }
            }
            const auto b = ec::test::random_vector<float>(rng, size_t(k) * n);
            const auto bias = ec::test::random_vector<float>(rng, size_t(n));
            const ec::GemmInput gb = tb ? ec::GemmInput{b.data(), n, k, k, true} : ec::GemmInput{b.data(), k, n, n};
            ec::GemmEpilogue ep;
            ep.bias = bias.data(), ep.lo = -1.0f, ep.hi = 1.0f;
            std::vector<float> want(size_t(tall) * n);
            ec::gemm(want.data(), n, ec::GemmInput{a.data(), tall, k, k}, gb, ep);
            for (int m = 1; m <= 5; ++m) {
                INFO("k " << k << " rows " << m << " transposed b " << tb << " nonzero columns " << nonzero);
                ec::FloatBuffer got(size_t(m) * n);
                ec::gemm(got.data(), n, ec::GemmInput{a.data(), m, k, k}, gb, ep);
                // Portable builds: outputs clamped to [-1, 1] from sums of up to 1283 products of scale ~10.
                ec::test::check_batch_independent("rows", got, ec::FloatBuffer(want.begin(), want.begin() + got.size()), 1e-4f);
            }
        }
}

TEST_CASE("gemm: steps where all of a micro-tile's rows of A are 0 are skipped, the sums the same bit for bit") {
    // A as a ReLU-gated gradient: some columns 0 in every row, some nonzero in one row only, dense columns, and one
    // micro-tile whose whole second inner block is 0 (AVX-512 micro-tiles of 12 rows, inner blocks of 128). Each
    // row is also multiplied alone, where nothing is skipped (a micro-tile of one row), and must give the same bits.
    ec::test::Rng rng(5);
    const int m = 100, n = 70, k = 300;
    auto a = ec::test::random_vector<float>(rng, size_t(m) * k);
    for (int i = 0; i < m; ++i)
        for (int p = 0; p < k; ++p) {
            const bool zero = p % 3 == 0 || (p % 3 == 1 && i != p % m) || (i >= 12 && i < 24 && p >= 128 && p < 256);
            if (zero) a[size_t(i) * k + p] = 0.0f;
        }
    const auto b = ec::test::random_vector<float>(rng, size_t(k) * n);
    const auto bias = ec::test::random_vector<float>(rng, size_t(n));
    const auto start = ec::test::random_vector<float>(rng, size_t(m) * n);
    std::vector<float> packed(size_t(ec::gemm_packed_b_floats(k, n)));
    if (!packed.empty()) ec::gemm_pack_b(packed.data(), ec::GemmInput{b.data(), k, n, n});
    std::vector<float> bt(size_t(n) * k);  // B transposed, as an input gradient reads a filter
    for (int p = 0; p < k; ++p)
        for (int j = 0; j < n; ++j) bt[size_t(j) * k + p] = b[size_t(p) * n + j];
    std::vector<ec::GemmInput> layouts = {ec::GemmInput{b.data(), k, n, n}, ec::GemmInput{bt.data(), n, k, k, true}};
    if (!packed.empty()) layouts.push_back(ec::GemmInput{packed.data(), k, n, n, false, true});
    for (size_t layout = 0; layout < layouts.size(); ++layout)
        for (bool accumulate : {false, true}) {
            INFO("B layout " << layout << " accumulate " << accumulate);
            ec::GemmEpilogue ep;
            ep.accumulate = accumulate, ep.bias = accumulate ? nullptr : bias.data(), ep.lo = -3.0f, ep.hi = 3.0f;
            ec::FloatBuffer got(start.begin(), start.end()), want(start.begin(), start.end());
            ec::gemm(got.data(), n, ec::GemmInput{a.data(), m, k, k}, layouts[layout], ep);
            for (int i = 0; i < m; ++i)
                ec::gemm(want.data() + size_t(i) * n, n, ec::GemmInput{a.data() + size_t(i) * k, 1, k, k}, layouts[layout], ep);
            ec::test::check_batch_independent("skipped zero steps", got, want, 1e-5f);
            // And the naive sums.
            std::vector<float> naive(size_t(m) * n);
            for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) {
                    double sum = accumulate ? start[size_t(i) * n + j] : bias[size_t(j)];
                    for (int p = 0; p < k; ++p) sum += double(a[size_t(i) * k + p]) * double(b[size_t(p) * n + j]);
                    naive[size_t(i) * n + j] = float(std::min(3.0, std::max(-3.0, sum)));
                }
            ec::test::check_close_rel_max("naive", got.data(), naive.data(), int64_t(naive.size()), 1e-5f);
        }
    // A NaN is not 0: at a column that is 0 in every other row, it reaches its row's every output and no other.
    a[size_t(50) * k + 3] = std::numeric_limits<float>::quiet_NaN();
    for (const ec::GemmInput& gb : layouts) {
        std::vector<float> out(size_t(m) * n);
        ec::gemm(out.data(), n, ec::GemmInput{a.data(), m, k, k}, gb, false);
        int nan_rows = 0;
        for (int i = 0; i < m; ++i) {
            const int nans = int(std::count_if(out.begin() + i * n, out.begin() + (i + 1) * n, [](float v) { return std::isnan(v); }));
            CHECK((nans == 0 || nans == n));
            nan_rows += nans == n;
            if (i == 50) CHECK(nans == n);
        }
        CHECK(nan_rows == 1);
    }
}
