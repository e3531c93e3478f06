import type { Key, SinkWriter, SourceReader, SubtaskInfo } from '../connectors/api.ts';

/** A keyed aggregate's output: the key and its new accumulator. */
export interface Keyed<V> {
  readonly key: Key;
  readonly value: V;
}

export type OperatorSpec =
  | { readonly kind: 'map'; readonly name: string; readonly fn: (value: unknown) => unknown }
  | {
      readonly kind: 'aggregate';
      readonly name: string;
      /** Returns the new accumulator; must not mutate `accumulator` (snapshots share it). */
      readonly fn: (accumulator: unknown, value: unknown, key: Key) => unknown;
    }
  | { readonly kind: 'sink'; readonly name: string; readonly create: (info: SubtaskInfo) => SinkWriter<unknown> };

export interface StageSpec {
  readonly name: string;
  readonly parallelism: number;
  /** For every stage after the first: how records are keyed on the hash exchange into it. */
  readonly keySelector: ((value: unknown) => Key) | undefined;
  readonly operators: readonly OperatorSpec[];
}

export interface PipelineSpec {
  readonly name: string;
  readonly source: {
    readonly name: string;
    readonly parallelism: number;
    readonly create: (info: SubtaskInfo) => SourceReader<unknown>;
  };
  /** stages[0] holds the operators chained to the source. */
  readonly stages: readonly StageSpec[];
}

const MAX_PARALLELISM = 64;

function checkName(call: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${call}: name must be a non-empty string`);
}

function checkParallelism(call: string, parallelism: number): void {
  if (!Number.isSafeInteger(parallelism) || parallelism < 1 || parallelism > MAX_PARALLELISM) {
    throw new Error(`${call}: parallelism must be an integer in [1, ${MAX_PARALLELISM}], got ${String(parallelism)}`);
  }
}

/**
 * Builds a linear job graph: a source, operators chained to it, and stages separated by
 * keyBy (a hash exchange, every upstream subtask connected to every downstream one).
 *
 *   pipeline('odd-even-sum').source('numbers', 2, create)
 *     .map('parity', fn).keyBy(selector, 2).aggregate('sum', fn).sink('redis', create).build()
 */
export class PipelineBuilder<T> {
  private constructor(
    private readonly name: string,
    private readonly sourceSpec: PipelineSpec['source'] | undefined,
    private readonly stages: StageSpec[],
  ) {}

  static create(name: string): PipelineBuilder<never> {
    checkName('pipeline', name);
    return new PipelineBuilder<never>(name, undefined, []);
  }

  source<S>(name: string, parallelism: number, create: (info: SubtaskInfo) => SourceReader<S>): PipelineBuilder<S> {
    checkName('source', name);
    checkParallelism(`source(${name})`, parallelism);
    if (this.sourceSpec !== undefined) throw new Error(`source(${name}): the pipeline already has a source`);
    return new PipelineBuilder<S>(
      this.name,
      { name, parallelism, create: create as (info: SubtaskInfo) => SourceReader<unknown> },
      [{ name, parallelism, keySelector: undefined, operators: [] }],
    );
  }

  map<U>(name: string, fn: (value: T) => U): PipelineBuilder<U> {
    return this.chain<U>({ kind: 'map', name, fn: fn as (value: unknown) => unknown }, `map(${name})`);
  }

  keyBy(keySelector: (value: T) => Key, parallelism: number): PipelineBuilder<T> {
    checkParallelism('keyBy', parallelism);
    this.requireSource('keyBy');
    const stage: StageSpec = {
      name: `keyBy#${this.stages.length}`,
      parallelism,
      keySelector: keySelector as (value: unknown) => Key,
      operators: [],
    };
    return new PipelineBuilder<T>(this.name, this.sourceSpec, [...this.stages, stage]);
  }

  aggregate<A>(name: string, fn: (accumulator: A | undefined, value: T, key: Key) => A): PipelineBuilder<Keyed<A>> {
    if (this.stages.length < 2) throw new Error(`aggregate(${name}): needs a keyBy before it`);
    return this.chain<Keyed<A>>(
      { kind: 'aggregate', name, fn: fn as (accumulator: unknown, value: unknown, key: Key) => unknown },
      `aggregate(${name})`,
    );
  }

  sink(name: string, create: (info: SubtaskInfo) => SinkWriter<T>): PipelineBuilder<never> {
    return this.chain<never>(
      { kind: 'sink', name, create: create as (info: SubtaskInfo) => SinkWriter<unknown> },
      `sink(${name})`,
    );
  }

  build(): PipelineSpec {
    const source = this.requireSource('build');
    const last = this.stages[this.stages.length - 1]!;
    if (last.operators.at(-1)?.kind !== 'sink') throw new Error(`build(${this.name}): the pipeline must end in a sink`);
    return { name: this.name, source, stages: this.stages };
  }

  private chain<U>(operator: OperatorSpec, call: string): PipelineBuilder<U> {
    checkName(call, operator.name);
    this.requireSource(call);
    const last = this.stages[this.stages.length - 1]!;
    if (last.operators.at(-1)?.kind === 'sink') throw new Error(`${call}: nothing may follow a sink`);
    const names = this.stages.flatMap((stage) => stage.operators.map((op) => op.name));
    if (names.includes(operator.name)) throw new Error(`${call}: operator name '${operator.name}' is already used`);
    const stages = this.stages.slice(0, -1);
    stages.push({ ...last, operators: [...last.operators, operator] });
    return new PipelineBuilder<U>(this.name, this.sourceSpec, stages);
  }

  private requireSource(call: string): PipelineSpec['source'] {
    if (this.sourceSpec === undefined) throw new Error(`${call}: call source() first`);
    return this.sourceSpec;
  }
}

export const pipeline = PipelineBuilder.create;
