// Sends raw request files to the server, each on its own connection, and
// records how the server answered: node send_raw.mjs PORT DIR [CONCURRENCY]
// Every third file is followed by a half-close (EOF mid-message is a path
// too). A connection is left after the server closes it or after 400 ms of
// silence (a mutated request may still be waiting for bytes). Prints one
// JSON line: {"sent", "statuses":{"400":n,...}, "silent", "reset", "badStatusLine"}.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [port, dir, conc = '16'] = process.argv.slice(2);
const files = fs.readdirSync(dir).sort();
const r = { sent: 0, statuses: {}, silent: 0, reset: 0, badStatusLine: 0, samples: [] };

function sendOne(file, i) {
  const data = fs.readFileSync(path.join(dir, file));
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    const chunks = [];
    let timer;
    const done = (how) => {
      if (!timer && how !== 'close' && how !== 'error') return;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      if (!text) {
        if (how === 'error') r.reset++; else r.silent++;
      } else {
        // Every answer on the connection (pipelined requests get several).
        const lines = text.match(/HTTP\/1\.[01] \d{3} /g) || [];
        if (!text.startsWith('HTTP/1.1 ')) {
          r.badStatusLine++;
          if (r.samples.length < 5) r.samples.push({ file, head: text.slice(0, 80) });
        }
        for (const l of lines) {
          const s = l.slice(9, 12);
          r.statuses[s] = (r.statuses[s] || 0) + 1;
        }
      }
      resolve();
    };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => done('idle'), 400); };
    sock.on('connect', () => {
      r.sent++;
      sock.write(data);
      if (i % 3 === 0) sock.end();
      arm();
    });
    sock.on('data', (d) => { chunks.push(d); arm(); });
    sock.on('error', () => { timer = timer || 1; done('error'); });
    sock.on('close', () => { timer = timer || 1; done('close'); });
  });
}

let next = 0;
async function worker() {
  while (next < files.length) {
    const i = next++;
    await sendOne(files[i], i);
  }
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
console.log(JSON.stringify(r));
