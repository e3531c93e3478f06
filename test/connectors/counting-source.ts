import { END_OF_INPUT, type SourceReader } from '../../src/connectors/api.ts';

/** A one-split source of 0..limit-1 for tests of sinks: it keeps no offset in its snapshots, so a restore reads from 0 again. */
export function countingSource(limit: number): SourceReader<number> {
  let next = 0;
  return {
    initializeState: (context) => {
      next = (context.getOperatorStateStore().getListState<number>('offset').get()[0] as number | undefined) ?? 0;
    },
    snapshotState: () => {},
    pollNext: () => (next < limit ? next++ : END_OF_INPUT),
    currentPosition: () => ({ split: 'numbers', offset: next }),
  };
}
