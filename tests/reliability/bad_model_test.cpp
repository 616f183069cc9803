// The "Bad model files" table (README.md), row by row: each case copies a valid random tiny
// GPT-2 folder (tests/model/make_checkpoint.py, written once per run), breaks one thing in it,
// runs the real attnviz binary in a scratch directory (so paths in messages are short and
// stable: the folder is always `m`) and checks the exit code, the exact one-line message and
// that nothing was written to out/. A last test checks that every message here appears
// verbatim in README.md.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "run_binary.hpp"

namespace attnviz::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// The checkpoint every case starts from, written once. Its sizes are given explicitly so the
// byte counts and shapes in the messages stay put if the script's defaults change.
const TempDir* baseDir() {
  static std::unique_ptr<TempDir> dir;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (::access(kPython, X_OK) != 0) return nullptr;
    auto d = std::make_unique<TempDir>();
    const RunResult r = runAttnviz({ATTNVIZ_SOURCE_DIR "/tests/model/make_checkpoint.py", d->file("m"), "--vocab-size",
                                    "300", "--n-positions", "48", "--d-model", "16", "--layers", "2", "--heads", "2"},
                                   {.binary = kPython});
    if (r.exitCode == 0 && fs::exists(d->file("m/model.safetensors"))) dir = std::move(d);
    else ADD_FAILURE() << "make_checkpoint.py failed: " << r.stderrText;
  }
  return dir.get();
}

// A safetensors file: 8-byte little-endian header length, the header, the data.
std::string safetensors(const std::string& header, const std::string& data, std::uint64_t declaredLength) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((declaredLength >> (8 * i)) & 0xFF);
  return out + header + data;
}
std::string safetensors(const std::string& header, const std::string& data) {
  return safetensors(header, data, header.size());
}

struct Safetensors {
  std::string header, data;
};
Safetensors readSafetensors(const fs::path& p) {
  const std::string bytes = slurp(p);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return {bytes.substr(8, n), bytes.substr(8 + n)};
}

void replaceOnce(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("the base checkpoint has no \"" + from + "\"");
  text.replace(at, from.size(), to);
}

// The Llama-family checkpoint the Llama rows start from (tests/model/make_llama_checkpoint.py):
// hidden 16, 4 heads of 4 sharing 2 K/V heads, MLP 24, 2 layers, vocabulary 300, context 48.
const TempDir* baseLlamaDir() {
  static std::unique_ptr<TempDir> dir;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (::access(kPython, X_OK) != 0) return nullptr;
    auto d = std::make_unique<TempDir>();
    const RunResult r = runAttnviz({ATTNVIZ_SOURCE_DIR "/tests/model/make_llama_checkpoint.py", d->file("m"), "--vocab-size",
                                    "300", "--positions", "48", "--hidden", "16", "--inner", "24", "--layers", "2",
                                    "--heads", "4", "--kv-heads", "2"},
                                   {.binary = kPython});
    if (r.exitCode == 0 && fs::exists(d->file("m/model.safetensors"))) dir = std::move(d);
    else ADD_FAILURE() << "make_llama_checkpoint.py failed: " << r.stderrText;
  }
  return dir.get();
}

// Edits the header of m/model.safetensors (the data stays as it is).
std::function<void(const fs::path&)> editHeader(std::string from, std::string to) {
  return [from, to](const fs::path& m) {
    Safetensors st = readSafetensors(m / "model.safetensors");
    replaceOnce(st.header, from, to);
    spit(m / "model.safetensors", safetensors(st.header, st.data));
  };
}

// Replaces m/model.safetensors with these bytes.
std::function<void(const fs::path&)> weights(std::string bytes) {
  return [bytes](const fs::path& m) { spit(m / "model.safetensors", bytes); };
}

std::function<void(const fs::path&)> editFile(std::string name, std::string from, std::string to) {
  return [name, from, to](const fs::path& m) {
    std::string text = slurp(m / name);
    replaceOnce(text, from, to);
    spit(m / name, text);
  };
}

std::function<void(const fs::path&)> writeFile(std::string name, std::string bytes) {
  return [name, bytes](const fs::path& m) { spit(m / name, bytes); };
}

