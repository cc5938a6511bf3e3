// Concatenation along the last (channel) dimension. Backward accumulates (+=) each slice into its input.
#pragma once
#include <cstdint>

namespace ec {

// Row p of the output is the rows p of every input placed side by side; inputs[i] has widths[i] values a row.
void concat_forward(float* out, const float* const* inputs, const int* widths, int count, int64_t rows);
// d_inputs[i] (row p) += its slice of d_out (row p). A null d_inputs[i] is skipped (no gradient wanted).
void concat_backward(float* const* d_inputs, const float* d_out, const int* widths, int count, int64_t rows);

// The same kernels in double, for the finite-difference gradient checks of the tests.
void concat_forward(double* out, const double* const* inputs, const int* widths, int count, int64_t rows);
void concat_backward(double* const* d_inputs, const double* d_out, const int* widths, int count, int64_t rows);

}  // namespace ec
