/**
 * A load-generator process for `bench:serve`: runs autocannon once with the options given as JSON
 * in argv[2] and prints its result as one JSON line. A separate process, so that the load
 * generator's own work never shares an event loop with what it measures.
 */
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options;
const result = await autocannon(options);
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    seconds: result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    mean: result.latency.average,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }) + '\n',
);
