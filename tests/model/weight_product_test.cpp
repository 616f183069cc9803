// The products with a model's weights (engine/model/weight_product.hpp) against a plain
// double-precision loop, for both layouts, every stored type, and shapes that leave partial
// blocks of tokens and of weight rows; and the promises the forward passes rely on: the result
// does not depend on the thread count, and F16/BF16 weights give bit for bit what their float32
// values give.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "tokens.hpp"
#include "weight_product.hpp"

namespace attnviz::model {
namespace {

Matrix randomMatrix(long rows, long cols, unsigned seed) { return glorotUniform(int(rows), int(cols), seed); }

// y = x · W (+ bias) in double from the weights' float32 values.
Eigen::MatrixXd referenceProduct(const Matrix& x, const Matrix& w, WeightLayout layout, const Vector& bias) {
  const bool byInputs = layout == WeightLayout::OutputsByInputs;
  const long outputs = byInputs ? w.rows() : w.cols();
  Eigen::MatrixXd y(x.rows(), outputs);
  for (long i = 0; i < x.rows(); ++i)
    for (long j = 0; j < outputs; ++j) {
      double sum = bias.size() ? double(bias(j)) : 0.0;
      for (long k = 0; k < x.cols(); ++k) sum += double(x(i, k)) * double(byInputs ? w(j, k) : w(k, j));
      y(i, j) = sum;
    }
  return y;
}

// |y − reference| ≤ 4·depth·u·Σ|x·w| (u = 2⁻²⁴): a float sum of `depth` products rounds at most
// that far from the exact one.
void expectCloseToReference(const Matrix& x, const Matrix& w, WeightLayout layout, const Vector& bias, const Matrix& y) {
  const Eigen::MatrixXd reference = referenceProduct(x, w, layout, bias);
  const Eigen::MatrixXd magnitudes =
      referenceProduct(x.cwiseAbs(), w.cwiseAbs(), layout, Vector(bias.cwiseAbs()));
  ASSERT_EQ(y.rows(), reference.rows());
  ASSERT_EQ(y.cols(), reference.cols());
  for (long i = 0; i < y.rows(); ++i)
    for (long j = 0; j < y.cols(); ++j)
      ASSERT_LE(std::abs(double(y(i, j)) - reference(i, j)), 4.0 * double(x.cols() + 1) * 0x1p-24 * magnitudes(i, j))
          << "row " << i << ", output " << j << " of " << x.rows() << " × " << x.cols() << " · " << w.rows() << " × "
          << w.cols();
}

struct Shape {
  long tokens, depth, outputs;
};

// Partial token blocks (1, 15, 17, 33, 70 tokens) and partial weight-row blocks (7, 13, 29
// outputs), depths that are and are not multiples of a vector.
const Shape kShapes[] = {{1, 8, 5}, {15, 31, 7}, {16, 16, 12}, {17, 9, 13}, {33, 64, 29}, {70, 37, 50}, {128, 96, 40}};

TEST(WeightProduct, MatchesDoubleLoopInBothLayoutsWithAndWithoutBias) {
  unsigned seed = 1;
  for (const Shape& s : kShapes)
    for (WeightLayout layout : {WeightLayout::OutputsByInputs, WeightLayout::InputsByOutputs})
      for (bool withBias : {false, true}) {
        const Matrix x = randomMatrix(s.tokens, s.depth, ++seed);
        const Matrix w = layout == WeightLayout::OutputsByInputs ? randomMatrix(s.outputs, s.depth, ++seed)
                                                                   : randomMatrix(s.depth, s.outputs, ++seed);
        const Vector bias = withBias ? Vector(randomMatrix(1, s.outputs, ++seed).row(0).transpose()) : Vector();
        Matrix y;
        weightProduct(x, WeightMatrix(w), layout, bias, y);
        expectCloseToReference(x, w, layout, bias, y);
      }
}

TEST(WeightProduct, HalfAndBfloat16WeightsGiveWhatTheirFloat32ValuesGive) {
  unsigned seed = 100;
  for (const Shape& s : kShapes)
    for (WeightLayout layout : {WeightLayout::OutputsByInputs, WeightLayout::InputsByOutputs})
      for (DType dtype : {DType::F16, DType::BF16}) {
        const Matrix x = randomMatrix(s.tokens, s.depth, ++seed);
        const Matrix values = layout == WeightLayout::OutputsByInputs ? randomMatrix(s.outputs, s.depth, ++seed)
                                                                        : randomMatrix(s.depth, s.outputs, ++seed);
        const WeightMatrix stored = WeightMatrix(values).storedAs(dtype);
        const Matrix rounded = stored.toFloat();
        Matrix fromStored, fromFloat;
        weightProduct(x, stored, layout, Vector(), fromStored);
        weightProduct(x, WeightMatrix(rounded), layout, Vector(), fromFloat);
        EXPECT_TRUE(fromStored == fromFloat) << toString(dtype) << ", " << s.tokens << " × " << s.depth;
        expectCloseToReference(x, rounded, layout, Vector(), fromStored);
      }
}

TEST(WeightProduct, ResultDoesNotDependOnTheThreadCount) {
  // Large enough that the product is shared between threads.
  const Matrix x = randomMatrix(200, 300, 7), w = randomMatrix(260, 300, 8);
  const int threads = omp_get_max_threads();
  Matrix one, many;
  omp_set_num_threads(1);
  weightProduct(x, WeightMatrix(w), WeightLayout::OutputsByInputs, Vector(), one);
  omp_set_num_threads(std::max(2, threads));
  weightProduct(x, WeightMatrix(w), WeightLayout::OutputsByInputs, Vector(), many);
  omp_set_num_threads(threads);
  EXPECT_TRUE(one == many);
  expectCloseToReference(x, w, WeightLayout::OutputsByInputs, Vector(), many);
}

// Depths of several slabs (the kernel takes at most 640 inputs at a time) with a shorter last one,
// outputs of more than one work unit, 100 tokens (one chunk of tokens: the first product writes
// the transpose of a weight stored [in, out] slab by slab as its units need it) and 300 (two
// chunks: it writes the transpose whole first), each weight twice: the second product reads the
// transpose the first kept. Both give the same bits, within the bound of the double loop, for
// every stored type.
TEST(WeightProduct, ManySlabsAndTheKeptTransposeGiveTheSameResult) {
  for (long tokens : {100L, 300L}) {
    const Matrix x = randomMatrix(tokens, 1400, 21);
    const Matrix w = randomMatrix(1400, 110, 22);
    const Vector bias = randomMatrix(1, 110, 23).row(0).transpose();
    for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
      const WeightMatrix stored = WeightMatrix(w).storedAs(dtype);
      ASSERT_EQ(stored.kernelRows(), nullptr);
      Matrix first, second;
      weightProduct(x, stored, WeightLayout::InputsByOutputs, bias, first);
      weightProduct(x, stored, WeightLayout::InputsByOutputs, bias, second);
      EXPECT_TRUE(first == second) << toString(dtype) << ", " << tokens << " tokens";
      expectCloseToReference(x, stored.toFloat(), WeightLayout::InputsByOutputs, bias, second);
      const auto made = stored.kernelRows();
      if (!hasWeightKernel()) {  // Eigen's product reads the columns in place and makes none
        EXPECT_EQ(made, nullptr);
        continue;
      }
      ASSERT_NE(made, nullptr) << toString(dtype);
      EXPECT_TRUE(made->toFloat() == stored.toFloat().transpose()) << toString(dtype) << ", " << tokens << " tokens";
      Matrix byOutputs;
      weightProduct(x, *made, WeightLayout::OutputsByInputs, bias, byOutputs);
      EXPECT_TRUE(byOutputs == second) << toString(dtype) << ", " << tokens << " tokens";
    }
  }
}

TEST(WeightProduct, ATransposeWithPaddedRowsReadsLikeAContiguousOne) {
  // 4 KiB rows (1024 float32 or 2048 half inputs) are padded in the transpose; every reader of
  // the transpose must step over the padding.
  for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
    const long inputs = 4096 / long(byteSize(dtype)), outputs = 40;
    const Matrix x = randomMatrix(50, inputs, 31), w = randomMatrix(inputs, outputs, 32);
    const Vector bias = randomMatrix(1, outputs, 33).row(0).transpose();
    const WeightMatrix stored = WeightMatrix(w).storedAs(dtype);
    Matrix y;
    weightProduct(x, stored, WeightLayout::InputsByOutputs, bias, y);
    expectCloseToReference(x, stored.toFloat(), WeightLayout::InputsByOutputs, bias, y);
    if (!hasWeightKernel()) continue;
    const auto made = stored.kernelRows();
    ASSERT_NE(made, nullptr) << toString(dtype);
    EXPECT_GT(made->rowStride(), made->cols()) << toString(dtype);
    const Matrix expected = stored.toFloat().transpose();
    EXPECT_TRUE(made->toFloat() == expected) << toString(dtype);
    Matrix cols(outputs, 7);
    made->colsToFloat(inputs - 7, 7, cols.data());
    EXPECT_TRUE(cols == expected.rightCols(7)) << toString(dtype);
    Matrix again, fewRows, eigen;
    weightProduct(x, *made, WeightLayout::OutputsByInputs, bias, again);
    EXPECT_TRUE(again == y) << toString(dtype);
    weightProduct(x.topRows(3), *made, WeightLayout::OutputsByInputs, bias, fewRows);  // Eigen's path
    expectCloseToReference(x.topRows(3), expected, WeightLayout::OutputsByInputs, bias, fewRows);
    eigenWeightProduct(x, *made, WeightLayout::OutputsByInputs, bias, eigen);
    expectCloseToReference(x, expected, WeightLayout::OutputsByInputs, bias, eigen);
  }
}

