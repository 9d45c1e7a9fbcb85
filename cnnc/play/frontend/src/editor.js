// The playground's editor: CodeMirror 6 with a small highlighter for .cnn programs, a lint
// gutter fed from the server's diagnostics, and one highlighted line (the selected layer).
// Bundled by build.mjs into cnnc/play/static/editor.bundle.js; the page (static/app.js)
// uses it through window.CnncEditor only.

import { EditorState, StateEffect, StateField } from "@codemirror/state";
import {
  Decoration, EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { HighlightStyle, StreamLanguage, bracketMatching, syntaxHighlighting } from "@codemirror/language";
import { forEachDiagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { tags } from "@lezer/highlight";

// Words of the language, for colour only: the server decides what is valid.
const KEYWORDS = new Set([
  "input", "conv", "dwconv", "sepconv", "deconv", "pool", "avgpool", "globalpool", "globalmaxpool", "flatten",
  "dense", "batchnorm", "layernorm", "layerscale", "normalize", "dropout", "upsample", "zeropad", "crop",
  "rescale", "residual", "shortcut", "concat", "branch", "repeat", "scale", "add", "multiply", "def",
]);
const ACTIVATIONS = new Set([
  "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish", "hard_sigmoid", "hard_swish", "hard_silu",
  "sigmoid", "tanh", "softmax", "linear",
]);
const VALUES = new Set(["same", "valid", "true", "false", "nearest", "bilinear"]);

const cnnLanguage = StreamLanguage.define({
  name: "cnn",
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.peek() === "#") { stream.skipToEnd(); return "comment"; }
    if (stream.match(/^\d+(\.\d*)?([eE][-+]?\d+)?(x\d+)*/)) return "number";
    if (stream.match(/^[A-Za-z_][A-Za-z0-9_]*(?=\s*:(?!\S*=))/)) return "labelName";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      const w = word[0];
      if (stream.peek() === "=") return "propertyName";
      if (KEYWORDS.has(w)) return "keyword";
      if (ACTIVATIONS.has(w)) return "atom";
      if (VALUES.has(w)) return "bool";
      return "variableName";
    }
    if (stream.match(/^[{}]/)) return "brace";
    stream.next();
    return "punctuation";
  },
  languageData: { commentTokens: { line: "#" } },
});

const cnnHighlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#1a56a8", fontWeight: "bold" },
  { tag: tags.atom, color: "#8e44ad" },
  { tag: tags.bool, color: "#8e44ad" },
  { tag: tags.number, color: "#a35200" },
  { tag: tags.comment, color: "#6b7a6b", fontStyle: "italic" },
  { tag: tags.labelName, color: "#0b7a53", fontWeight: "bold" },
  { tag: tags.propertyName, color: "#566573" },
]);

// The selected layer's line: set from outside, drawn as a line decoration.
const selectLine = StateEffect.define();
const selectedLine = StateField.define({
  create() { return Decoration.none; },
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(selectLine)) {
        if (e.value === null || e.value < 1 || e.value > tr.state.doc.lines) return Decoration.none;
        const line = tr.state.doc.line(e.value);
        return Decoration.set([Decoration.line({ class: "cm-cnnc-selected" }).range(line.from)]);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "14px" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
  ".cm-cnnc-selected": { backgroundColor: "#fff4c2" },
});

// A diagnostic from the server ({line, col, severity, message, hint}: 1-based) as a range of
// the document: from its column to the end of the word there (the whole line for column 1
// of an empty or blank remainder). Positions past the text are clamped.
function toRange(doc, d) {
  const lineNo = Math.min(Math.max(1, d.line || 1), doc.lines);
  const line = doc.line(lineNo);
  const from = Math.min(line.from + Math.max(0, (d.col || 1) - 1), line.to);
  const rest = doc.sliceString(from, line.to);
  const word = /^\S+/.exec(rest);
  let to = word ? from + word[0].length : line.to;
  if (to === from && line.to > line.from) return { from: line.from, to: line.to };
  return { from, to };
}

function create(parent, text, options = {}) {
  const onChange = options.onChange || (() => {});
  const onCursorLine = options.onCursorLine || (() => {});
  let lastCursorLine = 0;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), history(), drawSelection(), highlightActiveLine(),
        bracketMatching(), cnnLanguage, syntaxHighlighting(cnnHighlight), lintGutter(), selectedLine, theme,
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange(u.state.doc.toString());
          if (u.selectionSet || u.docChanged) {
            const n = u.state.doc.lineAt(u.state.selection.main.head).number;
            if (n !== lastCursorLine) { lastCursorLine = n; onCursorLine(n); }
          }
        }),
        EditorView.contentAttributes.of({ "aria-label": "the program", spellcheck: "false" }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(t) { view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }); },
    setDiagnostics(list) {
      const doc = view.state.doc;
      const diags = list.map((d) => ({
        ...toRange(doc, d),
        severity: d.severity === "warning" ? "warning" : "error",
        message: d.hint ? `${d.message}; ${d.hint}` : d.message,
        source: "cnnc",
      }));
      view.dispatch(setDiagnostics(view.state, diags));
    },
    diagnosticCount() {
      let n = 0;
      forEachDiagnostic(view.state, () => { n += 1; });
      return n;
    },
    highlightLine(n) { view.dispatch({ effects: selectLine.of(n) }); },
    revealLine(n) {
      const doc = view.state.doc;
      if (n < 1 || n > doc.lines) return;
      const line = doc.line(n);
      view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
      view.focus();
    },
  };
}

window.CnncEditor = { create };
