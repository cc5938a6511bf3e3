// Test helpers for the HTML report pages: every src= / href= of a page, checked to stay inside its folder.
#pragma once
#include <sys/stat.h>

#include <string>
#include <vector>

namespace ec::test {

// The values of every src="..." and href="..." attribute in `html`, in order.
inline std::vector<std::string> html_links(const std::string& html) {
    std::vector<std::string> out;
    for (const char* attr : {" src=\"", " href=\""}) {
        const std::string a = attr;
        for (size_t at = html.find(a); at != std::string::npos; at = html.find(a, at + 1)) {
            const size_t start = at + a.size(), end = html.find('"', start);
            if (end == std::string::npos) break;
            out.push_back(html.substr(start, end - start));
        }
    }
    return out;
}

inline size_t count_of(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Problems of a page written into `dir`: links out of the folder (http:, https:, //, absolute paths, ..),
// links to files that do not exist, external scripts or style sheets. Empty when the page is self-contained.
inline std::vector<std::string> outside_references(const std::string& html, const std::string& dir) {
    std::vector<std::string> problems;
    for (const char* bad : {"http:", "https:", "<link", "<script src", "@import", "url("})
        if (html.find(bad) != std::string::npos) problems.push_back(std::string("contains ") + bad);
    for (const std::string& link : html_links(html)) {
        if (link.rfind("data:", 0) == 0 || (!link.empty() && link[0] == '#')) continue;
        if (link.empty() || link[0] == '/' || link.find("//") != std::string::npos || link.find("..") != std::string::npos ||
            link.find(':') != std::string::npos || link.find_first_of("#?% ") != std::string::npos) {
            problems.push_back("link leaves the folder: " + link);
            continue;
        }
        struct stat st;
        if (stat((dir + "/" + link).c_str(), &st) != 0) problems.push_back("missing file: " + link);
    }
    return problems;
}

}  // namespace ec::test
