// A raw-socket Server-Sent Events client for the e2e tests: GET /events with
// optional extra headers (Last-Event-ID), the response head, and the stream
// parsed into events {id, event, data, json} and comments, in arrival order.
import net from 'node:net';
import { waitFor } from './server.mjs';

export function subscribe(port, headers = {}) {
  const sub = { events: [], comments: [], head: null, raw: '', closed: false };
  const sock = net.connect(port, '127.0.0.1');
  sub.sock = sock;
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n${extra}\r\n`);
  });
  sock.on('data', (d) => {
    sub.raw += d;
    buf += d;
    if (!sub.head) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      sub.head = buf.slice(0, i);
      buf = buf.slice(i + 4);
    }
    let j;
    while ((j = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, j);
      buf = buf.slice(j + 2);
      const ev = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) { sub.comments.push(line.slice(1).trim()); continue; }
        const k = line.indexOf(':');
        const name = k < 0 ? line : line.slice(0, k);
        ev[name] = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
      }
      if ('data' in ev) {
        ev.json = JSON.parse(ev.data);
        sub.events.push(ev);
      }
    }
  });
  sock.on('close', () => { sub.closed = true; });
  sock.on('error', () => { sub.closed = true; });
  sub.close = () => sock.destroy();
  sub.connected = () => sub.comments.includes('connected');
  sub.waitEvent = async (pred, ms = 5000, what = 'event') => {
    let found;
    await waitFor(() => (found = sub.events.find(pred)), ms, what);
    return found;
  };
  return sub;
}
