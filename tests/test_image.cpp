// Image input against the reference (decode + resize == input_u8.npy, normalise == input.npy), hand-made PNG,
// BMP, GIF and JPEG headers for the limits and the colour conversions, and bad files that must fail clearly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include "nn/file_util.h"
#include "io/image.h"
#include "io/npy.h"
#include "tests/test_util.h"

using ec::Error;
using ec::ImageU8;

namespace {

// ---- helpers ---------------------------------------------------------------------------------------------------

using ec::test::check_error_contains;

// A private folder for the files a test writes, removed when the test ends.
struct TempDir {
    std::filesystem::path dir;
    TempDir() {
        dir = std::filesystem::temp_directory_path() / ("entropycam_test_image_" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string write(const std::string& leaf, const std::string& bytes) const {
        std::string path = (dir / leaf).string();
        ec::write_file_atomic(path, bytes);
        return path;
    }
};

void put_be32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s += char((v >> shift) & 0xff);
}
void put_le16(std::string& s, uint32_t v) { s += char(v & 0xff); s += char((v >> 8) & 0xff); }
void put_le32(std::string& s, uint32_t v) { put_le16(s, v & 0xffff); put_le16(s, v >> 16); }

uint32_t crc32(const std::string& bytes) {  // PNG's CRC-32 (ISO 3309), bit by bit
    uint32_t crc = 0xffffffffu;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

std::string png_chunk(const std::string& type, const std::string& data) {
    std::string c;
    put_be32(c, uint32_t(data.size()));
    std::string body = type + data;
    c += body;
    put_be32(c, crc32(body));
    return c;
}

// zlib stream made of stored (uncompressed) deflate blocks, RFC 1950/1951.
std::string zlib_stored(const std::string& raw) {
    std::string z = "\x78\x01";
    size_t pos = 0;
    do {
        size_t len = std::min<size_t>(raw.size() - pos, 65535);
        z += char(pos + len == raw.size() ? 1 : 0);  // BFINAL, BTYPE = 00
        put_le16(z, uint32_t(len));
        put_le16(z, uint32_t(~len & 0xffff));
        z.append(raw, pos, len);
        pos += len;
    } while (pos < raw.size());
    uint32_t a = 1, b = 0;  // Adler-32
    for (unsigned char ch : raw) { a = (a + ch) % 65521; b = (b + a) % 65521; }
    put_be32(z, b << 16 | a);
    return z;
}

// A PNG of the given size and IHDR fields. `samples` are the packed bytes of each row, without filter bytes
// (big-endian for 16 bits); when empty, the file stops after IHDR (enough for a header check).
std::string make_png(uint32_t w, uint32_t h, int depth, int color, const std::vector<uint8_t>& samples = {}) {
    std::string png = "\x89PNG\r\n\x1a\n";
    std::string ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += char(depth);
    ihdr += char(color);
    ihdr += std::string(3, '\0');  // deflate, adaptive filtering, no interlace
    png += png_chunk("IHDR", ihdr);
    if (samples.empty()) return png;
    size_t row = samples.size() / h;
    std::string raw;
    for (uint32_t y = 0; y < h; ++y) {
        raw += '\0';  // filter type None
        raw.append(reinterpret_cast<const char*>(samples.data()) + y * row, row);
    }
    png += png_chunk("IDAT", zlib_stored(raw));
    png += png_chunk("IEND", "");
    return png;
}

std::string make_bmp_header(int32_t w, int32_t h) {  // BITMAPFILEHEADER + BITMAPINFOHEADER, 24 bits
    std::string b = "BM";
    put_le32(b, 54);
    put_le32(b, 0);
    put_le32(b, 54);
    put_le32(b, 40);
    put_le32(b, uint32_t(w));
    put_le32(b, uint32_t(h));
    put_le16(b, 1);
    put_le16(b, 24);
    for (int i = 0; i < 6; ++i) put_le32(b, 0);
    return b;
}

std::string make_gif_header(int w, int h) {
    std::string g = "GIF89a";
    put_le16(g, uint32_t(w));
    put_le16(g, uint32_t(h));
    g += std::string(3, '\0');  // no global colour table
    return g;
}

std::string make_jpeg_header(int w, int h) {  // SOI + a baseline frame header (SOF0) for 3 components
    std::string j = "\xFF\xD8\xFF\xC0";
    j += char(0);
    j += char(17);
    j += char(8);
    j += char(h >> 8); j += char(h & 0xff);
    j += char(w >> 8); j += char(w & 0xff);
    j += char(3);
    for (int c = 1; c <= 3; ++c) { j += char(c); j += char(0x11); j += char(0); }
    return j;
}

ImageU8 decode(const std::string& bytes, const std::string& name = "mem") {
    return ec::decode_image_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}
ec::ImageInfo info(const std::string& bytes, const std::string& name = "mem") {
    return ec::read_image_info_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}

// (model, image) pairs of reference/index.json: {"model": ["image", ...], ...}. Just enough JSON for that file:
// a string followed by ':' is a model, any other string an image of the current model.
std::vector<std::pair<std::string, std::string>> reference_cases() {
    std::vector<uint8_t> bytes = ec::read_file_bytes(ec::test::shared_path("reference/index.json"), 1 << 20);
    std::string text(bytes.begin(), bytes.end());
    std::vector<std::pair<std::string, std::string>> cases;
    std::string model;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '"') continue;
        size_t end = text.find('"', i + 1);
        REQUIRE(end != std::string::npos);
        std::string token = text.substr(i + 1, end - i - 1);
        size_t next = text.find_first_not_of(" \t\r\n", end + 1);
        if (next != std::string::npos && text[next] == ':') model = token;
        else cases.push_back({model, token});
        i = end;
    }
    return cases;
}

// The source picture of a reference folder: coral/<name>.bmp or .jpg, or imagenet-dev/<name>.JPEG.
std::string source_image(const std::string& name) {
    for (std::string rel : {"images/coral/" + name + ".bmp", "images/coral/" + name + ".jpg",
                            "images/imagenet-dev/" + name + ".JPEG"}) {
        std::string path = ec::test::shared_path(rel);
        if (std::filesystem::exists(path)) return path;
    }
    return "";
}

ImageU8 image_from_u8_npy(const ec::NpyArray& a) {
    REQUIRE(a.shape.size() == 4);
    ImageU8 im;
    im.height = int(a.shape[1]);
    im.width = int(a.shape[2]);
    im.rgb.assign(a.data.begin(), a.data.end());
    return im;
}

}  // namespace

