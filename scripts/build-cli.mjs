// Bundles the berth CLI with esbuild: dist/berth.cjs holds src/cli/main.ts alone (global flags,
// the command table, usage), and every command module main.ts can load becomes a bundle of its
// own, dist/cli/<module>.cjs, carrying all it uses plus the runner (run-command.ts). One run of
// the CLI so compiles main and one command, not the whole CLI.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = path.join(root, 'src/cli');
const main = path.join(cliDir, 'main.ts');
// import() of a builtin (node:https, loaded only for TLS) becomes a require: an import() from
// CommonJS would start Node's ES module loader.
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', supported: { 'dynamic-import': false } };

// The modules main.ts loads: its literal import('./….js') calls.
const modules = [...readFileSync(main, 'utf8').matchAll(/import\('(\.\/[\w/-]+)\.js'\)/g)].map((m) => m[1]).filter((m) => m !== './run-command');
if (modules.length === 0) throw new Error('build-cli: found no command modules in src/cli/main.ts');

await Promise.all(
  modules.map((m) =>
    build({
      ...common,
      stdin: { contents: `export * from '${m}.js';\nexport { runCommand } from './run-command.js';\n`, resolveDir: cliDir, sourcefile: `bundle-of-${m.slice(2).replace(/\//g, '-')}.ts`, loader: 'ts' },
      outfile: path.join(root, 'dist/cli', `${m.slice(2)}.cjs`),
    }),
  ),
);

await build({
  ...common,
  entryPoints: [main],
  outfile: path.join(root, 'dist/berth.cjs'),
  plugins: [
    {
      // main.ts's import('./container/ps.js') becomes a require of dist/cli/container/ps.cjs at
      // run time: the command's own bundle, as CommonJS (an import() of it would start Node's ES
      // module loader, and see none of a CommonJS bundle's named exports)…
      name: 'commands-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/.*\.js$/ }, (args) => {
          if (args.importer !== main) return undefined;
          const m = args.path.slice(0, -'.js'.length);
          // run-command is never loaded from the bundle (each command bundle brings its own).
          if (m === './run-command' || modules.includes(m)) return { path: `./cli/${m.slice(2)}.cjs`, namespace: 'command' };
          return undefined;
        });
        // …loaded through V8's code cache (src/cli/code-cache.ts, bundled into dist/berth.cjs).
        b.onLoad({ filter: /.*/, namespace: 'command' }, (args) => ({
          contents: `module.exports = require('./code-cache.ts').requireWithCodeCache(require('node:path').join(__dirname, ${JSON.stringify(args.path)}));`,
          resolveDir: cliDir,
          loader: 'js',
        }));
        b.onResolve({ filter: /^\.\/cli\//, namespace: 'command' }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});
