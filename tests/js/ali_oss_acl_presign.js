'use strict';
// Drives Tessera's OSS API with ali-oss for what ali_oss_flow.js leaves out: bucket and object
// ACLs, presigned URLs (signatureUrl, asyncSignatureUrl, signatureUrlV4), awkward keys,
// conditional reads and multipartUpload paused with cancel() and resumed from its checkpoint.
// The bucket must exist; this script only prints what the SDK returned, the test asserts.
//
// ali-oss refuses to presign for an IP endpoint ("can not get the object URL when endpoint is
// IP"), so URLs come from a second client of the same credentials that the SDK supports:
//   - path style: endpoint http://localhost:PORT with sldEnable:true -> http://localhost:PORT/<bucket>/<key>
//   - virtual host: endpoint http://<domain>:PORT (Tessera's --domain, default oss.localhost)
//     -> http://<bucket>.<domain>:PORT/<key> (the test connects to 127.0.0.1 with that Host)
// Signatures do not depend on the addressing (V1 resource and V4 canonical URI are /<bucket>/<key>).
//
// Environment: TESSERA_ENDPOINT (http://127.0.0.1:PORT), OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET,
// OSS_STS_TOKEN (optional), OSS_BUCKET, OSS_V4 ('1' for authorizationV4), OSS_DOMAIN,
// FLOW ('all' or 'presign'), KEYS (JSON list of awkward keys), TMP_FILE (a writable path).
//
// Prints {"aliOss": version, "steps": {name: result | {"error": ...}}}; exits 0 unless it crashes.

const fs = require('fs');
const crypto = require('crypto');
const OSS = require('ali-oss');
const aliOssVersion = require('ali-oss/package.json').version;

function md5(buf) {
  return crypto.createHash('md5').update(buf).digest('hex');
}

function errorOf(err) {
  return { code: err.code, name: err.name, status: err.status, message: err.message };
}

function clientOptions(env, extra) {
  return Object.assign(
    {
      accessKeyId: env.OSS_ACCESS_KEY_ID,
      accessKeySecret: env.OSS_ACCESS_KEY_SECRET,
      stsToken: env.OSS_STS_TOKEN || undefined,
      bucket: env.OSS_BUCKET,
      region: 'oss-cn-hangzhou',
      authorizationV4: env.OSS_V4 === '1',
      timeout: 20000,
    },
    extra
  );
}

// A deterministic body of `size` bytes (the test computes the same bytes).
function body(size) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) buf[i] = (i * 13 + 5) % 253;
  return buf;
}

