/**
 * Errors are values with a stable code (STYLE.md §5). Every package extends this with its own
 * codes; the edge (HTTP, MQTT, CLI) translates codes into statuses and messages for people.
 */
export class ShellguardError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, details: Record<string, unknown> = {}) {
    super(message);
    // Subclasses are named after themselves without repeating a constructor each.
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Raised when bytes from the wire (or a file) do not match the schema we expect. */
export class ProtocolError extends ShellguardError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
