// The cluster deployment files (deploy/): the Kubernetes manifests are read structurally (tests/yaml_subset.h)
// and checked for what the audit depends on, and each check is shown to fail on a broken copy; the Slurm
// scripts are run by bash with a job array's environment faked (no Slurm here: `make test-slurm` runs them on a
// real one) and their merged output must equal a single-process evaluate byte for byte. Paths are relative to
// the repository root, where `make test` runs.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"
#include "tests/yaml_subset.h"
#include "weights/model.h"

using namespace ec;
using test::YamlNode;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE(f.good(), path << " not found (run the tests from the repository root, as `make test` does)");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Every occurrence of `from` (there must be one) replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    REQUIRE_MESSAGE(text.find(from) != std::string::npos, "'" << from << "' not in the manifest");
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::string scalar_at(const YamlNode& n, const std::string& path) {
    const YamlNode* v = n.path(path);
    return v && v->kind == YamlNode::kScalar ? v->scalar : "";
}

// The first container's command and args joined by spaces, and its env value of `name` ("" if absent).
std::string container_command(const YamlNode& job) {
    const YamlNode* c = job.path("spec.template.spec.containers");
    if (!c || c->kind != YamlNode::kSeq || c->seq.empty()) return "";
    std::string out;
    for (const char* key : {"command", "args"})
        if (const YamlNode* list = c->seq[0].find(key))
            for (const YamlNode& part : list->seq) out += part.scalar + " ";
    return out;
}
std::string container_env(const YamlNode& job, const std::string& name) {
    const YamlNode* c = job.path("spec.template.spec.containers");
    if (!c || c->kind != YamlNode::kSeq || c->seq.empty() || !c->seq[0].find("env")) return "";
    for (const YamlNode& e : c->seq[0].find("env")->seq)
        if (scalar_at(e, "name") == name) return scalar_at(e, "value");
    return "";
}

// What the audit needs from its Indexed Job; empty when all is well.
std::vector<std::string> indexed_job_problems(const std::string& text) {
    std::vector<std::string> problems;
    const YamlNode job = test::read_yaml_subset(text);
    if (scalar_at(job, "apiVersion") != "batch/v1") problems.push_back("apiVersion is not batch/v1");
    if (scalar_at(job, "kind") != "Job") problems.push_back("kind is not Job");
    if (scalar_at(job, "spec.completionMode") != "Indexed") problems.push_back("completionMode is not Indexed");
    const int completions = std::atoi(scalar_at(job, "spec.completions").c_str());
    const int parallelism = std::atoi(scalar_at(job, "spec.parallelism").c_str());
    if (completions < 1) problems.push_back("completions is not a positive number");
    if (parallelism < 1 || parallelism > completions) problems.push_back("parallelism is not in 1..completions");
    if (container_env(job, "ENTROPYCAM_SHARDS") != std::to_string(completions))
        problems.push_back("env ENTROPYCAM_SHARDS is not completions");
    const std::string cmd = container_command(job);
    for (const char* part : {"entropycam evaluate", "--shard auto", "--resume", "shard-$JOB_COMPLETION_INDEX.csv"})
        if (cmd.find(part) == std::string::npos) problems.push_back(std::string("the command lacks ") + part);
    const std::string restart = scalar_at(job, "spec.template.spec.restartPolicy");
    if (restart != "OnFailure" && restart != "Never") problems.push_back("restartPolicy is not OnFailure or Never");
    if (!job.path("spec.template.spec.volumes"))
        problems.push_back("no volume");
    return problems;
}

}  // namespace

