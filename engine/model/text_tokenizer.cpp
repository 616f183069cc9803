#include "text_tokenizer.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "matrix_io.hpp"
#include "types.hpp"
#include "wordpiece.hpp"

namespace attnviz::model {
namespace {

namespace fs = std::filesystem;

bool isWordPieceFolder(const std::string& dir) {
  std::error_code ec;
  const fs::path json = fs::path(dir) / "tokenizer.json";
  if (fs::exists(json, ec)) {
    // Only the model's type decides; the tokenizer itself reports anything else wrong in it.
    const nlohmann::json j = nlohmann::json::parse(readFile(json.string()), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    const auto model = j.find("model");
    return model != j.end() && model->is_object() && model->value("type", "") == "WordPiece";
  }
  return fs::exists(fs::path(dir) / "vocab.txt", ec) && !fs::exists(fs::path(dir) / "vocab.json", ec);
}

}  // namespace

TextTokenizer::TextTokenizer() : bpe_(std::make_shared<const BpeTokenizer>()) {}

TextTokenizer TextTokenizer::fromFolder(const std::string& dir) {
  TextTokenizer t;
  if (isWordPieceFolder(dir)) {
    t.bpe_.reset();
    t.wordPiece_ = std::make_shared<const WordPieceTokenizer>(WordPieceTokenizer::fromFolder(dir));
  } else {
    t.bpe_ = std::make_shared<const BpeTokenizer>(BpeTokenizer::fromFolder(dir));
  }
  return t;
}

TextEncoding TextTokenizer::encodeForModel(std::string_view text, std::optional<std::string_view> pair) const {
  if (wordPiece_) {
    const WordPieceTokenizer::Encoding e = pair ? wordPiece_->encodePair(text, *pair) : wordPiece_->encode(text);
    TextEncoding out{e.ids, e.typeIds, {}};
    if (pair)
      for (int type : e.typeIds) out.sentence.push_back(type != 0 ? 1 : 0);
    return out;
  }
  TextEncoding out;
  out.ids = bpe_->encodeForModel(text);
  if (pair) {
    // RoBERTa's pair: <s> A </s></s> B </s>, every type id 0. A decoder has no separator.
    const std::vector<int>& close = bpe_->suffixIds();
    if (close.empty()) throw Error("this tokenizer puts no separator after a text: it reads one text, not a pair");
    out.sentence.assign(out.ids.size(), 0);  // <s> A </s> is A's; the second </s> opens B
    out.ids.insert(out.ids.end(), close.begin(), close.end());
    const std::vector<int> second = bpe_->encode(*pair);
    out.ids.insert(out.ids.end(), second.begin(), second.end());
    out.ids.insert(out.ids.end(), close.begin(), close.end());
    out.sentence.resize(out.ids.size(), 1);
  }
  out.typeIds.assign(out.ids.size(), 0);
  return out;
}

std::vector<int> TextTokenizer::encode(std::string_view text) const {
  return wordPiece_ ? wordPiece_->encodeText(text) : bpe_->encode(text);
}

std::string TextTokenizer::displayText(int id) const {
  return wordPiece_ ? wordPiece_->displayText(id) : bpe_->displayText(id);
}

int TextTokenizer::size() const { return wordPiece_ ? wordPiece_->size() : bpe_->size(); }

bool TextTokenizer::isSpecial(int id) const { return wordPiece_ ? wordPiece_->isSpecial(id) : bpe_->isSpecial(id); }

std::optional<int> TextTokenizer::specialToken(std::string_view content) const {
  return wordPiece_ ? wordPiece_->specialToken(content) : bpe_->specialToken(content);
}

std::optional<int> TextTokenizer::maskId() const {
  if (wordPiece_) return wordPiece_->maskId();
  for (const char* mask : {"<mask>", "[MASK]"})
    if (const auto id = bpe_->specialToken(mask)) return id;
  return std::nullopt;
}

}  // namespace attnviz::model