async function acls(client, bucket, run) {
  await run('bucketAcl', async () => {
    const seen = [(await client.getBucketACL(bucket)).acl];
    for (const acl of ['public-read', 'public-read-write', 'private']) {
      await client.putBucketACL(bucket, acl);
      seen.push((await client.getBucketACL(bucket)).acl);
    }
    return seen;
  });
  await run('badBucketAcl', async () => {
    try {
      await client.putBucketACL(bucket, 'everyone');
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });
  await run('objectAcl', async () => {
    await client.put('acl/ü b+c.txt', Buffer.from('acl body'));
    const seen = [(await client.getACL('acl/ü b+c.txt')).acl];
    for (const acl of ['public-read', 'private', 'public-read-write', 'default']) {
      await client.putACL('acl/ü b+c.txt', acl);
      seen.push((await client.getACL('acl/ü b+c.txt')).acl);
    }
    await client.putACL('acl/ü b+c.txt', 'public-read'); // left public for the test to fetch
    return seen;
  });
  await run('missingObjectAcl', async () => {
    try {
      await client.getACL('acl/missing');
      return { unexpected: 'success' };
    } catch (err) {
      return errorOf(err);
    }
  });
}

async function presign(env, run) {
  const port = new URL(env.TESSERA_ENDPOINT).port;
  const pathStyle = new OSS(clientOptions(env, { endpoint: `http://localhost:${port}`, sldEnable: true }));
  const vhost = new OSS(clientOptions(env, { endpoint: `http://${env.OSS_DOMAIN}:${port}` }));
  const key = 'pre/ü a+b%.txt';
  await run('presignUrls', async () => ({
    v1Get: pathStyle.signatureUrl(key, { expires: 300 }),
    v1Put: pathStyle.signatureUrl('pre/put v1.txt', {
      method: 'PUT',
      expires: 300,
      'Content-Type': 'text/x-ali',
    }),
    v1AsyncGet: await pathStyle.asyncSignatureUrl(key, { expires: 300 }),
    v1Expired: pathStyle.signatureUrl(key, { expires: -30 }),
    v4Get: await pathStyle.signatureUrlV4('GET', 300, undefined, key),
    v4Put: await pathStyle.signatureUrlV4(
      'PUT',
      300,
      { headers: { 'Content-Type': 'text/x-ali' } },
      'pre/put v4.txt'
    ),
    vhostV1Get: vhost.signatureUrl(key, { expires: 300 }),
    vhostV4Get: await vhost.signatureUrlV4('GET', 300, undefined, key),
    deniedGet: pathStyle.signatureUrl('closed/b.txt', { expires: 300 }),
  }));
  await run('ipEndpointRefused', async () => {
    const ip = new OSS(clientOptions(env, { endpoint: env.TESSERA_ENDPOINT }));
    try {
      ip.signatureUrl(key);
      return { unexpected: 'success' };
    } catch (err) {
      return { message: err.message };
    }
  });
}

async function keys(client, env, run) {
  const list = JSON.parse(env.KEYS);
  for (const [i, key] of list.entries()) {
    // eslint-disable-next-line no-await-in-loop
    await run(`key${i}`, async () => {
      const data = Buffer.from(`body of key ${i}`);
      const put = await client.put(key, data);
      const got = await client.get(key);
      const head = await client.head(key);
      const listed = await client.listV2({ prefix: key, 'max-keys': 5 });
      await client.copy(`copies/${i}`, key);
      const copied = await client.get(`copies/${i}`);
      await client.delete(key);
      await client.delete(`copies/${i}`);
      let after;
      try {
        await client.head(key);
        after = 'still there';
      } catch (err) {
        after = errorOf(err).code;
      }
      return {
        etag: put.res.headers.etag,
        md5: md5(got.content),
        length: head.res.headers['content-length'],
        listed: (listed.objects || []).map((o) => o.name),
        copyMd5: md5(copied.content),
        after,
      };
    });
  }
}

async function conditions(client, run) {
  await run('conditions', async () => {
    await client.put('cond.txt', Buffer.from('hello world'));
    const etag = (await client.head('cond.txt')).res.headers.etag;
    const statusOf = async (headers) => {
      try {
        const r = await client.get('cond.txt', { headers });
        return [r.res.status, r.content ? r.content.toString() : ''];
      } catch (err) {
        return [err.status, err.code];
      }
    };
    const past = 'Mon, 01 Jan 2001 00:00:00 GMT';
    const future = 'Fri, 01 Jan 2100 00:00:00 GMT';
    return {
      ifMatch: await statusOf({ 'If-Match': etag }),
      ifMatchWrong: await statusOf({ 'If-Match': '"0000"' }),
      ifNoneMatch: await statusOf({ 'If-None-Match': etag }),
      ifModifiedSinceFuture: await statusOf({ 'If-Modified-Since': future }),
      ifModifiedSincePast: await statusOf({ 'If-Modified-Since': past }),
      ifUnmodifiedSincePast: await statusOf({ 'If-Unmodified-Since': past }),
      rangeStandard: await statusOf({ Range: 'bytes=50-60', 'x-oss-range-behavior': 'standard' }),
    };
  });
}

async function resume(client, env, run) {
  await run('resume', async () => {
    const data = body(5 * 100 * 1024 + 77);
    fs.writeFileSync(env.TMP_FILE, data);
    let saved = null;
    let partsBeforeCancel = 0;
    let cancelled = null;
    try {
      await client.multipartUpload('resumed.bin', env.TMP_FILE, {
        partSize: 100 * 1024,
        parallel: 1,
        progress: async (p, checkpoint) => {
          if (!checkpoint) return;
          saved = checkpoint;
          partsBeforeCancel = checkpoint.doneParts.length;
          if (checkpoint.doneParts.length === 2) client.cancel();
        },
      });
    } catch (err) {
      cancelled = err.name;
    }
    const pending = await client.listUploads({});
    const uploadId = saved.uploadId;
    const listed = await client.listParts('resumed.bin', uploadId);
    const partsOnServer = (listed.parts || []).length;
    let resumedFrom = null;
    const r = await client.multipartUpload('resumed.bin', env.TMP_FILE, {
      partSize: 100 * 1024,
      parallel: 1,
      checkpoint: saved,
      progress: async (p, checkpoint) => {
        if (checkpoint && resumedFrom === null) resumedFrom = checkpoint.doneParts.length - 1;
      },
    });
    const g = await client.get('resumed.bin');
    const left = await client.listUploads({});
    await client.delete('resumed.bin');
    return {
      cancelled,
      partsBeforeCancel,
      pendingUploads: (pending.uploads || []).map((u) => u.uploadId === uploadId),
      partsOnServer,
      resumedFrom,
      etag: r.etag,
      md5: md5(g.content),
      size: g.content.length,
      left: (left.uploads || []).length,
    };
  });
}

async function main() {
  const env = process.env;
  const client = new OSS(clientOptions(env, { endpoint: env.TESSERA_ENDPOINT }));
  const steps = {};
  async function run(name, fn) {
    try {
      steps[name] = await fn();
    } catch (err) {
      steps[name] = { error: errorOf(err) };
    }
  }
  const flow = env.FLOW || 'all';
  if (flow === 'all') {
    await acls(client, env.OSS_BUCKET, run);
    await keys(client, env, run);
    await conditions(client, run);
    await resume(client, env, run);
  }
  await presign(env, run);
  process.stdout.write(JSON.stringify({ aliOss: aliOssVersion, steps }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(2);
});
