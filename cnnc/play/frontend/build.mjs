// Bundle the playground's editor (src/editor.js and CodeMirror 6 from node_modules) into one
// file the package ships: cnnc/play/static/editor.bundle.js. The same package-lock.json gives
// the same bytes (esbuild writes no dates or paths into the output; legal comments are kept
// at the end of the file).
//
//   npm ci && npm run build                 # writes ../static/editor.bundle.js
//   node build.mjs --outfile /tmp/x.js      # elsewhere (the test compares the two)

import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outfile");
const outfile = flag >= 0 ? path.resolve(process.argv[flag + 1]) : path.join(here, "..", "static", "editor.bundle.js");

await build({
  entryPoints: [path.join(here, "src", "editor.js")],
  outfile,
  bundle: true,
  format: "iife",
  minify: true,
  target: ["es2020"],
  legalComments: "eof",
  charset: "utf8",
  absWorkingDir: here,
  logLevel: "warning",
});
console.log(`wrote ${path.relative(process.cwd(), outfile) || outfile}`);
