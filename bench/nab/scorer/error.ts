import { ShellguardError } from '@shellguard/protocol';

export type NabErrorCode =
  /** A NAB-layout folder lacks data/, labels/combined_windows.json or config/profiles.json, or a file in it. */
  | 'NAB_LAYOUT'
  /** A CSV or JSON file does not parse as NAB writes it. */
  | 'NAB_FORMAT'
  /** A window's start or end timestamp is not a row of its data file. */
  | 'NAB_WINDOW'
  /** Anomaly scores do not line up with the data file (count, or a non-finite score). */
  | 'NAB_SCORES';

/** Everything the NAB scorer and `bench/nab` refuse, with the file and facts needed to fix it. */
export class NabError extends ShellguardError<NabErrorCode> {}
