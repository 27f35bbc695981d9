'use strict';
// Drives Tessera's OSS API with the official Node client ali-oss (V1 or V4 signatures).
//
// Environment:
//   TESSERA_ENDPOINT          http://127.0.0.1:PORT (an IP endpoint: ali-oss sends `/{key}` and
//                             overrides Host with `{bucket}.{region}.aliyuncs.com`, spec §0.1)
//   OSS_ACCESS_KEY_ID         the caller's AccessKeyId
//   OSS_ACCESS_KEY_SECRET     its secret
//   OSS_STS_TOKEN             optional STS token of the caller
//   OSS_BUCKET                the bucket
//   OSS_REGION                'oss-cn-hangzhou' unless set
//   OSS_V4                    '1' for authorizationV4: true
//   FLOW                      'full' (create the bucket, exercise objects, delete it all) or
//                             'read' (only get READ_KEY, and try to put DENIED_KEY)
//   READ_KEY, DENIED_KEY      keys for the 'read' flow
//   TMP_FILE                  a writable path ('full' flow: put() of a file path string)
//
// Prints one JSON object {"aliOss": version, "steps": {name: result | {"error": …}}}; the exit
// status is 0 unless this script itself crashes.

const fs = require('fs');
const crypto = require('crypto');
const OSS = require('ali-oss');
const aliOssVersion = require('ali-oss/package.json').version;

function md5(buf) {
  return crypto.createHash('md5').update(buf).digest('hex');
}

function errorOf(err) {
  return {
    code: err.code,
    name: err.name,
    status: err.status,
    message: err.message,
    requestId: err.requestId,
  };
}

function pick(headers, names) {
  const out = {};
  for (const n of names) {
    if (headers[n] !== undefined) out[n] = headers[n];
  }
  return out;
}

function objects(list) {
  return (list || []).map((o) => ({ name: o.name, size: o.size, etag: o.etag }));
}

// A deterministic 1 MiB + 123 bytes body (the test computes the same bytes).
function bigBody() {
  const size = 1024 * 1024 + 123;
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) buf[i] = (i * 7 + 3) % 251;
  return buf;
}

