// `--shard I/N` and `--shard auto` (cam/eval/shard.h): the shard of a Slurm job array task and of a Kubernetes
// Indexed Job pod, from an injected environment (no setenv), and a one-line error for every malformed or
// missing value, in the library and through `entropycam evaluate`. The split itself: every input in exactly one shard.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "cam/eval/shard.h"
#include "nn/error.h"
#include "tests/test_util.h"

using namespace ec;

namespace {

EnvLookup env_of(const std::map<std::string, std::string>& vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

Shard auto_shard(const std::map<std::string, std::string>& vars) { return resolve_shard("auto", env_of(vars)); }

void check_auto_error(const std::map<std::string, std::string>& vars, const std::string& fragment) {
    test::check_error_contains([&] { auto_shard(vars); }, fragment);
}

}  // namespace

TEST_CASE("shard: I/N is parsed strictly") {
    const Shard s = parse_shard("2/5");
    CHECK(s.index == 2);
    CHECK(s.count == 5);
    CHECK(resolve_shard("0/1", env_of({})).count == 1);
    CHECK(parse_shard("999999/1000000").index == 999999);
    for (const char* bad : {"", "1", "1/", "/4", "4/4", "5/4", "-1/4", "1/0", "1/-4", "a/4", "1/4x", " 1/4", "1/4/2",
                            "1.0/4", "0/1000001", "1/99999999999999999999"}) {
        INFO("text '" << bad << "'");
        test::check_error_contains([&] { parse_shard(bad); }, "--shard takes I/N");
    }
}

TEST_CASE("shard: every input lands in exactly one shard, round-robin over the sorted list") {
    for (int count : {1, 2, 3, 4, 7}) {
        std::vector<int> owners(23, 0);
        for (int k = 0; k < count; ++k)
            for (size_t i = 0; i < owners.size(); ++i)
                if (in_shard(Shard{k, count, ""}, i)) {
                    ++owners[i];
                    CHECK(int(i % size_t(count)) == k);
                }
        for (int n : owners) CHECK(n == 1);
    }
}

TEST_CASE("shard auto: Slurm job arrays") {
    SUBCASE("--array=0-3") {
        const Shard s = auto_shard({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"},
                                    {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_MAX", "3"},
                                    {"SLURM_ARRAY_TASK_STEP", "1"}, {"SLURM_JOB_ID", "17"}});
        CHECK(s.index == 2);
        CHECK(s.count == 4);
        CHECK(s.origin.find("SLURM_ARRAY_TASK_ID=2") != std::string::npos);
    }
    SUBCASE("--array=1-4 starts at 1: MIN is subtracted") {
        const std::map<std::string, std::string> base = {{"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                                                          {"SLURM_ARRAY_TASK_MAX", "4"}};
        for (int id = 1; id <= 4; ++id) {
            auto vars = base;
            vars["SLURM_ARRAY_TASK_ID"] = std::to_string(id);
            const Shard s = auto_shard(vars);
            CHECK(s.index == id - 1);
            CHECK(s.count == 4);
        }
    }
    SUBCASE("--array=10-16:3 (IDs 10, 13, 16)") {
        const Shard s = auto_shard({{"SLURM_ARRAY_TASK_ID", "16"}, {"SLURM_ARRAY_TASK_COUNT", "3"},
                                    {"SLURM_ARRAY_TASK_MIN", "10"}, {"SLURM_ARRAY_TASK_MAX", "16"},
                                    {"SLURM_ARRAY_TASK_STEP", "3"}});
        CHECK(s.index == 2);
        CHECK(s.count == 3);
    }
    SUBCASE("only ID and COUNT (no MIN/MAX/STEP): 0-based") {
        const Shard s = auto_shard({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
        CHECK(s.index == 3);
        CHECK(s.count == 4);
    }
    SUBCASE("a re-submitted index: ENTROPYCAM_SHARDS gives the audit's count, the ID is the index") {
        // sbatch --array=2 --export=ALL,ENTROPYCAM_SHARDS=4: Slurm describes a one-task array 2-2.
        const Shard s = auto_shard({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "1"},
                                    {"SLURM_ARRAY_TASK_MIN", "2"}, {"SLURM_ARRAY_TASK_MAX", "2"},
                                    {"ENTROPYCAM_SHARDS", "4"}});
        CHECK(s.index == 2);
        CHECK(s.count == 4);
        CHECK(s.origin.find("ENTROPYCAM_SHARDS=4") != std::string::npos);
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "4"}, {"ENTROPYCAM_SHARDS", "4"}}, "only 4 shards");
    }
    SUBCASE("Slurm wins over Kubernetes when both are set") {
        const Shard s = auto_shard({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"},
                                    {"JOB_COMPLETION_INDEX", "0"}});
        CHECK(s.index == 1);
        CHECK(s.count == 2);
    }
    SUBCASE("malformed or inconsistent") {
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}},
                         "SLURM_ARRAY_TASK_ID='x' is not a whole number");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", ""}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "SLURM_ARRAY_TASK_ID=''");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "-1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "SLURM_ARRAY_TASK_ID='-1'");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "0"}}, "SLURM_ARRAY_TASK_COUNT='0'");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4 "}}, "SLURM_ARRAY_TASK_COUNT='4 '");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "a"}},
                         "SLURM_ARRAY_TASK_MIN='a'");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_STEP", "0"}},
                         "SLURM_ARRAY_TASK_STEP='0'");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"ENTROPYCAM_SHARDS", "four"}},
                         "ENTROPYCAM_SHARDS='four'");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "1"}}, "SLURM_ARRAY_TASK_COUNT is not");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "only 4 shards");
        // --array=0,2,7: three tasks, but 7 is not 0 + 2 * step for any regular step.
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                          {"SLURM_ARRAY_TASK_MAX", "7"}},
                         "not one range");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                          {"SLURM_ARRAY_TASK_MAX", "4"}},
                         "not in the array 1-4");
        check_auto_error({{"SLURM_ARRAY_TASK_ID", "11"}, {"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_MIN", "10"},
                          {"SLURM_ARRAY_TASK_MAX", "16"}, {"SLURM_ARRAY_TASK_STEP", "3"}},
                         "not in the array 10-16:3");
    }
    SUBCASE("a Slurm job that is not an array") {
        check_auto_error({{"SLURM_JOB_ID", "17"}}, "not a job array");
    }
}

