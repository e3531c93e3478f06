import { sourceSuite, type TestRecord } from 'streamcheck';
import { ArraySource, ArrayStore, SkippingArraySource } from '../src/array-source.ts';

export const arraySourceSuite = sourceSuite({
  name: 'array-source',
  bugs: [{ name: 'restore-past-offset', description: 'a restore resumes one record past the checkpointed offset' }],
  external: ({ env, bug }) => {
    const store = env.service('array-store', new ArrayStore<TestRecord>());
    return {
      writeTestData: (splits) => store.state.splits.push(...splits.map((split) => [...split])),
      createReader: ({ subtaskIndex }) => {
        const client = store.connect(`reader-${subtaskIndex}`);
        return bug === 'restore-past-offset' ? new SkippingArraySource(client, subtaskIndex) : new ArraySource(client, subtaskIndex);
      },
    };
  },
});
