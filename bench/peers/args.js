// --key value arguments (as bench/src/common.hpp reads them) and the one JSON line each peer
// program prints on stdout for scripts/bench; errors go to stderr with exit code 1 (2 for usage).
"use strict";

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith("--")) usage(`unexpected argument ${k}`);
    const next = argv[i + 1];
    out[k.slice(2)] = next !== undefined && !next.startsWith("--") ? argv[++i] : "1";
  }
  return {
    str(k, def) {
      if (out[k] !== undefined) return out[k];
      if (def === undefined) usage(`--${k} is required`);
      return def;
    },
    num(k, def) {
      if (out[k] === undefined) return def;
      const v = Number(out[k]);
      if (!Number.isFinite(v) || v < 0) usage(`--${k}: bad number ${out[k]}`);
      return v;
    },
  };
}

function usage(message) {
  process.stderr.write(`usage error: ${message}\n`);
  process.exit(2);
}

function guarded(main) {
  main().then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + "\n");
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`error: ${e && e.message ? e.message : e}\n`);
      process.exit(1);
    },
  );
}

const nowSeconds = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { parseArgs, guarded, nowSeconds, sleep };