TEST_CASE("deploy: the YAML subset reader reads what the manifests use") {
    const YamlNode n = test::read_yaml_subset(
        "# comment\n---\na: 1\nb:\n  c: \"8\"   # trailing comment\n  d: [x, 'y z', \"--shard auto\"]\n"
        "list:\n- name: E\n  value: \"2\"\n- plain\n-  >-\n   one\n   two\n\n   three\nlit: |\n  l1\n  l2\n");
    CHECK(scalar_at(n, "a") == "1");
    CHECK(scalar_at(n, "b.c") == "8");
    REQUIRE(n.path("b.d") != nullptr);
    REQUIRE(n.path("b.d")->seq.size() == 3);
    CHECK(n.path("b.d")->seq[1].scalar == "y z");
    CHECK(n.path("b.d")->seq[2].scalar == "--shard auto");
    const YamlNode* list = n.path("list");
    REQUIRE(list != nullptr);
    REQUIRE(list->seq.size() == 3);
    CHECK(scalar_at(list->seq[0], "value") == "2");
    CHECK(list->seq[1].scalar == "plain");
    CHECK(list->seq[2].scalar == "one two\nthree");
    CHECK(scalar_at(n, "lit") == "l1\nl2\n");
    CHECK_THROWS_AS(test::read_yaml_subset("a: 1\n   b: 2\n"), std::runtime_error);
    CHECK_THROWS_AS(test::read_yaml_subset("a: &anchor 1\n"), std::runtime_error);
    CHECK_THROWS_AS(test::read_yaml_subset("a: 1\na: 2\n"), std::runtime_error);
}

TEST_CASE("deploy: the Kubernetes Indexed Job shards the audit with --shard auto") {
    const std::string audit = read_text("deploy/k8s/audit-job.yaml");
    const std::vector<std::string> problems = indexed_job_problems(audit);
    for (const std::string& p : problems) FAIL_CHECK(p);
    CHECK(problems.empty());
    // Every check can fail: a broken copy of the manifest is caught.
    CHECK(indexed_job_problems(replaced(audit, "completionMode: Indexed", "completionMode: NonIndexed")).size() == 1);
    CHECK(indexed_job_problems(replaced(audit, "value: \"8\"", "value: \"7\"")).size() == 1);
    CHECK(indexed_job_problems(replaced(audit, "parallelism: 8", "parallelism: 9")).size() == 1);
    CHECK(indexed_job_problems(replaced(audit, "--shard auto", "--shard 0/8")).size() == 1);
    CHECK(indexed_job_problems(replaced(audit, "kind: Job", "kind: Pod")).size() == 1);
}

TEST_CASE("deploy: the Kubernetes summarize Job merges the same volume's shards") {
    const YamlNode audit = test::read_yaml_subset(read_text("deploy/k8s/audit-job.yaml"));
    const YamlNode sum = test::read_yaml_subset(read_text("deploy/k8s/summarize-job.yaml"));
    CHECK(scalar_at(sum, "apiVersion") == "batch/v1");
    CHECK(scalar_at(sum, "kind") == "Job");
    CHECK(scalar_at(sum, "spec.completionMode") == "");  // one pod
    CHECK(container_command(sum).find("entropycam summarize --csv /data/out/summary.csv /data/out/shard-*.csv") !=
          std::string::npos);
    CHECK(container_env(sum, "ENTROPYCAM_SHARDS") == scalar_at(audit, "spec.completions"));
    const YamlNode* av = audit.path("spec.template.spec.volumes");
    const YamlNode* sv = sum.path("spec.template.spec.volumes");
    REQUIRE((av && sv && !av->seq.empty() && !sv->seq.empty()));
    CHECK(scalar_at(av->seq[0], "persistentVolumeClaim.claimName") == "entropycam-data");
    CHECK(scalar_at(sv->seq[0], "persistentVolumeClaim.claimName") == "entropycam-data");
    const YamlNode* ac = audit.path("spec.template.spec.containers");
    const YamlNode* sc = sum.path("spec.template.spec.containers");
    REQUIRE((ac && sc));
    CHECK(scalar_at(ac->seq[0], "image") == scalar_at(sc->seq[0], "image"));
}

TEST_CASE("deploy: the Dockerfile builds entropycam from source on Debian") {
    const std::string d = read_text("deploy/k8s/Dockerfile");
    CHECK(d.find("FROM debian:") == d.find("FROM "));  // the first stage is Debian
    CHECK(d.find("apt-get install") != std::string::npos);
    CHECK(d.find("make -j\"$(nproc)\" build/entropycam") != std::string::npos);
    CHECK(d.find("COPY --from=build /src/build/entropycam /usr/local/bin/entropycam") != std::string::npos);
    CHECK(d.find("ENTROPYCAM_WEIGHTS_DIR") != std::string::npos);
}

