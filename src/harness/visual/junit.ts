import { escapeXml, plainText } from './escape.ts';

/**
 * JUnit XML for CI systems: one test case per invariant and configuration (scenario, mode,
 * backend), failing with the counterexample and its replay command; corpus cases as their
 * own suite.
 */
export interface JunitConfiguration {
  readonly scenario: string;
  readonly mode: string;
  readonly backend: string;
  readonly runs: number;
  readonly elapsedMs: number;
  /** Present when the configuration failed. */
  readonly counterexample?: {
    /** Violated properties with their anomaly and message. */
    readonly violations: readonly { readonly property: string; readonly anomaly: string; readonly message: string }[];
    /** The counterexample as the text report prints it (verdict, fault plan, ...). */
    readonly report: string;
    /** The blame chains as text: first in the failure body, which CI pages cut short. */
    readonly blame: string;
    readonly replay: string;
  };
}

export interface JunitCorpusCase {
  readonly name: string;
  readonly passed: boolean;
  readonly report: string;
}

/** Characters of one failure body: a CI page shows the start anyway. */
export const MAX_FAILURE_CHARS = 20_000;

export function toJunitXml(configurations: readonly JunitConfiguration[], invariants: readonly string[], corpus: readonly JunitCorpusCase[] = []): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const configuration of configurations) {
    const name = `${configuration.scenario} [${configuration.mode}, ${configuration.backend} backend]`;
    const cases: string[] = [];
    let suiteFailures = 0;
    // A violated property missing from the list still gets its test case: a failure is never dropped.
    const judged = [...new Set([...invariants, ...(configuration.counterexample?.violations.map((v) => v.property) ?? [])])];
    for (const invariant of judged) {
      const violated = configuration.counterexample?.violations.filter((v) => v.property === invariant) ?? [];
      const seconds = (configuration.elapsedMs / 1000 / judged.length).toFixed(3);
      const attributes = `classname="${attr(`streamcheck.${configuration.scenario}.${configuration.mode}.${configuration.backend}`)}" name="${attr(invariant)}" time="${seconds}"`;
      if (violated.length === 0) {
        cases.push(`    <testcase ${attributes}/>`);
        continue;
      }
      suiteFailures++;
      const first = violated[0]!;
      const message = `${plainText(first.anomaly, 200)}: ${plainText(first.message)} | replay: ${configuration.counterexample!.replay}`;
      const { blame, report, replay } = configuration.counterexample!;
      const body = `Replay: ${escapeXml(plainText(replay, MAX_FAILURE_CHARS))}\n\n${text(`${blame}${blame === '' ? '' : '\n\n'}${report}`)}`;
      cases.push(`    <testcase ${attributes}>\n      <failure message="${attr(message)}" type="${attr(first.anomaly)}">${body}</failure>\n    </testcase>`);
    }
    tests += judged.length;
    failures += suiteFailures;
    suites.push(
      `  <testsuite name="${attr(name)}" tests="${judged.length}" failures="${suiteFailures}" errors="0" skipped="0" time="${(configuration.elapsedMs / 1000).toFixed(3)}">\n` +
        `    <properties><property name="runs" value="${configuration.runs}"/></properties>\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  if (corpus.length > 0) {
    const corpusFailures = corpus.filter((c) => !c.passed).length;
    const cases = corpus.map((c) =>
      c.passed
        ? `    <testcase classname="streamcheck.corpus" name="${attr(c.name)}"/>`
        : `    <testcase classname="streamcheck.corpus" name="${attr(c.name)}">\n      <failure message="${attr(c.report.split('\n')[0] ?? 'failed')}" type="regression">${text(c.report)}</failure>\n    </testcase>`,
    );
    tests += corpus.length;
    failures += corpusFailures;
    suites.push(`  <testsuite name="regression corpus" tests="${corpus.length}" failures="${corpusFailures}" errors="0" skipped="0">\n${cases.join('\n')}\n  </testsuite>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="streamcheck" tests="${tests}" failures="${failures}" errors="0">\n${suites.join('\n')}\n</testsuites>\n`;
}

/** Attribute values: one line, bounded, escaped. */
function attr(value: string): string {
  return escapeXml(plainText(value.replace(/\r\n|\r|\n/g, ' '), 1_000));
}

/** Element text: newlines kept (they are the report's lines), each line and the whole bounded, escaped. */
function text(value: string): string {
  const lines = value.split(/\r\n|\r|\n/).map((line) => plainText(line));
  return escapeXml(plainText(lines.join('\n'), MAX_FAILURE_CHARS));
}