TEST_CASE("shard auto: Kubernetes Indexed Jobs") {
    const Shard s = auto_shard({{"JOB_COMPLETION_INDEX", "3"}, {"ENTROPYCAM_SHARDS", "8"}});
    CHECK(s.index == 3);
    CHECK(s.count == 8);
    CHECK(s.origin.find("JOB_COMPLETION_INDEX=3") != std::string::npos);
    CHECK(auto_shard({{"JOB_COMPLETION_INDEX", "0"}, {"ENTROPYCAM_SHARDS", "1"}}).count == 1);
    check_auto_error({{"JOB_COMPLETION_INDEX", "3"}}, "ENTROPYCAM_SHARDS is not");
    check_auto_error({{"JOB_COMPLETION_INDEX", "8"}, {"ENTROPYCAM_SHARDS", "8"}}, "only 8 shards");
    check_auto_error({{"JOB_COMPLETION_INDEX", "3"}, {"ENTROPYCAM_SHARDS", "0"}}, "ENTROPYCAM_SHARDS='0'");
    check_auto_error({{"JOB_COMPLETION_INDEX", "3"}, {"ENTROPYCAM_SHARDS", "1000001"}}, "ENTROPYCAM_SHARDS='1000001'");
    check_auto_error({{"JOB_COMPLETION_INDEX", "three"}, {"ENTROPYCAM_SHARDS", "8"}}, "JOB_COMPLETION_INDEX='three'");
}

TEST_CASE("shard auto: no cluster in the environment is a clear error") {
    check_auto_error({}, "no shard in the environment");
    check_auto_error({{"ENTROPYCAM_SHARDS", "4"}}, "SLURM_ARRAY_TASK_ID");  // a count alone gives no index
    // The real process lookup reads the real environment: a variable every process here has.
    CHECK(process_environment()("PATH").has_value());
    CHECK_FALSE(process_environment()("ENTROPYCAM_TEST_SURELY_UNSET_VARIABLE").has_value());
}

// Through the built binary: --shard is resolved before the model is loaded, so a bad shard costs nothing.
TEST_CASE("shard auto: evaluate and sanity refuse a missing or malformed shard with a usage error") {
    for (const std::string command : {"evaluate", "sanity"}) {
        CAPTURE(command);
        const char* cli = std::getenv("ENTROPYCAM_CLI");
        REQUIRE_MESSAGE(cli != nullptr, "ENTROPYCAM_CLI is not set: run the tests through `make test`");
        char tmpl[] = "/tmp/entropycam_shard_XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        const std::string err = std::string(tmpl) + "/err.txt";
        // Without the variables of a cluster (unset in case the tests themselves run inside one).
        const std::string clean = "env -u SLURM_ARRAY_TASK_ID -u SLURM_JOB_ID -u JOB_COMPLETION_INDEX -u ENTROPYCAM_SHARDS ";
        auto run = [&](const std::string& vars, const std::string& shard) {
            const std::string cmd = clean + vars + " '" + cli + "' " + command + " --shard " + shard + " in.jpg > /dev/null 2> " + err;
            const int rc = std::system(cmd.c_str());
            return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        };
        auto message = [&] {
            std::ifstream f(err);
            std::string line;
            std::getline(f, line);
            return line;
        };
        CHECK(run("", "auto") == 2);
        CHECK(message().find("--shard auto: no shard in the environment") != std::string::npos);
        CHECK(run("SLURM_ARRAY_TASK_ID=x SLURM_ARRAY_TASK_COUNT=4", "auto") == 2);
        CHECK(message().find("SLURM_ARRAY_TASK_ID='x' is not a whole number") != std::string::npos);
        CHECK(run("JOB_COMPLETION_INDEX=1", "auto") == 2);
        CHECK(message().find("ENTROPYCAM_SHARDS is not") != std::string::npos);
        CHECK(run("", "4/4") == 2);
        CHECK(message().find("--shard takes I/N") != std::string::npos);
        // A valid shard gets past the flags: the error is now the missing model or input, a bad-input error (1).
        CHECK(run("JOB_COMPLETION_INDEX=1 ENTROPYCAM_SHARDS=2 ENTROPYCAM_WEIGHTS_DIR=" + std::string(tmpl), "auto") == 1);
        std::remove(err.c_str());
        rmdir(tmpl);
    }
}
