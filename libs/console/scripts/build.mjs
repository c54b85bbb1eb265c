// Builds the console's browser bundle (DESIGN §17): ui/main.tsx and its stylesheets into
// dist/ui/app.js and dist/ui/app.css, minified, with ui/index.html and the icon beside them. The
// server serves dist/ui/index.html for the app's routes and the rest under /console/assets/.
//
// Before bundling it refuses sources that would break the console's safety rules: markup built
// from strings (innerHTML and friends), Web Storage (the session lives in an HttpOnly cookie only),
// eval, and an index.html with inline script or style (the CSP allows neither).
//
// Usage: node scripts/build.mjs [--sourcemap]   (external source maps, off by default)
import { readFile, readdir, rm, mkdir, copyFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ui = join(root, 'ui');
const out = join(root, 'dist', 'ui');

/** What no UI source may contain, with why. */
const FORBIDDEN = [
  [
    /\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write/,
    'builds markup from strings',
  ],
  [
    /\blocalStorage\b|\bsessionStorage\b|\bindexedDB\b|document\.cookie/,
    'stores state outside the HttpOnly session cookie',
  ],
  [/\beval\s*\(|new\s+Function\s*\(/, 'evaluates strings as code (the CSP forbids it)'],
  [/\bstyle\s*=\s*[{"']/, 'sets an inline style (the CSP forbids it; use a class in styles.css)'],
];

async function sources(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(path)));
    else if (/\.(ts|tsx)$/.test(entry.name)) found.push(path);
  }
  return found;
}

async function guard() {
  const problems = [];
  for (const file of await sources(ui)) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, index) => {
      for (const [pattern, why] of FORBIDDEN)
        if (pattern.test(line)) problems.push(`${relative(root, file)}:${index + 1}: ${why}: ${line.trim()}`);
    });
  }
  const html = await readFile(join(ui, 'index.html'), 'utf8');
  if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) problems.push('ui/index.html: inline <script>');
  if (/<style\b|\sstyle=|\son[a-z]+=/i.test(html))
    problems.push('ui/index.html: inline style or event handler');
  if (problems.length > 0) {
    console.error(`console build refused:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main() {
  await guard();
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const sourcemap = process.argv.includes('--sourcemap') ? 'external' : false;
  await esbuild.build({
    entryPoints: { app: join(ui, 'main.tsx') },
    outdir: out,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome109', 'firefox115', 'safari16', 'edge109'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    sourcemap,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(join(ui, 'index.html'), join(out, 'index.html'));
  await copyFile(join(ui, 'favicon.svg'), join(out, 'favicon.svg'));
  for (const name of (await readdir(out)).sort()) {
    const path = join(out, name);
    const size = (await stat(path)).size;
    const gz = gzipSync(await readFile(path)).length;
    console.log(`${relative(process.cwd(), path).padEnd(40)} ${kib(size).padStart(10)}  (gzip ${kib(gz)})`);
  }
}

await main();