TEST(WeightProduct, FloatRowsOfFourKibibytesAreReadFromAPaddedCopy) {
  // Rows 4 KiB apart share first-level cache sets: owned ones are stored padded, mapped ones
  // (here in place over a plain buffer) get padded kernel rows from their first product.
  const long outputs = 30, inputs = 1024;
  const Matrix x = randomMatrix(40, inputs, 41), w = randomMatrix(outputs, inputs, 42);
  const Vector bias = randomMatrix(1, outputs, 43).row(0).transpose();
  const WeightMatrix owned(w);
  EXPECT_GT(owned.rowStride(), inputs);
  EXPECT_TRUE(owned.kernelReadsInPlace());
  EXPECT_TRUE(owned.toFloat() == w);
  auto values = std::make_shared<Matrix>(w);
  const WeightMatrix mapped = WeightMatrix::inPlace(DType::F32, outputs, inputs,
                                                    reinterpret_cast<const unsigned char*>(values->data()), values);
  EXPECT_EQ(mapped.rowStride(), inputs);
  EXPECT_FALSE(mapped.kernelReadsInPlace());
  Matrix fromOwned, first, second;
  weightProduct(x, owned, WeightLayout::OutputsByInputs, bias, fromOwned);
  expectCloseToReference(x, w, WeightLayout::OutputsByInputs, bias, fromOwned);
  weightProduct(x, mapped, WeightLayout::OutputsByInputs, bias, first);
  weightProduct(x, mapped, WeightLayout::OutputsByInputs, bias, second);
  EXPECT_TRUE(first == fromOwned);
  EXPECT_TRUE(second == fromOwned);
  if (!hasWeightKernel()) return;
  const auto made = mapped.kernelRows();
  ASSERT_NE(made, nullptr);
  EXPECT_GT(made->rowStride(), inputs);
  EXPECT_TRUE(made->toFloat() == w);
  EXPECT_EQ(owned.kernelRows(), nullptr);  // read in place: nothing made
}

