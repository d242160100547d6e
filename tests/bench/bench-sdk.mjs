// SPDX-License-Identifier: MIT
// bench-sdk.mjs: the official Node SDK (@github/copilot-sdk) doing what
// `bench-peer turn` does through copilotd, directly on the same native CLI.
//
// Usage: node bench-sdk.mjs CLI RUNS PROMPT WORDS DIR [RATE_RUNS]  (the model's
// address and COPILOT_HOME come from the environment, as for copilotd;
// RATE_RUNS, default RUNS, is the number of WORDS-word answers)
// Prints one JSON line with the same keys as `bench-peer turn`.
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";

const [cli, runsArg, prompt, wordsArg, workdir, rateRunsArg] = process.argv.slice(2);
const runs = Number(runsArg);
const rateRuns = Number(rateRunsArg ?? runsArg);
const words = Number(wordsArg);
const now = () => Number(process.hrtime.bigint());

const env = { ...process.env };
const client = new CopilotClient({
  connection: RuntimeConnection.forStdio({ path: cli, env }),
  gitHubToken: env.COPILOT_SDK_AUTH_TOKEN,
  logLevel: "info",
});
// The session copilotd asks the CLI for (CreateSession defaults): the same
// features on, so that both run the same turn.
const config = {
  onPermissionRequest: approveAll,
  onUserInputRequest: async () => ({ answer: "", wasFreeform: true }),
  streaming: true,
  enableFileChangeTracking: true,
  workingDirectory: workdir,
};

async function createSession() {
  const t0 = now();
  const session = await client.createSession(config);
  return [session, now() - t0];
}

// Send → the final assistant.message, counting the deltas on the way.
function runTurn(session, text) {
  return new Promise((resolve, reject) => {
    const t = { deltas: 0, words: 0, first: 0, last: 0 };
    const t0 = now();
    const off = session.on((event) => {
      if (event.type === "assistant.message_delta") {
        const at = now();
        t.deltas++;
        t.words += (event.data.deltaContent.match(/word/g) || []).length;
        if (t.first === 0) t.first = at;
        t.last = at;
      } else if (event.type === "assistant.message") {
        off();
        t.ns = now() - t0;
        resolve(t);
      } else if (event.type === "session.error") {
        off();
        reject(new Error(event.data.message));
      }
    });
    session.send({ prompt: text }).catch(reject);
  });
}

const [session, firstCreate] = await createSession();
await runTurn(session, prompt);   // warm-up
const create = [], turn = [], rate = [];
for (let i = 0; i < runs; i++) {
  const [other, ns] = await createSession();
  create.push(ns / 1000);
  await other.disconnect();
}
for (let i = 0; i < runs; i++)
  turn.push((await runTurn(session, prompt)).ns / 1000);
for (let i = 0; i < rateRuns; i++) {
  const t = await runTurn(session, `SLOW: ${words}`);
  if (t.words !== words)
    console.error(`bench-sdk: ${t.words} words of ${words} arrived`);
  console.error(`bench-sdk: ${t.deltas} delta events for ${t.words} words`);
  rate.push((t.words - 1) / ((t.last - t.first) / 1e9));
}
console.log(JSON.stringify({
  first_create_ms: firstCreate / 1e6,
  create_us: create, turn_us: turn, words_per_s: rate,
}));
await client.stop();
process.exit(0);
