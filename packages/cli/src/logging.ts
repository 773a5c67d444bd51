import { pino, type Logger } from 'pino';

/** JSON logs on stderr (or to a file), so stdout stays for what a person reads. */
export function createLogger(name: string, destination?: string): Logger {
  const level = process.env.SHELLGUARD_LOG_LEVEL ?? 'info';
  if (destination) return pino({ name, level }, pino.destination({ dest: destination, mkdir: true, sync: false }));
  return pino({ name, level }, pino.destination(2));
}

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
export function untilSignalled(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}
