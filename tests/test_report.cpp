// The report pages as built by the library (cam/render/html_report.h): per input a section with one column
// per method, the top-5, warnings, pagination with lazy images, and the evaluate / sanity CSVs' numbers in
// sortable tables and SVG plots. No model needed: the data is made up here.
#include <doctest/doctest.h>

#include "cam/eval/eval_table.h"
#include "cam/render/html.h"
#include "cam/render/html_report.h"
#include "tests/html_check.h"
#include "tests/test_util.h"

using namespace ec;
using test::count_of;

namespace {

ReportSettings settings() {
    ReportSettings st;
    st.model = "m";
    st.layer = "block/Relu6";
    st.methods = {"gradcam", "featentropycam"};
    st.method_titles = {"Grad-CAM", "Feature Entropy-CAM"};
    st.warnings = {"Feature Entropy-CAM does not depend on the class"};
    return st;
}

std::vector<ReportInput> inputs(int n) {
    std::vector<ReportInput> out;
    for (int i = 0; i < n; ++i) {
        ReportInput r;
        r.path = "images/pic" + std::to_string(i) + ".jpg";
        r.image = "img/" + std::to_string(i) + "_input.png";
        r.overlays = {"img/" + std::to_string(i) + "_gradcam.png", "img/" + std::to_string(i) + "_featentropycam.png"};
        r.explained = {7, "cock", 0.5};
        r.top5 = {{7, "cock", 0.5}, {8, "hen & <chick>", 0.25}};
        if (i == 1) r.warnings = {"the gradient is constant over space"};
        r.map_warnings = {{}, {"class-free"}};
        out.push_back(r);
    }
    return out;
}

std::string section_of(const std::string& page, int number) {
    const std::string open = "id=\"input-" + std::to_string(number) + "\"";
    const size_t at = page.find(open);
    REQUIRE_MESSAGE(at != std::string::npos, "no section " << number);
    return page.substr(at, page.find("</section>", at) - at);
}

// An evaluate CSV made with the evaluate writer itself: 3 images x 2 methods, known numbers.
CsvTable evaluate_csv() {
    std::string text;
    for (const std::string& h : eval_csv_header()) text += (text.empty() ? "" : ",") + h;
    text += "\n";
    for (int i = 0; i < 3; ++i)
        for (const char* m : {"gradcam", "center"}) {
            EvalRow r;
            r.input = "a" + std::to_string(i) + ".jpg";
            r.index = i;
            r.model = "m";
            r.layer = "L";
            r.steps = 10;
            r.class_from = "top1";
            r.method = m;
            r.cls = 3;
            r.label = "x";
            r.prob = 0.5;
            r.prob_masked = 0.25;
            const double v[kEvalMetricCount] = {0.125 + i * 0.25, 0.5 + i * 0.125, 50, 0, std::nan(""), std::nan("")};
            for (int k = 0; k < kEvalMetricCount; ++k) r.metric[k] = v[k];
            round_row(r);
            text += eval_csv_line(r);
        }
    return parse_csv(text, "eval.csv");
}

}  // namespace

TEST_CASE("report pages: every input a section, every method a column, top-5 and warnings, escaped text") {
    ReportOptions opt;
    opt.grids = {"img/grid.png"};
    const std::vector<ReportPage> pages = report_pages(settings(), inputs(3), opt);
    REQUIRE(pages.size() == 1);
    CHECK(pages[0].file == "index.html");
    const std::string& html = pages[0].html;
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(count_of(html, "class=\"input\"") == 3);
    for (int i = 1; i <= 3; ++i) {
        const std::string s = section_of(html, i);
        CHECK(count_of(s, "data-method=\"gradcam\"") == 1);
        CHECK(count_of(s, "data-method=\"featentropycam\"") == 1);
        CHECK(s.find("img/" + std::to_string(i - 1) + "_featentropycam.png") != std::string::npos);
        CHECK(s.find("hen &amp; &lt;chick&gt;") != std::string::npos);  // top-5 label, escaped
        CHECK(s.find("data-value=\"0.25\"") != std::string::npos);        // its probability, exact
        CHECK((s.find("constant over space") != std::string::npos) == (i == 2));
    }
    CHECK(html.find("<chick>") == std::string::npos);
    CHECK(html.find("src=\"img/grid.png\"") != std::string::npos);
    CHECK(html.find("does not depend on the class") != std::string::npos);  // the run-wide warning
    CHECK(count_of(html, "<img ") == count_of(html, "loading=\"lazy\""));
    CHECK(html.find("http:") == std::string::npos);
}

TEST_CASE("report pages: 250 inputs make 3 linked pages of at most 100 inputs, each input once") {
    ReportOptions opt;
    const std::vector<ReportPage> pages = report_pages(settings(), inputs(250), opt);
    REQUIRE(pages.size() == 3);
    CHECK(pages[1].file == "page-2.html");
    CHECK(pages[2].file == "page-3.html");
    size_t total = 0;
    for (const ReportPage& p : pages) {
        total += count_of(p.html, "class=\"input\"");
        for (const ReportPage& q : pages)
            if (&p != &q) CHECK(p.html.find("href=\"" + q.file + "\"") != std::string::npos);
    }
    CHECK(total == 250);
    CHECK(count_of(pages[2].html, "class=\"input\"") == 50);
    CHECK(pages[2].html.find("id=\"input-250\"") != std::string::npos);
    CHECK(report_page_count(0, 100) == 1);
    CHECK(report_page_count(100, 100) == 1);
    CHECK(report_page_count(101, 100) == 2);
    CHECK_THROWS_AS(report_page_count(5, 0), Error);
    opt.grids = {"a.png"};  // one grid for three pages
    CHECK_THROWS_AS(report_pages(settings(), inputs(250), opt), Error);
}