// audit.sbatch and summarize.sbatch are bash scripts; here they run as Slurm would run them, with a two-task
// array's variables set by hand.
TEST_CASE("deploy: the Slurm scripts, run with a faked job array, merge to the single-process result" * ec::test::needs_shared()) {
    const char* cli = std::getenv("ENTROPYCAM_CLI");
    REQUIRE_MESSAGE(cli != nullptr, "ENTROPYCAM_CLI is not set: run the tests through `make test`");
    char tmpl[] = "/tmp/entropycam_deploy_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const fs::path dir = tmpl;
    fs::create_directory(dir / "images");
    for (const char* name : {"n01443537_goldfish.JPEG", "n07745940_strawberry.JPEG", "n07753592_banana.JPEG"})
        fs::create_symlink(test::shared_path("images/imagenet-dev/" + std::string(name)), dir / "images" / name);
    const std::string model = (dir / "v1.ecw").string();
    save_model(import_tflite(test::shared_path("models/mobilenet_v1_0.75_192_quant.tflite"),
                             test::shared_path("models/imagenet_labels.txt")),
               model);
    const std::string opts = " --model " + model + " --steps 2 --methods center,random";
    // (Variables of a real cluster the tests might run in are unset.)
    const std::string d = dir.string();
    const std::string env = "env -u ENTROPYCAM_SHARDS -u SLURM_ARRAY_TASK_ID -u SLURM_CPUS_PER_TASK -u OMP_NUM_THREADS "
                            "ENTROPYCAM=" + std::string(cli) + " SLURM_ARRAY_JOB_ID=7 ";
    auto sh = [&](const std::string& cmd) {
        const int rc = std::system(cmd.c_str());
        INFO("command: " << cmd);
        return rc;
    };
    // One OpenMP thread, as audit.sbatch gives a task without --cpus-per-task: the last digit of a probability
    // may differ between thread counts (sums in another order), and this comparison is byte for byte.
    REQUIRE(sh("OMP_NUM_THREADS=1 " + std::string(cli) + " evaluate --csv " + d + "/single.csv" + opts + " " + d +
               "/images > " + d + "/single.md 2>/dev/null") == 0);
    // --array=1-2: IDs 1 and 2 are shards 0 and 1.
    for (int id : {1, 2}) {
        const std::string array = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
                                  " SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=2 ";
        CHECK(sh(env + array + "bash deploy/slurm/audit.sbatch " + d + "/images " + d + "/out" + opts) == 0);
        CHECK(fs::exists(dir / "out" / ("shard-" + std::to_string(id) + ".done")));
        CHECK(read_text(d + "/out/shard-" + std::to_string(id) + ".log").find("entropycam evaluate: ") != std::string::npos);
    }
    CHECK(read_text(d + "/out/shard-1.log").find("(shard 0/2, SLURM_ARRAY_TASK_ID=1 (min 1, step 1)") != std::string::npos);
    CHECK(sh(env + "bash deploy/slurm/summarize.sbatch " + d + "/out > /dev/null") == 0);
    CHECK(read_text(d + "/out/summary.csv") == read_text(d + "/single.csv"));
    CHECK(read_text(d + "/out/summary.md") == read_text(d + "/single.md"));
    // An unfinished shard (no .done) stops the merge, and so does a task outside a job array.
    fs::remove(dir / "out" / "shard-2.done");
    fs::remove(dir / "out" / "summary.md");
    CHECK(sh(env + "bash deploy/slurm/summarize.sbatch " + d + "/out 2> " + d + "/err.txt") != 0);
    CHECK(read_text(d + "/err.txt").find("1 of 2 shards finished") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "out" / "summary.md"));
    fs::remove(dir / "out" / "shard-1.done");
    CHECK(sh(env + "bash deploy/slurm/summarize.sbatch " + d + "/out 2> " + d + "/err.txt") != 0);
    CHECK(read_text(d + "/err.txt").find("0 of 2 shards finished") != std::string::npos);
    CHECK(sh(env + "bash deploy/slurm/audit.sbatch " + d + "/images " + d + "/out2 2> /dev/null") == 2 * 256);
    std::error_code ec;
    fs::remove_all(dir, ec);
}
