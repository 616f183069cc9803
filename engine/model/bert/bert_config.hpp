#pragma once
// The config.json of Hugging Face's encoders: BERT, RoBERTa and DistilBERT, checked before any
// tensor is read.
#include <string>

#include "blocks.hpp"
#include "config.hpp"

namespace attnviz::model {

struct BertConfig {
  std::string modelType;  // bert, roberta, distilbert
  int vocabSize = 0, dModel = 0, layers = 0, heads = 0, inner = 0;
  int positions = 0;      // max_position_embeddings: rows of the position table
  int typeVocabSize = 0;  // 0: no token types (DistilBERT)
  int padTokenId = 0;
  double layerNormEpsilon = 1e-12;
  Activation activation = Activation::Gelu;

  int headWidth() const { return dModel / heads; }
  // RoBERTa counts positions from pad_token_id + 1, so it takes that many fewer tokens.
  int firstPosition() const { return modelType == "roberta" ? padTokenId + 1 : 0; }
  int longestText() const { return positions - firstPosition(); }
};

// Throws Error "NAME: ..." for invalid JSON, a missing or ill-typed key, a value out of range, or
// a setting attnviz does not implement, named (position_embedding_type other than absolute).
BertConfig parseBertConfig(const std::string& json, const std::string& name);
ModelShape shapeOf(const BertConfig& config);

}  // namespace attnviz::model
