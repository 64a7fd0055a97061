// Parses every ```mermaid block of the given Markdown files with Mermaid's own parser
// (under jsdom, no browser) and exits non-zero if any block fails. Used by
// tests/test_mermaid_parser.py; dependencies pinned in package.json beside it.
import { JSDOM } from "jsdom";
import fs from "fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let bad = 0, n = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, "utf8");
  const re = /```mermaid\n([\s\S]*?)```/g;
  let m;
  while ((m = re.exec(text))) {
    n++;
    try { await mermaid.parse(m[1]); console.log("ok", file); }
    catch (e) { bad++; console.log("FAIL", file, String(e).slice(0, 300)); }
  }
}
console.log(`${n} diagrams, ${bad} failed`);
process.exit(bad ? 1 : 0);
