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

// A number as a CSV field: "%.9g", NaN as the empty field.
std::string csv_number(double v);
// A CSV field quoted in an error message: at most 40 bytes, control characters as '?', so that the message stays
// one line whatever the file holds (a quoted field may contain line breaks).
std::string csv_field_for_message(const std::string& field);
// A CSV number field (empty = NaN) or whole number; Error("WHERE: 'field' is not a (whole) number") otherwise.
double parse_csv_number(const std::string& field, const std::string& where);
long parse_csv_whole(const std::string& field, const std::string& where);

}  // namespace ec
