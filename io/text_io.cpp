#include "io/text_io.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "nn/file_util.h"
#include "nn/tensor.h"

namespace ec {
namespace {

std::string where(const std::string& name, size_t line) { return name + ":" + std::to_string(line) + ": "; }

}  // namespace

size_t CsvTable::column(const std::string& name) const {
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == name) return i;
    throw Error("CSV has no column '" + name + "'");
}

CsvTable parse_csv(const std::string& text, const std::string& name) {
    if (int64_t(text.size()) > kMaxTextFileBytes)
        throw Error(name + ": " + std::to_string(text.size()) + " bytes exceeds the limit for a CSV file");
    const size_t n = text.size();
    size_t i = utf8_bom_length(text), line = 1;
    CsvTable table;
    bool have_header = false;
    while (i < n) {
        // Blank lines between records are skipped (a final newline is not an empty record either).
        if (text[i] == '\n') { ++i; ++line; continue; }
        if (text[i] == '\r') { ++i; if (i < n && text[i] == '\n') ++i; ++line; continue; }
        const size_t record_line = line;
        std::vector<std::string> record;
        for (;;) {  // one field per iteration
            std::string field;
            if (i < n && text[i] == '"') {  // quoted: "" is a quote; commas and line breaks are data
                const size_t quote_line = line;
                ++i;
                for (;;) {
                    if (i >= n) throw Error(where(name, quote_line) + "unterminated quoted field");
                    char c = text[i++];
                    if (c == '"') {
                        if (i < n && text[i] == '"') { field += '"'; ++i; continue; }
                        break;
                    }
                    if (c == '\n') ++line;
                    field += c;
                }
                if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    throw Error(where(name, line) + "unexpected character '" + std::string(1, text[i]) +
                                "' after a closing quote");
            } else {
                while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"') throw Error(where(name, line) + "quote inside an unquoted field");
                    field += text[i++];
                }
            }
            record.push_back(std::move(field));
            if (record.size() > kMaxCsvFields)
                throw Error(where(name, record_line) + "more than " + std::to_string(kMaxCsvFields) + " fields");
            if (i < n && text[i] == ',') { ++i; continue; }
            // End of record: LF, CRLF, a lone CR, or the end of the text.
            if (i < n && text[i] == '\r') ++i;
            if (i < n && text[i] == '\n') ++i;
            ++line;
            break;
        }
        if (!have_header) {
            table.header = std::move(record);
            have_header = true;
        } else {
            if (record.size() != table.header.size())
                throw Error(where(name, record_line) + std::to_string(record.size()) + " fields, the header has " +
                            std::to_string(table.header.size()));
            table.rows.push_back(std::move(record));
        }
    }
    if (!have_header) throw Error(name + ": empty CSV, no header");
    return table;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_text_file(path), path); }

std::string csv_escape(const std::string& field) {
    bool quote = field.find_first_of(",\"\r\n") != std::string::npos ||
                 (!field.empty() && (field.front() == ' ' || field.back() == ' '));
    if (!quote) return field;
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string csv_number(double v) {
    if (std::isnan(v)) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string csv_field_for_message(const std::string& field) {
    std::string q = field.substr(0, 40);
    for (char& c : q)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return "'" + q + (field.size() > 40 ? "...'" : "'");
}

double parse_csv_number(const std::string& field, const std::string& where) {
    if (field.empty()) return std::nan("");
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(field.c_str(), &end);
    if (end != field.c_str() + field.size() || errno == ERANGE)
        throw Error(where + ": " + csv_field_for_message(field) + " is not a number");
    return v;
}

long parse_csv_whole(const std::string& field, const std::string& where) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(field.c_str(), &end, 10);
    if (field.empty() || end != field.c_str() + field.size() || errno == ERANGE)
        throw Error(where + ": " + csv_field_for_message(field) + " is not a whole number");
    return v;
}

}  // namespace ec
