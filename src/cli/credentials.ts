import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { processEnv } from '../config/index.js';

/** Where `capstan login` keeps session tokens, one per server URL (mode 0600). */
export function credentialsPath(): string {
  const env = processEnv();
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'capstan', 'credentials.json');
}

function readAll(): Record<string, { token: string; expires_at?: string }> {
  const file = credentialsPath();
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

export function storedToken(url: string): string | undefined {
  const entry = readAll()[url];
  if (!entry) return undefined;
  return entry.expires_at && Date.parse(entry.expires_at) < Date.now() ? undefined : entry.token;
}

export function storeToken(url: string, token: string | null, expiresAt?: string): void {
  const all = readAll();
  if (token === null) delete all[url];
  else all[url] = { token, expires_at: expiresAt };
  const file = credentialsPath();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** A password or secret value: prompted without echo on a terminal, else the first line of stdin. */
export async function readSecretInput(prompt: string): Promise<string> {
  if (process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(prompt);
    out._writeToOutput = () => undefined;
    const answer = await new Promise<string>((resolve) => rl.question('', resolve));
    rl.close();
    process.stderr.write('\n');
    return answer;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
