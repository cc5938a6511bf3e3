// A reader for the subset of YAML that the deploy/k8s manifests use, so the tests can check their structure
// without Python or a YAML library: block mappings and sequences by indentation (a sequence may sit at its
// key's indentation), `- key: value` items, plain, "double" and 'single' quoted scalars, flow sequences of
// scalars ([a, "b"]), block scalars (| and >, with - chomping; folding joins every line of > with spaces),
// comments and `---`/blank lines. Anchors, tags, flow mappings and multi-line plain scalars are refused with
// an error naming the line, never misread.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ec::test {

struct YamlNode {
    enum Kind { kScalar, kMap, kSeq } kind = kScalar;
    std::string scalar;
    std::vector<std::pair<std::string, YamlNode>> map;
    std::vector<YamlNode> seq;

    const YamlNode* find(const std::string& key) const {
        for (const auto& kv : map)
            if (kv.first == key) return &kv.second;
        return nullptr;
    }
    // The node at a dotted path of mapping keys ("spec.template.spec"); nullptr when any step is missing.
    const YamlNode* path(const std::string& dotted) const {
        const YamlNode* n = this;
        size_t start = 0;
        while (n && start <= dotted.size()) {
            const size_t dot = dotted.find('.', start);
            n = n->kind == kMap ? n->find(dotted.substr(start, dot - start)) : nullptr;
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        return n;
    }
};

class YamlSubsetReader {
public:
    explicit YamlSubsetReader(const std::string& text) {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            lines_.push_back(text.substr(start, end - start));
            start = end + 1;
        }
    }
    YamlNode read() {
        YamlNode root = node(0);
        skip_blank();
        if (pos_ < lines_.size()) fail("unexpected indentation");
        return root;
    }

private:
    std::vector<std::string> lines_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("yaml line " + std::to_string(pos_ + 1) + ": " + what);
    }
    static int indent_of(const std::string& l) { return int(l.find_first_not_of(' ')); }
    static bool blank(const std::string& l) {
        const size_t c = l.find_first_not_of(' ');
        return c == std::string::npos || l[c] == '#' || l.compare(c, 3, "---") == 0;
    }
    void skip_blank() {
        while (pos_ < lines_.size() && blank(lines_[pos_])) ++pos_;
    }
    std::string text_at() const { return lines_[pos_].substr(size_t(indent_of(lines_[pos_]))); }
    static bool is_item(const std::string& t) { return t == "-" || t.compare(0, 2, "- ") == 0; }
    static bool is_block_indicator(const std::string& v) { return v == "|" || v == "|-" || v == ">" || v == ">-"; }

    // The value at indentation >= min_indent starting at the next non-blank line.
    YamlNode node(int min_indent) {
        skip_blank();
        if (pos_ >= lines_.size() || indent_of(lines_[pos_]) < min_indent) return YamlNode{};
        return is_item(text_at()) ? sequence(indent_of(lines_[pos_])) : mapping(indent_of(lines_[pos_]));
    }

    YamlNode mapping(int indent) {
        YamlNode m;
        m.kind = YamlNode::kMap;
        for (skip_blank(); pos_ < lines_.size() && indent_of(lines_[pos_]) == indent && !is_item(text_at()); skip_blank()) {
            const std::string t = text_at();
            const size_t colon = key_colon(t);
            if (colon == std::string::npos) fail("expected 'key: value'");
            const std::string key = t.substr(0, colon), rest = strip_comment(t.substr(colon + 1));
            ++pos_;
            YamlNode value;
            if (is_block_indicator(rest)) value = block_scalar(indent, rest);
            else if (!rest.empty()) value = scalar(rest);
            else {
                skip_blank();
                // A sequence may be written at its key's own indentation.
                const bool seq_here = pos_ < lines_.size() && indent_of(lines_[pos_]) == indent && is_item(text_at());
                value = seq_here ? sequence(indent) : node(indent + 1);
            }
            if (m.find(key)) fail("duplicate key '" + key + "'");
            m.map.emplace_back(key, std::move(value));
        }
        if (pos_ < lines_.size() && indent_of(lines_[pos_]) > indent) fail("unexpected indentation");
        return m;
    }

    YamlNode sequence(int indent) {
        YamlNode s;
        s.kind = YamlNode::kSeq;
        for (skip_blank(); pos_ < lines_.size() && indent_of(lines_[pos_]) == indent && is_item(text_at()); skip_blank()) {
            const std::string rest = strip_comment(text_at().substr(1));
            if (rest.empty()) { ++pos_; s.seq.push_back(node(indent + 1)); }
            else if (is_block_indicator(rest)) { ++pos_; s.seq.push_back(block_scalar(indent, rest)); }
            else if (key_colon(rest) != std::string::npos) {
                // "- key: value": a mapping whose first key sits two columns in; read it from this line on.
                lines_[pos_] = std::string(size_t(indent) + 2, ' ') + rest;
                s.seq.push_back(mapping(indent + 2));
            } else { ++pos_; s.seq.push_back(scalar(rest)); }
        }
        return s;
    }

    // The lines after a | or > indicator that are indented more than the parent (or blank).
    YamlNode block_scalar(int parent_indent, const std::string& indicator) {
        std::vector<std::string> body;
        int content_indent = -1;
        while (pos_ < lines_.size()) {
            const std::string& l = lines_[pos_];
            const bool empty = l.find_first_not_of(' ') == std::string::npos;
            if (!empty && indent_of(l) <= parent_indent) break;
            if (!empty && content_indent < 0) content_indent = indent_of(l);
            body.push_back(empty ? "" : l.substr(size_t(std::min(indent_of(l), content_indent))));
            ++pos_;
        }
        while (!body.empty() && body.back().empty()) body.pop_back();
        YamlNode n;
        const bool fold = indicator[0] == '>';
        // Folding (>): a line break between two text lines becomes a space; each blank line becomes one "\n".
        for (size_t i = 0; i < body.size(); ++i) {
            if (i > 0 && !fold) n.scalar += "\n";
            else if (i > 0) n.scalar += body[i].empty() ? "\n" : body[i - 1].empty() ? "" : " ";
            n.scalar += body[i];
        }
        if (indicator.size() == 1) n.scalar += "\n";
        return n;
    }

    YamlNode scalar(const std::string& v) {
        YamlNode n;
        if (v[0] == '&' || v[0] == '*' || v[0] == '!' || v[0] == '{') fail("anchors, tags and flow mappings are not read");
        if (v[0] == '"' || v[0] == '\'') {
            if (v.size() < 2 || v.back() != v[0]) fail("unterminated quoted scalar");
            n.scalar = v.substr(1, v.size() - 2);
        } else if (v[0] == '[') {
            if (v.back() != ']') fail("unterminated flow sequence");
            n.kind = YamlNode::kSeq;
            for (const std::string& item : split_flow(v.substr(1, v.size() - 2))) n.seq.push_back(scalar(item));
        } else {
            n.scalar = v;
        }
        return n;
    }

    // Position of the colon that ends a mapping key (followed by a space or the end), outside quotes.
    static size_t key_colon(const std::string& t) {
        if (t.empty() || t[0] == '"' || t[0] == '\'' || t[0] == '[') return std::string::npos;
        for (size_t i = 0; i < t.size(); ++i)
            if (t[i] == ':' && (i + 1 == t.size() || t[i + 1] == ' ')) return i;
        return std::string::npos;
    }
    // Trims and drops a " #" comment outside quotes.
    static std::string strip_comment(const std::string& s) {
        char quote = 0;
        size_t end = s.size();
        for (size_t i = 0; i < s.size(); ++i) {
            if (quote) { if (s[i] == quote) quote = 0; continue; }
            if (s[i] == '"' || s[i] == '\'') quote = s[i];
            else if (s[i] == '#' && (i == 0 || s[i - 1] == ' ')) { end = i; break; }
        }
        const size_t b = s.find_first_not_of(' ');
        if (b == std::string::npos || b >= end) return "";
        return s.substr(b, s.find_last_not_of(' ', end - 1) - b + 1);
    }
    static std::vector<std::string> split_flow(const std::string& s) {
        std::vector<std::string> items;
        std::string cur;
        char quote = 0;
        for (char c : s) {
            if (quote) { if (c == quote) quote = 0; }
            else if (c == '"' || c == '\'') quote = c;
            else if (c == ',') { items.push_back(strip_comment(cur)); cur.clear(); continue; }
            cur += c;
        }
        if (!strip_comment(cur).empty()) items.push_back(strip_comment(cur));
        return items;
    }
};

inline YamlNode read_yaml_subset(const std::string& text) { return YamlSubsetReader(text).read(); }

}  // namespace ec::test
