// The npm reference tokenizers for tokenizer_reference_test.py.
//
//   node references.mjs dump NPM_PREFIX OUTDIR
//     writes OUTDIR/llama3/tokenizer.json and OUTDIR/llama2/{tokenizer.json,tokenizer_config.json}
//     from the vocabularies and merges bundled in llama3-tokenizer-js and llama-tokenizer-js,
//     laid out as Meta's Hugging Face repositories lay them out.
//   node references.mjs encode NPM_PREFIX STRINGS.jsonl OUT.json DIR...
//     encodes every string with llama3-tokenizer-js and llama-tokenizer-js (no BOS, no EOS), and
//     with @huggingface/tokenizers loading each DIR/tokenizer.json (with and without the special
//     tokens its post-processor adds), and writes {"llama3js": [...], "llama2js": [...],
//     "hf": {"DIR": {"raw": [...], "model": [...]}}}.
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [mode, prefix, ...rest] = process.argv.slice(2);
const modules = path.join(prefix, 'node_modules');
const load = async (rel) => (await import(pathToFileURL(path.join(modules, rel)).href));

const llama3 = (await load('llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js')).default;
const llama2 = (await load('llama-tokenizer-js/llama-tokenizer.js')).default;

// Merges in rank order: both packages key their merge map by "A B" with increasing priority.
function mergesInOrder(tok) {
  return Array.from(tok.merges.entries()).sort((a, b) => a[1] - b[1]).map(([k]) => {
    const space = k.indexOf(' ');
    return [k.slice(0, space), k.slice(space + 1)];
  });
}

function template(bos, bosId) {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
           { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

const added = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

// Llama 3's split pattern, as its tokenizer.json writes it.
const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function llama3Json() {
  const base = 128000;
  const vocab = {};
  for (let id = 0; id < base; ++id) vocab[llama3.vocabById[id]] = id;
  const specials = llama3.vocabById.slice(base).map((t, i) => added(base + i, t));
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: specials, normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'Sequence', processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      template('<|begin_of_text|>', base)] },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    // Newer tokenizer.json files (Llama 3.1 onwards) write merges as pairs.
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: mergesInOrder(llama3) },
  };
}

function llama2Json() {
  const vocab = {};
  llama2.vocabById.forEach((t, id) => { vocab[t] = id; });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: template('<s>', 1),
    decoder: { type: 'Sequence', decoders: [
      { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: true, byte_fallback: true, vocab, merges: mergesInOrder(llama2).map(([a, b]) => a + ' ' + b) },
  };
}

if (mode === 'dump') {
  const [out] = rest;
  for (const [name, json, config] of [
    ['llama3', llama3Json(), { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', tokenizer_class: 'PreTrainedTokenizerFast' }],
    ['llama2', llama2Json(), { add_bos_token: true, add_eos_token: false, bos_token: { content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
                               eos_token: '</s>', unk_token: '<unk>', legacy: true, tokenizer_class: 'LlamaTokenizer' }]]) {
    fs.mkdirSync(path.join(out, name), { recursive: true });
    fs.writeFileSync(path.join(out, name, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
    fs.writeFileSync(path.join(out, name, 'tokenizer.json'), JSON.stringify(json));
  }
} else if (mode === 'encode') {
  const [stringsPath, outPath, ...dirs] = rest;
  const { Tokenizer } = await load('@huggingface/tokenizers/dist/tokenizers.mjs');
  const strings = fs.readFileSync(stringsPath, 'utf-8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  const result = {
    llama3js: strings.map((s) => llama3.encode(s, { bos: false, eos: false })),
    llama2js: strings.map((s) => llama2.encode(s, false, true)),
    hf: {},
  };
  for (const dir of dirs) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf-8'));
    const configPath = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, 'utf-8')) : {};
    const tok = new Tokenizer(json, config);
    result.hf[dir] = {
      raw: strings.map((s) => tok.encode(s, { add_special_tokens: false }).ids),
      model: strings.map((s) => tok.encode(s, { add_special_tokens: true }).ids),
    };
  }
  fs.writeFileSync(outPath, JSON.stringify(result));
} else {
  console.error('usage: node references.mjs dump NPM_PREFIX OUTDIR | encode NPM_PREFIX STRINGS.jsonl OUT.json DIR...');
  process.exit(2);
}
