import { twoPhaseCommitSinkSuite } from 'streamcheck';
import { TxnStore } from '../src/txn-store.ts';
import { EagerTxnStoreSink, TxnStoreSink } from '../src/txn-store-sink.ts';

export const txnStoreSuite = twoPhaseCommitSinkSuite({
  name: 'txn-store-2pc',
  backends: ['fs'],
  bugs: [{ name: 'commit-in-snapshot', description: 'commits in snapshotState, before the checkpoint completed', caughtBy: ['committed-implies-completed'] }],
  external: ({ env, bug }) => {
    const store = env.service('txn-store', new TxnStore());
    return {
      createWriter: ({ subtaskIndex }) => {
        const client = store.connect(`sink-${subtaskIndex}`);
        return bug === 'commit-in-snapshot' ? new EagerTxnStoreSink(client, subtaskIndex) : new TxnStoreSink(client, subtaskIndex);
      },
      readBack: () => store.state.committed,
    };
  },
});
