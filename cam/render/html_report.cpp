#include "cam/render/html_report.h"

#include <algorithm>

#include "cam/render/html.h"
#include "nn/error.h"

namespace ec {
namespace {

std::string percent(double p) { return format_number(100.0 * p, 3) + " %"; }

std::string warning_list(const std::vector<std::string>& warnings) {
    std::string s;
    for (const std::string& w : warnings) s += "<p class=\"warning\">&#9888; " + html_escape(w) + "</p>\n";
    return s;
}

std::string settings_section(const ReportSettings& st, size_t inputs) {
    std::string methods;
    for (size_t m = 0; m < st.method_titles.size(); ++m) methods += (m ? ", " : "") + st.method_titles[m];
    HtmlTable t{"settings", {"setting", "value"}, {}};
    t.rows = {{{"model", ""}, {st.model, ""}},
              {{"input size", ""}, {st.input_size, ""}},
              {{"classes", ""}, {std::to_string(st.classes), ""}},
              {{"target layer", ""}, {st.layer + " " + st.layer_shape, ""}},
              {{"methods", ""}, {methods, ""}},
              {{"entropy estimator", ""}, {st.entropy, ""}},
              {{"inputs", ""}, {std::to_string(inputs), ""}}};
    return "<section id=\"settings\">\n<h2>Settings</h2>\n" + html_table(t) +
           "<p class=\"note\">Every map: ReLU, min-max normalised per image, bilinear upsampling to the input, jet "
           "colours blended at alpha 0.5 (see the walkthrough page, <code>entropycam report --walkthrough</code>, "
           "for each step).</p>\n" + warning_list(st.warnings) + "</section>\n";
}

std::string nav(int page, int pages) {
    if (pages <= 1) return "";
    std::string s = "<nav>Pages: ";
    for (int p = 0; p < pages; ++p)
        s += p == page ? "<strong>" + std::to_string(p + 1) + "</strong> "
                       : "<a href=\"" + report_page_file(p) + "\">" + std::to_string(p + 1) + "</a> ";
    return s + "</nav>\n";
}

std::string img(const std::string& src, const std::string& alt, int size) {
    return "<img src=\"" + html_escape(src) + "\" alt=\"" + html_escape(alt) + "\" width=\"" + std::to_string(size) +
           "\" height=\"" + std::to_string(size) + "\" loading=\"lazy\">";
}

std::string input_section(const ReportSettings& st, const ReportInput& in, size_t number) {
    if (in.overlays.size() != st.methods.size())
        throw Error("report: input '" + in.path + "' has " + std::to_string(in.overlays.size()) + " overlays for " +
                    std::to_string(st.methods.size()) + " methods");
    std::string s = "<section class=\"input\" id=\"input-" + std::to_string(number) + "\" data-path=\"" + html_escape(in.path) + "\">\n";
    s += "<h3>" + std::to_string(number) + ". " + html_escape(in.path) + "</h3>\n";
    s += "<p>Explained: <strong>" + html_escape(in.explained.label) + "</strong> (class " + std::to_string(in.explained.index) +
         ", " + percent(in.explained.prob) + ")</p>\n" + warning_list(in.warnings);
    s += "<div class=\"maps\"><figure data-method=\"input\">" + img(in.image, "input " + in.path, 224) + "<figcaption>Input</figcaption></figure>";
    for (size_t m = 0; m < st.methods.size(); ++m) {
        s += "<figure data-method=\"" + html_escape(st.methods[m]) + "\">" + img(in.overlays[m], st.method_titles[m], 224) +
             "<figcaption>" + html_escape(st.method_titles[m]);
        if (m < in.map_warnings.size() && !in.map_warnings[m].empty()) {
            std::string title;
            for (const std::string& w : in.map_warnings[m]) title += (title.empty() ? "" : "; ") + w;
            s += " <span title=\"" + html_escape(title) + "\">&#9888;</span>";
        }
        s += "</figcaption></figure>";
    }
    s += "</div>\n";
    HtmlTable top{"", {"rank", "class", "label", "probability"}, {}};
    for (size_t k = 0; k < in.top5.size(); ++k)
        top.rows.push_back({{std::to_string(k + 1), std::to_string(k + 1)},
                            {std::to_string(in.top5[k].index), std::to_string(in.top5[k].index)},
                            {in.top5[k].label, ""},
                            {percent(in.top5[k].prob), format_number(in.top5[k].prob, 9)}});
    s += "<details><summary>Top-" + std::to_string(in.top5.size()) + " classes</summary>\n" + html_table(top) + "</details>\n";
    return s + "</section>\n";
}

}  // namespace

int report_page_count(size_t inputs, int inputs_per_page) {
    if (inputs_per_page < 1) throw Error("report: inputs per page must be at least 1");
    return std::max(1, int((inputs + size_t(inputs_per_page) - 1) / size_t(inputs_per_page)));
}

std::string report_page_file(int page) { return page == 0 ? "index.html" : "page-" + std::to_string(page + 1) + ".html"; }

std::vector<ReportPage> report_pages(const ReportSettings& settings, const std::vector<ReportInput>& inputs,
                                     const ReportOptions& options) {
    const int pages = report_page_count(inputs.size(), options.inputs_per_page);
    if (!options.grids.empty() && int(options.grids.size()) != pages)
        throw Error("report: " + std::to_string(options.grids.size()) + " grid figures for " + std::to_string(pages) + " pages");
    std::string csv_sections;
    for (size_t i = 0; i < options.evaluate.size(); ++i)
        csv_sections += evaluate_section(options.evaluate[i], i < options.evaluate_names.size() ? options.evaluate_names[i] : "evaluate.csv");
    for (size_t i = 0; i < options.sanity.size(); ++i)
        csv_sections += sanity_section(options.sanity[i], i < options.sanity_names.size() ? options.sanity_names[i] : "sanity.csv");

    std::vector<ReportPage> out;
    for (int p = 0; p < pages; ++p) {
        const size_t first = size_t(p) * size_t(options.inputs_per_page);
        const size_t last = std::min(inputs.size(), first + size_t(options.inputs_per_page));
        std::string body = "<h1>entropycam report</h1>\n<p>Class activation maps of " + html_escape(settings.model) +
                           " at " + html_escape(settings.layer) + ". Page " + std::to_string(p + 1) + " of " +
                           std::to_string(pages) + ": inputs " + std::to_string(inputs.empty() ? 0 : first + 1) + "-" +
                           std::to_string(last) + " of " + std::to_string(inputs.size()) + ".</p>\n" + nav(p, pages);
        body += settings_section(settings, inputs.size());
        if (!options.grids.empty() && !options.grids[size_t(p)].empty())
            body += "<section id=\"grid\">\n<h2>Grid</h2>\n<p>One row per input of this page; columns: the input, then "
                    "each method.</p>\n<img src=\"" + html_escape(options.grids[size_t(p)]) + "\" alt=\"grid of the maps\" loading=\"lazy\">\n</section>\n";
        if (p == 0 && !csv_sections.empty()) body += "<section id=\"csv\">\n<h2>Measurements</h2>\n" + csv_sections + "</section>\n";
        body += "<section id=\"inputs\">\n<h2>Inputs</h2>\n";
        for (size_t i = first; i < last; ++i) body += input_section(settings, inputs[i], i + 1);
        body += "</section>\n" + nav(p, pages);
        out.push_back({report_page_file(p), html_page("entropycam report: " + settings.model + " (page " + std::to_string(p + 1) + ")", body)});
    }
    return out;
}

}  // namespace ec