struct BadModel {
  const char* id;  // the README.md row
  std::function<void(const fs::path&)> setup;  // breaks the copy of the checkpoint in m/
  std::vector<std::string> input;              // --text TEXT or --ids LIST
  std::string message;                         // stderr without the trailing newline, after "attnviz compute: "
  std::string model = "m";
  bool prefixOnly = false;  // the message goes on with a list that depends on the installation
};

std::vector<std::string> text(const std::string& t) { return {"--text", t}; }

// 49 tokens: "a" then 48 × " a".
std::string tokens49() {
  std::string t = "a";
  for (int i = 0; i < 48; ++i) t += " a";
  return t;
}

const std::vector<BadModel>& cases() {
  static const std::vector<BadModel> table = {
      // The safetensors container
      {"header length beyond the file", weights(safetensors("{}", "", 1000)), text("the cat"),
       "m/model.safetensors: header length 1000 is beyond the end of the file (10 bytes; truncated or not a safetensors file?)"},
      {"header length above 100 MB", weights(safetensors("{}", "", 100000001)), text("the cat"),
       "m/model.safetensors: header length 100000001 is above the limit of 100000000 bytes (not a safetensors file?)"},
      {"header not JSON", weights(safetensors("{not json}", "")), text("the cat"),
       "m/model.safetensors header: byte 2: invalid JSON, invalid literal"},
      {"unknown dtype", weights(safetensors(R"({"wte.weight":{"dtype":"Q8","shape":[2],"data_offsets":[0,2]}})", "ab")),
       text("the cat"),
       "m/model.safetensors: tensor \"wte.weight\" has unsupported dtype \"Q8\" (attnviz reads F32, F16 and BF16 weights)"},
      {"shape and byte range disagree",
       weights(safetensors(R"({"wte.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", std::string(16, '\0'))),
       text("the cat"),
       "m/model.safetensors: tensor \"wte.weight\": shape [2, 3] of F32 is 24 bytes but data_offsets span 16"},
      {"offsets outside the data",
       weights(safetensors(R"({"wte.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'))),
       text("the cat"),
       "m/model.safetensors: tensor \"wte.weight\": data_offsets [0, 8] reach beyond the 4 bytes of data"},
      {"overlapping offsets",
       weights(safetensors(R"({"wte.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("wpe.weight":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           std::string(12, '\0'))),
       text("the cat"), "m/model.safetensors: tensors \"wte.weight\" and \"wpe.weight\" overlap (bytes 0-8 and 4-12)"},
      // Tensors against the config
      {"missing tensor", editHeader("\"ln_f.bias\"", "\"ln_f.bias_renamed\""), text("the cat"),
       "m/model.safetensors: no tensor \"ln_f.bias\" (expected shape [16])"},
      {"tensor of the wrong shape",
       editHeader("\"h.0.ln_1.weight\":{\"dtype\":\"F32\",\"shape\":[16]", "\"h.0.ln_1.weight\":{\"dtype\":\"F32\",\"shape\":[4,4]"),
       text("the cat"), "m/model.safetensors: tensor \"h.0.ln_1.weight\" has shape [4, 4] but the config needs [16]"},
      // config.json
      {"config.json missing n_embd", editFile("config.json", "\"n_embd\": 16,", ""), text("the cat"),
       "m/config.json: missing \"n_embd\""},
      {"n_embd not divisible by n_head", editFile("config.json", "\"n_head\": 2", "\"n_head\": 3"), text("the cat"),
       "m/config.json: n_embd = 16 is not divisible by n_head = 3"},
      {"unsupported model_type", editFile("config.json", "\"model_type\": \"gpt2\"", "\"model_type\": \"t5\""),
       text("the cat"), "m/config.json: model_type \"t5\" is not supported (attnviz supports gpt2, llama, mistral, qwen2, vit, deit, dinov2, dinov2_with_registers, bert, roberta, distilbert)"},
      // The tokenizer
      {"malformed vocab.json", writeFile("vocab.json", "{\"!\": 0, \"\\\"\": 1,"), text("the cat"),
       "m/vocab.json: byte 17: invalid JSON, unexpected end of input"},
      {"malformed merges.txt", writeFile("merges.txt", "#version: 0.2\nĠ t\nhe\n"), text("the cat"),
       "m/merges.txt: line 3: \"he\" is not a merge of two tokens \"A B\""},
      {"malformed tokenizer.json", writeFile("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": ["),
       text("the cat"), "m/tokenizer.json: byte 56: invalid JSON, unexpected end of input"},
      // The input
      {"token id not in the vocabulary", nullptr, {"--ids", "1,300"},
       "token id 300 (position 1) is not in the vocabulary (ids 0 to 299)"},
      {"text longer than n_positions", nullptr, text(tokens49()),
       "the text is 49 tokens, but the model takes at most 48 (n_positions)"},
      // What is not a model
      {"pickle checkpoint",
       [](const fs::path& m) {
         fs::remove_all(m);  // a folder with only pytorch_model.bin (a zip of pickles)
         fs::create_directory(m);
         spit(m / "pytorch_model.bin", std::string("PK\x03\x04", 4));
       },
       text("the cat"),
       "m/pytorch_model.bin is a PyTorch pickle checkpoint, which attnviz never loads (unpickling can run code); "
       "convert it to model.safetensors with: python3 -c \"import transformers as t; "
       "t.AutoModelForCausalLM.from_pretrained('m').save_pretrained('m', safe_serialization=True)\""},
      {"model name that does not exist", nullptr, text("the cat"),
       "no model \"nope\": not a folder or .safetensors file, a built-in model (", "nope", true},
  };
  return table;
}

// The rows of the table above that are particular to the Llama family (llama, mistral, qwen2).
const std::vector<BadModel>& llamaCases() {
  static const std::vector<BadModel> table = {
      {"unsupported rope_scaling type",
       editFile("config.json", "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"),
       text("the cat"), "m/config.json: rope_scaling type \"yarn\" is not supported (attnviz supports llama3)"},
      {"KV heads that do not divide the heads", editFile("config.json", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
       text("the cat"), "m/config.json: num_attention_heads = 4 is not divisible by num_key_value_heads = 3"},
      {"missing q_proj", editHeader("\"model.layers.0.self_attn.q_proj.weight\"", "\"model.layers.0.self_attn.q_proj.renamed\""),
       text("the cat"), "m/model.safetensors: no tensor \"model.layers.0.self_attn.q_proj.weight\" (expected shape [16, 16])"},
      {"k_proj of the wrong shape",
       editHeader("\"model.layers.0.self_attn.k_proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,16]",
                  "\"model.layers.0.self_attn.k_proj.weight\":{\"dtype\":\"F32\",\"shape\":[16,8]"),
       text("the cat"),
       "m/model.safetensors: tensor \"model.layers.0.self_attn.k_proj.weight\" has shape [16, 8] but the config needs [8, 16]"},
      {"tensors of a different KV head count", editFile("config.json", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4"),
       text("the cat"),
       "m/model.safetensors: tensor \"model.layers.0.self_attn.k_proj.weight\" has shape [8, 16] but the config needs [16, 16]"},
      {"unsupported hidden_act", editFile("config.json", "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""),
       text("the cat"), "m/config.json: hidden_act \"gelu\" is not supported (attnviz supports silu)"},
      {"untied without lm_head", editHeader("\"lm_head.weight\"", "\"lm_head.renamed\""), text("the cat"),
       "m/model.safetensors: no tensor \"lm_head.weight\" (expected shape [300, 16])"},
      {"text longer than max_position_embeddings", nullptr, text(tokens49()),
       "the text is 49 tokens, but the model takes at most 48 (max_position_embeddings)"},
  };
  return table;
}

std::vector<std::string> computeArgs(const BadModel& c) {
  std::vector<std::string> args{"compute", "--model", c.model};
  args.insert(args.end(), c.input.begin(), c.input.end());
  args.insert(args.end(), {"--out", "out"});
  return args;
}

// A scratch directory holding m/, a copy of the base checkpoint broken by `setup`.
std::unique_ptr<TempDir> brokenCopy(const BadModel& c, const TempDir* base = baseDir()) {
  auto dir = std::make_unique<TempDir>();
  fs::copy(base->file("m"), dir->file("m"), fs::copy_options::recursive);
  if (c.setup) c.setup(dir->file("m"));
  return dir;
}

void expectRefused(const RunResult& r, const std::string& expected, bool prefixOnly, const TempDir& dir) {
  ASSERT_FALSE(r.execFailed) << "could not start " << ATTNVIZ_BIN;
  EXPECT_EQ(r.signal, 0) << r.stderrText;
  EXPECT_EQ(r.exitCode, 1) << r.stderrText;
  if (prefixOnly) EXPECT_EQ(r.stderrText.rfind(expected, 0), 0u) << r.stderrText;
  else EXPECT_EQ(r.stderrText, expected + "\n");
  // One line, and no half-written output.
  EXPECT_EQ(r.stderrText.find('\n'), r.stderrText.size() - 1) << r.stderrText;
  if (fs::is_directory(dir.file("out"))) EXPECT_TRUE(fs::is_empty(dir.file("out")));
}

TEST(BadModel, TheBaseCheckpointRuns) {
  if (!baseDir()) FAIL() << kPython << " (with NumPy) is needed to write the checkpoint";
  const auto dir = brokenCopy({"valid", nullptr, {}, ""});
  const RunResult r = runAttnviz({"compute", "--model", "m", "--text", "the cat", "--out", "out"}, {.cwd = dir->path()});
  ASSERT_EQ(r.exitCode, 0) << r.stderrText;
  EXPECT_TRUE(fs::exists(dir->file("out/model.json")));
}

TEST(BadModel, EveryRowExitsWithItsMessage) {
  if (!baseDir()) FAIL() << kPython << " (with NumPy) is needed to write the checkpoint";
  for (const BadModel& c : cases()) {
    SCOPED_TRACE(c.id);
    const auto dir = brokenCopy(c);
    const RunResult r = runAttnviz(computeArgs(c), {.cwd = dir->path()});
    expectRefused(r, "attnviz compute: " + c.message, c.prefixOnly, *dir);
  }
}

TEST(BadModel, TheLlamaBaseCheckpointRuns) {
  if (!baseLlamaDir()) FAIL() << kPython << " (with NumPy) is needed to write the checkpoint";
  const auto dir = brokenCopy({"valid", nullptr, {}, ""}, baseLlamaDir());
  const RunResult r = runAttnviz({"compute", "--model", "m", "--text", "the cat", "--out", "out"}, {.cwd = dir->path()});
  ASSERT_EQ(r.exitCode, 0) << r.stderrText;
  EXPECT_TRUE(fs::exists(dir->file("out/layer0/q_unrotated.npy")));
}

TEST(BadModel, EveryLlamaRowExitsWithItsMessage) {
  if (!baseLlamaDir()) FAIL() << kPython << " (with NumPy) is needed to write the checkpoint";
  for (const BadModel& c : llamaCases()) {
    SCOPED_TRACE(c.id);
    const auto dir = brokenCopy(c, baseLlamaDir());
    const RunResult r = runAttnviz(computeArgs(c), {.cwd = dir->path()});
    expectRefused(r, "attnviz compute: " + c.message, c.prefixOnly, *dir);
  }
}

// `tokenize` reads only the tokenizer files and says the same, with its own prefix.
TEST(BadModel, TokenizeSaysTheSame) {
  if (!baseDir()) FAIL() << kPython << " (with NumPy) is needed to write the checkpoint";
  for (const BadModel& c : cases()) {
    const std::string id = c.id;
    if (id.find("vocab.json") == std::string::npos && id.find("merges.txt") == std::string::npos &&
        id.find("tokenizer.json") == std::string::npos && id.find("does not exist") == std::string::npos)
      continue;
    SCOPED_TRACE(c.id);
    const auto dir = brokenCopy(c);
    const RunResult r = runAttnviz({"tokenize", "--model", c.model, "--text", "the cat"}, {.cwd = dir->path()});
    expectRefused(r, "attnviz tokenize: " + c.message, c.prefixOnly, *dir);
    EXPECT_EQ(r.stdoutText, "");
  }
}

// README.md quotes every message above verbatim.
TEST(BadModel, TableInDocsMatches) {
  std::ifstream in(ATTNVIZ_SOURCE_DIR "/README.md");
  ASSERT_TRUE(in) << "README.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<BadModel> all = cases();
  all.insert(all.end(), llamaCases().begin(), llamaCases().end());
  for (const BadModel& c : all) {
    // Markdown table cells escape '|'; none of the messages contains one.
    const std::string quoted = "`attnviz compute: " + c.message + (c.prefixOnly ? "" : "`");
    EXPECT_NE(doc.find(quoted), std::string::npos) << "not in README.md: " << quoted;
  }
}

}  // namespace
}  // namespace attnviz::testing
