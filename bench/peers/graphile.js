// Peer: graphile-worker durable jobs end to end on the run's PostgreSQL. A producer thread adds
// jobs (at most --window not yet executed), a worker pool in the main thread runs them with a
// no-op task; jobs executed during --seconds after --warmup give jobs_per_s. After the window the
// producer stops and the run waits until every added job is executed and its completion committed
// (the jobs table empty), so nothing is counted that was not finished durably.
//   --mode batched   graphile-worker's fast mode (its own perfTest preset): jobs added 100 per
//                    transaction (addJobs), 24 concurrent jobs, a local queue of 500 fetched in
//                    one query, completions batched (completeJobBatchDelay 0)
//   --mode single    one job per transaction: each job added by its own addJob (4 producers at
//                    once), fetched by its own get_job and completed by its own complete_job;
//                    concurrency 1, like the host's one consumer connection at max_batch 1
//   --concurrency N  single mode only: N jobs at once (default 1), beside the host with
//                    transport.consumers N
//   --package NAME   which pinned graphile-worker to run (bench/peers/package.json): graphile-worker
//                    (0.17.3, the default) or graphile-worker-0.18 (0.18.0)
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { Worker, isMainThread, workerData } = require("node:worker_threads");
const { Pool } = require("pg");
const { parseArgs, guarded, nowSeconds, sleep } = require("./args");

const ADDED = 0, EXECUTED = 1, STOP = 2, FAILED = 3; // slots of the shared counters
const TASK = "bench_job";

const quietLogger = (gw) =>
  new gw.Logger(() => (level, message) => {
    if (level === "error" || level === "warning") process.stderr.write(`graphile-worker: ${message}\n`);
  });

const MODES = {
  batched: { concurrency: 24, localQueue: 500, completeDelay: 0, addBatch: 100, producers: 1 },
  single: { concurrency: 1, localQueue: -1, completeDelay: -1, addBatch: 1, producers: 4 },
};

// --- producer thread -------------------------------------------------------------------------
async function produce({ url, window, mode, counts, pkg, schema }) {
  const c = new Int32Array(counts);
  const gw = require(pkg);
  const utils = await gw.makeWorkerUtils({ connectionString: url, schema, logger: quietLogger(gw) });
  let next = 0;
  const spec = () => ({ identifier: TASK, payload: { id: `s-${next++ % 1024}` } });
  const loop = async () => {
    while (Atomics.load(c, STOP) === 0) {
      if (Atomics.load(c, ADDED) - Atomics.load(c, EXECUTED) >= window) {
        await sleep(1); // window full: poll
        continue;
      }
      if (mode.addBatch > 1) {
        await utils.addJobs(Array.from({ length: mode.addBatch }, spec));
      } else {
        const s = spec();
        await utils.addJob(s.identifier, s.payload);
      }
      Atomics.add(c, ADDED, mode.addBatch);
    }
  };
  try {
    await Promise.all(Array.from({ length: mode.producers }, loop));
  } catch (e) {
    process.stderr.write(`error: producer: ${e && e.message ? e.message : e}\n`);
    Atomics.store(c, FAILED, 1);
  }
  await utils.release();
}

// --- main thread: the worker pool and the clock ----------------------------------------------
async function waitFor(what, deadlineS, cond) {
  const until = nowSeconds() + deadlineS;
  while (!(await cond())) {
    if (nowSeconds() > until) throw new Error(`${what} within ${deadlineS} s`);
    await sleep(5);
  }
}

function installedVersion(name) { // read from disk: a package's "exports" may hide package.json
  const file = path.join(__dirname, "node_modules", name, "package.json");
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

async function remainingJobs(pool, schema) {
  const r = await pool.query(`SELECT count(*)::int AS n FROM ${schema}._private_jobs`);
  return r.rows[0].n;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const url = args.str("url");
  const modeName = args.str("mode");
  const mode = MODES[modeName];
  if (!mode) throw new Error(`--mode must be batched or single, got ${modeName}`);
  if (modeName === "single") mode.concurrency = Math.max(1, args.num("concurrency", 1));
  const seconds = Math.max(1, args.num("seconds", 10));
  const warmup = args.num("warmup", 2);
  const window = Math.max(1, args.num("window", 256));
  const pkg = args.str("package", "graphile-worker");
  const gw = require(pkg);
  const quiet = quietLogger(gw);
  const version = installedVersion(pkg);
  const schema = `graphile_worker_${version.replace(/\W/g, "_")}`; // versions never share a schema

  await gw.runMigrations({ connectionString: url, schema, logger: quiet });
  const pool = new Pool({ connectionString: url, max: 1 });
  await pool.query(`DELETE FROM ${schema}._private_jobs`); // a failed run's leftovers

  const counts = new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT);
  const c = new Int32Array(counts);
  const start = nowSeconds();
  const from = start + warmup, end = from + seconds;
  let inWindow = 0;
  const runner = await gw.run({
    connectionString: url,
    schema,
    concurrency: mode.concurrency,
    maxPoolSize: Math.max(10, mode.concurrency + 2),
    noHandleSignals: true,
    logger: quiet,
    taskList: {
      [TASK]: async () => {
        Atomics.add(c, EXECUTED, 1);
        const now = nowSeconds();
        if (now >= from && now <= end) ++inWindow;
      },
    },
    preset: {
      worker: {
        localQueue: { size: mode.localQueue },
        completeJobBatchDelay: mode.completeDelay,
        failJobBatchDelay: mode.completeDelay,
      },
    },
  });
  const producer = new Worker(__filename, { workerData: { url, window, mode, counts, pkg, schema } });
  const exited = new Promise((resolve) => producer.on("exit", resolve));

  await waitFor("the window did not end", seconds + warmup + 60, async () => nowSeconds() >= end || c[FAILED] === 1);
  Atomics.store(c, STOP, 1);
  await exited;
  if (c[FAILED] === 1) throw new Error("the producer failed");
  await waitFor("not every added job was executed", 120, async () => c[EXECUTED] >= c[ADDED]);
  await waitFor("not every executed job was completed", 120, async () => (await remainingJobs(pool, schema)) === 0);
  await runner.stop();
  await pool.end();
  return {
    mode: modeName,
    version,
    schema,
    seconds,
    jobs: inWindow,
    jobs_per_s: inWindow / seconds,
    total: c[EXECUTED],
    window,
    concurrency: mode.concurrency,
    local_queue: mode.localQueue,
    add_batch: mode.addBatch,
    producers: mode.producers,
  };
}

if (isMainThread) guarded(main);
else produce(workerData);