// ---- the reference ---------------------------------------------------------------------------------------------

TEST_CASE("decode + resize_bilinear_u8 + image_to_input match every reference input" * ec::test::needs_shared()) {
    auto cases = reference_cases();
    REQUIRE(cases.size() >= 3);
    for (const auto& [model, image] : cases) {
        CAPTURE(model);
        CAPTURE(image);
        std::string folder = ec::test::shared_path("reference/" + model + "/" + image + "/");
        ec::NpyArray want_u8 = ec::read_npy(folder + "input_u8.npy");
        ImageU8 want = image_from_u8_npy(want_u8);
        std::string source = source_image(image);
        REQUIRE_MESSAGE(!source.empty(), "no source image for " << image);

        ImageU8 got = ec::resize_bilinear_u8(ec::decode_image(source), want.width, want.height);
        REQUIRE(got.rgb.size() == want.rgb.size());
        int max_diff = 0;
        double sum_diff = 0;
        for (size_t i = 0; i < got.rgb.size(); ++i) {
            int d = std::abs(int(got.rgb[i]) - int(want.rgb[i]));
            max_diff = std::max(max_diff, d);
            sum_diff += d;
        }
        double mean_diff = sum_diff / double(got.rgb.size());
        MESSAGE(model << "/" << image << " (" << source.substr(source.rfind('/') + 1) << "): u8 max |diff| = "
                      << max_diff << ", mean |diff| = " << mean_diff);
        if (source.size() > 4 && source.compare(source.size() - 4, 4, ".bmp") == 0) {
            CHECK(max_diff == 0);  // BMP decoding is exact, so is the resize
        } else {
            // stb_image and the reference's JPEG decoder round the IDCT and chroma upsampling differently. Measured
            // on the 7 JPEG reference inputs: max 2 levels, mean <= 0.062 (the worst mean is the 106x150 image,
            // upscaled, so each decoder difference spreads over several output pixels). Bounds with 3-4x margin;
            // exceeding them means a real decoding change (e.g. colour conversion or upsampling), not rounding.
            CHECK(max_diff <= 6);
            CHECK(mean_diff <= 0.25);
        }

        // Normalisation is bit-exact: compared as float bits, not with a tolerance.
        ec::Preprocessing pre;
        pre.width = want.width;
        pre.height = want.height;
        ec::Tensor input = ec::image_to_input(want, pre);
        ec::NpyArray want_input = ec::read_npy(folder + "input.npy");
        REQUIRE(want_input.data.size() == size_t(input.numel()));
        CHECK(input.shape == ec::Shape{1, want.height, want.width, 3});
        float diff = ec::test::max_abs_diff(input.ptr(), want_input.data.data(), input.numel());
        INFO("image_to_input vs input.npy: max |diff| = " << diff);
        CHECK(std::memcmp(input.ptr(), want_input.data.data(), want_input.data.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("load_input: image files, a uint8 .npy image and a float .npy input all give the reference input" * ec::test::needs_shared()) {
    std::string folder = ec::test::shared_path("reference/mobilenet_v2_1.0_224_quant/cat/");
    ec::NpyArray want = ec::read_npy(folder + "input.npy");
    ec::NpyArray want_u8 = ec::read_npy(folder + "input_u8.npy");
    ec::Preprocessing pre;  // 224 x 224, u8 / 127.5 - 1

    ec::LoadedInput from_bmp = ec::load_input(ec::test::shared_path("images/coral/cat.bmp"), pre);
    CHECK(from_bmp.source_width == 512);
    CHECK(from_bmp.source_height == 341);
    CHECK(ec::test::values_of(from_bmp.input) == want.data);
    CHECK(from_bmp.display.rgb == image_from_u8_npy(want_u8).rgb);

    ec::LoadedInput from_u8_npy = ec::load_input(folder + "input_u8.npy", pre);
    CHECK(ec::test::values_of(from_u8_npy.input) == want.data);

    ec::LoadedInput from_npy = ec::load_input(folder + "input.npy", pre);
    CHECK(from_npy.input.shape == ec::Shape{1, 224, 224, 3});
    CHECK(ec::test::values_of(from_npy.input) == want.data);
    CHECK(from_npy.display.rgb == image_from_u8_npy(want_u8).rgb);  // de-normalised back to the same u8
}

TEST_CASE("a greyscale JPEG decodes to RGB with R = G = B" * ec::test::needs_shared()) {
    std::string path = ec::test::shared_path("images/imagenet-dev/n03908714_pencil_sharpener.JPEG");
    std::vector<uint8_t> bytes = ec::read_file_bytes(path, ec::kMaxImageFileBytes);
    ec::ImageInfo header = ec::read_image_info_memory(bytes.data(), bytes.size(), path);
    CHECK(header.channels == 1);
    CHECK(header.format == "JPEG");
    ImageU8 im = ec::decode_image(path);
    REQUIRE(im.rgb.size() == size_t(im.width) * size_t(im.height) * 3);
    size_t unequal = 0, non_black = 0;
    for (size_t p = 0; p < im.rgb.size(); p += 3) {
        unequal += im.rgb[p] != im.rgb[p + 1] || im.rgb[p] != im.rgb[p + 2];
        non_black += im.rgb[p] != 0;
    }
    CHECK(unequal == 0);
    CHECK(non_black > im.rgb.size() / 6);  // really decoded, not an all-zero buffer
}

// ---- formats and colour conversion -----------------------------------------------------------------------------

TEST_CASE("hand-made PNGs: 8-bit RGB, 16-bit RGB, grey, grey+alpha and RGBA decode to the expected RGB") {
    const uint32_t w = 3, h = 2;
    SUBCASE("8-bit RGB") {
        std::vector<uint8_t> s(w * h * 3);
        for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(i * 13 + 7);
        ImageU8 im = decode(make_png(w, h, 8, 2, s));
        CHECK(im.width == int(w));
        CHECK(im.height == int(h));
        CHECK(im.rgb == s);
    }
    SUBCASE("16-bit RGB keeps the high byte") {
        std::vector<uint8_t> s(w * h * 3 * 2), expect(w * h * 3);
        for (size_t i = 0; i < expect.size(); ++i) {
            uint16_t v = uint16_t(i * 3001 + 255);  // low bytes vary too, and must not round the result up
            s[2 * i] = uint8_t(v >> 8);
            s[2 * i + 1] = uint8_t(v & 0xff);
            expect[i] = uint8_t(v >> 8);
        }
        CHECK(decode(make_png(w, h, 16, 2, s)).rgb == expect);
    }
    SUBCASE("8-bit grey is replicated") {
        std::vector<uint8_t> s = {0, 50, 100, 150, 200, 255}, expect;
        for (uint8_t g : s) expect.insert(expect.end(), {g, g, g});
        CHECK(decode(make_png(w, h, 8, 0, s)).rgb == expect);
    }
    SUBCASE("grey+alpha: alpha is dropped, not composited") {
        std::vector<uint8_t> s, expect;
        for (int i = 0; i < int(w * h); ++i) {
            uint8_t g = uint8_t(40 * i + 10), a = uint8_t(255 - 50 * i);
            s.insert(s.end(), {g, a});
            expect.insert(expect.end(), {g, g, g});
        }
        CHECK(info(make_png(w, h, 8, 4, s)).channels == 2);
        CHECK(decode(make_png(w, h, 8, 4, s)).rgb == expect);
    }
    SUBCASE("16-bit grey+alpha") {
        std::vector<uint8_t> s, expect;
        for (int i = 0; i < int(w * h); ++i) {
            uint8_t g = uint8_t(40 * i + 3);
            s.insert(s.end(), {g, 0xff, uint8_t(i), 0x10});
            expect.insert(expect.end(), {g, g, g});
        }
        CHECK(decode(make_png(w, h, 16, 4, s)).rgb == expect);
    }
    SUBCASE("RGBA: alpha is dropped") {
        std::vector<uint8_t> s, expect;
        for (int i = 0; i < int(w * h); ++i) {
            uint8_t r = uint8_t(i * 30), g = uint8_t(200 - i), b = uint8_t(i * 7 + 1);
            s.insert(s.end(), {r, g, b, uint8_t(i * 40)});
            expect.insert(expect.end(), {r, g, b});
        }
        CHECK(decode(make_png(w, h, 8, 6, s)).rgb == expect);
    }
}

// ---- bad input -------------------------------------------------------------------------------------------------

TEST_CASE("bad files throw ec::Error naming the file and the problem" * ec::test::needs_shared()) {
    TempDir tmp;
    std::vector<uint8_t> rgb(32 * 32 * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 7 % 251);
    const std::string png = make_png(32, 32, 8, 2, rgb);
    REQUIRE(decode(png).rgb == rgb);  // the intact file decodes

    std::string missing = (tmp.dir / "missing.jpg").string();
    check_error_contains([&] { ec::decode_image(missing); }, missing + ": No such file");
    std::string text = tmp.write("notes.txt", "this is a text file, not an image\n");
    check_error_contains([&] { ec::decode_image(text); }, text + ": not an image or unsupported format");
    std::string empty = tmp.write("empty.png", "");
    check_error_contains([&] { ec::decode_image(empty); }, empty + ": empty file");

    std::string cut_png = tmp.write("cut.png", png.substr(0, png.size() * 6 / 10));
    check_error_contains([&] { ec::decode_image(cut_png); }, cut_png + ": corrupt or truncated PNG data");
    std::vector<uint8_t> jpeg = ec::read_file_bytes(
        ec::test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG"), ec::kMaxImageFileBytes);
    std::string cut_jpeg = tmp.write("cut.jpg", std::string(jpeg.begin(), jpeg.begin() + long(jpeg.size() / 2)));
    check_error_contains([&] { ec::decode_image(cut_jpeg); }, cut_jpeg + ": corrupt or truncated JPEG data");
    std::string header_only = tmp.write("header_only.png", make_png(32, 32, 8, 2));
    check_error_contains([&] { ec::decode_image(header_only); }, "corrupt or truncated PNG data");

    std::string huge = tmp.write("huge.png", make_png(30000, 30000, 8, 2));
    check_error_contains([&] { ec::decode_image(huge); }, huge + ": 30000 x 30000 image exceeds the limit");
    check_error_contains([&] { decode(make_jpeg_header(30000, 30000)); }, "30000 x 30000 image exceeds the limit");
    check_error_contains([&] { decode(make_png(0, 5, 8, 2)); }, "zero-sized image (0 x 5)");
    check_error_contains([&] { decode(make_bmp_header(0, 5)); }, "zero-sized image (0 x 5)");
    check_error_contains([&] { decode(make_jpeg_header(7, 0)); }, "zero-sized image (7 x 0)");
    check_error_contains([&] { decode(make_png(4, 4, 8, 5)); }, "corrupt PNG header");  // colour type 5

    ec::Preprocessing pre;  // 224 x 224
    std::vector<float> values(224 * 224 * 3, 0.5f);
    values[1234] = std::numeric_limits<float>::quiet_NaN();
    std::string nan_npy = (tmp.dir / "nan.npy").string();
    ec::write_npy(nan_npy, values.data(), {1, 224, 224, 3});
    check_error_contains([&] { ec::load_input(nan_npy, pre); }, nan_npy + ": .npy input has a non-finite value");
    values[1234] = std::numeric_limits<float>::infinity();
    ec::write_npy(nan_npy, values.data(), {1, 224, 224, 3});
    check_error_contains([&] { ec::load_input(nan_npy, pre); }, "element 1234");
    std::string small_npy = (tmp.dir / "small.npy").string();
    ec::write_npy(small_npy, values.data(), {1, 192, 192, 3});
    check_error_contains([&] { ec::load_input(small_npy, pre); },
                         "has shape [1,192,192,3], the model needs [1,224,224,3]");
    std::string not_npy = tmp.write("fake.npy", "not numpy");
    check_error_contains([&] { ec::load_input(not_npy, pre); }, not_npy + ": npy: not a .npy file");
}

TEST_CASE("size limits are checked on the header, just below and just above") {
    const int side = ec::kMaxImageSide;
    // Only headers: nothing this large is ever decoded or allocated.
    for (auto make : {+[](int w, int h) { return make_png(uint32_t(w), uint32_t(h), 8, 2); },
                      +[](int w, int h) { return make_bmp_header(w, h); },
                      +[](int w, int h) { return make_gif_header(w, h); },
                      +[](int w, int h) { return make_jpeg_header(w, h); }}) {
        ec::ImageInfo ok = info(make(side, 1));
        CAPTURE(ok.format);
        CHECK(ok.width == side);
        CHECK(ok.height == 1);
        CHECK(info(make(1, side)).height == side);
        check_error_contains([&] { info(make(side + 1, 1)); }, "exceeds the limit of 16384 pixels per side");
        check_error_contains([&] { info(make(1, side + 1)); }, "exceeds the limit of 16384 pixels per side");
    }
    static_assert(ec::kMaxImagePixels == int64_t(16384) * 4096, "the pixel cases below assume 64 Mi pixels");
    CHECK(info(make_png(16384, 4096, 8, 2)).height == 4096);
    CHECK(info(make_bmp_header(4096, 16384)).width == 4096);
    check_error_contains([] { info(make_png(16384, 4097, 8, 2)); }, "exceeds the limit of 67108864 pixels");
    check_error_contains([] { info(make_bmp_header(4097, 16384)); }, "exceeds the limit of 67108864 pixels");
    // The file size limit applies to memory input too.
    std::string small = make_png(1, 1, 8, 2);
    check_error_contains([&] { ec::read_image_info_memory(reinterpret_cast<const uint8_t*>(small.data()),
                                                          size_t(ec::kMaxImageFileBytes) + 1, "big"); },
                         "exceeds the limit of 268435456 bytes");
}

// ---- resize and normalisation ----------------------------------------------------------------------------------

TEST_CASE("resize_bilinear_u8: half-pixel centres, clamped edges, round half up, identity at the same size") {
    ImageU8 in{2, 1, {0, 0, 0, 100, 200, 255}};
    ImageU8 up = ec::resize_bilinear_u8(in, 4, 1);
    // src = max((dst + 0.5) * 2 / 4 - 0.5, 0) = 0, 0.25, 0.75, 1.25 -> i1 clamped to 1 at the right edge.
    CHECK(up.rgb == std::vector<uint8_t>{0, 0, 0, 25, 50, 64, 75, 150, 191, 100, 200, 255});
    ImageU8 row{4, 1, {0, 0, 0, 10, 10, 10, 20, 21, 20, 31, 30, 32}};
    // Halving samples at src = 0.5 and 2.5: exact means, and 25.5 rounds up to 26 (floor(v + 0.5)).
    CHECK(ec::resize_bilinear_u8(row, 2, 1).rgb == std::vector<uint8_t>{5, 5, 5, 26, 26, 26});
    ImageU8 column{1, 4, row.rgb};
    CHECK(ec::resize_bilinear_u8(column, 1, 2).rgb == std::vector<uint8_t>{5, 5, 5, 26, 26, 26});

    ImageU8 noise{8, 5, {}};
    for (int i = 0; i < 8 * 5 * 3; ++i) noise.rgb.push_back(uint8_t(i * 97 % 256));
    CHECK(ec::resize_bilinear_u8(noise, 8, 5).rgb == noise.rgb);
    ImageU8 one = ec::resize_bilinear_u8(noise, 1, 1);  // src = 0.5 * 8 - 0.5 = 3.5 in x, 0.5 * 5 - 0.5 = 2 in y
    CHECK(one.rgb[0] == uint8_t(std::floor((noise.rgb[(2 * 8 + 3) * 3] + noise.rgb[(2 * 8 + 4) * 3]) / 2.0 + 0.5)));

    check_error_contains([] { ec::resize_bilinear_u8(ImageU8{}, 4, 4); }, "input image is empty");
    check_error_contains([&] { ec::resize_bilinear_u8(noise, 0, 4); }, "zero-sized");
}

TEST_CASE("image_to_input is float32(u8) / 127.5 - 1 bit for bit, and input_to_image inverts it") {
    ec::Preprocessing pre;
    pre.width = 256;
    pre.height = 1;
    ImageU8 ramp{256, 1, {}};
    for (int u = 0; u < 256; ++u) ramp.rgb.insert(ramp.rgb.end(), {uint8_t(u), uint8_t(255 - u), uint8_t(u)});
    ec::Tensor x = ec::image_to_input(ramp, pre);
    REQUIRE(x.shape == ec::Shape{1, 1, 256, 3});
    int mismatches = 0;
    for (size_t i = 0; i < ramp.rgb.size(); ++i) {
        volatile float divisor = 127.5f;  // as NumPy does it: a float32 division, then a float32 subtraction
        float want = float(ramp.rgb[i]) / divisor - 1.0f;
        mismatches += x.data[i] != want;
    }
    CHECK(mismatches == 0);
    CHECK(x.data[0] == -1.0f);
    CHECK(x.data[255 * 3] == 1.0f);
    CHECK(ec::input_to_image(x, pre).rgb == ramp.rgb);
    check_error_contains([&] { pre.width = 255; ec::image_to_input(ramp, pre); }, "the input needs 255 x 1");
}
