// The report pages in a real browser: headless Chromium opens the index page and the walkthrough, takes a
// screenshot of each, and the test checks that they rendered: the screenshot has the window's size, is not
// blank (most of it not one colour, and pictures drawn: many saturated pixels), and Chromium reported no
// console error or uncaught exception; on the index page (with one test script added) a click on a column
// header sorts the table both ways. Skipped by default (Chromium is not a build dependency and starts
// slowly); `make test-browser` installs Chromium when it can and runs it with ENTROPYCAM_CHROMIUM set.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>

#include "io/image.h"
#include "tests/test_weights_util.h"

using namespace ec;

namespace {

struct Shot {
    ImageU8 image;
    std::string log;
};

// One page load. The flags keep Chromium off the network and out of the user's profile.
// With dump_dom the page's DOM after its scripts ran is printed into the log too (same load).
Shot screenshot(const std::string& chromium, const std::string& page, const std::string& dir, bool dump_dom = false) {
    test::TempDir profile;
    const std::string png = dir + "/shot.png", log = dir + "/chromium.log";
    const std::string cmd = "timeout 120 '" + chromium + "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                            "--disable-background-networking --disable-component-update --disable-sync --user-data-dir='" +
                            profile.path + "' --enable-logging=stderr --v=0 --screenshot='" + png +
                            "' " + std::string(dump_dom ? "--dump-dom " : "") + "--window-size=1200,900 'file://" + page + "' >'" + log + "' 2>&1";
    const int status = std::system(cmd.c_str());
    Shot shot;
    shot.log = test::read_text(log);
    INFO("chromium log:\n" << shot.log);
    REQUIRE_MESSAGE(WIFEXITED(status), "chromium did not exit");
    shot.image = decode_image(png);
    return shot;
}

// Lines of Chromium's log that report a page error: an uncaught exception or a console error.
std::vector<std::string> console_errors(const std::string& log) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        const std::string line = log.substr(start, end - start);
        // The pages log nothing themselves, so any console line (an error, a failed load) is a problem.
        if (line.find("Uncaught") != std::string::npos || line.find("CONSOLE") != std::string::npos)
            out.push_back(line);
        start = end + 1;
    }
    return out;
}

void check_rendered(const Shot& shot, const std::string& what) {
    INFO(what);
    CHECK(shot.image.width == 1200);
    CHECK(shot.image.height == 900);
    const size_t pixels = size_t(shot.image.width) * size_t(shot.image.height);
    size_t background = 0, saturated = 0;
    for (size_t p = 0; p < pixels; ++p) {
        const uint8_t* c = &shot.image.rgb[p * 3];
        if (c[0] == shot.image.rgb[0] && c[1] == shot.image.rgb[1] && c[2] == shot.image.rgb[2]) ++background;
        if (std::max({int(c[0]), int(c[1]), int(c[2])}) - std::min({int(c[0]), int(c[1]), int(c[2])}) > 80) ++saturated;
    }
    CHECK(background < pixels * 95 / 100);  // not one colour
    CHECK(saturated > pixels / 500);         // pictures drawn (text and page are grey; photos and overlays are not)
    const std::vector<std::string> errors = console_errors(shot.log);
    for (const std::string& e : errors) INFO(e);
    CHECK(errors.empty());
}

}  // namespace

TEST_CASE("browser: headless Chromium renders the report and the walkthrough without console errors" * doctest::skip()) {
    const char* chromium = std::getenv("ENTROPYCAM_CHROMIUM");
    REQUIRE_MESSAGE(chromium != nullptr, "ENTROPYCAM_CHROMIUM is not set: run `make test-browser`");
    test::TempDir dir;
    const std::string model = dir.path + "/m.ecw";
    save_model(test::imported_model("mobilenet_v2_1.0_224_quant"), model);
    const std::string fish = test::shared_path("images/imagenet-dev/n01443537_goldfish.JPEG");
    test::CliResult r = test::run_cli("report --model '" + model + "' --out '" + dir.path + "/r' '" + fish + "' '" +
                                      test::shared_path("images/coral/cat.bmp") + "'");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    r = test::run_cli("report --model '" + model + "' --walkthrough '" + fish + "' --out '" + dir.path + "/w'");
    REQUIRE(r.exit_code == 0);
    // The index page plus one test script that clicks the probability header of the first top-5 table twice and
    // records the rank column after each click in the title: the page's own script must sort it both ways.
    std::string html = test::read_text(dir.path + "/r/index.html");
    const size_t body_end = html.rfind("</body>");
    REQUIRE(body_end != std::string::npos);
    html.insert(body_end, "<script>var t=document.querySelectorAll(\"#input-1 table\")[0],h=t.tHead.rows[0].cells[3];"
                          "function ranks(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[0].textContent;}).join(\",\");}"
                          "h.click();var a=ranks();h.click();document.title=\"sorted:\"+a+\"/\"+ranks()+\":end\";</script>");
    write_file_atomic(dir.path + "/r/index-sort-test.html", html);
    const Shot index = screenshot(chromium, dir.path + "/r/index-sort-test.html", dir.path, true);
    check_rendered(index, "index.html");
    CHECK(index.log.find("sorted:5,4,3,2,1/1,2,3,4,5:end") != std::string::npos);  // ascending, then descending
    check_rendered(screenshot(chromium, dir.path + "/w/walkthrough.html", dir.path), "walkthrough.html");
}
