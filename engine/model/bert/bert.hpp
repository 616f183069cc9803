#pragma once
// Encoders as Hugging Face computes them: BERT (Devlin et al. 2019), RoBERTa (Liu et al. 2019)
// and DistilBERT (Sanh et al. 2019). Word + position (+ token type) embeddings and a LayerNorm,
// then post-norm blocks h = LN(x + attn(x)); x = LN(h + mlp(h)) with attnviz's own attention
// engine and no mask (every token sees every other), and the masked-LM head when the checkpoint
// has one.
#include <cstdint>
#include <string>
#include <vector>

#include "bert_config.hpp"
#include "record.hpp"
#include "safetensors.hpp"
#include "weights.hpp"

namespace attnviz::model {

struct Family;

// One block, whatever the checkpoint calls its parts (BERT's attention.self.query,
// attention.output.LayerNorm, intermediate.dense, output.dense, output.LayerNorm; DistilBERT's
// attention.q_lin, sa_layer_norm, ffn.lin1, ffn.lin2, output_layer_norm). Linear weights [out, in]
// in their stored dtype.
struct BertBlock {
  WeightMatrix query, key, value, output;
  Vector queryBias, keyBias, valueBias, outputBias;
  Vector attentionNormWeight, attentionNormBias;  // after the attention's residual add
  WeightMatrix mlpIn, mlpOut;
  Vector mlpInBias, mlpOutBias;
  Vector outputNormWeight, outputNormBias;  // after the MLP's residual add
};

struct BertWeights {
  std::string prefix;  // "bert.", "roberta.", "distilbert." or ""
  WeightMatrix wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings;  // no token types: empty
  Vector embeddingNormWeight, embeddingNormBias;
  std::vector<BertBlock> blocks;
  // The masked-LM head: dense, activation, LayerNorm, then the decoder (the word embeddings when
  // the checkpoint ties them) and its bias.
  bool hasMaskedLmHead = false;
  WeightMatrix transform, decoder;
  Vector transformBias, headNormWeight, headNormBias, decoderBias;
  const WeightMatrix& unembedding() const { return decoder.empty() ? wordEmbeddings : decoder; }

  std::vector<std::pair<std::string, const WeightMatrix*>> named() const;
};

BertWeights readBertWeights(const TensorStore& store, const BertConfig& config, const std::string& weightsName);
BertWeights randomBertWeights(const BertConfig& config, std::uint64_t seed, DType dtype = DType::F32);

// Checks ids, type ids (in the config's type vocabulary; none other than 0 without token types)
// and options, then runs every layer. The record's logits are the masked-LM head's (n × vocab),
// empty without one.
ForwardRecord forwardBert(const BertConfig& config, const BertWeights& weights, const std::vector<int>& ids,
                          const std::vector<int>& typeIds, const ForwardOptions& options = {});
// Layer 0's embedding parts for the step-through: word, position and type rows (n × d each).
void bertEmbeddingParts(const BertConfig& config, const BertWeights& weights, const ForwardRecord& record,
                        Matrix& words, Matrix& positions, Matrix& types);

const Family& bertFamily();

}  // namespace attnviz::model
