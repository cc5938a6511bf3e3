// A minimal JSON writer (the --json outputs, evaluation's JSON table): strings escaped per RFC 8259, numbers printed so that
// they read back to the same float, NaN/Inf as null. Builds a string; the caller prints it once.
#pragma once
#include <string>
#include <vector>

namespace ec {

std::string json_string(const std::string& s);
std::string json_number(double v);
// Joins already-encoded JSON values into an array.
std::string json_array(const std::vector<std::string>& items);

// Appends "key": value pairs into an object: obj.add("a", json_number(1)); obj.str() == {"a": 1}
struct JsonObject {
    std::string body;
    JsonObject& add(const std::string& key, const std::string& encoded_value);
    std::string str() const { return "{" + body + "}"; }
};

}  // namespace ec
