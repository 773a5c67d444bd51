/**
 * Errors are values with a stable code (STYLE.md §5). Every package extends this with its own
 * codes; the edge (HTTP, MQTT, CLI) translates codes into statuses and messages for people.
 */
export class ShellguardError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ShellguardError';
    this.code = code;
    this.details = details;
  }
}

/** Raised when bytes from the wire (or a file) do not match the schema we expect. */
export class ProtocolError extends ShellguardError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'ProtocolError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
