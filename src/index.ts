/**
 * The public API of the `streamcheck` package (placeholder until the public barrel lands:
 * issue 8). Everything not exported from here is internal and may change.
 */
export { pipeline } from './runtime/pipeline.ts';
export * from './connectors/api.ts';
