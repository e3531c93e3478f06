import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A case that once failed (or once exposed a bug in streamcheck itself), replayed on every suite run. */
export interface CorpusEntry {
  readonly file: string;
  readonly name: string;
  /** What went wrong when it was found, and what fixed it. */
  readonly why: string;
  /** The replay token, as a failure printed it. */
  readonly token: string;
}

export function loadCorpus(directory: string): CorpusEntry[] {
  let files: string[];
  try {
    files = readdirSync(directory).filter((file) => file.endsWith('.json')).sort();
  } catch (error) {
    throw new Error(`regression corpus: cannot read ${directory}: ${(error as Error).message}`);
  }
  return files.map((file) => {
    const path = join(directory, file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`regression corpus: ${path} is not valid JSON: ${(error as Error).message}`);
    }
    const record = parsed as Record<string, unknown>;
    for (const field of ['name', 'why', 'token'] as const) {
      if (typeof record[field] !== 'string' || (record[field] as string).length === 0) {
        throw new Error(`regression corpus: ${path} needs a non-empty string '${field}'`);
      }
    }
    return { file, name: record['name'] as string, why: record['why'] as string, token: record['token'] as string };
  });
}
