import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

/** A fresh nonce per render; scripts run only with it. */
export function nonce(): string {
  return crypto.randomBytes(18).toString('base64');
}

/**
 * The HTML shell for a CodeDance webview: strict CSP (`default-src 'none'`, scripts only with a
 * nonce, images only from the webview's own resources, data: and blob:), no remote content.
 */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  opts: { script: string; styles: string[]; title: string; bodyClass?: string },
): string {
  const n = nonce();
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', opts.script));
  const styleTags = opts.styles
    .map((s) => `<link rel="stylesheet" href="${webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', s))}">`)
    .join('\n    ');
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${csp}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    ${styleTags}
    <title>${opts.title}</title>
</head>
<body${opts.bodyClass ? ` class="${opts.bodyClass}"` : ''}>
    <div id="root"></div>
    <script nonce="${n}" src="${scriptUri}"></script>
</body>
</html>`;
}
