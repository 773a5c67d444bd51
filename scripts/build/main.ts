/**
 * `npm run build`: the web dashboard (Vite), then every package compiled to JavaScript with
 * esbuild into the deployables and the release artifacts (scripts/build/release.ts):
 *
 *   packages/cli/dist/shellguard.mjs       the `shellguard` bin (plain node; native modules from node_modules)
 *   packages/guardian/dist/guardian.mjs    the guardian's own command line, as in its application bundle
 *   dist/release/*.tar.gz (+ .sha256)      the versioned, reproducible bundles
 *
 *   node --import tsx scripts/build/main.ts [--out dist/release] [--skip-web]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './bundle.ts';
import { buildRelease } from './release.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--out');
const outDir = path.resolve(REPO_ROOT, at >= 0 ? args[at + 1]! : 'dist/release');

if (!args.includes('--skip-web')) {
  const web = spawnSync('npm', ['run', '--silent', 'build:web'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (web.status !== 0) process.exit(web.status ?? 1);
}
const release = await buildRelease({ outDir, log: (line) => console.log(line) });

const cliDist = path.join(REPO_ROOT, 'packages/cli/dist');
const guardianDist = path.join(REPO_ROOT, 'packages/guardian/dist');
for (const d of [cliDist, guardianDist]) rmSync(d, { recursive: true, force: true });
// In the tree the native modules come from the workspace's node_modules.
cpSync(release.stage.server, cliDist, { recursive: true, filter: (src) => !src.startsWith(path.join(release.stage.server, 'node_modules')) });
cpSync(release.stage.app, guardianDist, { recursive: true });
console.log(`built ${path.relative(REPO_ROOT, cliDist)}/shellguard.mjs, ${path.relative(REPO_ROOT, guardianDist)}/guardian.mjs and ${path.relative(REPO_ROOT, outDir)}/`);
console.log(`native layer: ${release.native.platform}-${release.native.arch}, Node ABI ${release.native.nodeAbi}; for other platforms see docs/install.md`);
