// Runs inside the browser's own network namespace (lib.mjs, `isolatedChromium`): listens on 127.0.0.1:PORT there
// and passes every connection on to the Unix socket SOCK, which the test serves from the host's namespace and
// connects to the console's 127.0.0.1:PORT. Writes READY once listening. Ends when the browser it was started for
// is gone (its parent changes).
//
// Usage: node netns-forward.mjs PORT SOCK READY

import fs from 'node:fs';
import net from 'node:net';

const [port, sock, ready] = process.argv.slice(2);
const parent = process.ppid;

const server = net.createServer((conn) => {
  const up = net.connect(sock);
  conn.pipe(up);
  up.pipe(conn);
  const close = () => {
    conn.destroy();
    up.destroy();
  };
  conn.on('error', close);
  up.on('error', close);
  conn.on('close', close);
  up.on('close', close);
});
server.on('error', (err) => {
  console.error(`netns-forward: ${err.message}`);
  process.exit(1);
});
server.listen({ host: '127.0.0.1', port: Number(port) }, () => fs.writeFileSync(ready, `${process.pid}\n`));

setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
// Keep running while the server listens (the interval is unref'd so a closed server lets the process end).