TEST_CASE("report pages: the evaluate CSV's numbers in the tables, means and AUC charts, and a note on the curves") {
    const CsvTable t = evaluate_csv();
    const std::string s = evaluate_section(t, "eval.csv");
    // Per-image table: every metric field of every CSV row as an exact data-value.
    const size_t del = t.column("deletion_auc"), ins = t.column("insertion_auc");
    for (const auto& row : t.rows) {
        CHECK(s.find("data-value=\"" + row[del] + "\"") != std::string::npos);
        CHECK(s.find("data-value=\"" + row[ins] + "\"") != std::string::npos);
    }
    // Means: deletion (0.125 + 0.375 + 0.625) / 3 = 0.375, insertion (0.5 + 0.625 + 0.75) / 3 = 0.625.
    CHECK(s.find("data-value=\"0.375\"") != std::string::npos);
    CHECK(s.find("data-value=\"0.625\"") != std::string::npos);
    CHECK(count_of(s, "class=\"sortable\"") == 2);
    CHECK(count_of(s, "<svg") == 2);  // the deletion and insertion AUC charts
    CHECK(s.find("not the curves") != std::string::npos);
    CHECK(s.find("Centre baseline") != std::string::npos);
    CHECK(s.find("http:") == std::string::npos);

    CsvTable broken = t;
    broken.header[broken.column("insertion_auc")] = "ins";
    test::check_error_contains([&] { (void)evaluate_section(broken, "b.csv"); }, "b.csv: no column 'insertion_auc'");
    broken = t;
    broken.rows[1][del] = "0.5?";
    test::check_error_contains([&] { (void)evaluate_section(broken, "c.csv"); }, "c.csv: row 2");
}

TEST_CASE("report pages: evaluate CSVs with curve columns get mean curve plots") {
    const CsvTable t = parse_csv("input,method,class,label,prob,deletion_auc,insertion_auc,average_drop,increase,pointing,model,layer,"
                                 "deletion_curve,insertion_curve\n"
                                 "a,gradcam,1,x,0.5,0.2,0.6,,,,m,L,0.5 0.25 0,0 0.5 0.5\n"
                                 "b,gradcam,1,x,0.5,0.3,0.7,,,,m,L,0.5 0.75 0,0 0.5 1\n",
                                 "curves.csv");
    const std::string s = evaluate_section(t, "curves.csv");
    CHECK(count_of(s, "<polyline") == 2);
    CHECK(s.find("not the curves") == std::string::npos);
    CHECK(s.find("Mean Deletion curve") != std::string::npos);
}

TEST_CASE("report pages: the sanity CSV (read by column names) gives randomisation curves and the class table") {
    // Columns in another order than the sanity command writes them, and one extra: found by name.
    const CsvTable t = parse_csv("method,input,extra,test,step,spearman,spearman_abs,ssim,hog\n"
                                 "gradcam,a,x,cascading,logits,0.9,0.9,0.8,0.7\n"
                                 "gradcam,a,x,cascading,block_16,0.5,0.5,0.4,0.3\n"
                                 "gradcam,b,x,cascading,logits,0.7,0.7,0.6,0.5\n"
                                 "gradcam,b,x,cascading,block_16,0.3,0.3,0.2,0.1\n"
                                 "featentropycam,a,x,independent,block_16,1,1,1,1\n"
                                 "gradcam,a,x,class_bottom,0,-0.25,0.25,0.5,0.5\n"
                                 "gradcam,b,x,class_bottom,0,0.75,0.75,0.5,0.5\n"
                                 "featentropycam,a,x,class_top2,0,1,1,1,1\n",
                                 "sanity.csv");
    const std::string s = sanity_section(t, "sanity.csv");
    CHECK(count_of(s, "data-test=\"cascading\"") == 4);    // one plot per score
    CHECK(count_of(s, "data-test=\"independent\"") == 4);
    // class_bottom of gradcam: spearman_abs mean (0.25 + 0.75) / 2 = 0.5, spearman (-0.25 + 0.75) / 2 = 0.25.
    const size_t at = s.find("id=\"sanity-class\"");
    REQUIRE(at != std::string::npos);
    const std::string table = s.substr(at, s.find("</table>", at) - at);
    CHECK(table.find("<td data-value=\"gradcam\">Grad-CAM</td><td>class_bottom</td><td data-value=\"2\">2</td>"
                     "<td data-value=\"0.5\">0.5</td><td data-value=\"0.25\">0.25</td>") != std::string::npos);
    CHECK(table.find("class_top2") != std::string::npos);
    CHECK(s.find("data-value=\"-0.25\"") != std::string::npos);  // the raw rows, exact
    test::check_error_contains([&] { (void)sanity_section(parse_csv("input,method,test\na,b,c\n", "s.csv"), "s.csv"); }, "s.csv: no column 'step'");
}

TEST_CASE("html helpers: base64 (RFC 4648 vectors), escaping, tables refuse ragged rows") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
    CHECK_THROWS_AS(html_table({"", {"a", "b"}, {{{"1", ""}}}}), Error);
    const std::string svg = svg_line_plot({{"s", {0, 1}, {0, 1}}}, {});
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK(svg.find("http:") == std::string::npos);
}
