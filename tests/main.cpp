// The doctest runner, plus one line saying how many test cases were skipped for want of the shared data
// (../shared: models, images, reference outputs; see tests/test_util.h needs_shared) and why.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tests/test_util.h"

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit()) return result;
    if (const int skipped = ec::test::tests_skipped_for_shared()) {
        const char* root = std::getenv("ENTROPYCAM_SHARED");
        std::fprintf(stderr,
                     "entropycam tests: %d test cases skipped: they need the shared data (models, images, reference "
                     "outputs) and %s has no reference/, models/ and images/ (make test SHARED=DIR)\n",
                     skipped, root ? root : "ENTROPYCAM_SHARED (unset)");
    }
    return result;
}
