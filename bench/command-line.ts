/**
 * A bench's command line: its options, or nothing once `--help` printed the usage. A bad option
 * exits 2 with its message and the usage.
 */
export function optionsOrExit<O>(parse: (argv: string[]) => O | "help", usage: string, argv: string[] = process.argv.slice(2)): O | undefined {
  let parsed: O | "help";
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (parsed === "help") {
    console.log(usage);
    return undefined;
  }
  return parsed;
}
