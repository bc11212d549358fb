/**
 * The target server of `bench:loadgen`: a bare node:http server that reads the request body and
 * answers a small fixed JSON body, optionally with injected stalls, and logs each request's arrival
 * and completion times for the wrk2-style reference figures.
 *
 * argv: port, stall period (ms, 0 = no stalls), stall length (ms).
 * A stall holds every answer due within it until it ends (the server keeps accepting and reading,
 * as during a lock or a slow downstream call); stalls fill the last `length` ms of every `period`
 * ms, counted from the first request after a reset.
 *
 * Control routes (not logged): GET /__reset clears the log and restarts the stall clock;
 * GET /__log answers `{ arrivals, completions }`, microseconds on the server's monotonic clock, in
 * arrival order (completion order differs).
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const periodMs = Number(process.argv[3] ?? 0);
const stallMs = Number(process.argv[4] ?? 0);
const response = JSON.stringify({
  model_name: 'bare',
  outputs: [{ name: 'label', shape: [1], datatype: 'INT64', data: [1] }],
});

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
let arrivals: number[] = [];
let completions: number[] = [];
let firstUs = 0;
let log = false;

const server = createServer((req, res) => {
  if (req.url === '/__reset') {
    arrivals = [];
    completions = [];
    firstUs = 0;
    log = true;
    res.end('ok');
    return;
  }
  if (req.url === '/__log') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ arrivals, completions }));
    return;
  }
  const arrived = nowUs();
  const i = arrivals.length;
  if (log) arrivals.push(arrived);
  req.on('data', () => {});
  req.on('end', () => {
    const send = () => {
      res.setHeader('content-type', 'application/json');
      res.end(response);
      if (log) completions[i] = nowUs();
    };
    if (periodMs <= 0) return send();
    if (firstUs === 0) firstUs = arrived;
    const sinceMs = (nowUs() - firstUs) / 1000;
    const phase = sinceMs % periodMs;
    // Stalls occupy the last `stallMs` of each period; an answer due in one leaves at its end.
    if (phase >= periodMs - stallMs) setTimeout(send, periodMs - phase);
    else send();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
