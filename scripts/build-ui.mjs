// Builds the web view's assets into dist/ui: the page's TypeScript bundled by esbuild into one
// browser script (no CDN, nothing fetched at run time), and the HTML and CSS copied as they are.
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'src/ui/web');
const out = path.join(root, 'dist/ui');
mkdirSync(out, { recursive: true });
await build({ entryPoints: [path.join(web, 'app.ts')], bundle: true, format: 'iife', target: 'chrome110', minify: true, sourcemap: false, outfile: path.join(out, 'app.js'), logLevel: 'warning' });
for (const f of ['index.html', 'style.css']) copyFileSync(path.join(web, f), path.join(out, f));
