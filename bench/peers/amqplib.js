// Broker reference in Node: raw amqplib, the same flow as bench/src/amqp_ref.cpp (rabbitmq-c).
// One connection publishes --messages persistent messages of --size bytes to a durable queue on a
// confirm channel, waiting for the confirms after every --batch; another connection consumes them
// with --prefetch and one manual ack each. Both run at once; msgs_per_s = N / (last ack - first
// publish).
"use strict";

const amqplib = require("amqplib");
const { parseArgs, guarded, nowSeconds } = require("./args");

function consumeAll(ch, queue, n) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`only ${got} of ${n} consumed in 120 s`)), 120000);
    ch.consume(
      queue,
      (msg) => {
        if (msg === null) return reject(new Error("consumer cancelled by the broker"));
        ch.ack(msg);
        if (++got === n) {
          clearTimeout(timer);
          resolve(nowSeconds());
        }
      },
      { noAck: false },
    ).catch(reject);
  });
}

async function publishAll(ch, queue, n, body, batch) {
  for (let i = 0; i < n; i++) {
    ch.sendToQueue(queue, body, { persistent: true, contentType: "application/json" });
    if ((i + 1) % batch === 0 || i + 1 === n) await ch.waitForConfirms();
  }
}

guarded(async () => {
  const args = parseArgs(process.argv.slice(2));
  const url = args.str("url");
  const n = args.num("messages", 20000);
  const batch = Math.max(1, args.num("batch", 100));
  const prefetch = Math.max(1, args.num("prefetch", 64));
  const body = Buffer.alloc(args.num("size", 400), "x");
  const queue = args.str("queue", "bench.amqplib");

  const pubConn = await amqplib.connect(url);
  const subConn = await amqplib.connect(url);
  const pub = await pubConn.createConfirmChannel();
  await pub.deleteQueue(queue);
  await pub.assertQueue(queue, { durable: true });
  const sub = await subConn.createChannel();
  await sub.prefetch(prefetch);

  const start = nowSeconds();
  const consumed = consumeAll(sub, queue, n);
  await publishAll(pub, queue, n, body, batch);
  const lastAck = await consumed;
  await pub.deleteQueue(queue);
  await subConn.close();
  await pubConn.close();
  const seconds = lastAck - start;
  return { messages: n, seconds, msgs_per_s: n / seconds, size: body.length, prefetch, batch };
});
