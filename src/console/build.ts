import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { defaultConsoleDir, repoRoot } from './paths.js';


/**
 * Builds the console (src/console/ui, Preact) into `outDir`: assets/ with content-hashed names (cached for a
 * year by the server) and index.html naming them (never cached). esbuild is the whole tool chain: it already
 * ships with tsx, bundles TSX and CSS in well under a second, and writes the hashes.
 */
export async function buildConsole(outDir: string = defaultConsoleDir()): Promise<{ files: string[] }> {
  const root = repoRoot();
  await fs.rm(outDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src/console/ui/main.tsx')],
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: path.join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(outDir, path.resolve(root, file)).split(path.sep).join('/'));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`console build produced ${outputs.join(', ')}`);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard administration</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/${css}">
<script type="module" src="/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Switchboard console needs JavaScript.</noscript>
</body>
</html>
`;
  await fs.writeFile(path.join(outDir, 'index.html'), html);
  return { files: ['index.html', ...outputs] };
}

/** The newest modification time under `dir` (0 when it does not exist). */
async function newestUnder(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  let newest = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, (await fs.stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** The console in `outDir` is newer than every source of it (so `npm start` with nothing changed builds nothing). */
export async function consoleUpToDate(outDir: string): Promise<boolean> {
  const built = await fs.stat(path.join(outDir, 'index.html')).then((s) => s.mtimeMs, () => 0);
  return built > 0 && built >= (await newestUnder(path.join(repoRoot(), 'src/console/ui')));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const out = process.argv[2] ? path.resolve(process.argv[2]) : defaultConsoleDir();
  if (await consoleUpToDate(out)) {
    console.log(`console up to date in ${path.relative(process.cwd(), out) || '.'}`);
    process.exit(0);
  }
  const { files } = await buildConsole(out);
  console.log(`console built in ${path.relative(process.cwd(), out) || '.'}: ${files.join(', ')}`);
}
