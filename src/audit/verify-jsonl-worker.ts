// Worker thread for the offline verify of a large export (verify-jsonl.ts): prepares each batch
// of lines it is sent and sends it back, the typed arrays moved rather than copied.
import { parentPort, workerData } from 'node:worker_threads';
import { prepareBatch, type JsonlWorkerData } from './verify-jsonl.js';

if (parentPort && workerData) {
  const port = parentPort;
  const { baseSeq } = workerData as JsonlWorkerData;
  port.on('message', (m: { id: number; text: string }) => {
    const batch = prepareBatch(m.text, baseSeq);
    port.postMessage({ id: m.id, batch }, [batch.seqs.buffer as ArrayBuffer, batch.leaves.buffer as ArrayBuffer]);
  });
}
