/**
 * streamcheck's public API: everything a connector author may import. Anything not listed
 * here is internal and may change between versions.
 *
 * - Write connectors against the Flink-named API (`SourceReader`, `SinkWriter`,
 *   `CheckpointedFunction`, `CheckpointListener`, `TwoPhaseCommitSink`).
 * - Put your external system under the deterministic scheduler with `SimEnvironment`.
 * - Check a connector with a suite (`sinkSuite`, `sourceSuite`, `twoPhaseCommitSinkSuite`)
 *   or a whole job with `defineScenario`, from vitest (`streamcheck/vitest`), the CLI
 *   (`npx streamcheck run ./my.scenario.ts`) or `checkScenario`.
 */

// The connector API.
export { END_OF_INPUT, NOTHING_AVAILABLE } from './connectors/api.ts';
export type {
  CheckpointListener,
  CheckpointedFunction,
  ConnectorEvent,
  EndOfInput,
  FunctionInitializationContext,
  NothingAvailable,
  FunctionSnapshotContext,
  Key,
  ListState,
  OperatorStateStore,
  SinkWriter,
  SourcePosition,
  SourceReader,
  SubtaskInfo,
  TransactionEvent,
} from './connectors/api.ts';
export { TwoPhaseCommitSink, type TwoPhaseCommitState } from './connectors/two-phase-commit-sink.ts';

// Jobs.
export { pipeline, PipelineBuilder, type Keyed, type PipelineSpec } from './runtime/pipeline.ts';
export type { CheckpointingMode } from './runtime/barrier-handler.ts';
export type { StateBackendKind } from './runtime/state.ts';
export { FAULT_KINDS, type Fault, type FaultPlan } from './runtime/faults.ts';
export type { JobOptions } from './runtime/job.ts';
export type { RunObservations } from './runtime/observations.ts';
export { DEFAULT_MAX_PARALLELISM, keyGroupOf, keyGroupRangeOf, subtaskOfKey } from './runtime/key-groups.ts';
export type { RescaleObservation } from './runtime/rescale.ts';
export type { SplitMove, SplitReassignment } from './runtime/split-reassignment.ts';
// Event time: job graphs, process functions, keyed state, timers, watermarks.
export { jobGraph, JobGraphBuilder, DataStream, KeyedStream, ConnectedKeyedStreams, type JobGraphSpec } from './runtime/job-graph.ts';
export { MAX_WATERMARK, MIN_WATERMARK, outputTag, WatermarkStrategy } from './runtime/functions.ts';
export type {
  Collector,
  FunctionFactory,
  KeyedCoProcessFunction,
  KeyedContext,
  KeyedProcessFunction,
  KeyedRuntimeContext,
  KeyedStateStore,
  MapState,
  OnTimerContext,
  OutputTag,
  StateOptions,
  StateTtlConfig,
  TimeDomain,
  TimerService,
  ValueState,
} from './runtime/functions.ts';
export {
  KeyedCoOperatorTestHarness,
  KeyedOperatorTestHarness,
  type OperatorSnapshot,
  type OperatorTestHarnessOptions,
  type TimestampedValue,
} from './runtime/operator-test-harness.ts';
export {
  intervalJoin,
  lookupJoin,
  regularJoin,
  temporalJoin,
  type IntervalJoinOptions,
  type LateJoinRecord,
  type LookupJoinOptions,
  type RegularJoinOptions,
  type TemporalJoinOptions,
} from './runtime/joins.ts';
export {
  eventTimeSessionWindows,
  processingTimeSessionWindows,
  slidingEventTimeWindows,
  slidingProcessingTimeWindows,
  tumblingEventTimeWindows,
  tumblingProcessingTimeWindows,
  windowed,
  type TimeWindow,
  type WindowAggregate,
  type WindowAssigner,
  type WindowedOptions,
  type WindowResult,
} from './runtime/windows.ts';

// Simulated external systems.
export { SimEnvironment, type SimClient, type SimService, type SimServiceOptions } from './connectors/sim/environment.ts';
export { SimulatedIoError } from './sim/scheduler.ts';
export { SimRedisServer, RedisModel, RedisReplyError, UnsupportedRedisCommandError, type RedisSnapshot } from './connectors/sim/redis.ts';
export type { RedisBatch, RedisBatchReply, RedisClient } from './connectors/redis-api.ts';
export { SimKafkaBroker } from './connectors/sim/kafka-broker.ts';
export { SimKafkaClients } from './connectors/sim/kafka-clients.ts';
export type { ConsumedRecord, IsolationLevel, KafkaClients, KafkaRecord, TransactionalProducer } from './connectors/kafka-api.ts';

// Built-in connectors.
export { PartitionSourceReader, type PartitionLog } from './connectors/partition-source.ts';
export { TimedPartitionSourceReader, timedPartitionLog, type TimedPartitionLog } from './connectors/timed-partition-source.ts';
export { RedisIdempotentSink } from './connectors/redis-sink.ts';
export { KafkaPartitionSource } from './connectors/kafka-source.ts';
export { KafkaTwoPhaseCommitSink, type KafkaSinkOptions, type KafkaTransaction } from './connectors/kafka-sink.ts';

// Scenarios and connector suites.
export { defineScenario, type ScenarioDefinition } from './harness/define-scenario.ts';
export { arrivalsUnder, describeInputDisorder, lateUnderBound, NO_DISORDER, type InputDisorder, type TimestampedRecord } from './harness/input-disorder.ts';
export type { BuildContext, PlantedBug, Scenario, ScenarioSize, Violation } from './harness/scenario.ts';
export { sinkSuite, twoPhaseCommitSinkSuite, type SinkExternal, type SinkSuiteOptions, type TwoPhaseCommitSinkExternal, type TwoPhaseCommitSinkSuiteOptions } from './harness/suites/sink-suite.ts';
export { sourceSuite, type SourceExternal, type SourceSuiteOptions } from './harness/suites/source-suite.ts';
export type { ExternalContext, SuiteBug, SuiteOptions } from './harness/suites/suite-core.ts';
export { parseTestValue, type TestRecord } from './harness/suites/test-data.ts';
export type { ReadBack } from './harness/suites/oracles.ts';

// Running checks.
export { checkScenario, replayCase, type CheckFailure, type CheckOptions, type CheckResult } from './harness/check.ts';
export { loadScenarioModule } from './harness/scenario-loader.ts';
export { runSuiteOnServices, type SuiteCycleResult, type SuiteOnServicesOptions } from './harness/e2e/suite-cycles.ts';
export type { RealExternalContext } from './harness/suites/suite-core.ts';
export { formatCounterexample, formatVerdict } from './harness/report.ts';
