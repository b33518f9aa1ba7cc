/** The tool's program ran and failed (non-zero exit, killed, timed out): the task attempt fails. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "ToolError";
  }
}
