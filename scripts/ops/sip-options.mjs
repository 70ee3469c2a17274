#!/usr/bin/env node
// Sends one SIP OPTIONS over UDP and exits 0 when a 200 answers (retransmitted per RFC 3261 timer E).
// Usage: node scripts/ops/sip-options.mjs host:port [timeout-seconds]
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';

const [target, timeoutArg = '5'] = process.argv.slice(2);
const m = /^(.+):(\d+)$/.exec(target ?? '');
if (!m) {
  console.error('usage: sip-options.mjs host:port [timeout-seconds]');
  process.exit(2);
}
const [, host, portText] = m;
const port = Number(portText);
const { address, family } = await lookup(host.replace(/^\[|\]$/g, ''));
const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
await new Promise((resolve) => socket.bind(0, resolve));
const local = socket.address();
const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
const callId = randomBytes(12).toString('hex');
const request = [
  `OPTIONS sip:${host}:${port} SIP/2.0`,
  `Via: SIP/2.0/UDP ${local.address === '0.0.0.0' ? '127.0.0.1' : local.address}:${local.port};branch=${branch};rport`,
  'Max-Forwards: 70',
  `From: <sip:verify@voxgate.invalid>;tag=${randomBytes(4).toString('hex')}`,
  `To: <sip:${host}>`,
  `Call-ID: ${callId}`,
  'CSeq: 1 OPTIONS',
  'Accept: application/sdp',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

let interval = 500;
let timer;
const send = () => {
  socket.send(request, port, address);
  timer = setTimeout(send, (interval = Math.min(interval * 2, 4000)));
};
const deadline = setTimeout(
  () => {
    console.error(`no final answer from ${target} within ${timeoutArg} s`);
    process.exit(1);
  },
  Number(timeoutArg) * 1000,
);
socket.on('message', (msg) => {
  const text = msg.toString();
  const status = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)/.exec(text);
  if (!status || !text.includes(callId) || Number(status[1]) < 200) return;
  clearTimeout(timer);
  clearTimeout(deadline);
  console.error(`${target}: ${status[1]} ${status[2]}`);
  socket.close();
  process.exit(status[1] === '200' ? 0 : 1);
});
send();
