/**
 * Compiles the deployables to JavaScript with esbuild: one ESM file per entry (platform node),
 * every workspace package and npm dependency inlined except native modules, which stay external
 * and are shipped beside the bundle (or in the guardian's platform slot).
 *
 * Three things differ between the source tree and a bundle, and are handled here:
 *
 *  1. Files read at runtime relative to `import.meta.url` (equipment profiles, alarm rules,
 *     procedures, the web dashboard). Each module keeps the URL it has in the tree, relative to
 *     the bundle root: in `<root>/shellguard.mjs`, the module `packages/protocol/src/profiles/
 *     catalog.ts` sees `import.meta.url` = `<root>/protocol/src/profiles/catalog.ts`, so its
 *     `new URL('../../profiles/', import.meta.url)` is `<root>/protocol/profiles/`, where the build
 *     copies that folder. Every such URL is recorded; the build fails if one is not shipped.
 *  2. Worker entries (`new URL('./read-worker.ts', import.meta.url)`) become their own bundles
 *     beside the main one (`read-worker.mjs`), referenced by the bundle's real URL.
 *  3. CommonJS: `require` is made from the bundle's URL (banner), and native modules are loaded
 *     with it, so NODE_PATH applies (ESM `import` ignores it): that is how a guardian's
 *     application slot finds the native layer in its platform slot.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));
const PACKAGES_DIR = path.join(REPO_ROOT, 'packages');

/** Native modules (and what only they need): never bundled. */
export const NATIVE_MODULES = ['better-sqlite3'] as const;
/** Optional dependencies we neither bundle nor ship (modbus-serial requires serialport in a try/catch). */
const ABSENT_OPTIONAL = ['serialport'];

const BANNER = [
  "import { createRequire as __shellguardCreateRequire } from 'node:module';",
  'const require = __shellguardCreateRequire(import.meta.url);',
].join('\n');

export interface BundleEntry {
  /** Source file, relative to the repository root. */
  source: string;
  /** Output name without extension, e.g. `shellguard` (-> shellguard.mjs). */
  out: string;
}

/** A runtime file reference found in a bundled module: `new URL('<literal>', import.meta.url)`. */
export interface RuntimeReference {
  /** The module, relative to packages/ (e.g. `protocol/src/profiles/catalog.ts`). */
  module: string;
  /** What it points at, relative to the bundle root (e.g. `protocol/profiles/`). */
  target: string;
}

export interface BundleResult {
  outputs: string[];
  references: RuntimeReference[];
  /** Every input file, relative to the repository root. */
  inputs: string[];
}

