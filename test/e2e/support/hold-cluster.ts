// Starts a control plane, prints its PIDs and folder as one JSON line, and waits to be killed.
// test/e2e/teardown.e2e.ts kills this process to check that nothing outlives it.
import { startCluster } from './cluster.ts';

const cluster = await startCluster();
process.stdout.write(`${JSON.stringify({ pids: cluster.processes.map((p) => p.pid), dir: cluster.dir })}\n`);
setInterval(() => undefined, 60_000);
