// WordPiece through @huggingface/tokenizers (Hugging Face's JavaScript port of its tokenizers
// library), the reference for wordpiece_test.py.
//
//   node wordpiece_reference.mjs NPM_PREFIX DIR CASES.jsonl OUT.json
//     DIR/tokenizer.json (with DIR/tokenizer_config.json when present); each line of CASES.jsonl
//     is {"text": A} or {"text": A, "pair": B}; writes [{"ids": [...], "type_ids": [...]}, ...]
//     with the special tokens the post-processor adds.
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [prefix, dir, casesPath, outPath] = process.argv.slice(2);
const { Tokenizer } = await import(
  pathToFileURL(path.join(prefix, 'node_modules', '@huggingface/tokenizers/dist/tokenizers.mjs')).href);
const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf-8'));
const configPath = path.join(dir, 'tokenizer_config.json');
const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, 'utf-8')) : {};
const tok = new Tokenizer(json, config);
const cases = fs.readFileSync(casesPath, 'utf-8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
const out = cases.map((c) => {
  const e = tok.encode(c.text, { text_pair: c.pair ?? null, add_special_tokens: true, return_token_type_ids: true });
  return { ids: e.ids, type_ids: e.token_type_ids ?? new Array(e.ids.length).fill(0) };
});
fs.writeFileSync(outPath, JSON.stringify(out));
