// Planned runs of a large batch in chunks of images (ForwardPlan::images_per_run, nn/forward_plan.h): each chunk
// goes through every node while its activations are still in cache; the kept values are gathered into
// whole-batch tensors (Session::chunk_kept) as the chunks finish; the runner hands them back to the session.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "nn/forward_plan.h"

namespace ec {

int images_per_run_in_cache(const Graph& g, const ForwardPlan& plan) {
    // Replays the plan's acquires and releases at batch 1: the largest sum of live values.
    std::vector<char> live(g.tensors.size(), 0);
    int64_t floats = 0, peak = 0;
    auto acquire = [&](int t) {
        if (!live[size_t(t)]) live[size_t(t)] = 1, floats += g.tensors[size_t(t)].shape.with_batch(1).numel();
        peak = std::max(peak, floats);
    };
    auto release_step = [&](size_t step) {
        for (int i = plan.release_start[step]; i < plan.release_start[step + 1]; ++i) {
            const int t = plan.release[size_t(i)];
            if (live[size_t(t)]) live[size_t(t)] = 0, floats -= g.tensors[size_t(t)].shape.with_batch(1).numel();
        }
    };
    for (int t : g.inputs) acquire(t);
    release_step(0);
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
        if (plan.block_at[k] >= 0) {  // a band-fused block holds only its output
            const BandBlock& b = plan.blocks[size_t(plan.block_at[k])];
            acquire(b.output);
            for (int i = 0; i < b.steps; ++i) release_step(k + 1 + size_t(i));
            k += size_t(b.steps - 1);
            continue;
        }
        const Node& node = g.nodes[size_t(plan.nodes[k])];
        acquire(plan.fused[k] >= 0 ? g.nodes[size_t(plan.fused[k])].output : node.output);
        release_step(k + 1);
    }
    const int64_t per_image_bytes = std::max<int64_t>(1, peak) * int64_t(sizeof(float));
    return int(std::clamp<int64_t>(kRunCacheBytes / per_image_bytes, 1, 1 << 16));
}

namespace {

// Rows [row, row + rows) of `whole` (n images) as a tensor of `rows` images, into `part` (storage reused).
void copy_rows_out(Tensor& part, const Tensor& whole, int row, int rows) {
    const int64_t per = whole.numel() / whole.shape[0];
    part.reshape_storage(whole.shape.with_batch(rows));
    std::memcpy(part.ptr(), whole.ptr() + row * per, sizeof(float) * size_t(rows * per));
}

// Images [row, row + rows) through the plan on session `ws`; the kept values go to those rows of `kept`.
void run_chunk(const Graph& g, Session& ws, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs,
               int row, int rows, PlannedRun run, std::vector<Tensor>& kept) {
    ws.chunk_inputs.resize(inputs.size());
    ws.chunk_input_ptrs.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        copy_rows_out(ws.chunk_inputs[i], *inputs[i], row, rows);
        ws.chunk_input_ptrs[i] = &ws.chunk_inputs[i];
    }
    run(g, ws, plan, ws.chunk_input_ptrs);
    for (size_t k = 0; k < plan.keep.size(); ++k) {
        const Tensor& value = ws.values[size_t(plan.keep[k])];
        const int64_t per = value.numel() / rows;
        std::memcpy(kept[k].ptr() + row * per, value.ptr(), sizeof(float) * size_t(rows * per));
    }
}

}  // namespace

void forward_in_chunks(const Graph& g, Session& s, const ForwardPlan& plan, const std::vector<const Tensor*>& inputs,
                       PlannedRun run) {
    const int n = inputs[0]->shape[0], per_run = std::max(1, plan.images_per_run);
    const int chunks = (n + per_run - 1) / per_run;
    s.chunk_kept.resize(plan.keep.size());
    for (size_t k = 0; k < plan.keep.size(); ++k)
        s.chunk_kept[k].reshape_storage(g.tensors[size_t(plan.keep[k])].shape.with_batch(n));
    // Enough chunks for every thread to take two or more: each thread runs whole chunks on its own session, every
    // kernel inside on one thread (nested regions are inactive), so no thread waits on another until the end.
    // Threads take chunks as they finish the last (a thread slowed by other work takes fewer); every chunk but
    // the last has the same size, so a thread's buffers, sized by the largest chunk it has run, are reused.
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads > 1 && chunks >= 2 * threads) {
        s.chunk_workers.resize(size_t(threads));
        std::exception_ptr error;
#pragma omp parallel num_threads(threads)
        {
            const int w = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (int c = 0; c < chunks; ++c) {
                try {
                    run_chunk(g, s.chunk_workers[size_t(w)], plan, inputs, c * per_run, std::min(per_run, n - c * per_run),
                              run, s.chunk_kept);
                } catch (...) {
#pragma omp critical(ec_forward_chunks_error)
                    if (!error) error = std::current_exception();
                }
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
    for (int c = 0; c < chunks; ++c)
        run_chunk(g, s, plan, inputs, c * per_run, std::min(per_run, n - c * per_run), run, s.chunk_kept);
}

}  // namespace ec
