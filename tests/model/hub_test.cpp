// The Hub's small parts: SHA-256 against FIPS 180-4's published examples (fed whole and in
// uneven chunks), and the cache's names (models--ORG--NAME, NAME@REVISION, what a repo id is).
#include <gtest/gtest.h>

#include <string>

#include "hub/hub_cache.hpp"
#include "hub/sha256.hpp"

namespace attnviz::model::hub {
namespace {

std::string sha(const std::string& text, std::size_t chunk) {
  Sha256 h;
  for (std::size_t i = 0; i < text.size(); i += chunk) h.update(text.data() + i, std::min(chunk, text.size() - i));
  return h.hexDigest();
}

TEST(Sha256, PublishedExamplesWholeAndInChunks) {
  const std::string twoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(64), std::size_t(1000)}) {
    EXPECT_EQ(sha("", chunk), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha("abc", chunk), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha(twoBlocks, chunk), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
  EXPECT_EQ(sha(std::string(1000000, 'a'), 4096), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HubCache, FolderNamesBothWays) {
  EXPECT_EQ(repoFolderName("openai-community/gpt2"), "models--openai-community--gpt2");
  EXPECT_EQ(repoFolderName("gpt2"), "models--gpt2");
  EXPECT_EQ(repoIdOfFolder("models--openai-community--gpt2"), "openai-community/gpt2");
  EXPECT_EQ(repoIdOfFolder("models--gpt2"), "gpt2");
  EXPECT_EQ(repoIdOfFolder("datasets--squad"), "");
  EXPECT_EQ(repoIdOfFolder(".locks"), "");
}

TEST(HubCache, RepoIdsAndRevisions) {
  EXPECT_TRUE(looksLikeRepoId("HuggingFaceTB/SmolLM2-135M"));
  EXPECT_TRUE(looksLikeRepoId("gpt2"));
  for (const char* bad : {"", "a/b/c", "../x", "a/..", "/abs", "a--b", "a b", "a/.hidden"}) EXPECT_FALSE(looksLikeRepoId(bad)) << bad;
  EXPECT_EQ(parseModelRef("org/name@v1.0").repoId, "org/name");
  EXPECT_EQ(parseModelRef("org/name@v1.0").revision, "v1.0");
  EXPECT_EQ(parseModelRef("org/name").revision, "");
}

}  // namespace
}  // namespace attnviz::model::hub
