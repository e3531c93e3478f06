import { parentPort, workerData } from 'node:worker_threads';
import { CaseRunner, type CaseTask } from './case-runner.ts';

if (parentPort === null) throw new Error('worker-main: must run in a worker thread (started by WorkerPool)');
const port = parentPort;
const runner = new CaseRunner((workerData as { cwd: string }).cwd);
// One task at a time, in the order posted: the pool never posts a second before the first answers.
port.on('message', (task: CaseTask) => {
  void runner.run(task).then(
    (outcome) => port.postMessage(outcome),
    // Loading the scenario failed: nothing the case did; the pool reports it as this worker's crash.
    (error: unknown) => {
      throw error;
    },
  );
});
port.postMessage({ kind: 'ready' });
