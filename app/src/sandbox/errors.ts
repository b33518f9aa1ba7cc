/** The driver could not start or supervise the sandbox (as opposed to the program failing in it). */
export class SandboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxError";
  }
}
