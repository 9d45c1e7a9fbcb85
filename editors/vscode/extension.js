// The cnnc extension: starts the language server (`cnnc lsp`, over stdio) for .cnn files.
// The command comes from the setting cnnc.server.command (default: cnnc lsp on the PATH).
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("cnnc").get("server.command", ["cnnc", "lsp"]);
  const serverOptions = { command, args };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "cnn" }, { scheme: "untitled", language: "cnn" }],
  };
  client = new LanguageClient("cnnc", "cnnc language server", serverOptions, clientOptions);
  client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `cnnc: could not start '${[command, ...args].join(" ")}' (${err.message}); ` +
        "install it with pip install 'cnnc[lsp]', or set cnnc.server.command");
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
