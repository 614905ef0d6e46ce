#!/usr/bin/env node
// The release build of the app into frontend/dist, without Trunk: cargo (profile wasm-release),
// wasm-bindgen, wasm-opt -Oz, content-hashed file names, and index.html with the module
// preloads, subresource integrity and the start-up script that Trunk would write. `make dev`
// still uses `trunk serve` for the same index.html; this keeps `make run`, `make test` and the
// image from having to build Trunk (about 11 minutes on 2 cores) just to package three files.
//
// Tools come from PATH (the Makefile puts the pinned wasm-bindgen and npm's wasm-opt first).
// Usage: node frontend/build.cjs [--out DIR]
'use strict';

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const frontend = __dirname;
const root = path.dirname(frontend);
const outIndex = process.argv.indexOf('--out');
const dist = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(frontend, 'dist');
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(process.env.CARGO_TARGET_DIR)
  : path.join(root, 'target');
const profile = 'wasm-release';
const triple = 'wasm32-unknown-unknown';
// The features Rust's wasm32-unknown-unknown target enables by default: wasm-opt must accept
// what rustc emitted and must not introduce anything beyond it.
const wasmFeatures = [
  '--enable-bulk-memory',
  '--enable-multivalue',
  '--enable-mutable-globals',
  '--enable-nontrapping-float-to-int',
  '--enable-reference-types',
  '--enable-sign-ext',
];

function run(cmd, args, options = {}) {
  const started = Date.now();
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  console.log(`>>> ${path.basename(cmd)} ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const hex = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const integrity = (bytes) => `sha384-${crypto.createHash('sha384').update(bytes).digest('base64')}`;

function main() {
  run(process.env.CARGO || 'cargo', [
    'build', '--locked', '-p', 'frontend', '--bin', 'frontend', '--target', triple, '--profile', profile,
  ]);
  const stage = path.join(targetDir, 'app-stage');
  fs.mkdirSync(stage, { recursive: true });
  run('wasm-bindgen', [
    '--target', 'web', '--no-typescript', '--out-dir', stage, '--out-name', 'frontend',
    path.join(targetDir, triple, profile, 'frontend.wasm'),
  ]);
  const bound = path.join(stage, 'frontend_bg.wasm');
  const optimised = path.join(stage, 'frontend_opt.wasm');
  // wasm-opt takes most of a build with nothing changed: skipped when its input is the last one.
  const input = path.join(stage, 'frontend_opt.input');
  const boundHash = hex(fs.readFileSync(bound));
  const sameInput = fs.existsSync(optimised) && fs.existsSync(input) && fs.readFileSync(input, 'utf8') === boundHash;
  if (!sameInput) {
    fs.rmSync(input, { force: true });
    run('wasm-opt', ['-Oz', ...wasmFeatures, '--output', optimised, bound]);
    fs.writeFileSync(input, boundHash);
  }

  const wasm = fs.readFileSync(optimised);
  const js = fs.readFileSync(path.join(stage, 'frontend.js'));
  const css = fs.readFileSync(path.join(frontend, 'styles.css'));
  // One hash for the pair: the script and the module it instantiates change together.
  const appHash = hex(Buffer.concat([js, wasm]));
  const files = {
    js: { name: `frontend-${appHash}.js`, bytes: js },
    wasm: { name: `frontend-${appHash}_bg.wasm`, bytes: wasm },
    css: { name: `styles-${hex(css)}.css`, bytes: css },
  };

  const source = fs.readFileSync(path.join(frontend, 'index.html'), 'utf8');
  const replaced = new Set();
  let html = source.replace(/^([ \t]*)<link data-trunk ([^>]*?)\s*\/?>\n/gm, (_, indent, attrs) => {
    const rel = /rel="([^"]+)"/.exec(attrs)?.[1];
    const href = /href="([^"]+)"/.exec(attrs)?.[1];
    if (rel === 'rust' && href === 'Cargo.toml') {
      replaced.add('rust');
      return (
        `${indent}<link rel="modulepreload" href="/${files.js.name}" crossorigin="anonymous" integrity="${integrity(js)}" />\n` +
        `${indent}<link rel="preload" href="/${files.wasm.name}" crossorigin="anonymous" integrity="${integrity(wasm)}" as="fetch" type="application/wasm" />\n`
      );
    }
    if (rel === 'css' && href === 'styles.css') {
      replaced.add('css');
      return `${indent}<link rel="stylesheet" href="/${files.css.name}" crossorigin="anonymous" integrity="${integrity(css)}" />\n`;
    }
    throw new Error(`index.html: this build does not know the Trunk asset <link data-trunk ${attrs}>`);
  });
  if (replaced.size !== 2 || html.includes('data-trunk')) {
    throw new Error('index.html: expected exactly the rust and css Trunk links, each on its own line');
  }
  const start =
    '    <script type="module">\n' +
    `      import init from "/${files.js.name}";\n` +
    `      await init({ module_or_path: "/${files.wasm.name}" });\n` +
    '    </script>\n';
  if (!html.includes('  </head>')) throw new Error('index.html: no "  </head>" line for the start-up script');
  html = html.replace('  </head>', `${start}  </head>`);

  // Written beside dist and swapped in by two renames, so a server reading dist never serves an
  // index.html whose assets are not there yet.
  const next = `${dist}.next`;
  const old = `${dist}.old`;
  for (const dir of [next, old]) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(next, { recursive: true });
  for (const { name, bytes } of Object.values(files)) fs.writeFileSync(path.join(next, name), bytes);
  fs.writeFileSync(path.join(next, 'index.html'), html);
  // The viewer the shop serves at /api/docs: npm's swagger-ui-dist, pinned in the Makefile and
  // installed with the other npm tools (SWAGGER_UI_DIR names another copy).
  const tools = process.env.TOOLS || path.join(os.homedir(), '.cache/kafka-shop/tools');
  const swagger = process.env.SWAGGER_UI_DIR || path.join(tools, 'node/node_modules/swagger-ui-dist');
  fs.mkdirSync(path.join(next, 'api-docs'));
  for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
    const from = path.join(swagger, name);
    if (!fs.existsSync(from)) throw new Error(`${from} is missing: run \`make node-tools\` (npm's swagger-ui-dist)`);
    fs.copyFileSync(from, path.join(next, 'api-docs', name));
  }
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(next, dist);
  fs.rmSync(old, { recursive: true, force: true });
  for (const { name, bytes } of Object.values(files)) console.log(`>>> ${path.relative(root, dist)}/${name} ${bytes.length} bytes`);
}

try {
  main();
} catch (err) {
  console.error(`frontend build failed: ${err.message}`);
  process.exit(1);
}
