// A lender's webhook receiver for finlock's tests, written against the
// Standard Webhooks specification rather than finlock's code:
//   v1  is verified with the npm `standardwebhooks` package (HMAC-SHA256),
//   v1a is verified with node's own crypto.verify for Ed25519, over
//       "id.timestamp.body", with the public key finlockd publishes.
// Usage: node receiver.mjs DIR
//   DIR/secret      the endpoint's whsec_ secret (read at every request)
//   DIR/pubkey      base64 of the raw 32-byte Ed25519 public key
//   DIR/status      the HTTP status to answer (default 204): 503 plays a
//                   receiver that is down
//   DIR/received.jsonl  one line per request: id, type, ref (the data's
//                   id or device_id), status, v1, v1a
// Prints "port N" once listening on 127.0.0.1.
import { createServer } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync, appendFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';

const dir = process.argv[2];
const read = (name, dflt) => {
  try { return readFileSync(`${dir}/${name}`, 'utf8').trim(); } catch { return dflt; }
};

function verifyV1(body, headers) {
  const secret = read('secret', '');
  if (!secret) return false;
  try {
    new Webhook(secret).verify(body, {
      'webhook-id': headers['webhook-id'],
      'webhook-timestamp': headers['webhook-timestamp'],
      'webhook-signature': headers['webhook-signature'],
    });
    return true;
  } catch (e) {
    return false;
  }
}

function verifyV1a(body, headers) {
  const pk = read('pubkey', '');
  if (!pk) return false;
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pk, 'base64').toString('base64url') },
    format: 'jwk',
  });
  const signed = Buffer.from(
    `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`, 'utf8');
  for (const part of (headers['webhook-signature'] || '').split(' ')) {
    const [ver, sig] = part.split(',');
    if (ver === 'v1a' && verify(null, signed, key, Buffer.from(sig, 'base64')))
      return true;
  }
  return false;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const status = parseInt(read('status', '204'), 10);
    let type = '', ref = '';
    try {
      const ev = JSON.parse(body);
      type = ev.type;
      ref = (ev.data && (ev.data.id || ev.data.device_id)) || '';
    } catch { type = ''; }
    appendFileSync(`${dir}/received.jsonl`, JSON.stringify({
      id: req.headers['webhook-id'], type, ref, status,
      v1: verifyV1(body, req.headers), v1a: verifyV1a(body, req.headers),
    }) + '\n');
    res.writeHead(status);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`port ${server.address().port}`);
});
