// Small hand-made image files for the hostile-input tests and the fuzz seeds: PNGs of any size, bit depth and
// colour type (stored deflate blocks, or only the header), and baseline JPEGs with any number of colour
// components (every block flat, so the entropy-coded data is a few zero bytes).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

namespace ec::test {

namespace png_detail {
inline uint32_t crc32(const std::string& s, size_t from) {
    uint32_t c = 0xffffffffu;
    for (size_t i = from; i < s.size(); ++i) {
        c ^= uint8_t(s[i]);
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}
inline void be32(std::string& s, uint32_t v) {
    for (int k = 3; k >= 0; --k) s += char(v >> (8 * k));
}
inline void chunk(std::string& png, const char* type, const std::string& data) {
    be32(png, uint32_t(data.size()));
    const size_t start = png.size();
    png += type;
    png += data;
    be32(png, crc32(png, start));
}
}  // namespace png_detail

// The PNG signature and IHDR chunk only: what a header check sees, without any pixel data.
inline std::string png_header(uint32_t w, uint32_t h, int depth, int colour) {
    std::string png = "\x89PNG\r\n\x1a\n", ihdr;
    png_detail::be32(ihdr, w);
    png_detail::be32(ihdr, h);
    ihdr += char(depth);
    ihdr += char(colour);
    ihdr += std::string(3, '\0');
    png_detail::chunk(png, "IHDR", ihdr);
    return png;
}

// A whole PNG (colour: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA; depth 8 or 16) with a pixel pattern.
inline std::string stored_png(uint32_t w, uint32_t h, int depth, int colour) {
    const int channels = colour == 0 ? 1 : colour == 2 ? 3 : colour == 4 ? 2 : 4;
    std::string png = png_header(w, h, depth, colour);
    const size_t row = 1 + size_t(w) * size_t(channels) * size_t(depth / 8);
    std::string raw;
    for (uint32_t y = 0; y < h; ++y) {
        raw += '\0';  // filter: none
        for (size_t i = 1; i < row; ++i) raw += char((y * 31 + i * 7) & 0xff);
    }
    std::string z = "\x78\x01";  // zlib: stored blocks of at most 65535 bytes, then the Adler-32
    uint32_t a = 1, b = 0;
    for (unsigned char c : raw) { a = (a + c) % 65521; b = (b + a) % 65521; }
    for (size_t i = 0; i < raw.size() || i == 0; i += 65535) {
        const size_t n = std::min<size_t>(65535, raw.size() - i);
        z += char(i + n >= raw.size() ? 1 : 0);
        z += char(n & 0xff); z += char(n >> 8); z += char(~n & 0xff); z += char((~n >> 8) & 0xff);
        z += raw.substr(i, n);
    }
    png_detail::be32(z, (b << 16) | a);
    png_detail::chunk(png, "IDAT", z);
    png_detail::chunk(png, "IEND", "");
    return png;
}

// An 8x8 baseline JPEG with `components` colour components, each one flat block (all coefficients 0, so every
// sample is 128). adobe_transform >= 0 adds an Adobe APP14 marker (0: CMYK, 1: YCbCr, 2: YCCK).
inline std::string flat_jpeg(int components, int adobe_transform = -1) {
    std::string j = "\xFF\xD8";
    if (adobe_transform >= 0) {
        j += std::string("\xFF\xEE\x00\x0E" "Adobe\x00\x64\x00\x00\x00\x00", 16);
        j += char(adobe_transform);
    }
    j += std::string("\xFF\xDB\x00\x43\x00", 5) + std::string(64, '\x01');  // quantisation table: all 1
    int len = 8 + 3 * components;
    j += std::string("\xFF\xC0", 2);
    j += char(len >> 8); j += char(len & 255);
    j += std::string("\x08\x00\x08\x00\x08", 5);  // 8-bit, 8 x 8
    j += char(components);
    for (int c = 0; c < components; ++c) { j += char(c + 1); j += '\x11'; j += '\x00'; }
    for (int table_class : {0x00, 0x10}) {  // DC and AC tables with one 1-bit code: DC category 0, AC end-of-block
        j += std::string("\xFF\xC4\x00\x14", 4);
        j += char(table_class);
        j += '\x01';
        j += std::string(15, '\0');
        j += '\0';
    }
    len = 6 + 2 * components;
    j += std::string("\xFF\xDA", 2);
    j += char(len >> 8); j += char(len & 255);
    j += char(components);
    for (int c = 0; c < components; ++c) { j += char(c + 1); j += '\x00'; }
    j += std::string("\x00\x3F\x00", 3);
    j += std::string(size_t((2 * components + 7) / 8), '\0');  // two 0 bits per block
    j += "\xFF\xD9";
    return j;
}

}  // namespace ec::test
