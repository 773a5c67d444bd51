/**
 * Our TUF client behind the tuf-conformance suite's client-under-test CLI (CLIENT-CLI.md):
 *
 *   --metadata-dir D init ROOTFILE
 *   --metadata-dir D --metadata-url U refresh
 *   --metadata-dir D --metadata-url U --target-name N [--target-name N2 ...] --target-base-url B --target-dir T download
 *
 * Exit 0 when the command succeeded fully, 1 otherwise (CLIENT-CLI.md). Progress and the reason
 * of a failure go to stderr. Plain http: is allowed because the suite serves its repositories on
 * http://127.0.0.1; the guardian itself only uses https.
 *
 * Run: node --import tsx packages/guardian/src/updates/conformance-cli.ts ... (from the repository
 * root, where tsx is installed). See docs/tuf-conformance.md.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HttpsFetcher } from './https-fetcher.ts';
import { TufClient, quote } from './tuf-client.ts';
import { TufError } from './tuf-error.ts';

const USAGE = `usage:
  conformance-cli --metadata-dir DIR init TRUSTED_ROOT
  conformance-cli --metadata-dir DIR --metadata-url URL refresh
  conformance-cli --metadata-dir DIR --metadata-url URL --target-name PATH [--target-name PATH ...] \\
                  --target-base-url URL --target-dir DIR download`;

class UsageError extends Error {}

function say(message: string): void {
  process.stderr.write(`tuf-client: ${message}\n`);
}

/** One file per target path directly in the target directory: the same path always maps to the same name. */
export function targetFileName(targetPath: string): string {
  // Percent-encode everything but unreserved characters, and a leading dot so `.` and `..` stay files.
  return quote(targetPath).replace(/^\./, '%2E');
}

export async function runConformanceCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'metadata-dir': { type: 'string' },
        'metadata-url': { type: 'string' },
        'target-name': { type: 'string', multiple: true },
        'target-base-url': { type: 'string' },
        'target-dir': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', multiple: true },
      },
    });
  } catch (err) {
    say(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const need = (name: keyof typeof values): string => {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required for this command`);
    return v;
  };
  const [command, ...rest] = positionals;
  const log = (m: string): void => say(m);

  try {
    switch (command) {
      case 'init': {
        if (rest.length !== 1) throw new UsageError('init takes exactly one argument, the trusted root file');
        const dir = need('metadata-dir');
        TufClient.init(dir, readFileSync(rest[0]!));
        say(`initialised ${dir} with ${rest[0]}`);
        return 0;
      }
      case 'refresh': {
        if (rest.length !== 0) throw new UsageError('refresh takes no arguments');
        const client = new TufClient({
          metadataDir: need('metadata-dir'), metadataBaseUrl: need('metadata-url'), fetcher: new HttpsFetcher({ allowHttp: true }), log,
        });
        await client.refresh();
        say('refreshed');
        return 0;
      }
      case 'download': {
        if (rest.length !== 0) throw new UsageError('download takes no arguments');
        const names = values['target-name'] ?? [];
        if (names.length === 0) throw new UsageError('--target-name is required for download');
        const targetDir = need('target-dir');
        const client = new TufClient({
          metadataDir: need('metadata-dir'), metadataBaseUrl: need('metadata-url'), targetBaseUrl: need('target-base-url'),
          fetcher: new HttpsFetcher({ allowHttp: true }), log,
        });
        // CLIENT-CLI.md: metadata must be up to date before any artifact is downloaded.
        await client.refresh();
        // In argument order with the same client; the first failure ends the command.
        for (const name of names) {
          const info = await client.getTargetInfo(name);
          const file = path.join(targetDir, targetFileName(name));
          if (await client.isTargetCached(info, file)) {
            say(`${name}: already downloaded and verified`);
            continue;
          }
          await client.downloadTarget(info, file);
          say(`${name}: downloaded and verified to ${file}`);
        }
        return 0;
      }
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) say(`${err.message}\n${USAGE}`);
    else if (err instanceof TufError) say(`refused (${err.code}): ${err.message}`);
    else say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // Exit explicitly: a kept-alive socket must not hold the process open.
  runConformanceCli(process.argv.slice(2)).then((code) => process.exit(code), () => process.exit(1));
}
