import { appendFileSync, writeFileSync } from 'node:fs';
import type { CaseResult } from '../run-case.ts';
import type { BlameChain } from './blame.ts';
import { toChromeTrace } from './chrome-trace.ts';
import { toHtml } from './html.ts';
import { toMermaid } from './mermaid.ts';
import { visualCase } from './model.ts';

/** The picture files `replay` (and a failing `run`) can write. */
export interface PictureRequest {
  /** Print the Mermaid diagram to stdout. */
  readonly mermaid?: boolean;
  /** Write the Chrome Trace Event JSON here. */
  readonly tracePath?: string;
  /** Write the self-contained HTML report here. */
  readonly htmlPath?: string;
}

/** Writes the requested pictures of one case; returns the lines to print (the diagram, the files written). */
export function writePictures(result: CaseResult, chains: readonly BlameChain[], request: PictureRequest): string[] {
  const visual = visualCase(result, chains);
  const lines: string[] = [];
  if (request.mermaid === true) lines.push(toMermaid(visual));
  if (request.tracePath !== undefined) {
    writeOutput(request.tracePath, JSON.stringify(toChromeTrace(visual)), 'trace');
    lines.push(`trace written to ${request.tracePath} (open it in https://ui.perfetto.dev or chrome://tracing)`);
  }
  if (request.htmlPath !== undefined) {
    writeOutput(request.htmlPath, toHtml(visual), 'html');
    lines.push(`HTML report written to ${request.htmlPath}`);
  }
  return lines;
}

/**
 * GitHub job summary of a failing run: the verdict, the blame chains, the diagram (GitHub
 * renders ```mermaid blocks) and the replay command, appended to $GITHUB_STEP_SUMMARY.
 */
export function appendStepSummary(summaryPath: string, result: CaseResult, chains: readonly BlameChain[]): void {
  const visual = visualCase(result, chains);
  const fence = '```';
  const blame = chains.flatMap((chain) => [
    `**${chain.property}** (${chain.subject}): ${chain.anomalyClass}; first false at step ${chain.firstFalseStep}`,
    '',
    ...chain.links.map((l) => `- step ${l.step} \`${l.lane.replace(/`/g, "'")}\` ${markdownText(l.text)}${l.firstFalse ? ' **← first false**' : ''}`),
    '',
  ]);
  const text = [
    `## streamcheck: ${markdownText(visual.title)}`,
    '',
    ...blame,
    `${fence}mermaid`,
    toMermaid(visual),
    fence,
    '',
    'Replay:',
    '',
    `${fence}sh`,
    visual.replay,
    fence,
    '',
  ].join('\n');
  writeOutput(summaryPath, text, 'GITHUB_STEP_SUMMARY', true);
}

function markdownText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/([\\`*_[\]<>|#])/g, '\\$1').slice(0, 400);
}

function writeOutput(path: string, content: string, what: string, append = false): void {
  try {
    if (append) appendFileSync(path, content);
    else writeFileSync(path, content);
  } catch (error) {
    throw new Error(`replay: cannot write the ${what} file '${path}': ${error instanceof Error ? error.message : String(error)}`);
  }
}
