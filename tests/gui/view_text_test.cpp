// Pure functions behind what the views print (issue 14): one precision per matrix and no "-0.00",
// derivation numbers that add up, wrapping only at spaces, and the log / per-row colour scales
// that the heatmap and the exported figures share.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cell_text.hpp"
#include "figure/colormap.hpp"
#include "figure/figure.hpp"

namespace attnviz::gui {
namespace {

TEST(CellText, OnePrecisionPerMatrix) {
  EXPECT_EQ(cellDecimals(0.066f), 2);
  EXPECT_EQ(cellDecimals(9.99f), 2);
  EXPECT_EQ(cellDecimals(10.0f), 1);
  EXPECT_EQ(cellDecimals(250.0f), 0);
}

TEST(CellText, NoNegativeZero) {
  EXPECT_EQ(formatFixed(-0.001, 2), "0.00");
  EXPECT_EQ(formatFixed(-0.0, 2), "0.00");
  EXPECT_EQ(formatFixed(-0.004999, 2), "0.00");
  EXPECT_EQ(formatFixed(-0.005001, 2), "\u22120.01");
  EXPECT_EQ(formatFixed(-1.25, 1), "\u22121.2");  // printf's rounding of the binary value 1.25
  EXPECT_EQ(formatFixed(3.14159, 3), "3.142");
}

// Issue 14's step 4a: −0.712 − 0.617 printed as −1.328 does not add up; at the decimals chosen
// the printed terms give the printed result exactly.
TEST(CellText, TermsAddUpToTheResult) {
  const double a = -0.7124, b = -0.6164, r = a + b;  // −1.3288: 3 decimals give −0.712 − 0.616 ≠ −1.329
  const int d = decimalsThatAddUp({a, b}, r);
  EXPECT_GT(d, 3);
  const double unit = std::pow(10.0, -d);
  EXPECT_EQ(std::round(a / unit) + std::round(b / unit), std::round(r / unit));
  // Already consistent at 3 decimals: no extra digits.
  EXPECT_EQ(decimalsThatAddUp({0.5, 0.25}, 0.75), 3);
  // A long sum (a row of 512 exp values) still adds up at the decimals returned, or gets 7.
  std::vector<double> terms;
  double sum = 0;
  for (int k = 0; k < 512; ++k) {
    terms.push_back(std::exp(-0.01 * k) * 0.123456789);
    sum += terms.back();
  }
  const int dl = decimalsThatAddUp(terms, sum);
  const double ul = std::pow(10.0, -dl);
  double printed = 0;
  for (double t : terms) printed += std::round(t / ul);
  EXPECT_TRUE(dl == 7 || printed == std::round(sum / ul)) << dl;
}

TEST(CellText, WrapsOnlyAtSpaces) {
  auto measure = [](std::string_view t) { return float(t.size()); };  // one unit per byte
  const std::string text = "the outputs are 8.575, 8.851, 8.948, not 2.33";
  const auto lines = wrapAtSpaces(text, 18, measure);
  ASSERT_GE(lines.size(), 2u);
  std::string joined;
  for (const std::string& l : lines) {
    EXPECT_LE(l.size(), 18u) << l;
    EXPECT_NE(l.back(), '.') << "a line ends inside a number: " << l;
    joined += (joined.empty() ? "" : " ") + l;
  }
  EXPECT_EQ(joined, text);
  // ImGui's wrapping breaks after '.', splitting "8.851": a word stays whole here.
  for (const std::string& l : wrapAtSpaces("8.851", 3, measure)) EXPECT_EQ(l, "8.851");
  EXPECT_EQ(wrapAtSpaces("one\ntwo", 100, measure), (std::vector<std::string>{"one", "two"}));
}

TEST(ColourScale, LogAndPerRowAgainstDirectFormulas) {
  Matrix w(2, 4);
  w << 0.066f, 0.002f, 0.0f, -INFINITY, 0.5f, 0.25f, 0.125f, 0.125f;
  const ValueRange linear{0, 0.5f};
  Matrix logged = w;
  applyColourScale(logged, ColourScale::Log, linear);
  const double floorValue = 0.5 * 1e-4;  // kLogDecades = 4 below the top
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 4; ++c) {
      if (!std::isfinite(w(r, c))) {
        EXPECT_TRUE(std::isinf(logged(r, c)));  // masked stays masked
        continue;
      }
      EXPECT_NEAR(logged(r, c), std::log10(std::max(double(w(r, c)), floorValue)), 1e-6) << r << "," << c;
    }
  const ValueRange lr = colourScaleRange(ColourScale::Log, linear);
  EXPECT_NEAR(lr.lo, std::log10(floorValue), 1e-6);
  EXPECT_NEAR(lr.hi, std::log10(0.5), 1e-6);

  Matrix rows = w;
  applyColourScale(rows, ColourScale::RowNormalised, linear);
  EXPECT_NEAR(rows(0, 0), 1.0, 1e-7);
  EXPECT_NEAR(rows(0, 1), 0.002 / 0.066, 1e-6);
  EXPECT_NEAR(rows(1, 2), 0.25, 1e-7);
  EXPECT_EQ(colourScaleRange(ColourScale::RowNormalised, linear), (ValueRange{0, 1}));

  EXPECT_FALSE(colourScaleApplies(StageId::Scores, ColourScale::Log));  // signed: always linear
  EXPECT_TRUE(colourScaleApplies(StageId::Weights, ColourScale::Log));
  EXPECT_EQ(parseColourScale("row"), ColourScale::RowNormalised);
  EXPECT_THROW(parseColourScale("sqrt"), Error);
}

TEST(ColourScale, NamedInTheFigure) {
  AttentionInputs in;
  in.q = Matrix::Random(6, 4);
  in.k = Matrix::Random(6, 4);
  in.v = Matrix::Random(6, 4);
  const AttentionTrace trace = computeAttention(in, AttentionOptions{});
  FigureOptions o;
  o.stage = StageId::Weights;
  o.colourScale = ColourScale::Log;
  const FigureRequest r = makeFigureRequest(trace, {}, {}, "test", o);
  EXPECT_EQ(r.colorbarLabel, "log10 attention weights");
  EXPECT_NE(r.subtitle.find("log colour scale"), std::string::npos) << r.subtitle;
  const float top = trace.head[0].weights.maxCoeff();
  EXPECT_NEAR(r.range.hi, std::log10(top), 1e-6);
  EXPECT_NEAR(r.panels[0].values(2, 3), std::log10(std::max(double(trace.head[0].weights(2, 3)), top * 1e-4)), 1e-5);
  EXPECT_NE(renderFigureSvg(r).find("log10 attention weights"), std::string::npos);
  o.colourScale = ColourScale::RowNormalised;
  EXPECT_EQ(makeFigureRequest(trace, {}, {}, "test", o).colorbarLabel, "attention weights / row max");
  o.stage = StageId::Scores;  // signed stages are not rescaled, and say nothing about it
  EXPECT_EQ(makeFigureRequest(trace, {}, {}, "test", o).subtitle.find("colour"), std::string::npos);
}

}  // namespace
}  // namespace attnviz::gui
