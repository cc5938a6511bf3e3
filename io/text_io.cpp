#include "io/text_io.h"

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

}  // namespace ec