async function fullFlow(client, env, steps, run) {
  const bucket = env.OSS_BUCKET;
  await run('putBucket', async () => {
    const r = await client.putBucket(bucket);
    return { status: r.res.status, bucket: r.bucket };
  });

  fs.writeFileSync(env.TMP_FILE, 'hello from a file path');
  await run('putFile', async () => {
    const r = await client.put('dir/file.txt', env.TMP_FILE, { mime: 'text/plain' });
    return { status: r.res.status, name: r.name, etag: r.res.headers.etag };
  });
  await run('putBuffer', async () => {
    const r = await client.put('dir/buf.bin', Buffer.from('hello, tessera!'), {
      meta: { color: 'blue', n: '7' },
      headers: { 'Content-Type': 'application/x-tessera', 'Cache-Control': 'no-cache' },
    });
    return { status: r.res.status, name: r.name, etag: r.res.headers.etag };
  });
  await run('putString', async () => {
    // A body made from a JS string (ali-oss treats a bare string argument as a file path).
    const r = await client.put('top.txt', Buffer.from('top level', 'utf8'));
    return { status: r.res.status, etag: r.res.headers.etag };
  });

  await run('get', async () => {
    const r = await client.get('dir/buf.bin');
    return {
      status: r.res.status,
      content: r.content.toString('utf8'),
      headers: pick(r.res.headers, ['etag', 'content-type', 'content-length', 'cache-control']),
    };
  });
  await run('head', async () => {
    const r = await client.head('dir/buf.bin');
    return {
      status: r.status,
      meta: r.meta,
      headers: pick(r.res.headers, ['etag', 'content-type', 'content-length']),
    };
  });
  await run('getObjectMeta', async () => {
    const r = await client.getObjectMeta('dir/buf.bin');
    return {
      status: r.status,
      headers: pick(r.res.headers, ['etag', 'content-length', 'last-modified']),
    };
  });
  await run('rangeGet', async () => {
    const r = await client.get('dir/buf.bin', { headers: { Range: 'bytes=7-13' } });
    return {
      status: r.res.status,
      content: r.content.toString('utf8'),
      contentRange: r.res.headers['content-range'],
    };
  });

  await run('list', async () => {
    const r = await client.list({ prefix: 'dir/', 'max-keys': 1 });
    const all = await client.list({ delimiter: '/' });
    return {
      first: objects(r.objects),
      isTruncated: r.isTruncated,
      nextMarker: r.nextMarker,
      delimited: { objects: objects(all.objects), prefixes: all.prefixes },
    };
  });
  await run('listV2', async () => {
    const r = await client.listV2({ prefix: 'dir/', 'max-keys': 1 });
    const next = await client.listV2({
      prefix: 'dir/',
      'max-keys': 10,
      'continuation-token': r.nextContinuationToken,
    });
    const all = await client.listV2({ delimiter: '/' });
    return {
      first: objects(r.objects),
      isTruncated: r.isTruncated,
      keyCount: r.keyCount,
      rest: objects(next.objects),
      delimited: { objects: objects(all.objects), prefixes: all.prefixes },
    };
  });

  await run('copy', async () => {
    const r = await client.copy('dir/copy.bin', 'dir/buf.bin');
    const h = await client.head('dir/copy.bin');
    return { status: r.res.status, etag: r.data && r.data.etag, meta: h.meta };
  });

  await run('append', async () => {
    const a = await client.append('log.txt', Buffer.from('first;'));
    const b = await client.append('log.txt', Buffer.from('second;'), {
      position: a.nextAppendPosition,
    });
    const g = await client.get('log.txt');
    return {
      first: a.nextAppendPosition,
      second: b.nextAppendPosition,
      content: g.content.toString('utf8'),
    };
  });

  await run('multipartUpload', async () => {
    const body = bigBody();
    const r = await client.multipartUpload('big.bin', body, { partSize: 100 * 1024 });
    const g = await client.get('big.bin');
    return {
      status: r.res.status,
      etag: r.etag,
      size: g.content.length,
      md5: md5(g.content),
      headEtag: g.res.headers.etag,
    };
  });

  await run('noSuchKey', async () => {
    try {
      await client.get('missing/key');
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });
  await run('headMissing', async () => {
    try {
      await client.head('missing/key');
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });

  await run('deleteMulti', async () => {
    const r = await client.deleteMulti(['dir/file.txt', 'dir/copy.bin', 'top.txt', 'log.txt'], {
      quiet: false,
    });
    return { deleted: (r.deleted || []).map((d) => d.Key).sort() };
  });
  await run('delete', async () => {
    const a = await client.delete('dir/buf.bin');
    const b = await client.delete('big.bin');
    const left = await client.list({});
    return { status: [a.res.status, b.res.status], left: objects(left.objects) };
  });
  await run('deleteBucket', async () => {
    const r = await client.deleteBucket(bucket);
    return { status: r.res.status };
  });
  await run('deletedBucket', async () => {
    try {
      await client.list({});
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });
}

async function readFlow(client, env, steps, run) {
  await run('get', async () => {
    const r = await client.get(env.READ_KEY);
    return { status: r.res.status, content: r.content.toString('utf8') };
  });
  await run('denied', async () => {
    try {
      await client.put(env.DENIED_KEY, Buffer.from('nope'));
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });
}

async function main() {
  const env = process.env;
  const client = new OSS({
    endpoint: env.TESSERA_ENDPOINT,
    accessKeyId: env.OSS_ACCESS_KEY_ID,
    accessKeySecret: env.OSS_ACCESS_KEY_SECRET,
    stsToken: env.OSS_STS_TOKEN || undefined,
    bucket: env.OSS_BUCKET,
    region: env.OSS_REGION || 'oss-cn-hangzhou',
    authorizationV4: env.OSS_V4 === '1',
    timeout: 20000,
  });
  const steps = {};
  async function run(name, fn) {
    try {
      steps[name] = await fn();
    } catch (err) {
      steps[name] = { error: errorOf(err) };
    }
  }
  if ((env.FLOW || 'full') === 'read') {
    await readFlow(client, env, steps, run);
  } else {
    await fullFlow(client, env, steps, run);
  }
  process.stdout.write(JSON.stringify({ aliOss: aliOssVersion, steps }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(2);
});
