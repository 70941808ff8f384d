// The streams a command talks to, so commands stay testable and never touch `process` directly.

/** Where a command writes its results and reads `-` from. */
export interface CliIo {
  /** Results (resolve lines, pinned manifests, check findings). */
  writeOut(text: string): void;
  /** One line per problem, each prefixed `tagpin: `. */
  writeErr(text: string): void;
  /** All of stdin as UTF-8 text. */
  readStdin(): Promise<string>;
}

/** The process's own stdin, stdout and stderr. */
export const processIo: CliIo = {
  writeOut: (text) => {
    process.stdout.write(text);
  },
  writeErr: (text) => {
    process.stderr.write(text);
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  },
};
