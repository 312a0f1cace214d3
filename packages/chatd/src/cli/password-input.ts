import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/**
 * Reads a password without putting it on the command line (where `ps` would show it): on a terminal,
 * prompts twice with echo off; otherwise reads the first line of stdin (`echo "$PW" | chatd …`).
 * @throws {Error} when the two entries differ or nothing was given.
 */
export async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const line = await readFirstLine();
    if (!line) throw new Error('no password on stdin (pipe it in, or run on a terminal to be prompted)');
    return line;
  }
  const first = await promptHidden(`${prompt}: `);
  const second = await promptHidden(`${prompt} (again): `);
  if (first !== second) throw new Error('the two passwords differ');
  return first;
}

async function readFirstLine(): Promise<string | undefined> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return line.replace(/\r$/, '');
    return undefined;
  } finally {
    lines.close();
  }
}

function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  // Echo goes to a sink: the characters typed are not shown.
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
