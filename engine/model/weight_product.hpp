#pragma once
// Products of activations with a model's weight matrix, the forward passes' main cost.
//
// A register-blocked kernel for the CPU the build targets (AVX-512, or AVX2 with FMA): the
// activations are packed once per product into blocks of tokens; weights stored [outputs,
// inputs] are read where they lie (F32) or converted a slab of rows at a time (F16, BF16).
// Weights stored [inputs, outputs] (GPT-2's Conv1D) are transposed once, in their stored type,
// by the first product that reads them, and the mapped originals handed back, so that memory
// stays about one copy of the checkpoint. Every output is one float sum over the inputs in
// order, so results do not depend on the thread count, and F16/BF16 weights give bit for bit
// what their float32 values give.
// Builds without those instructions, and products of a few rows (a generated token, the last
// position's logits), take Eigen's product.
#include <initializer_list>

#include "weights.hpp"

namespace attnviz::model {

// How a checkpoint stores a projection: [outputs, inputs] (nn.Linear) or [inputs, outputs]
// (GPT-2's Conv1D).
enum class WeightLayout { OutputsByInputs, InputsByOutputs };

// y = x · W (in the layout's orientation) + bias (empty: none); y is resized.
void weightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y);
// The same written into `parts`, equal consecutive column ranges of y in order (GPT-2's fused
// Q | K | V), each resized: no copy of y cut in parts. Throws Error when they do not divide y.
void weightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias,
                   std::initializer_list<Matrix*> parts);

// Eigen's product on float32 panels: what builds without the kernel run, and what the tests hold
// the kernel to.
void eigenWeightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y);

// Whether this build has the register-blocked kernel (the benchmark says which path ran).
bool hasWeightKernel();

}  // namespace attnviz::model