TEST(WeightProduct, AProductInPartsGivesTheColumnsOfTheWholeOne) {
  // 150 outputs in thirds of 50: twelve-row blocks cross the parts' edges.
  const Matrix w = randomMatrix(70, 150, 51);
  const Vector bias = randomMatrix(1, 150, 52).row(0).transpose();
  for (long tokens : {40L, 3L}) {  // the kernel, and Eigen's product of a few rows
    const Matrix x = randomMatrix(tokens, 70, 53);
    for (DType dtype : {DType::F32, DType::BF16}) {
      const WeightMatrix stored = WeightMatrix(w).storedAs(dtype);
      Matrix whole, q, k, v;
      weightProduct(x, stored, WeightLayout::InputsByOutputs, bias, whole);
      weightProduct(x, stored, WeightLayout::InputsByOutputs, bias, {&q, &k, &v});
      EXPECT_TRUE(q == whole.leftCols(50)) << tokens << " tokens, " << toString(dtype);
      EXPECT_TRUE(k == whole.middleCols(50, 50)) << tokens << " tokens, " << toString(dtype);
      EXPECT_TRUE(v == whole.rightCols(50)) << tokens << " tokens, " << toString(dtype);
    }
  }
  Matrix a, b, c, d;  // 150 outputs do not split in four
  EXPECT_THROW(
      weightProduct(randomMatrix(20, 70, 54), WeightMatrix(w), WeightLayout::InputsByOutputs, bias, {&a, &b, &c, &d}),
      Error);
}

TEST(WeightProduct, EigenPathMatchesDoubleLoopToo) {
  // Builds without the kernel (and products of fewer rows than a vector) take this path.
  const Matrix x = randomMatrix(40, 50, 11), w = randomMatrix(50, 30, 12);
  const Vector bias = randomMatrix(1, 30, 13).row(0).transpose();
  Matrix y;
  eigenWeightProduct(x, WeightMatrix(w), WeightLayout::InputsByOutputs, bias, y);
  expectCloseToReference(x, w, WeightLayout::InputsByOutputs, bias, y);
}

}  // namespace
}  // namespace attnviz::model
