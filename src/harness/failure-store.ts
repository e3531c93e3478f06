import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Tokens kept per scenario name, at most this many (the oldest go first). */
export const MAX_KEPT_FAILURES_PER_SCENARIO = 20;

/**
 * Failed cases of a user's project, kept between runs (like Hypothesis's example database):
 * `{ "<scenario>": ["<token>", ...] }`. A file that is not such JSON is an error naming it,
 * never silently overwritten.
 */
export class FailureStore {
  constructor(readonly path: string) {}

  static defaultPath(cwd: string): string {
    return join(cwd, '.streamcheck', 'failures.json');
  }

  tokensFor(scenario: string): string[] {
    return [...(this.read()[scenario] ?? [])];
  }

  add(scenario: string, token: string): void {
    const all = this.read();
    const kept = (all[scenario] ?? []).filter((existing) => existing !== token);
    kept.push(token);
    all[scenario] = kept.slice(-MAX_KEPT_FAILURES_PER_SCENARIO);
    this.write(all);
  }

  remove(scenario: string, token: string): void {
    const all = this.read();
    const kept = (all[scenario] ?? []).filter((existing) => existing !== token);
    if (kept.length === 0) delete all[scenario];
    else all[scenario] = kept;
    this.write(all);
  }

  private read(): Record<string, string[]> {
    if (!existsSync(this.path)) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw new Error(`failure store ${this.path} is not valid JSON (${error instanceof Error ? error.message : String(error)}): fix or delete it`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every((v) => Array.isArray(v) && v.every((t) => typeof t === 'string'))) {
      throw new Error(`failure store ${this.path} must be an object of scenario name -> array of tokens: fix or delete it`);
    }
    return parsed as Record<string, string[]>;
  }

  private write(all: Record<string, string[]>): void {
    mkdirSync(dirname(this.path), { recursive: true });
    // Write then rename: an interrupted run never leaves half a file.
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(all, null, 2)}\n`);
    renameSync(temporary, this.path);
  }
}
