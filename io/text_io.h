// CSV reading and writing (RFC 4180: quoted fields may hold commas,
// doubled quotes and line breaks; CRLF or LF line ends). Sizes are limited so a wrong or hostile file fails fast
// with a message naming the file and line. Does not: guess delimiters, trim spaces, or convert numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/file_util.h"

namespace ec {

constexpr size_t kMaxCsvFields = 4096;                     // fields in one CSV record

struct CsvTable {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // every row has header.size() fields

    // Index of the header column called name; throws Error if there is none.
    size_t column(const std::string& name) const;
};

// The first record is the header. Blank lines are skipped. Throws Error("PATH:LINE: ...") for an unterminated
// quote, text after a closing quote, a row whose field count differs from the header's, or a file over the limits.
CsvTable read_csv(const std::string& path);
CsvTable parse_csv(const std::string& text, const std::string& name);

// A field as CSV text: quoted (with quotes doubled) when it holds a comma, quote, CR or LF, or starts or ends
// with a space; otherwise unchanged.
std::string csv_escape(const std::string& field);

}  // namespace ec