const WORKER_URL = /new URL\((['"])\.\/([A-Za-z0-9_-]+)\.ts\1,\s*import\.meta\.url\)/g;
const RUNTIME_URL = /new URL\(\s*(['"`])([^'"`$]*)/g;
const REAL_URL = '__SHELLGUARD_REAL_IMPORT_META_URL__';

/** Keeps source-tree URLs (1), turns worker URLs into bundle siblings (2). */
function sourceUrlPlugin(workers: ReadonlySet<string>, references: RuntimeReference[]): esbuild.Plugin {
  return {
    name: 'shellguard-source-urls',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const rel = path.relative(PACKAGES_DIR, args.path).split(path.sep).join('/');
        if (rel.startsWith('..') || !/^[a-z-]+\/src\//.test(rel)) return undefined;
        let text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
        text = text.replace(WORKER_URL, (_m, _q: string, name: string) => {
          if (!workers.has(name)) throw new Error(`${rel} starts a worker ${name}.ts that is not a bundle entry`);
          return `new URL('./${name}.mjs', ${REAL_URL})`;
        });
        for (const m of text.matchAll(RUNTIME_URL)) {
          if (m[2] === undefined || !m[2].startsWith('.')) continue;
          const rest = text.slice((m.index ?? 0) + m[0].length, (m.index ?? 0) + m[0].length + 80);
          if (!/^(?:\$\{[^}]*\}[^'"`]*)?['"`],\s*import\.meta\.url/.test(rest)) continue;
          const joined = path.posix.join(path.posix.dirname(rel), m[2]);
          references.push({ module: rel, target: m[2].endsWith('/') && !joined.endsWith('/') ? `${joined}/` : joined });
        }
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(`./${rel}`)}, import.meta.url).href`);
        text = text.replaceAll(REAL_URL, 'import.meta.url');
        return { contents: text, loader: 'ts' };
      });
    },
  };
}

/** Native modules through `require` (so NODE_PATH applies), never bundled. */
function nativeRequirePlugin(): esbuild.Plugin {
  const names = new RegExp(`^(${[...NATIVE_MODULES, ...ABSENT_OPTIONAL].map((n) => n.replace(/[-/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'shellguard-native-require',
    setup(build) {
      build.onResolve({ filter: names }, (args) => {
        if (args.kind === 'require-call' || args.namespace === 'shellguard-native') return { path: args.path, external: true };
        return { path: args.path, namespace: 'shellguard-native' };
      });
      build.onLoad({ filter: /.*/, namespace: 'shellguard-native' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js',
      }));
    },
  };
}

/**
 * net-snmp's MIB keeps a Proxy whose `set` and `deleteProperty` traps return nothing: harmless in
 * its own sloppy-mode CommonJS, a TypeError once bundled into an ES module (strict code), where the
 * first `registerProvider` (the simulator's SNMP agents) throws "trap returned falsish". The traps
 * are made to return true, what they meant.
 */
function strictSafeNetSnmpPlugin(): esbuild.Plugin {
  const before = [
    'target[key] = value;\n\t\t\tprovidersByOid[value.oid] = value;\n\t\t},',
    'delete providersByOid[target[key].oid];\n\t\t\tdelete target[key];\n\t\t}',
  ];
  const after = [
    'target[key] = value;\n\t\t\tprovidersByOid[value.oid] = value;\n\t\t\treturn true;\n\t\t},',
    'delete providersByOid[target[key].oid];\n\t\t\tdelete target[key];\n\t\t\treturn true;\n\t\t}',
  ];
  return {
    name: 'shellguard-net-snmp-strict',
    setup(build) {
      build.onLoad({ filter: /[\\/]net-snmp[\\/]index\.js$/ }, async (args) => {
        let text = await readFile(args.path, 'utf8');
        for (const [i, b] of before.entries()) {
          if (!text.includes(b)) throw new Error(`${args.path}: net-snmp's MIB provider Proxy changed; check strictSafeNetSnmpPlugin against this version`);
          text = text.replace(b, after[i]!);
        }
        return { contents: text, loader: 'js' };
      });
    },
  };
}

/**
 * Bundles the entries into `outdir` (`<out>.mjs` each). The first entry is the main one;
 * entries named in `workers` may be started with `new URL('./<name>.ts', import.meta.url)`.
 */
export async function bundleEntries(entries: readonly BundleEntry[], outdir: string, workers: readonly string[] = []): Promise<BundleResult> {
  const references: RuntimeReference[] = [];
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: entries.map((e) => ({ in: e.source, out: e.out })),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    banner: { js: BANNER },
    // Whitespace and syntax only: names stay readable in a gateway's stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    charset: 'utf8',
    metafile: true,
    logLevel: 'warning',
    // Deps' "browser" fields must not win; "module" first for ESM builds of deps.
    mainFields: ['module', 'main'],
    // esbuild adds 'import' or 'require' by how a module is loaded; naming 'import' here would hand
    // require('pg-pool') its ESM wrapper (a namespace object, not the class).
    conditions: ['node'],
    plugins: [sourceUrlPlugin(new Set(workers), references), nativeRequirePlugin(), strictSafeNetSnmpPlugin()],
  });
  const inputs = Object.keys(result.metafile.inputs).filter((i) => !i.startsWith('shellguard-native:')).sort();
  const unique = new Map(references.map((r) => [`${r.module} ${r.target}`, r]));
  return {
    outputs: Object.keys(result.metafile.outputs).map((o) => path.resolve(REPO_ROOT, o)).sort(),
    references: [...unique.values()].sort((a, b) => (a.module + a.target).localeCompare(b.module + b.target)),
    inputs,
  };
}
