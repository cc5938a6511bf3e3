// The installed library as its users get it: libentropycam.so exports only the public API, `make install` into a
// temporary prefix, the two examples (examples/) built there through pkg-config and run against the installed
// shared library and default model, their raw maps equal to the installed CLI's `explain --raw` to 1e-6, and
// `make uninstall` removing it all. Paths come from `make test` (ENTROPYCAM_SOLIB, ENTROPYCAM_BUILD).
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "io/npy.h"
#include "tests/test_weights_util.h"

namespace {

std::string env_or_fail(const char* name) {
    const char* v = std::getenv(name);
    REQUIRE_MESSAGE(v != nullptr, name << " is not set: run the tests through `make test`");
    return v;
}

// Runs a shell command, returning its stdout; the exit code must be 0 (stderr is shown on failure).
std::string run(const std::string& cmd) {
    ec::test::TempDir tmp;
    const int status = std::system((cmd + " >'" + tmp.path + "/out' 2>'" + tmp.path + "/err'").c_str());
    INFO("command: " << cmd << "\nstderr: " << ec::test::read_text(tmp.path + "/err"));
    REQUIRE(status == 0);
    return ec::test::read_text(tmp.path + "/out");
}

std::string cwd() {
    char buf[4096];
    REQUIRE(getcwd(buf, sizeof buf) != nullptr);
    return buf;
}

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("README: the Embedding section shows both examples verbatim") {
    const std::string readme = ec::test::read_text("README.md");  // `make test` runs from the repository root
    for (const char* example : {"examples/explain.cpp", "examples/explain.c"}) {
        CAPTURE(example);
        CHECK(readme.find(ec::test::read_text(example)) != std::string::npos);
    }
}

TEST_CASE("library: libentropycam.so has a versioned soname and exports only the public API" * ec::test::needs_shared()) {
    const std::string so = env_or_fail("ENTROPYCAM_SOLIB");
    CHECK(run("objdump -p '" + so + "' | grep SONAME").find("libentropycam.so.0") != std::string::npos);
    std::istringstream symbols(run("nm -D --defined-only -C '" + so + "'"));
    int count = 0, c_api = 0;
    std::string line;
    while (std::getline(symbols, line)) {
        const size_t sp = line.find(' ', line.find(' ') + 1);
        const std::string name = line.substr(sp + 1);
        const bool api = name.rfind("ecam_", 0) == 0 || name.rfind("entropycam::", 0) == 0 ||
                         name.rfind("typeinfo for entropycam::", 0) == 0 ||
                         name.rfind("typeinfo name for entropycam::", 0) == 0 || name.rfind("vtable for entropycam::", 0) == 0;
        INFO("exported: " << line);
        CHECK(api);
        ++count;
        c_api += name.rfind("ecam_", 0) == 0;
    }
    // Every function the C header declares is exported, and the C++ API's functions besides.
    const std::string header = ec::test::read_text("api/entropycam_c.h");
    const std::string exported = run("nm -D --defined-only '" + so + "'");
    int declared = 0;
    for (size_t p = 0; (p = header.find("\nECAM_C_API ", p)) != std::string::npos; ++p) {
        const size_t paren = header.find('(', p), start = header.rfind(' ', paren) + 1;
        const std::string name = header.substr(start, paren - start);
        CHECK_MESSAGE(exported.find(" " + name + "\n") != std::string::npos, name << " is declared but not exported");
        ++declared;
    }
    CHECK(declared >= 25);
    CHECK(c_api == declared);
    CHECK(count - c_api >= 19);  // entropycam::load_model, explain, ... and Error's typeinfo
}

TEST_CASE("install: the examples build from a temporary install with pkg-config and match the installed CLI to 1e-6" * ec::test::needs_shared()) {
    const std::string build = env_or_fail("ENTROPYCAM_BUILD");
    ec::test::TempDir tmp;
    const std::string prefix = tmp.path + "/prefix", model = tmp.path + "/model.ecw";
    ec::save_model(ec::test::imported_model("mobilenet_v2_1.0_224_quant"), model);
    const std::string image = ec::test::shared_path("images/coral/cat.bmp");
    // Outside `make test`'s environment: no make jobserver, no weights folder, run away from build/weights.
    const std::string clean_env = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u ENTROPYCAM_WEIGHTS_DIR ";
    const std::string make = clean_env + "make --no-print-directory -s -C '" + cwd() +
                             "' BUILD='" + build + "' PREFIX='" + prefix + "' ";
    run(make + "install MODEL_ECW='" + model + "'");
    for (const char* f : {"/bin/entropycam", "/lib/libentropycam.a", "/lib/libentropycam.so", "/lib/libentropycam.so.0",
                          "/include/entropycam/entropycam.h", "/include/entropycam/entropycam.hpp",
                          "/lib/pkgconfig/entropycam.pc", "/share/entropycam/weights/mobilenet_v2_1.0_224_quant.ecw"})
        CHECK_MESSAGE(exists(prefix + f), f);

    const std::string pc = "export PKG_CONFIG_PATH='" + prefix + "/lib/pkgconfig'; ";
    // The build's link flags: under `make sanitize` the examples need the sanitizer runtime the library has.
    const char* ldflags_env = std::getenv("ENTROPYCAM_LDFLAGS");
    const std::string ldflags = std::string(" ") + (ldflags_env ? ldflags_env : "");
    CHECK(run(pc + "pkg-config --modversion entropycam").find("0.") == 0);
    run(pc + "g++ -std=c++17 -Wall -Werror examples/explain.cpp $(pkg-config --cflags --libs entropycam)" + ldflags + " -o '" + tmp.path + "/ex_cpp'");
    run(pc + "gcc -std=c99 -Wall -Werror examples/explain.c $(pkg-config --cflags --libs entropycam)" + ldflags + " -o '" + tmp.path + "/ex_c'");
    run("cd '" + tmp.path + "' && " + clean_env + "'" + prefix + "/bin/entropycam' explain --raw --out cli '" + image + "'");
    const std::string ld = "cd '" + tmp.path + "' && " + clean_env + "LD_LIBRARY_PATH='" + prefix + "/lib' ";
    for (const char* example : {"ex_cpp", "ex_c"}) {
        CAPTURE(example);
        std::istringstream out(run(ld + "./" + example + " '" + image + "'"));
        std::string word;
        int cls = -1;
        out >> word >> cls;
        CHECK(word == "class");
        CHECK(cls == 286);  // Egyptian cat, as the CLI's top-1 (test_explain_cli.cpp)
        std::getline(out, word);
        int methods = 0;
        std::string method;
        int w = 0, h = 0;
        while (out >> method >> w >> h) {
            std::vector<float> got(size_t(w) * size_t(h));
            for (float& v : got) out >> v;
            ec::NpyArray want = ec::read_npy(tmp.path + "/cli/cat_" + method + "_raw.npy");
            REQUIRE(want.data.size() == got.size());
            float diff = 0;
            for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::fabs(got[i] - float(want.data[i])));
            INFO(method << ": max |example - CLI| = " << diff);
            CHECK(diff <= 1e-6f);
            ++methods;
        }
        CHECK(methods == 5);
    }
    run(make + "uninstall");
    CHECK(!exists(prefix + "/lib/libentropycam.so"));
    CHECK(!exists(prefix + "/include/entropycam"));
    CHECK(!exists(prefix + "/share/entropycam"));
}

TEST_CASE("fresh clone: with the shared data present no test is skipped for want of it; without it, each one is") {
    // needs_shared() counts while the test cases register; this compares that count with the folder's presence.
    if (ec::test::shared_data_present()) CHECK(ec::test::tests_skipped_for_shared() == 0);
    else CHECK(ec::test::tests_skipped_for_shared() >= 40);
}
