// Drives the official Node clients against the capture server started by gen_vectors.py.
// Every HMAC input is recorded by wrapping crypto.createHmac, so the string to sign and the
// signature come from the clients' own code. Output: one JSON line per case on stdout.
//
// Env: NODE_PATH (where @alicloud/pop-core and @alicloud/sts-sdk are installed),
//      HTTP_PORT, HTTPS_PORT, NODE_EXTRA_CA_CERTS (the capture server's certificate).
'use strict';

const crypto = require('crypto');

const recorded = [];
const createHmac = crypto.createHmac;
crypto.createHmac = function (algorithm, key) {
  const hmac = createHmac.call(crypto, algorithm, key);
  const update = hmac.update.bind(hmac);
  hmac.update = (data, encoding) => {
    recorded.push({ algorithm, key: String(key), data: String(data) });
    return update(data, encoding);
  };
  return hmac;
};

const RPCClient = require('@alicloud/pop-core').RPCClient;
const StsClient = require('@alicloud/sts-sdk');

const AK = 'LTAI5tTestAccessKeyId';
const SECRET = 'TestSecret123';
const ROLE_ARN = 'acs:ram::1234567890123456:role/oss-writer';
const POLICY = JSON.stringify({
  Version: '1',
  Statement: [{
    Effect: 'Allow',
    Action: ['oss:GetObject', 'oss:PutObject'],
    Resource: ["acs:oss:*:*:sample-bucket/2015/01/01/*.jpg", "acs:oss:*:*:b/(it's)!~ x/é中"],
  }],
});

async function run(name, fn) {
  recorded.length = 0;
  try {
    await fn();
  } catch (err) {
    // the capture server's reply may not satisfy the client; the request is what matters
  }
  const last = recorded[recorded.length - 1];
  process.stdout.write(JSON.stringify({ case: name, key: last.key, string_to_sign: last.data }) + '\n');
}

async function main() {
  const pop = new RPCClient({
    endpoint: `http://127.0.0.1:${process.env.HTTP_PORT}`,
    apiVersion: '2015-04-01',
    accessKeyId: AK,
    accessKeySecret: SECRET,
  });
  const params = { RoleArn: ROLE_ARN, RoleSessionName: 'alice', DurationSeconds: 3600, Policy: POLICY };
  await run('popcore-assumerole-get', () => pop.request('AssumeRole', params, {}));
  await run('popcore-assumerole-post-form', () => pop.request('AssumeRole', params, { method: 'POST' }));

  const sts = new StsClient({
    endpoint: `127.0.0.1:${process.env.HTTPS_PORT}`,
    accessKeyId: AK,
    accessKeySecret: SECRET,
  });
  await run('stssdk-assumerole-lax', () => sts.assumeRole(ROLE_ARN, 'alice', POLICY, 3600, {}));
}

main();
